//! Events: what happened to a tenant's work (a campaign completed, a report is ready), recorded
//! once, in the transaction that made it happen, and told from there to the people of the
//! tenant (the notification queue) and to its systems (webhook deliveries).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE events (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- `campaign.completed`, `report.ready`, ... (common::EventKind).
    kind         text NOT NULL CHECK (kind ~ '^[a-z_]+\.[a-z_]+$'),
    -- The object it is about: a campaign, an import, a report, a user's quota.
    subject_id   uuid,
    -- Whom it concerns first (the subject's creator); NULL: the tenant's admins.
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    -- What webhook consumers receive as the payload's `data`.
    data         jsonb NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_tenant_idx ON events (tenant_id, occurred_at, id);
CREATE INDEX events_subject_idx ON events (subject_id) WHERE subject_id IS NOT NULL;
"#;

const DOWN: &str = "DROP TABLE events;";

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
