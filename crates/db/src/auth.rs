//! Resolving a bearer key to who is calling, and the changes that alter the answer.
//!
//! Principals are cached by key hash (see the gateway's `auth`), so every function that changes
//! what a key resolves to (revoking it, deleting its user, changing its tenant's plan) returns
//! the hashes of the keys affected, for the caller to invalidate once its transaction commits.

use common::sql;
use common::{AccountId, ApiKeyId, Plan, Role, TenantId, UserId};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::{DbError, DbResult, PlatformScope, Reach, TenantScope, apikey, parse_stored};

/// The caller of a request: every tenant-owned query takes its tenant from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    /// `None` only for superadmins.
    pub tenant: Option<TenantPrincipal>,
    pub account_id: Option<AccountId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantPrincipal {
    pub id: TenantId,
    pub plan: Plan,
}

#[derive(FromQueryResult)]
struct PrincipalRow {
    user_id: Uuid,
    role: String,
    tenant_id: Option<Uuid>,
    plan: Option<String>,
    account_id: Option<Uuid>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who a live API key authenticates as, and until when: whoever keeps this (the gateway's
/// principal cache) checks `expires_at` on every use, so a kept copy never outlives the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub principal: Principal,
    /// `None`: the key never expires.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl KeyPrincipal {
    /// Whether the key still authenticates at `now`.
    pub fn live_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// The principal owning an unrevoked key, or `None`.
pub async fn principal_for_key(
    db: &impl ConnectionTrait,
    raw_key: &str,
) -> DbResult<Option<Principal>> {
    principal_for_hash(db, &apikey::hash(raw_key)).await
}

/// The principal owning the unrevoked, unexpired key with this SHA-256, or `None`.
pub async fn principal_for_hash(
    db: &impl ConnectionTrait,
    key_hash: &[u8],
) -> DbResult<Option<Principal>> {
    Ok(key_principal_for_hash(db, key_hash)
        .await?
        .map(|key| key.principal))
}

/// [`principal_for_hash`] with the key's expiry, for callers that keep the answer.
pub async fn key_principal_for_hash(
    db: &impl ConnectionTrait,
    key_hash: &[u8],
) -> DbResult<Option<KeyPrincipal>> {
    let row = PrincipalRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT u.id AS user_id, u.role, u.tenant_id, t.plan, u.account_id, k.expires_at
           FROM api_keys k
           JOIN users u ON u.id = k.user_id
           LEFT JOIN tenants t ON t.id = u.tenant_id
          WHERE k.key_hash = $1 AND k.revoked_at IS NULL
            AND (k.expires_at IS NULL OR k.expires_at > now())"
        ),
        [key_hash.to_vec().into()],
    ))
    .one(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let tenant = match (row.tenant_id, row.plan) {
        (Some(id), Some(plan)) => Some(TenantPrincipal {
            id: id.into(),
            plan: parse_stored("tenants", "plan", &plan)?,
        }),
        _ => None,
    };
    Ok(Some(KeyPrincipal {
        principal: Principal {
            user_id: row.user_id.into(),
            role: parse_stored("users", "role", &row.role)?,
            tenant,
            account_id: row.account_id.map(Into::into),
        },
        expires_at: row.expires_at,
    }))
}

/// Whose keys a caller may revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    /// A superadmin: every key.
    Any,
    /// A tenant admin: every key of the tenant.
    Tenant(TenantId),
    /// A user: their own keys.
    Owner(TenantId, UserId),
}

#[derive(FromQueryResult)]
struct HashRow {
    key_hash: Vec<u8>,
}

async fn hashes(db: &impl ConnectionTrait, sql: &str, id: Uuid) -> DbResult<Vec<Vec<u8>>> {
    let rows = HashRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [id.into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.key_hash).collect())
}

/// Revokes a key the caller may reach and returns its hash. Revoking a revoked key is a no-op
/// that still answers (so a retry succeeds); a key out of reach is `NotFound`.
pub async fn revoke_api_key(
    db: &impl ConnectionTrait,
    access: KeyAccess,
    key_id: ApiKeyId,
) -> DbResult<Vec<u8>> {
    let sql = match access {
        KeyAccess::Any => sql!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
              WHERE id = $1
             RETURNING key_hash"
        ),
        KeyAccess::Tenant(_) => sql!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
              WHERE id = $1 AND tenant_id = $2
             RETURNING key_hash"
        ),
        KeyAccess::Owner(..) => sql!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
              WHERE id = $1 AND user_id = $2
             RETURNING key_hash"
        ),
    };
    // The tenant or user the statement's `$2` names.
    let scope = match access {
        KeyAccess::Any => None,
        KeyAccess::Tenant(t) => Some(t.into_uuid()),
        KeyAccess::Owner(_, u) => Some(u.into_uuid()),
    };
    let mut values = vec![key_id.into_uuid().into()];
    values.extend(scope.map(Into::into));
    let row = HashRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .one(db)
    .await?;
    row.map(|r| r.key_hash).ok_or(DbError::NotFound("API key"))
}

