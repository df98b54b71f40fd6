//! Who does what inside an account: roles (named sets of permissions), agents (users of the
//! account holding one role) and teams (named groups of agents).
//!
//! Composite foreign keys keep every link inside one account: an agent's role, a team member's
//! team and agent all carry the same `account_id`, so no row can point across accounts (or
//! tenants). A role held by an agent cannot be deleted (`RESTRICT`); removing an agent removes
//! its team memberships (`CASCADE`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE account_roles (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    -- `common::Permission` names; the check is that closed set.
    permissions  text[] NOT NULL DEFAULT '{}' CHECK (permissions <@ ARRAY[
                   'campaigns.read', 'campaigns.write', 'contacts.read', 'contacts.write',
                   'inboxes.read', 'inboxes.write', 'reports.read', 'team.manage',
                   'settings.manage']::text[]),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, id)
);
-- Names are unique per account regardless of case: "Support" and "support" would confuse.
CREATE UNIQUE INDEX account_roles_name_key ON account_roles (tenant_id, account_id, lower(name));

CREATE TABLE account_agents (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id      uuid NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, account_id, user_id),
    FOREIGN KEY (account_id, role_id) REFERENCES account_roles (account_id, id) ON DELETE RESTRICT
);
CREATE INDEX account_agents_role_idx ON account_agents (role_id);

CREATE TABLE account_teams (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, id)
);
CREATE UNIQUE INDEX account_teams_name_key ON account_teams (tenant_id, account_id, lower(name));

CREATE TABLE account_team_members (
    tenant_id   uuid NOT NULL,
    account_id  uuid NOT NULL,
    team_id     uuid NOT NULL,
    user_id     uuid NOT NULL,
    PRIMARY KEY (team_id, user_id),
    FOREIGN KEY (account_id, team_id) REFERENCES account_teams (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id, user_id)
        REFERENCES account_agents (tenant_id, account_id, user_id) ON DELETE CASCADE
);
CREATE INDEX account_team_members_account_idx ON account_team_members (tenant_id, account_id, user_id);

-- The account's inbox list (`GET /api/accounts/{id}/inboxes`).
CREATE INDEX inboxes_tenant_account_idx ON inboxes (tenant_id, account_id, id);
"#;

const DOWN: &str = r#"
DROP INDEX IF EXISTS inboxes_tenant_account_idx;
DROP TABLE IF EXISTS account_team_members;
DROP TABLE IF EXISTS account_teams;
DROP TABLE IF EXISTS account_agents;
DROP TABLE IF EXISTS account_roles;
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
