#![doc = include_str!("../README.md")]

use common::sql;
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261126_000002_job_platform;
mod m20261126_000003_job_trace_context;
mod m20261126_000004_branding;
mod m20261126_000005_stripe;
mod m20261126_000006_plans;
mod m20261126_000007_account_access;
mod m20261126_000008_contact_imports;
mod m20261202_000009_events;
mod m20261202_000010_reports;
mod m20261202_000011_notifications;
mod m20261202_000012_webhooks;
mod m20261202_000013_contact_owner_key;
mod m20261203_000014_inbound_events;
mod m20261203_000015_consent;
mod m20261203_000016_pacing;
mod m20261204_000017_sign_in;
mod m20261206_000018_contact_bulk_writes;
mod m20261207_000019_inbox_token_digest;
mod m20261207_000020_storage_usage;
mod m20261207_000021_hashed_hooks_idle_sessions_key_expiry;
mod m20261207_000022_custom_host_verification;
mod m20261207_000023_job_params;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261126_000002_job_platform::Migration),
            Box::new(m20261126_000003_job_trace_context::Migration),
            Box::new(m20261126_000004_branding::Migration),
            Box::new(m20261126_000005_stripe::Migration),
            Box::new(m20261126_000006_plans::Migration),
            Box::new(m20261126_000007_account_access::Migration),
            Box::new(m20261126_000008_contact_imports::Migration),
            Box::new(m20261202_000009_events::Migration),
            Box::new(m20261202_000010_reports::Migration),
            Box::new(m20261202_000011_notifications::Migration),
            Box::new(m20261202_000012_webhooks::Migration),
            Box::new(m20261202_000013_contact_owner_key::Migration),
            Box::new(m20261203_000014_inbound_events::Migration),
            Box::new(m20261203_000015_consent::Migration),
            Box::new(m20261203_000016_pacing::Migration),
            Box::new(m20261204_000017_sign_in::Migration),
            Box::new(m20261206_000018_contact_bulk_writes::Migration),
            Box::new(m20261207_000019_inbox_token_digest::Migration),
            Box::new(m20261207_000020_storage_usage::Migration),
            Box::new(m20261207_000021_hashed_hooks_idle_sessions_key_expiry::Migration),
            Box::new(m20261207_000022_custom_host_verification::Migration),
            Box::new(m20261207_000023_job_params::Migration),
        ]
    }
}

/// Creates the database named in `url` when it does not exist, connecting to the server's
/// `postgres` maintenance database to do so. Returns whether it was created.
pub async fn ensure_database(url: &str) -> Result<bool, DbErr> {
    let (server, name) = url
        .rsplit_once('/')
        .ok_or_else(|| DbErr::Custom(format!("DATABASE_URL has no database name: {url}")))?;
    let name = name.split('?').next().unwrap_or(name);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbErr::Custom(format!(
            "database name `{name}` must be letters, digits and `_`"
        )));
    }
    let admin = sea_orm::Database::connect(format!("{server}/postgres")).await?;
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql!("SELECT 1 FROM pg_database WHERE datname = $1"),
            [name.into()],
        ))
        .await?
        .is_some();
    if !exists {
        // The name was checked above: CREATE DATABASE cannot take a bind parameter.
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
    }
    admin.close().await?;
    Ok(!exists)
}
