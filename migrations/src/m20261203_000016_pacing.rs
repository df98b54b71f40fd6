//! Pacing of each WhatsApp number beyond delays: its settings (daily cap, warm-up, send
//! window, typing, failure breaker; `common::pacing::Pacing` as JSON, checked by the API), the
//! tenant's time zone the cap's days and the windows are read in, and the count of messages
//! the number sent on its current day, kept in its send slot (one batch sends through a
//! number at a time, so the count is exact across replicas).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE inboxes ADD COLUMN pacing jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(pacing) = 'object');
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) BETWEEN 1 AND 64);
ALTER TABLE inbox_send_slots ADD COLUMN sent_day date;
ALTER TABLE inbox_send_slots ADD COLUMN sent_on_day integer NOT NULL DEFAULT 0;
"#;

const DOWN: &str = r#"
ALTER TABLE inbox_send_slots DROP COLUMN sent_on_day, DROP COLUMN sent_day;
ALTER TABLE tenants DROP COLUMN time_zone;
ALTER TABLE inboxes DROP COLUMN pacing;
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
