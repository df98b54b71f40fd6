//! Authentication: `Authorization: Bearer <api key>` (programs) or a browser session's cookie
//! (people; see [`crate::session`]) resolves the caller.
//!
//! The [`authenticate`] middleware resolves the key once per request (through the cached
//! principal) and stores the [`Principal`] in the request; handlers state the role they need by
//! the extractor they take: [`Caller`] (anyone authenticated), [`TenantUser`], [`TenantAdmin`]
//! or [`Superadmin`].

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use common::{AccountId, ErrorCode, Plan, Role, TenantId, UserId};
use db::auth::{KeyPrincipal, Principal, TenantPrincipal};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl Caller {
    /// The caller's tenant; superadmins have none and use the admin endpoints instead.
    pub fn tenant(&self) -> Result<TenantPrincipal, ApiError> {
        self.0.tenant.ok_or_else(|| {
            ApiError::forbidden(
                "superadmins belong to no tenant; use a tenant user's key for this endpoint",
            )
        })
    }

    pub fn tenant_id(&self) -> Result<TenantId, ApiError> {
        self.tenant().map(|t| t.id)
    }

    /// The caller's tenant as a query scope on `conn`: the only way handlers reach tenant data.
    pub fn scope<'c, C: sea_orm::ConnectionTrait>(
        &self,
        conn: &'c C,
    ) -> Result<db::TenantScope<'c, C>, ApiError> {
        Ok(db::TenantScope::for_caller(conn, self.tenant_id()?))
    }

    /// What the caller may see of data that both tenants and the operator read (jobs, queues):
    /// the whole platform for the superadmin, their own tenant for everyone else.
    pub fn reach<'c, C: sea_orm::ConnectionTrait>(
        &self,
        conn: &'c C,
    ) -> Result<db::Reach<'c, C>, ApiError> {
        match self.0.role {
            Role::Superadmin => Ok(db::PlatformScope::new(conn).into()),
            _ => Ok(self.scope(conn)?.into()),
        }
    }

    /// Refuses callers that are not an admin of their tenant (superadmins have no tenant).
    pub fn require_tenant_admin(&self) -> Result<TenantPrincipal, ApiError> {
        let tenant = self.tenant()?;
        if self.0.role == Role::TenantAdmin {
            Ok(tenant)
        } else {
            Err(ApiError::forbidden("only a tenant admin may do this"))
        }
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn require_superadmin(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Superadmin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only a superadmin may do this"))
        }
    }
}

/// Reads the principal the [`authenticate`] middleware stored; 401 when there is none.
fn principal_of(req: &HttpRequest) -> Result<Principal, ApiError> {
    let extensions = req.extensions();
    if let Some(principal) = extensions.get::<Principal>() {
        return Ok(principal.clone());
    }
    Err(
        if extensions.get::<crate::session::StaleSession>().is_some() {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "your session has expired or was revoked; sign in again",
            )
        } else {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "missing `Authorization: Bearer <api key>` header (or a signed-in session)",
            )
        },
    )
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).map(Caller))
    }
}

/// A caller that belongs to a tenant (any role but superadmin).
pub struct TenantUser {
    pub caller: Caller,
    pub tenant: TenantPrincipal,
}

impl TenantUser {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    pub fn user_id(&self) -> UserId {
        self.caller.0.user_id
    }

    pub fn role(&self) -> Role {
        self.caller.0.role
    }

    /// The account the user works in, which owns what it creates (inboxes, contacts,
    /// campaigns).
    pub fn account_id(&self) -> Result<AccountId, ApiError> {
        self.caller
            .0
            .account_id
            .ok_or_else(|| ApiError::forbidden("this user belongs to no account"))
    }

    /// The caller's tenant as a query scope on `conn`.
    pub fn scope<'c, C: sea_orm::ConnectionTrait>(&self, conn: &'c C) -> db::TenantScope<'c, C> {
        db::TenantScope::for_caller(conn, self.tenant.id)
    }
}

impl FromRequest for TenantUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).and_then(|principal| {
            let caller = Caller(principal);
            let tenant = caller.tenant()?;
            Ok(TenantUser { caller, tenant })
        }))
    }
}

/// A tenant admin of its own tenant.
pub struct TenantAdmin(pub TenantUser);

impl std::ops::Deref for TenantAdmin {
    type Target = TenantUser;
    fn deref(&self) -> &TenantUser {
        &self.0
    }
}

