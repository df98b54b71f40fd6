//! The initial schema. Written as SQL because the constraints, partial indexes and checks read
//! better there than through a builder.
//!
//! Every tenant-owned table carries `tenant_id`, and every index an API lookup uses starts with
//! it, so a query scoped to one tenant never scans another's rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    plan        text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- An account is a workspace inside a tenant: it groups agents, teams, roles and inboxes.
CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_tenant_idx ON accounts (tenant_id, id);

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    -- Superadmins operate the platform and belong to no tenant; everyone else belongs to one.
    tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,
    account_id  uuid REFERENCES accounts (id) ON DELETE SET NULL,
    email       text NOT NULL CHECK (email LIKE '%_@_%'),
    name        text NOT NULL DEFAULT '',
    role        text NOT NULL CHECK (role IN ('superadmin', 'tenant_admin', 'user')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'superadmin') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email)) WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX users_superadmin_email_key ON users (lower(email)) WHERE tenant_id IS NULL;
CREATE INDEX users_tenant_idx ON users (tenant_id, id);

-- Only a SHA-256 of each key is stored; the raw key is shown once, when created.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '',
    key_prefix    text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- One WhatsApp number: a WUZAPI server and that server's user token, encrypted at rest.
CREATE TABLE inboxes (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    wuzapi_url        text NOT NULL,
    token_ciphertext  bytea NOT NULL,
    token_hint        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inboxes_tenant_idx ON inboxes (tenant_id, id);

CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone       text NOT NULL CHECK (phone ~ '^[1-9][0-9]{7,14}$'),
    name        text NOT NULL DEFAULT '',
    fields      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(fields) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, account_id, phone)
);
CREATE INDEX contacts_tenant_idx ON contacts (tenant_id, id);

CREATE TABLE campaigns (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id      uuid NOT NULL REFERENCES inboxes (id) ON DELETE RESTRICT,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    template      text NOT NULL,
    status        text NOT NULL CHECK (status IN
                    ('queued', 'scheduled', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    delay_min_ms  integer NOT NULL CHECK (delay_min_ms >= 0),
    delay_max_ms  integer NOT NULL CHECK (delay_max_ms >= delay_min_ms),
    scheduled_at  timestamptz,
    total         integer NOT NULL CHECK (total >= 0),
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX campaigns_tenant_idx ON campaigns (tenant_id, id);
CREATE INDEX campaigns_inbox_idx ON campaigns (inbox_id);

-- One row per contact a campaign messages; `variables` is the contact as it was when the
-- campaign was created, so an edit during the send cannot change half the messages.
CREATE TABLE campaign_recipients (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    contact_id   uuid REFERENCES contacts (id) ON DELETE SET NULL,
    phone        text NOT NULL,
    variables    jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    -- Deterministic WhatsApp message id, so a resend after a crash is recognisable.
    message_id   text NOT NULL,
    error        text,
    attempts     integer NOT NULL DEFAULT 0,
    sent_at      timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone)
);
-- The worker's "next pending recipients" and the recipients listing.
CREATE INDEX campaign_recipients_campaign_status_idx ON campaign_recipients (campaign_id, status, id);
CREATE INDEX campaign_recipients_campaign_idx ON campaign_recipients (campaign_id, id);

CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    queue         text NOT NULL CHECK (queue IN ('campaign', 'import', 'report', 'notification', 'webhook')),
    -- The object the job works on (a campaign, an import, ...), for /api/jobs/{queue}/{id}/status.
    subject_id    uuid,
    state         text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'active', 'completed', 'failed', 'delayed')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    progress      jsonb NOT NULL DEFAULT '{}'::jsonb,
    result        jsonb,
    error         text,
    run_at        timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX jobs_subject_idx ON jobs (tenant_id, queue, subject_id, created_at DESC);
CREATE INDEX jobs_queue_state_idx ON jobs (queue, state);

-- Messages waiting to be published to RabbitMQ. Written in the same transaction as the job,
-- so a job is never lost between the database and the broker.
CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    queue            text NOT NULL,
    job_id           uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    payload          bytea NOT NULL,
    headers          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Not published before this time: how scheduled campaigns start on time.
    available_at     timestamptz NOT NULL DEFAULT now(),
    publish_attempts integer NOT NULL DEFAULT 0,
    last_error       text
);
CREATE INDEX outbox_available_idx ON outbox (available_at, id);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS jobs;
DROP TABLE IF EXISTS campaign_recipients;
DROP TABLE IF EXISTS campaigns;
DROP TABLE IF EXISTS contacts;
DROP TABLE IF EXISTS inboxes;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS accounts;
DROP TABLE IF EXISTS tenants;
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
