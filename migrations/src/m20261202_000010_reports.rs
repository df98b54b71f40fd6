//! Reports: files `worker-report` generates from the tenant's data (a campaign's delivery, the
//! contacts, the usage per day) and keeps in storage until they expire.
//!
//! `storage_key`, `bytes` and `row_count` are set together with `status = 'ready'`, once the
//! whole file is stored: a report is never ready with half a file. `expires_at` is set then
//! too; the workers' sweep deletes the file and marks the report `expired`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE reports (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The creator's account, when it has one; reports read the whole tenant's data.
    account_id     uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    kind           text NOT NULL CHECK (kind IN ('campaign_delivery', 'contacts', 'usage')),
    format         text NOT NULL CHECK (format IN ('csv', 'json')),
    -- What the report covers: {"campaignId": ...} or {"from": ..., "to": ...}.
    parameters     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(parameters) = 'object'),
    status         text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')),
    status_reason  text,
    storage_key    text,
    bytes          bigint CHECK (bytes >= 0),
    row_count      bigint CHECK (row_count >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    expires_at     timestamptz,
    CHECK ((status = 'ready') <= (storage_key IS NOT NULL AND bytes IS NOT NULL
                                  AND row_count IS NOT NULL AND expires_at IS NOT NULL))
);
-- The tenant's list, in id (creation) order.
CREATE INDEX reports_tenant_idx ON reports (tenant_id, id);
-- The expiry sweep: ready reports by expiry time.
CREATE INDEX reports_expiry_idx ON reports (expires_at) WHERE status = 'ready';
"#;

const DOWN: &str = r#"
DROP TABLE reports;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
