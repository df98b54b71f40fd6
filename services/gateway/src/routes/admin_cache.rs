//! `POST /api/admin/cache/invalidate` (superadmin): drops cached entries by hand, when data was
//! changed outside the API (a migration, a manual fix) and must be seen before the TTLs expire.

use actix_web::{post, web};
use cache::KeyKind;
use common::{TenantId, UserId};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiResult, Envelope, ok};
use crate::auth::{Superadmin, principal_keys};
use crate::error::ApiError;
use crate::routes::tenants::user_cache_keys;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(invalidate);
}

/// Exactly one of: one entry (`keyType` and `id`), a user's entries, or a tenant's entries.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invalidate {
    /// A key type as the cache names it: `branding`, `user_quotas`, `api_key_principal`, ...
    key_type: Option<String>,
    /// The id of that entry: a tenant, user or account id, or an API key's SHA-256 in hex.
    id: Option<String>,
    /// Every entry of this user: its keys' principals, subscription, quotas and features.
    user_id: Option<UserId>,
    /// Every entry of this tenant, its keys' principals included.
    tenant_id: Option<TenantId>,
}

/// What was dropped, echoing what was asked; `invalidated` counts the entries dropped.
// `rename_all` on each variant rather than `rename_all_fields` on the enum: utoipa reads only
// the former.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Invalidated {
    #[serde(rename_all = "camelCase")]
    Entry {
        key_type: &'static str,
        id: String,
        invalidated: usize,
    },
    #[serde(rename_all = "camelCase")]
    User { user_id: UserId, invalidated: usize },
    #[serde(rename_all = "camelCase")]
    Tenant {
        tenant_id: TenantId,
        invalidated: usize,
    },
}

/// Drops cached entries by hand (superadmin only), when data was changed outside the API (a
/// migration, a manual fix) and must be seen before the entries expire.
///
/// Give exactly one of: `keyType` with `id` (one entry), `userId` (a user's entries) or
/// `tenantId` (a tenant's entries). Answers 503 when the cache did not answer.
#[utoipa::path(
    tag = "admin",
    request_body = Invalidate,
    responses((status = 200, description = "What was dropped", body = Envelope<Invalidated>)),
)]
#[post("/admin/cache/invalidate")]
pub async fn invalidate(
    state: web::Data<AppState>,
    operator: Superadmin,
    body: ApiJson<Invalidate>,
) -> ApiResult {
    let body = body.into_inner();
    let invalidated = match (body.key_type, body.id, body.user_id, body.tenant_id) {
        (Some(key_type), Some(id), None, None) => invalidate_entry(&state, &key_type, &id).await?,
        (None, None, Some(user_id), None) => invalidate_user(&state, &operator, user_id).await?,
        (None, None, None, Some(tenant_id)) => invalidate_tenant(&state, tenant_id).await?,
        _ => {
            return Err(ApiError::new(
                common::ErrorCode::ValidationFailed,
                "give exactly one of: `keyType` with `id`, `userId`, or `tenantId`",
            ));
        }
    };
    Ok(ok(invalidated))
}

/// One entry, named by its key type and id.
async fn invalidate_entry(
    state: &AppState,
    key_type: &str,
    id: &str,
) -> Result<Invalidated, ApiError> {
    let kind = KeyKind::ALL
        .iter()
        .copied()
        .find(|kind| kind.name() == key_type)
        .ok_or_else(|| {
            let names: Vec<&str> = KeyKind::ALL.iter().map(|k| k.name()).collect();
            ApiError::validation(
                "keyType",
                format!(
                    "unknown key type `{key_type}`; one of: {}",
                    names.join(", ")
                ),
            )
        })?;
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_whitespace()) {
        return Err(ApiError::validation(
            "id",
            "`id` must be a key id without spaces",
        ));
    }
    state
        .cache
        .invalidate(kind.key(id))
        .await
        .map_err(unavailable)?;
    Ok(Invalidated::Entry {
        key_type: kind.name(),
        id: id.to_owned(),
        invalidated: 1,
    })
}

/// A user's entries: their API keys' principals and what is cached per user.
async fn invalidate_user(
    state: &AppState,
    operator: &Superadmin,
    user_id: UserId,
) -> Result<Invalidated, ApiError> {
    let hashes = db::auth::user_key_hashes(operator.platform(&state.db).into(), user_id).await?;
    let mut keys = principal_keys(&hashes);
    keys.extend(user_cache_keys(user_id));
    let count = keys.len();
    state
        .cache
        .invalidate_many(keys)
        .await
        .map_err(unavailable)?;
    Ok(Invalidated::User {
        user_id,
        invalidated: count,
    })
}

/// A tenant's entries: those indexed under it, and its API keys' principals.
async fn invalidate_tenant(state: &AppState, tenant_id: TenantId) -> Result<Invalidated, ApiError> {
    let hashes =
        db::auth::tenant_key_hashes(db::TenantScope::for_operator_action(&state.db, tenant_id))
            .await?;
    let indexed = state
        .cache
        .invalidate_tenant(tenant_id)
        .await
        .map_err(unavailable)?;
    state
        .cache
        .invalidate_many(principal_keys(&hashes))
        .await
        .map_err(unavailable)?;
    Ok(Invalidated::Tenant {
        tenant_id,
        invalidated: indexed + hashes.len(),
    })
}

/// Unlike a read, an invalidation asked for by hand must say when it could not be done.
fn unavailable(e: cache::CacheError) -> ApiError {
    tracing::warn!(error = %e, "manual cache invalidation failed");
    ApiError::new(
        common::ErrorCode::ServiceUnavailable,
        "Redis did not answer; nothing may have been invalidated, try again",
    )
}
