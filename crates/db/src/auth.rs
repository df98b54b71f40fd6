//! Resolving a bearer key to who is calling.

use common::{AccountId, Plan, Role, TenantId, UserId};
use sea_orm::{DatabaseConnection, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use crate::{DbError, DbResult, apikey};

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
}

/// The principal owning an unrevoked key, or `None`.
pub async fn principal_for_key(
    db: &DatabaseConnection,
    raw_key: &str,
) -> DbResult<Option<Principal>> {
    let row = PrincipalRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT u.id AS user_id, u.role, u.tenant_id, t.plan, u.account_id
           FROM api_keys k
           JOIN users u ON u.id = k.user_id
           LEFT JOIN tenants t ON t.id = u.tenant_id
          WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        [apikey::hash(raw_key).into()],
    ))
    .one(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |what: &str, e: common::plan::UnknownVariant| {
        DbError::Db(sea_orm::DbErr::Custom(format!(
            "stored {what} is invalid: {e}"
        )))
    };
    let tenant = match (row.tenant_id, row.plan) {
        (Some(id), Some(plan)) => Some(TenantPrincipal {
            id: id.into(),
            plan: plan.parse().map_err(|e| corrupt("plan", e))?,
        }),
        _ => None,
    };
    Ok(Some(Principal {
        user_id: row.user_id.into(),
        role: row.role.parse().map_err(|e| corrupt("role", e))?,
        tenant,
        account_id: row.account_id.map(Into::into),
    }))
}
