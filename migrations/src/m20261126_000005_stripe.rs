//! Each tenant's own Stripe account: its keys (the secret ones encrypted at rest), the webhook
//! events it delivered (one row per event id, which makes redeliveries harmless) and what the
//! analytics read from them: subscriptions, invoices and completed Checkout Sessions.
//!
//! Stripe's ids (`sub_...`, `in_...`) are unique per Stripe account, and two tenants may use the
//! same account, so every key starts with `tenant_id`. `event_created` is the `created` time of
//! the newest event applied to a row: an older event delivered late never overwrites it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE stripe_settings (
    tenant_id                  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    publishable_key            text NOT NULL CHECK (publishable_key ~ '^pk_(live|test)_[A-Za-z0-9_]+$'),
    secret_key_ciphertext      bytea NOT NULL,
    secret_key_hint            text NOT NULL,
    webhook_secret_ciphertext  bytea NOT NULL,
    webhook_secret_hint        text NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stripe_events (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           text NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
    type         text NOT NULL CHECK (length(type) BETWEEN 1 AND 255),
    livemode     boolean NOT NULL,
    created      timestamptz NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE stripe_subscriptions (
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                  text NOT NULL,
    customer_id         text NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'canceled',
                          'unpaid', 'incomplete', 'incomplete_expired', 'paused')),
    -- Minor units per billing period; NULL when a price has no unit amount (tiered, metered).
    amount              bigint CHECK (amount >= 0),
    currency            text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    billing_interval    text NOT NULL CHECK (billing_interval IN ('day', 'week', 'month', 'year')),
    interval_count      integer NOT NULL CHECK (interval_count >= 1),
    current_period_end  timestamptz,
    canceled_at         timestamptz,
    created             timestamptz NOT NULL,
    event_created       timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX stripe_subscriptions_status_idx ON stripe_subscriptions (tenant_id, status);

CREATE TABLE stripe_invoices (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               text NOT NULL,
    subscription_id  text,
    customer_id      text,
    amount_paid      bigint NOT NULL CHECK (amount_paid >= 0),
    currency         text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status           text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
    paid_at          timestamptz,
    event_created    timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- Revenue in a period: paid invoices by payment time.
CREATE INDEX stripe_invoices_paid_idx ON stripe_invoices (tenant_id, paid_at) WHERE status = 'paid';

CREATE TABLE stripe_checkout_sessions (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               text NOT NULL,
    customer_id      text,
    subscription_id  text,
    mode             text NOT NULL,
    payment_status   text NOT NULL,
    amount_total     bigint,
    currency         text,
    completed_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS stripe_checkout_sessions;
DROP TABLE IF EXISTS stripe_invoices;
DROP TABLE IF EXISTS stripe_subscriptions;
DROP TABLE IF EXISTS stripe_events;
DROP TABLE IF EXISTS stripe_settings;
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
