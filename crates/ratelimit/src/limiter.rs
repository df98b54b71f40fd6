//! The limiter: Redis decides while it can, this process while it cannot.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::clock::Clock;
use common::config::PlanLimit;
use common::{Plan, TenantId};
use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::scripts::Script;

use crate::config::LimiterConfig;
use crate::decision::{Decision, Source};
use crate::fallback::Fallback;
use crate::gcra::{self, GcraParams, Outcome, UnexpectedReply};
use crate::metrics::{Counters, LimiterStats, RedisErrorKind, describe_metrics};
use common::warn_limiter::WarnLimiter;

/// At most one warning about Redis failing per this long.
const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// Per-tenant limits shared by every gateway replica through Redis, with an in-process
/// fallback. Cheap to clone: clones share the client, the fallback buckets and the counters.
/// [`on_own_connection`](Self::on_own_connection) makes one that shares all but the client.
#[derive(Clone)]
pub struct RateLimiter {
    client: Client,
    inner: Arc<Inner>,
}

/// What every limiter of a process shares, whichever connection it asks Redis on.
struct Inner {
    config: LimiterConfig,
    /// The system clock in production (the script then reads Redis' own); a test's manual
    /// clock is passed to the script.
    clock: Clock,
    script: Script,
    fallback: Fallback,
    /// The fallback of [`RateLimiter::check_named`]'s buckets.
    named_fallback: Fallback<String>,
    counters: Counters,
    warn: WarnLimiter,
}

