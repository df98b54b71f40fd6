//! Subscription plans a tenant sells to its users, each user's subscription and per-user
//! overrides, plus the indexes the quota checks count usage with.
//!
//! Quotas are one nullable column each (NULL: unlimited) so the database refuses a negative
//! one; features are a text array limited to the known names. A subscription's plan must be of
//! the subscription's tenant, which the composite foreign key enforces.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE subscription_plans (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    max_inboxes       bigint CHECK (max_inboxes >= 0),
    max_contacts      bigint CHECK (max_contacts >= 0),
    max_campaigns     bigint CHECK (max_campaigns >= 0),
    messages_per_day  bigint CHECK (messages_per_day >= 0),
    features          text[] NOT NULL DEFAULT '{}' CHECK (features <@
                        ARRAY['bulk_campaigns', 'webhooks', 'reports', 'api_access']::text[]),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX subscription_plans_tenant_name_key ON subscription_plans (tenant_id, lower(name));

-- A user has at most one subscription. A plan with subscribers cannot be deleted.
CREATE TABLE user_subscriptions (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id     uuid NOT NULL,
    status      text NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'canceled')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES subscription_plans (tenant_id, id) ON DELETE RESTRICT
);
-- The subscribers of a plan, whose cached quotas a plan change invalidates.
CREATE INDEX user_subscriptions_plan_idx ON user_subscriptions (plan_id, user_id);

-- Per-user adjustments on top of the plan: `quotas` maps a quota name to a limit (NULL:
-- unlimited), `features` a feature name to on/off. A name that is absent keeps the plan's.
CREATE TABLE user_plan_overrides (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    quotas      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(quotas) = 'object'
                  AND quotas - ARRAY['max_inboxes', 'max_contacts', 'max_campaigns', 'messages_per_day']::text[] = '{}'::jsonb),
    features    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(features) = 'object'
                  AND features - ARRAY['bulk_campaigns', 'webhooks', 'reports', 'api_access']::text[] = '{}'::jsonb),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Usage is counted per account while the account's row is locked; these keep the counts
-- to the account's own rows. (Contacts already have UNIQUE (tenant_id, account_id, phone).)
CREATE INDEX inboxes_account_idx ON inboxes (account_id);
CREATE INDEX campaigns_account_created_idx ON campaigns (account_id, created_at);
"#;

const DOWN: &str = r#"
DROP INDEX IF EXISTS campaigns_account_created_idx;
DROP INDEX IF EXISTS inboxes_account_idx;
DROP TABLE IF EXISTS user_plan_overrides;
DROP TABLE IF EXISTS user_subscriptions;
DROP TABLE IF EXISTS subscription_plans;
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
