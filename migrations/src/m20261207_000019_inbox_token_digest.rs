//! An inbox's (WUZAPI server, token) pair is unique across tenants: two tenants must not drive
//! one WhatsApp number, and a second registration must not tell whose it is. Tokens are stored
//! AES-GCM encrypted with random nonces, so equal tokens never look equal; each inbox gets a
//! keyed digest of the pair (HMAC-SHA256 under a key derived from `SECRETS_KEY`,
//! `db::secrets::SecretCipher::token_digest`) with a unique index.
//!
//! A migration cannot decrypt (it has no key), so the column is nullable: rows stored before
//! it are digested by the gateway when it starts (`db::inboxes::backfill_token_digests`), and
//! a row whose pair another inbox already holds keeps NULL and is logged for the operator.
//! PostgreSQL's unique index lets any number of NULLs coexist.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE inboxes
    ADD COLUMN token_digest bytea CHECK (octet_length(token_digest) = 32);
CREATE UNIQUE INDEX inboxes_token_digest_key ON inboxes (token_digest);
"#;

const DOWN: &str = r#"
DROP INDEX IF EXISTS inboxes_token_digest_key;
ALTER TABLE inboxes DROP COLUMN IF EXISTS token_digest;
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
