//! Notifications: what a tenant's people are told about its events, in the app (one row per
//! event and recipient) and by Web Push (the browsers' subscriptions, and which of them an
//! event's push already reached, so a retried job never pushes twice).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- The event's kind (`campaign.completed`, ...).
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]+\.[a-z_]+$'),
    title       text NOT NULL,
    body        text NOT NULL,
    -- What the app needs to link to the subject (campaign id, import id, ...).
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    -- A retried job notifies nobody twice.
    UNIQUE (event_id, user_id)
);
-- A user's list, newest first (ids are UUIDv7), and its unread part.
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE read_at IS NULL;

CREATE TABLE push_subscriptions (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The push service's URL for one browser; a browser registering it again updates its keys.
    endpoint         text NOT NULL UNIQUE,
    -- base64url: the browser's P-256 public key (65 bytes) and auth secret (16 bytes).
    p256dh           text NOT NULL,
    auth             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_success_at  timestamptz
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, id);

-- Which subscriptions an event's push reached: a retry sends only to the others.
CREATE TABLE push_deliveries (
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id  uuid NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    delivered_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, subscription_id)
);
"#;

const DOWN: &str =
    "DROP TABLE push_deliveries; DROP TABLE push_subscriptions; DROP TABLE notifications;";

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
