//! Consent: contacts who replied an opt-out keyword are not messaged again, until they reply an
//! opt-in keyword.
//!
//! `opt_outs` is keyed by phone within an account, not by contact, so an opt-out outlives the
//! contact: deleting and re-importing a number does not opt it back in. A recipient not messaged
//! because of one is `skipped`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check;
ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check CHECK (status IN
    ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled', 'skipped'));

CREATE TABLE opt_outs (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    account_id    uuid NOT NULL,
    phone         text NOT NULL CHECK (phone ~ '^[1-9][0-9]{7,14}$'),
    opted_out_at  timestamptz NOT NULL,
    -- What the contact wrote, and to which number.
    message       text NOT NULL DEFAULT '',
    inbox_id      uuid REFERENCES inboxes (id) ON DELETE SET NULL,
    UNIQUE (tenant_id, account_id, phone),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX opt_outs_page_idx ON opt_outs (tenant_id, account_id, id);

-- A tenant's own keywords, normalised (no accents, upper case); none: the defaults.
CREATE TABLE consent_keywords (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    opt_out     text[] NOT NULL CHECK (cardinality(opt_out) BETWEEN 1 AND 50),
    opt_in      text[] NOT NULL CHECK (cardinality(opt_in) <= 50),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Who a campaign may message: everyone it names, or only those who wrote to its number before.
ALTER TABLE campaigns ADD COLUMN audience text NOT NULL DEFAULT 'everyone'
    CHECK (audience IN ('everyone', 'wrote_before'));

-- The highest share of a campaign's messages delivered announced so far (percent).
ALTER TABLE campaigns ADD COLUMN delivery_milestone smallint NOT NULL DEFAULT 0;

-- Opt-outs are exported as a report.
ALTER TABLE reports DROP CONSTRAINT reports_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_kind_check CHECK (kind IN
    ('campaign_delivery', 'contacts', 'usage', 'opt_outs'));
"#;

const DOWN: &str = r#"
DELETE FROM reports WHERE kind = 'opt_outs';
ALTER TABLE reports DROP CONSTRAINT reports_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_kind_check CHECK (kind IN
    ('campaign_delivery', 'contacts', 'usage'));
ALTER TABLE campaigns DROP COLUMN audience, DROP COLUMN delivery_milestone;
DROP TABLE IF EXISTS consent_keywords;
DROP TABLE IF EXISTS opt_outs;
UPDATE campaign_recipients SET status = 'cancelled' WHERE status = 'skipped';
ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check;
ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check CHECK (status IN
    ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled'));
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
