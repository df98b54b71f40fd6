//! The anonymous budget: requests that carry no valid credential are limited per client
//! address (`crate::client_address`) with the tenants' GCRA limiter (`crates/ratelimit`, named
//! buckets), before they cost the database anything.
//!
//! What is charged, one unit each, before any database work:
//! - an API key this replica's cache cannot vouch for: the lookup that a cache miss needs is
//!   charged first, and a key the cache knows to be unknown or revoked is charged too; a key
//!   answered valid from the cache costs nothing;
//! - a malformed `Authorization` header;
//! - a session cookie this replica has not seen answered by a live session (random cookies,
//!   stale ones, and a real session's first request on this replica); the session is still
//!   checked in the database on every request, so revocation stays immediate;
//! - any other request to `/api/` without a credential: public branding, invitation previews,
//!   sign-in (which also has its own limits), Stripe and WUZAPI webhooks.
//!
//! Two budgets, each per client (IPv4 address, IPv6 /64):
//! - `anon`: `ANON_RATE_LIMIT` per minute (120), `ANON_RATE_LIMIT_BURST` at once (60);
//! - `hooks`: posts to `/api/webhooks/...` (`HOOK_RATE_LIMIT`, 600 per minute, burst 600). A
//!   WUZAPI server posts every event of all its numbers from one address, and Stripe posts for
//!   every tenant from a few: a pair of client and webhook path that was answered 2xx (the
//!   inbox's hook token matched and its signature held; Stripe's signature held) is remembered
//!   by this replica for an hour and not charged again, so steady event traffic costs nothing,
//!   while unknown paths and refused posts are charged. The burst covers a server with hundreds
//!   of numbers after a gateway restart, when each path is new to the replica.
//!
//! A refused request is answered 429 `rate_limited` with `Retry-After` and has done nothing.
//! The web app's files and the probes (outside `/api/`) are not charged: they never touch the
//! database.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::web;
use common::config::{ConfigError, Env, PlanLimit};
use common::{ErrorBody, ErrorCode};

use crate::client_address::{ClientKey, client_key};
use crate::state::AppState;

/// Where webhooks post; their budget is [`Budget::Hooks`].
const HOOKS_PREFIX: &str = "/api/webhooks/";
/// How long a replica remembers a live session's token or an accepted webhook path.
const KNOWN_FOR: Duration = Duration::from_secs(3600);
/// At most this many of each are remembered (a full store forgets the least used first).
const KNOWN_CAPACITY: u64 = 100_000;

/// `ANON_RATE_LIMIT`/`_BURST` and `HOOK_RATE_LIMIT`/`_BURST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnonymousLimits {
    pub per_address: PlanLimit,
    pub hooks: PlanLimit,
}

impl AnonymousLimits {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            per_address: PlanLimit {
                per_minute: env.parse_in("ANON_RATE_LIMIT", 120, 1..=1_000_000)?,
                burst: env.parse_in("ANON_RATE_LIMIT_BURST", 60, 1..=1_000_000)?,
            },
            hooks: PlanLimit {
                per_minute: env.parse_in("HOOK_RATE_LIMIT", 600, 1..=1_000_000)?,
                burst: env.parse_in("HOOK_RATE_LIMIT_BURST", 600, 1..=1_000_000)?,
            },
        })
    }

    fn of(&self, budget: Budget) -> PlanLimit {
        match budget {
            Budget::Anonymous => self.per_address,
            Budget::Hooks => self.hooks,
        }
    }
}

/// Which per-client budget a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Anonymous,
    Hooks,
}

impl Budget {
    fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anon",
            Self::Hooks => "hooks",
        }
    }
}

/// The budget of `client` was empty: answer 429 and do nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    pub budget: Budget,
    pub retry_after: Duration,
}

impl Refused {
    /// 429 `rate_limited` with `Retry-After` (whole seconds, at least 1).
    pub fn response(&self) -> HttpResponse {
        let seconds = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        HttpResponse::TooManyRequests()
            .insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()))
            .json(ErrorBody::new(
                ErrorCode::RateLimited,
                format!(
                    "too many requests without a valid credential from your address; try \
                     again in {seconds} seconds"
                ),
            ))
    }
}

/// What this replica has seen succeed, so that it is not charged again.
pub struct KnownCredentials {
    /// SHA-256 of session tokens a live session answered for.
    sessions: moka::sync::Cache<Vec<u8>, ()>,
    /// Webhook paths answered 2xx, with the client that posted.
    hooks: moka::sync::Cache<(ClientKey, String), ()>,
}

impl Default for KnownCredentials {
    fn default() -> Self {
        fn build<K: std::hash::Hash + Eq + Send + Sync + 'static>() -> moka::sync::Cache<K, ()> {
            moka::sync::Cache::builder()
                .max_capacity(KNOWN_CAPACITY)
                .time_to_idle(KNOWN_FOR)
                .build()
        }
        Self {
            sessions: build(),
            hooks: build(),
        }
    }
}

impl KnownCredentials {
    pub fn session_is_known(&self, token_hash: &[u8]) -> bool {
        self.sessions.contains_key(token_hash)
    }

    pub fn remember_session(&self, token_hash: Vec<u8>) {
        self.sessions.insert(token_hash, ());
    }
}

/// The client key of the request, by `TRUST_PROXY_HOPS`.
pub fn client_of(state: &AppState, req: &ServiceRequest) -> ClientKey {
    client_key(req.request(), state.config.trust_proxy_hops)
}

