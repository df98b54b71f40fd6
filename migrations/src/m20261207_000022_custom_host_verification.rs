//! A custom host is the tenant's only once it proves it controls the name's DNS: the gateway
//! shows a token, the tenant publishes it as the TXT record `_wuzapi-manager.<host>`, and the
//! gateway checks. Until then the host is only *claimed*: several tenants may claim one, none
//! is served on it, and the first to prove it gets it (the unique index now covers verified
//! hosts only, so a squatter's claim cannot block the real owner).
//!
//! Hosts stored before this migration were never proven: they become claims with a fresh
//! token, and their tenants verify them like any other.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE tenant_branding
    ADD COLUMN custom_host_token text CHECK (custom_host_token ~ '^wmv_[0-9a-f]{32}$'),
    ADD COLUMN custom_host_verified_at timestamptz;

UPDATE tenant_branding
   SET custom_host_token = 'wmv_' || replace(gen_random_uuid()::text, '-', '')
 WHERE custom_host IS NOT NULL;

ALTER TABLE tenant_branding
    DROP CONSTRAINT tenant_branding_custom_host_key,
    -- A claimed host always has its token; only a claimed host can be verified.
    ADD CONSTRAINT tenant_branding_custom_host_token_present
        CHECK ((custom_host IS NULL) = (custom_host_token IS NULL)),
    ADD CONSTRAINT tenant_branding_custom_host_verified_needs_host
        CHECK (custom_host_verified_at IS NULL OR custom_host IS NOT NULL);

-- The public lookup by host reads verified hosts only, and no two tenants hold one.
CREATE UNIQUE INDEX tenant_branding_verified_host
    ON tenant_branding (custom_host) WHERE custom_host_verified_at IS NOT NULL;
"#;

const DOWN: &str = r#"
DROP INDEX IF EXISTS tenant_branding_verified_host;
-- Unverified claims of a host another tenant holds cannot survive the old unique constraint.
UPDATE tenant_branding b
   SET custom_host = NULL
 WHERE b.custom_host_verified_at IS NULL
   AND b.custom_host IS NOT NULL
   AND EXISTS (SELECT 1 FROM tenant_branding o
                WHERE o.custom_host = b.custom_host AND o.tenant_id <> b.tenant_id
                  AND (o.custom_host_verified_at IS NOT NULL OR o.tenant_id < b.tenant_id));
ALTER TABLE tenant_branding
    DROP CONSTRAINT IF EXISTS tenant_branding_custom_host_token_present,
    DROP CONSTRAINT IF EXISTS tenant_branding_custom_host_verified_needs_host,
    DROP COLUMN IF EXISTS custom_host_token,
    DROP COLUMN IF EXISTS custom_host_verified_at,
    ADD CONSTRAINT tenant_branding_custom_host_key UNIQUE (custom_host);
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