/// What deleting a user changed, for the caller to invalidate.
#[derive(Debug)]
pub struct DeletedUser {
    /// The SHA-256 of each of its keys.
    pub key_hashes: Vec<Vec<u8>>,
    /// The account it was an agent of, if any (its agent and team lists lose it).
    pub account_id: Option<AccountId>,
}

#[derive(FromQueryResult)]
struct UserAccountRow {
    account_id: Option<Uuid>,
}

/// Deletes a tenant user the reach may see (never a superadmin) with its keys.
pub async fn delete_user(
    reach: Reach<'_, DatabaseConnection>,
    user_id: UserId,
) -> DbResult<DeletedUser> {
    let tenant_id = reach.tenant_id();
    let txn = reach.conn().begin().await?;
    // Locks the user so no key is added between reading the hashes and deleting.
    let found = UserAccountRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT account_id FROM users
          WHERE id = $1 AND tenant_id IS NOT NULL AND ($2::uuid IS NULL OR tenant_id = $2)
          FOR UPDATE"
        ),
        [
            user_id.into_uuid().into(),
            tenant_id.map(TenantId::into_uuid).into(),
        ],
    ))
    .one(&txn)
    .await?
    .ok_or(DbError::NotFound("user"))?;
    let key_hashes = hashes(
        &txn,
        sql!("SELECT key_hash FROM api_keys WHERE user_id = $1"),
        user_id.into_uuid(),
    )
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("DELETE FROM users WHERE id = $1"),
        [user_id.into_uuid().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(DeletedUser {
        key_hashes,
        account_id: found.account_id.map(Into::into),
    })
}

/// Moves a tenant to another platform plan (an operator's change) and returns the hashes of its
/// keys (each principal carries the plan).
pub async fn set_tenant_plan(
    platform: PlatformScope<'_, DatabaseConnection>,
    tenant_id: TenantId,
    plan: Plan,
) -> DbResult<Vec<Vec<u8>>> {
    let txn = platform.conn().begin().await?;
    let updated = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("UPDATE tenants SET plan = $2, updated_at = now() WHERE id = $1"),
            [tenant_id.into_uuid().into(), plan.as_str().into()],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        return Err(DbError::NotFound("tenant"));
    }
    let key_hashes = tenant_key_hashes(TenantScope::new(&txn, tenant_id)).await?;
    txn.commit().await?;
    Ok(key_hashes)
}

/// The hashes of every key of the scope's users.
pub async fn tenant_key_hashes(
    scope: TenantScope<'_, impl ConnectionTrait>,
) -> DbResult<Vec<Vec<u8>>> {
    hashes(
        scope.conn(),
        sql!("SELECT key_hash FROM api_keys WHERE tenant_id = $1"),
        scope.tenant_uuid(),
    )
    .await
}

/// The hashes of every key of one user the reach may see.
pub async fn user_key_hashes(
    reach: Reach<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<Vec<Vec<u8>>> {
    let rows = HashRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT key_hash FROM api_keys WHERE user_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)"),
        [
            user_id.into_uuid().into(),
            reach.tenant_id().map(TenantId::into_uuid).into(),
        ],
    ))
    .all(reach.conn())
    .await?;
    Ok(rows.into_iter().map(|r| r.key_hash).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> KeyPrincipal {
        KeyPrincipal {
            principal: Principal {
                user_id: UserId::new(),
                role: Role::User,
                tenant: None,
                account_id: None,
            },
            expires_at,
        }
    }

    #[test]
    fn a_key_lives_until_its_expiry_and_not_at_it() {
        let now = chrono::Utc::now();
        assert!(key(None).live_at(now));
        assert!(key(Some(now + chrono::Duration::seconds(1))).live_at(now));
        assert!(!key(Some(now)).live_at(now));
        assert!(!key(Some(now - chrono::Duration::seconds(1))).live_at(now));
    }
}
