//! Sign-in for people: a password per user (an argon2id PHC string, never the password), the
//! sessions a browser holds (only SHA-256 hashes of the session and CSRF tokens are stored;
//! revoked or expired rows stop authenticating at once), and invitations: one-time links an
//! admin creates for a new user of the tenant (the token's hash, the role and email it grants,
//! when it expires, and when and by whom it was used).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE users ADD COLUMN password_hash text CHECK (password_hash LIKE '$argon2id$%');
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;

CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for the platform superadmin.
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    csrf_hash    bytea NOT NULL,
    address      text NOT NULL DEFAULT '' CHECK (length(address) <= 100),
    user_agent   text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 300),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

CREATE TABLE invitations (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id       uuid REFERENCES accounts (id) ON DELETE CASCADE,
    email            text NOT NULL CHECK (email LIKE '%_@_%' AND length(email) <= 320),
    name             text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role             text NOT NULL CHECK (role IN ('tenant_admin', 'user')),
    token_hash       bytea NOT NULL UNIQUE,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz,
    accepted_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at       timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, id);
"#;

const DOWN: &str = r#"
DROP TABLE IF EXISTS invitations;
DROP TABLE IF EXISTS sessions;
ALTER TABLE users DROP COLUMN password_changed_at, DROP COLUMN password_hash;
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
