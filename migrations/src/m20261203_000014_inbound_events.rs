//! Events WUZAPI servers post about an inbox (delivery and read receipts, incoming messages,
//! disconnects), and what they change.
//!
//! The gateway records each event once (`inbound_events`, unique per inbox and event key) and
//! answers at once; worker-inbound applies them in batches through the `inbound` queue. An
//! inbox has at most one waiting drain job: `events_drain_pending` says one is queued.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE jobs DROP CONSTRAINT jobs_queue_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_queue_check
    CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook', 'inbound'));
ALTER TABLE workers DROP CONSTRAINT workers_queue_check;
ALTER TABLE workers ADD CONSTRAINT workers_queue_check
    CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook', 'inbound'));

-- The unguessable path segment WUZAPI posts to (`/hooks/wuzapi/{hook_token}`): 256 random
-- bits as 64 hex digits. Existing inboxes get one now.
ALTER TABLE inboxes ADD COLUMN hook_token text;
UPDATE inboxes SET hook_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
ALTER TABLE inboxes ALTER COLUMN hook_token SET NOT NULL;
CREATE UNIQUE INDEX inboxes_hook_token_key ON inboxes (hook_token);
-- The key WUZAPI signs its posts with (`x-hmac-signature`), encrypted like the token. NULL when
-- the server does not sign (older WUZAPI): the path alone authenticates it then.
ALTER TABLE inboxes ADD COLUMN hmac_key_ciphertext bytea;
-- When WUZAPI last accepted our webhook settings for this inbox, or why it did not.
ALTER TABLE inboxes ADD COLUMN events_configured_at timestamptz;
ALTER TABLE inboxes ADD COLUMN events_error text;
ALTER TABLE inboxes ADD COLUMN events_drain_pending boolean NOT NULL DEFAULT false;

CREATE TABLE inbound_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    inbox_id      uuid NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('receipt', 'message', 'connection', 'other')),
    -- What makes a repeat the same event: WUZAPI posts no event id, so the message ids and
    -- state of a receipt, the message id of a message, a digest of the body otherwise.
    dedupe_key    text NOT NULL,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    -- What applying it did: `applied` or `ignored` (unknown message ids, our own messages, ...).
    outcome       text CHECK (outcome IN ('applied', 'ignored')),
    UNIQUE (inbox_id, dedupe_key)
);
CREATE INDEX inbound_events_pending_idx ON inbound_events (inbox_id, id) WHERE processed_at IS NULL;
CREATE INDEX inbound_events_processed_idx ON inbound_events (processed_at) WHERE processed_at IS NOT NULL;

-- Receipts and replies on each recipient (its status stays `sent`).
ALTER TABLE campaign_recipients ADD COLUMN delivered_at timestamptz;
ALTER TABLE campaign_recipients ADD COLUMN read_at timestamptz;
ALTER TABLE campaign_recipients ADD COLUMN replied_at timestamptz;
-- Receipts find their recipient by WhatsApp message id.
CREATE INDEX campaign_recipients_message_idx ON campaign_recipients (message_id);

-- Who has written to each number, and when last: "contacts who messaged the number before".
CREATE TABLE inbox_conversations (
    inbox_id          uuid NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    phone             text NOT NULL,
    tenant_id         uuid NOT NULL,
    first_message_at  timestamptz NOT NULL,
    last_message_at   timestamptz NOT NULL,
    messages          bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (inbox_id, phone)
);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS inbox_conversations;
DROP INDEX IF EXISTS campaign_recipients_message_idx;
ALTER TABLE campaign_recipients DROP COLUMN IF EXISTS replied_at, DROP COLUMN IF EXISTS read_at,
    DROP COLUMN IF EXISTS delivered_at;
DROP TABLE IF EXISTS inbound_events;
ALTER TABLE inboxes DROP COLUMN IF EXISTS events_drain_pending, DROP COLUMN IF EXISTS events_error,
    DROP COLUMN IF EXISTS events_configured_at, DROP COLUMN IF EXISTS hmac_key_ciphertext,
    DROP COLUMN IF EXISTS hook_token;
DELETE FROM jobs WHERE queue = 'inbound';
DELETE FROM workers WHERE queue = 'inbound';
ALTER TABLE workers DROP CONSTRAINT workers_queue_check;
ALTER TABLE workers ADD CONSTRAINT workers_queue_check
    CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook'));
ALTER TABLE jobs DROP CONSTRAINT jobs_queue_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_queue_check
    CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook'));
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
