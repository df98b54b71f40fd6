//! Webhooks: a tenant's endpoints (URL, subscribed event types, signing secrets encrypted at
//! rest), one delivery per event and endpoint, and each delivery's attempts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Told when the endpoint is disabled for failing; NULL once that user is gone.
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    url                 text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description         text CHECK (length(description) <= 500),
    -- Names of common::EventKind.
    event_types         text[] NOT NULL CHECK (cardinality(event_types) > 0),
    enabled             boolean NOT NULL DEFAULT true,
    disabled_reason     text,
    -- `whsec_...`, AES-256-GCM under SECRETS_KEY (nonce || ciphertext).
    secret              bytea NOT NULL,
    -- The secret before the last rotation: it signs too until previous_expires_at.
    previous_secret     bytea,
    previous_expires_at timestamptz,
    -- When the current run of failed attempts began; NULL after a success.
    failing_since       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id, id);
CREATE INDEX webhook_endpoints_fanout_idx ON webhook_endpoints USING gin (event_types)
    WHERE enabled;

CREATE TABLE webhook_deliveries (
    -- Also the `webhook-id` header: stable across retries and replays, so receivers dedupe.
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type      text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    -- The job running its current attempt sequence (a replay starts a new one).
    job_id          uuid NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (endpoint_id, created_at)
    WHERE status = 'failed';

CREATE TABLE webhook_attempts (
    delivery_id      uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- From 1, across the delivery's replays.
    attempt          integer NOT NULL CHECK (attempt > 0),
    started_at       timestamptz NOT NULL,
    duration_ms      integer NOT NULL CHECK (duration_ms >= 0),
    status_code      integer,
    -- The first WEBHOOK_RESPONSE_EXCERPT_BYTES of the answer's body.
    response_excerpt text,
    error            text,
    PRIMARY KEY (delivery_id, attempt)
);
"#;

const DOWN: &str = "DROP TABLE webhook_attempts; DROP TABLE webhook_deliveries; \
                    DROP TABLE webhook_endpoints;";

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