impl FromRequest for TenantAdmin {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(
            TenantUser::from_request(req, payload)
                .into_inner()
                .and_then(|user| {
                    if user.role() == Role::TenantAdmin {
                        Ok(TenantAdmin(user))
                    } else {
                        Err(ApiError::forbidden("only a tenant admin may do this"))
                    }
                }),
        )
    }
}

/// The platform operator.
pub struct Superadmin(pub Caller);

impl Superadmin {
    /// The operator's view across tenants.
    pub fn platform<'c, C: sea_orm::ConnectionTrait>(
        &self,
        conn: &'c C,
    ) -> db::PlatformScope<'c, C> {
        db::PlatformScope::new(conn)
    }
}

impl FromRequest for Superadmin {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).and_then(|principal| {
            let caller = Caller(principal);
            caller.require_superadmin()?;
            Ok(Superadmin(caller))
        }))
    }
}

/// The first stage of the request pipeline: a request with `Authorization` is authenticated
/// here (through the cached principal) and carries its [`Principal`] on; a bad header or key is
/// answered 401 at once. A request without one goes on anonymous, and only public endpoints
/// serve it: every other handler takes an extractor above, which answers 401.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    // Only the API has callers: the web app's files and the probes need none, a page load
    // should not cost a database read per file, and `/metrics` reads its own bearer token
    // (`METRICS_TOKEN`, see `metrics_endpoint`), which is no API key.
    if !req.path().starts_with("/api/") {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        // No API key: a browser's session cookie, if it sent one.
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            return Ok(refuse(req, ApiError::internal("application state missing")));
        };
        // Charged to the client's anonymous budget before the session lookup or the handler
        // (unless this replica knows the cookie or the webhook path): `crate::anonymous`.
        let admitted = match crate::anonymous::admit_without_key(&state, &req).await {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(answer(req, refused.response())),
        };
        match crate::session::authenticate(&state, &req).await {
            Ok(Some(session)) => {
                admitted.session_found(&state);
                req.extensions_mut().insert(session.principal.clone());
                req.extensions_mut()
                    .insert(crate::session::CurrentSession(session));
            }
            Ok(None) => {
                if let Err(refused) = admitted.session_missing(&state, &req).await {
                    return Ok(answer(req, refused.response()));
                }
            }
            Err(e) => return Ok(refuse(req, e)),
        }
        let response = next.call(req).await?;
        admitted.answered(&state, response.status());
        return Ok(response.map_into_left_body());
    };
    let key = match header.to_str() {
        Ok(value) => match value.split_once(' ') {
            // The scheme is case-insensitive (RFC 9110), the key is not.
            Some((scheme, key))
                if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() =>
            {
                Some(key.trim().to_owned())
            }
            _ => None,
        },
        Err(_) => None,
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(refuse(req, ApiError::internal("application state missing")));
    };
    let found = match key {
        Some(key) => principal(&state, &req, &key).await,
        None => match crate::anonymous::charge_failure(&state, &req).await {
            Ok(()) => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "malformed `Authorization` header: expected `Bearer <api key>`",
            )
            .into()),
            Err(refused) => Err(refused.into()),
        },
    };
    match found {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Ok(None) => Ok(refuse(req, unauthenticated())),
        Err(denied) => Ok(answer(req, denied.response())),
    }
}

/// Answers the request with `response` without calling the handler.
fn answer<B>(
    req: ServiceRequest,
    response: actix_web::HttpResponse,
) -> ServiceResponse<EitherBody<B>> {
    req.into_response(response).map_into_right_body()
}

/// Answers the request with `error` without calling the handler.
fn refuse<B>(req: ServiceRequest, error: ApiError) -> ServiceResponse<EitherBody<B>> {
    use actix_web::ResponseError;
    let response = error.error_response();
    req.into_response(response).map_into_right_body()
}

cache::key_type! {
    /// Who the API key with this SHA-256 (hex) authenticates as; absent for unknown and revoked
    /// keys. Kept in process as well as in Redis (`CACHE_LOCAL_KINDS`), so a warm request makes
    /// no Postgres query and no Redis round trip to authenticate.
    pub PrincipalKey: ApiKeyPrincipal, id = str, value = CachedKeyPrincipal, schema = 2
}