/// Why Redis could not decide.
#[derive(Debug, thiserror::Error)]
enum RedisCheckError {
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the rate limit script failed")]
    Redis(#[source] fred::error::Error),
    #[error(transparent)]
    Reply(#[from] UnexpectedReply),
}

impl RedisCheckError {
    fn kind(&self) -> RedisErrorKind {
        match self {
            Self::Timeout(_) => RedisErrorKind::Timeout,
            Self::Redis(_) => RedisErrorKind::Error,
            Self::Reply(_) => RedisErrorKind::Reply,
        }
    }
}

impl RateLimiter {
    /// Uses `client` as it is: the caller connects it, and builds it with a reconnect policy
    /// (and `fail_fast` off) so that the limiter returns to Redis by itself after an outage.
    pub fn new(client: Client, config: LimiterConfig) -> Self {
        Self::with_clock(client, config, Clock::system())
    }

    /// [`new`](Self::new) deciding at `clock`'s time: with a manual clock, the shared bucket
    /// refills as the test steps it (the in-process fallback keeps its own clock).
    pub fn with_clock(client: Client, config: LimiterConfig, clock: Clock) -> Self {
        describe_metrics();
        Self {
            client,
            inner: Arc::new(Inner {
                clock,
                fallback: Fallback::new(config.fallback_replicas),
                named_fallback: Fallback::new(config.fallback_replicas),
                config,
                script: Script::from_lua(gcra::SCRIPT),
                counters: Counters::default(),
                warn: WarnLimiter::new(WARN_INTERVAL),
            }),
        }
    }

    /// A limiter on a connection of its own, opened from the task that calls this and served
    /// by that thread's runtime: an HTTP worker thread that asks Redis on its own connection
    /// wakes no other thread per request. It shares the fallback buckets, the counters and the
    /// script with `self`, so the fallback still holds the replica's share across threads.
    /// Waits up to `connect_wait` for the connection; Redis being down is not an error (the
    /// client reconnects by itself and the fallback decides meanwhile).
    pub async fn on_own_connection(&self, connect_wait: Duration) -> Self {
        let client = self.client.clone_new();
        client.connect();
        if !matches!(
            tokio::time::timeout(connect_wait, client.wait_for_connect()).await,
            Ok(Ok(()))
        ) {
            tracing::debug!(
                "rate limit: own connection not up yet; reconnecting in the background"
            );
        }
        Self {
            client,
            inner: self.inner.clone(),
        }
    }

    /// Charges one request to `tenant` under `limit` (the limit of `plan`, passed on every call
    /// so that a plan change applies from the next request on) and says whether it may pass.
    ///
    /// Never fails: when the client is not connected, Redis errs, or it does not answer within
    /// the configured timeout, the in-process limiter decides. A Redis call that timed out may
    /// still have been counted there.
    pub async fn check(&self, tenant: TenantId, plan: Plan, limit: PlanLimit) -> Decision {
        // A disconnected client would queue the command until reconnecting; asking it would
        // only make every request wait out the timeout.
        let from_redis = if self.client.is_connected() {
            match self.ask_redis(self.key(tenant), limit).await {
                Ok(outcome) => Some(outcome),
                Err(error) => {
                    self.report(&error);
                    None
                }
            }
        } else {
            None
        };
        let (outcome, source) = match from_redis {
            Some(outcome) => (outcome, Source::Redis),
            None => (self.inner.fallback.check(tenant, limit), Source::Fallback),
        };
        let decision = Decision {
            allowed: outcome.allowed,
            plan,
            limit,
            remaining: outcome.remaining,
            retry_after: outcome.retry_after,
            reset_after: outcome.reset_after,
            source,
            decided_at: SystemTime::from(self.inner.clock.now()),
        };
        self.inner.counters.decision(&decision);
        decision
    }

    /// Charges one attempt to the bucket `name` (such as `login:address:192.0.2.1`) under
    /// `limit`, with the same algorithm, script and fallback as [`check`](Self::check): for
    /// limits that are not a tenant's API rate (sign-in attempts per account and per address).
    /// Never fails. Named buckets share no key with tenants' (those are UUIDs).
    pub async fn check_named(&self, name: &str, limit: PlanLimit) -> NamedDecision {
        let from_redis = if self.client.is_connected() {
            match self.ask_redis(self.named_key(name), limit).await {
                Ok(outcome) => Some(outcome),
                Err(error) => {
                    self.report(&error);
                    None
                }
            }
        } else {
            None
        };
        let (outcome, source) = match from_redis {
            Some(outcome) => (outcome, Source::Redis),
            None => (
                self.inner.named_fallback.check(name.to_owned(), limit),
                Source::Fallback,
            ),
        };
        NamedDecision {
            allowed: outcome.allowed,
            retry_after: outcome.retry_after,
            source,
        }
    }

    /// The Redis key of the named bucket: `{prefix}ratelimit:{name}`.
    pub fn named_key(&self, name: &str) -> String {
        format!("{}ratelimit:{name}", self.inner.config.key_prefix)
    }

    /// The Redis key holding `tenant`'s bucket: `{prefix}ratelimit:{tenant}`.
    pub fn key(&self, tenant: TenantId) -> String {
        format!("{}ratelimit:{tenant}", self.inner.config.key_prefix)
    }

    pub fn config(&self) -> &LimiterConfig {
        &self.inner.config
    }

    /// Totals of this limiter and its clones since it was built.
    pub fn stats(&self) -> LimiterStats {
        self.inner.counters.snapshot()
    }

    async fn ask_redis(&self, key: String, limit: PlanLimit) -> Result<Outcome, RedisCheckError> {
        let timeout = self.inner.config.redis_timeout;
        // EVALSHA, loading the script first where the server does not know it yet (the first
        // call, or after a restart).
        let call = self.inner.script.evalsha_with_reload::<Vec<i64>, _, _>(
            &self.client,
            key,
            GcraParams::new(limit).args(self.manual_now_us()),
        );
        let reply = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| RedisCheckError::Timeout(timeout))?
            .map_err(RedisCheckError::Redis)?;
        Ok(Outcome::from_reply(reply)?)
    }

    /// The time a manual clock stands at, in epoch microseconds; `None` on the system clock.
    fn manual_now_us(&self) -> Option<i64> {
        let clock = &self.inner.clock;
        clock.is_manual().then(|| clock.now().timestamp_micros())
    }

    fn report(&self, error: &RedisCheckError) {
        self.inner.counters.redis_error(error.kind());
        tracing::debug!(
            error = error as &(dyn std::error::Error + 'static),
            "rate limit: Redis could not decide"
        );
        if let Some(suppressed) = self.inner.warn.allow() {
            tracing::warn!(
                error = error as &(dyn std::error::Error + 'static),
                suppressed,
                "rate limit: Redis could not decide; this process limits on its own meanwhile (similar warnings are suppressed for {}s)",
                WARN_INTERVAL.as_secs()
            );
        }
    }
}

/// What [`RateLimiter::check_named`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedDecision {
    pub allowed: bool,
    /// How long until a refused attempt would pass (zero when allowed).
    pub retry_after: Duration,
    pub source: Source,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