/// Charges one unit of `budget` to `client`.
pub async fn charge(
    state: &AppState,
    req: &ServiceRequest,
    client: ClientKey,
    budget: Budget,
) -> Result<(), Refused> {
    // The worker thread's own limiter (`Application::build`), else the shared one.
    let limiter = req.app_data::<web::Data<ratelimit::RateLimiter>>();
    let limiter = limiter.map_or(&state.limiter, |own| own.get_ref());
    let name = format!("{}:{client}", budget.as_str());
    let decision = limiter
        .check_named(&name, state.config.anonymous.of(budget))
        .await;
    if decision.allowed {
        metrics::counter!("gateway_anonymous_requests_total", "budget" => budget.as_str(), "decision" => "allowed").increment(1);
        Ok(())
    } else {
        metrics::counter!("gateway_anonymous_requests_total", "budget" => budget.as_str(), "decision" => "limited").increment(1);
        Err(Refused {
            budget,
            retry_after: decision.retry_after,
        })
    }
}

/// A request to `/api/` with no `Authorization` header: charges it before the session lookup
/// or the handler, unless this replica knows its session cookie (then the lookup is free) or
/// its webhook path from this client.
pub async fn admit_without_key(
    state: &AppState,
    req: &ServiceRequest,
) -> Result<Admitted, Refused> {
    let client = client_of(state, req);
    if let Some(cookie) = req.cookie(crate::session::SESSION_COOKIE) {
        let hash = db::sessions::hash_token(cookie.value());
        let known = state.known.session_is_known(&hash);
        if !known {
            charge(state, req, client, Budget::Anonymous).await?;
        }
        return Ok(Admitted::Session { hash, known });
    }
    if req.path().starts_with(HOOKS_PREFIX) {
        let hook = (client, req.path().to_owned());
        if !state.known.hooks.contains_key(&hook) {
            charge(state, req, client, Budget::Hooks).await?;
        }
        return Ok(Admitted::Hook(hook));
    }
    charge(state, req, client, Budget::Anonymous).await?;
    Ok(Admitted::Anonymous)
}

/// What [`admit_without_key`] let through, to remember once it proves valid.
pub enum Admitted {
    /// A session cookie (its token's SHA-256): known once a live session answers for it;
    /// `known` when it was, so not charged.
    Session {
        hash: Vec<u8>,
        known: bool,
    },
    /// A webhook post: its client and path are known once answered 2xx.
    Hook((ClientKey, String)),
    Anonymous,
}

impl Admitted {
    /// The session lookup found a live session for the cookie.
    pub fn session_found(&self, state: &AppState) {
        if let Self::Session { hash, .. } = self {
            state.known.remember_session(hash.clone());
        }
    }

    /// The session lookup found no live session (expired, revoked): the cookie is forgotten,
    /// and the request, which goes on anonymous, is charged if it was let through as known.
    pub async fn session_missing(
        &self,
        state: &AppState,
        req: &ServiceRequest,
    ) -> Result<(), Refused> {
        if let Self::Session { hash, known } = self {
            state.known.sessions.invalidate(hash);
            if *known {
                charge_failure(state, req).await?;
            }
        }
        Ok(())
    }

    /// The handler answered `status`.
    pub fn answered(self, state: &AppState, status: actix_web::http::StatusCode) {
        if let Self::Hook(hook) = self
            && status.is_success()
        {
            state.known.hooks.insert(hook, ());
        }
    }
}

/// Why a credential did not get its request through.
#[derive(Debug)]
pub enum Denied {
    /// The client's anonymous budget was empty: 429, nothing looked up.
    Refused(Refused),
    /// Any other answer (401, a database error).
    Error(crate::error::ApiError),
}

impl From<Refused> for Denied {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused)
    }
}

impl From<crate::error::ApiError> for Denied {
    fn from(error: crate::error::ApiError) -> Self {
        Self::Error(error)
    }
}

impl Denied {
    pub fn response(&self) -> HttpResponse {
        match self {
            Self::Refused(refused) => refused.response(),
            Self::Error(error) => actix_web::ResponseError::error_response(error),
        }
    }
}

/// A failed credential (malformed, unknown, revoked, expired) that was not charged before its
/// lookup (a cached answer): charged now, so every failure costs one unit.
pub async fn charge_failure(state: &AppState, req: &ServiceRequest) -> Result<(), Refused> {
    charge(state, req, client_of(state, req), Budget::Anonymous).await
}

/// `key`'s cached value, or `load`'s (a database lookup of a credential) charged first to the
/// client's anonymous budget: a cache hit costs nothing, a miss one unit before the database
/// is asked. Also says whether it charged.
pub async fn load_charged<K, F>(
    state: &AppState,
    req: &ServiceRequest,
    key: &cache::Key<K>,
    load: F,
) -> Result<(Option<K::Value>, bool), Denied>
where
    K: cache::KeyType,
    F: std::future::Future<Output = Result<Option<K::Value>, db::DbError>>,
{
    /// A loader's failure, shared by every request that waited for the same load.
    #[derive(Clone)]
    enum LoadError {
        Refused(Refused),
        Db(std::sync::Arc<db::DbError>),
    }
    let charged = std::sync::atomic::AtomicBool::new(false);
    let found = state
        .cache
        .get_or_load(key, async {
            charge(state, req, client_of(state, req), Budget::Anonymous)
                .await
                .map_err(LoadError::Refused)?;
            charged.store(true, std::sync::atomic::Ordering::Relaxed);
            load.await
                .map_err(|e| LoadError::Db(std::sync::Arc::new(e)))
        })
        .await;
    match found {
        Ok(value) => Ok((value, charged.load(std::sync::atomic::Ordering::Relaxed))),
        Err(LoadError::Refused(refused)) => Err(Denied::Refused(refused)),
        Err(LoadError::Db(error)) => Err(Denied::Error(
            crate::error::ApiError::from_shared_db_error(&error),
        )),
    }
}