/// A [`KeyPrincipal`] as the principal cache stores it (the JSON of `PrincipalKey`'s schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedKeyPrincipal {
    principal: CachedPrincipal,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedPrincipal {
    user_id: UserId,
    role: Role,
    tenant: Option<CachedTenant>,
    account_id: Option<AccountId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct CachedTenant {
    id: TenantId,
    plan: Plan,
}

impl From<KeyPrincipal> for CachedKeyPrincipal {
    fn from(key: KeyPrincipal) -> Self {
        let Principal {
            user_id,
            role,
            tenant,
            account_id,
        } = key.principal;
        Self {
            principal: CachedPrincipal {
                user_id,
                role,
                tenant: tenant.map(|TenantPrincipal { id, plan }| CachedTenant { id, plan }),
                account_id,
            },
            expires_at: key.expires_at,
        }
    }
}

impl From<CachedKeyPrincipal> for KeyPrincipal {
    fn from(cached: CachedKeyPrincipal) -> Self {
        let CachedPrincipal {
            user_id,
            role,
            tenant,
            account_id,
        } = cached.principal;
        Self {
            principal: Principal {
                user_id,
                role,
                tenant: tenant.map(|CachedTenant { id, plan }| TenantPrincipal { id, plan }),
                account_id,
            },
            expires_at: cached.expires_at,
        }
    }
}

/// The principal of a raw key, through the cache. The entry holds the key's expiry and is
/// checked against it on every use, so a cached key stops working the moment it expires,
/// whatever the entry's TTL.
///
/// A lookup the cache cannot answer is charged to the client's anonymous budget first, and a
/// key that turns out unknown, revoked or expired without having been charged (a cached
/// answer) is charged then: random keys cost the database nothing once the budget is spent
/// (`crate::anonymous`).
async fn principal(
    state: &AppState,
    req: &ServiceRequest,
    raw_key: &str,
) -> Result<Option<Principal>, crate::anonymous::Denied> {
    let key_hash = db::apikey::hash(raw_key);
    let key = PrincipalKey::key(&hex::encode(&key_hash));
    let load = async {
        let found = db::auth::key_principal_for_hash(&state.db, &key_hash).await?;
        Ok(found.map(CachedKeyPrincipal::from))
    };
    let (found, charged) = crate::anonymous::load_charged(state, req, &key, load).await?;
    let principal = found
        .map(KeyPrincipal::from)
        .filter(|key| key.live_at(chrono::Utc::now()))
        .map(|key| key.principal);
    if principal.is_none() && !charged {
        crate::anonymous::charge_failure(state, req).await?;
    }
    Ok(principal)
}

/// The cache entries of these keys (SHA-256 each): drop them after what they resolve to changed.
pub fn principal_keys(key_hashes: &[Vec<u8>]) -> Vec<cache::KeyRef> {
    key_hashes
        .iter()
        .map(|hash| PrincipalKey::key(&hex::encode(hash)).into())
        .collect()
}

fn unauthenticated() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "invalid or revoked API key")
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    /// Entries of `PrincipalKey`'s schema 2 written before the principal types left `db` hold
    /// this JSON: a different shape would need a new schema number.
    #[test]
    fn a_cached_principal_keeps_the_shape_of_schema_2() {
        let key = KeyPrincipal {
            principal: Principal {
                user_id: UserId::from(Uuid::from_u128(1)),
                role: Role::User,
                tenant: Some(TenantPrincipal {
                    id: TenantId::from(Uuid::from_u128(2)),
                    plan: Plan::Pro,
                }),
                account_id: Some(AccountId::from(Uuid::from_u128(3))),
            },
            expires_at: Some("2026-01-31T00:00:00Z".parse().expect("a time")),
        };
        let stored = json!({
            "principal": {
                "user_id": "00000000-0000-0000-0000-000000000001",
                "role": "user",
                "tenant": {"id": "00000000-0000-0000-0000-000000000002", "plan": "pro"},
                "account_id": "00000000-0000-0000-0000-000000000003",
            },
            "expires_at": "2026-01-31T00:00:00Z",
        });
        let cached = serde_json::to_value(CachedKeyPrincipal::from(key.clone())).expect("JSON");
        assert_eq!(cached, stored);
        let read: CachedKeyPrincipal = serde_json::from_value(stored).expect("read back");
        assert_eq!(KeyPrincipal::from(read), key);
    }
}
