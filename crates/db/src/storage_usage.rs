//! The bytes a tenant keeps in storage: import source files not yet deleted and ready reports'
//! files (import errors live in the database and do not count).
//!
//! The count is kept by triggers in the transaction that records or forgets a file (migration
//! `000020`), so it is exact whatever path wrote the row. An upload is admitted by
//! [`lock`]ing the tenant's count in the transaction that records the file: concurrent uploads
//! of one tenant take turns, so the count never passes the quota.

use common::sql;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbResult, TenantScope};

#[derive(FromQueryResult)]
struct Used {
    bytes_used: i64,
}

/// The tenant's bytes in storage now (0 before its first file).
pub async fn bytes_used(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<i64> {
    Ok(Used::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT bytes_used FROM tenant_storage WHERE tenant_id = $1"),
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .map_or(0, |u| u.bytes_used))
}

/// The tenant's bytes in storage, its count locked until the transaction ends (created at 0
/// when missing, so a tenant's first uploads take turns too). Run it in the transaction that
/// records the new file.
pub async fn lock(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<i64> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("INSERT INTO tenant_storage (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING"),
            [scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(Used::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT bytes_used FROM tenant_storage WHERE tenant_id = $1 FOR UPDATE"),
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .map_or(0, |u| u.bytes_used))
}
