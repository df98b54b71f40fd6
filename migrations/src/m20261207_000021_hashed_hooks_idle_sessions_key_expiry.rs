//! Issue 23, items 7 and 10: inbox hook tokens stored as SHA-256 (the token is the credential
//! of WUZAPI's posts, so the database no longer holds it in clear), the time a browser session
//! was last used (for the idle timeout), and an optional expiry on API keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// `sha256()` is built into PostgreSQL 11+; the token is 64 hex digits, hashed as its text.
const UP: &str = r#"
ALTER TABLE inboxes ADD COLUMN hook_token_hash bytea;
UPDATE inboxes SET hook_token_hash = sha256(convert_to(hook_token, 'UTF8'));
ALTER TABLE inboxes ALTER COLUMN hook_token_hash SET NOT NULL;
CREATE UNIQUE INDEX inboxes_hook_token_hash_key ON inboxes (hook_token_hash);
ALTER TABLE inboxes DROP COLUMN hook_token;

-- Written at most once a minute per session (see the gateway's session lookup).
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
"#;

// The plain tokens cannot be recovered from their hashes: going down gives every inbox a new
// random token, as the migration that introduced them did, and each inbox must be connected
// again (`POST /api/inboxes/{id}/connect`) for WUZAPI to learn its new path.
const DOWN: &str = r#"
ALTER TABLE api_keys DROP COLUMN IF EXISTS expires_at;
ALTER TABLE sessions DROP COLUMN IF EXISTS last_seen_at;
ALTER TABLE inboxes ADD COLUMN hook_token text;
UPDATE inboxes SET hook_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
ALTER TABLE inboxes ALTER COLUMN hook_token SET NOT NULL;
CREATE UNIQUE INDEX inboxes_hook_token_key ON inboxes (hook_token);
ALTER TABLE inboxes DROP COLUMN hook_token_hash;
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
