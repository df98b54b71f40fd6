//! Bearer-key authentication: `Authorization: Bearer <api key>` resolves the caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use common::{ErrorCode, Role, TenantId};
use db::auth::{Principal, TenantPrincipal};

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
        Ok(db::TenantScope::new(conn, self.tenant_id()?))
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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let key = match header {
                None => {
                    return Err(ApiError::new(
                        ErrorCode::Unauthenticated,
                        "missing `Authorization: Bearer <api key>` header",
                    ));
                }
                Some(Err(_)) => return Err(unauthenticated()),
                // The scheme is case-insensitive (RFC 9110), the key is not.
                Some(Ok(value)) => match value.split_once(' ') {
                    Some((scheme, key))
                        if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() =>
                    {
                        key.trim().to_owned()
                    }
                    _ => return Err(unauthenticated()),
                },
            };
            match principal(&state, &key).await? {
                Some(principal) => Ok(Caller(principal)),
                None => Err(unauthenticated()),
            }
        })
    }
}

cache::key_type! {
    /// Who the API key with this SHA-256 (hex) authenticates as; absent for unknown and revoked
    /// keys. Kept in process as well as in Redis (`CACHE_LOCAL_KINDS`), so a warm request makes
    /// no Postgres query and no Redis round trip to authenticate.
    pub PrincipalKey: ApiKeyPrincipal, id = str, value = Principal, schema = 1
}

/// The principal of a raw key, through the cache.
async fn principal(state: &AppState, raw_key: &str) -> Result<Option<Principal>, ApiError> {
    let key_hash = db::apikey::hash(raw_key);
    let key = PrincipalKey::key(&hex::encode(&key_hash));
    crate::cached::read(
        state,
        &key,
        db::auth::principal_for_hash(&state.db, &key_hash),
    )
    .await
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
