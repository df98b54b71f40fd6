//! The job platform: leases and message generations on jobs, the payload kept for replay,
//! dead-letter bookkeeping, worker heartbeats, per-inbox send slots, and the recipient states
//! that make a campaign send at most once per recipient (`sending`, `uncertain`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
-- Campaign states: `waiting_wuzapi` is a campaign parked during a WUZAPI outage, probed with a
-- growing back-off until WUZAPI answers again.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN
    ('queued', 'scheduled', 'running', 'paused', 'waiting_wuzapi', 'completed', 'failed', 'cancelled'));
-- Why a campaign is paused, parked or failed, in words its owner can act on.
ALTER TABLE campaigns RENAME COLUMN last_error TO status_reason;
-- Consecutive failed probes while parked; sets the next probe's delay.
ALTER TABLE campaigns ADD COLUMN outage_probes integer NOT NULL DEFAULT 0 CHECK (outage_probes >= 0);

-- Recipient states. `sending` is written before the WUZAPI call and replaced after it, so a
-- crash in between leaves a trace: such a recipient becomes `uncertain` and is never resent
-- unless its owner asks. `cancelled`: the campaign was cancelled before it was messaged.
ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check;
ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check CHECK (status IN
    ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled'));
-- The job lease that claimed the recipient: only that holder may record its outcome.
ALTER TABLE campaign_recipients ADD COLUMN claim_token uuid;
ALTER TABLE campaign_recipients ADD COLUMN claimed_at timestamptz;

-- Jobs. `seq` is the generation of the job's current queue message: every continuation,
-- retry chain restart or replay bumps it, so an older or duplicated message is recognised and
-- dropped. A lease (`lease_token` until `lease_expires_at`) lets one worker at a time run it.
ALTER TABLE jobs ADD COLUMN seq integer NOT NULL DEFAULT 0 CHECK (seq >= 0);
ALTER TABLE jobs ADD COLUMN payload bytea NOT NULL DEFAULT ''::bytea;
ALTER TABLE jobs ADD COLUMN lease_token uuid;
ALTER TABLE jobs ADD COLUMN lease_worker uuid;
ALTER TABLE jobs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE jobs ADD COLUMN dead_lettered_at timestamptz;
ALTER TABLE jobs ADD CONSTRAINT jobs_attempts_check CHECK (attempts BETWEEN 0 AND max_attempts);
-- Send slots look their holder's lease up by token.
CREATE INDEX jobs_lease_token_idx ON jobs (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX jobs_dead_idx ON jobs (tenant_id, queue, dead_lettered_at) WHERE dead_lettered_at IS NOT NULL;
DROP INDEX jobs_queue_state_idx;
CREATE INDEX jobs_queue_state_idx ON jobs (queue, state) WHERE state <> 'completed';

-- Live worker processes, for /api/jobs/workers/status. A row whose heartbeat is older than
-- three intervals is a dead worker and is not shown.
CREATE TABLE workers (
    id                 uuid PRIMARY KEY,
    queue              text NOT NULL CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook')),
    host               text NOT NULL,
    pid                integer NOT NULL,
    concurrency        integer NOT NULL CHECK (concurrency >= 1),
    in_flight          integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    heartbeat_ms       integer NOT NULL CHECK (heartbeat_ms >= 1),
    started_at         timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_heartbeat_idx ON workers (last_heartbeat_at);

-- One send slot per WhatsApp number: at most one campaign batch sends through an inbox at a
-- time, across every worker process, and consecutive messages keep the campaign's pace.
CREATE TABLE inbox_send_slots (
    inbox_id      uuid PRIMARY KEY REFERENCES inboxes (id) ON DELETE CASCADE,
    holder        uuid,
    held_until    timestamptz,
    last_sent_at  timestamptz
);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS inbox_send_slots;
DROP TABLE IF EXISTS workers;
DROP INDEX IF EXISTS jobs_queue_state_idx;
CREATE INDEX jobs_queue_state_idx ON jobs (queue, state);
DROP INDEX IF EXISTS jobs_dead_idx;
DROP INDEX IF EXISTS jobs_lease_token_idx;
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_attempts_check;
ALTER TABLE jobs DROP COLUMN dead_lettered_at, DROP COLUMN lease_expires_at, DROP COLUMN lease_worker,
    DROP COLUMN lease_token, DROP COLUMN payload, DROP COLUMN seq;
ALTER TABLE campaign_recipients DROP COLUMN claimed_at, DROP COLUMN claim_token;
ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_status_check;
UPDATE campaign_recipients SET status = 'pending' WHERE status IN ('sending', 'uncertain', 'cancelled');
ALTER TABLE campaign_recipients ADD CONSTRAINT campaign_recipients_status_check CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE campaigns DROP COLUMN outage_probes;
ALTER TABLE campaigns RENAME COLUMN status_reason TO last_error;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
UPDATE campaigns SET status = 'paused' WHERE status = 'waiting_wuzapi';
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN
    ('queued', 'scheduled', 'running', 'paused', 'completed', 'failed', 'cancelled'));
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
