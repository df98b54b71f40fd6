//! Tenant branding: what a tenant's users (and its login page, before anyone signs in) see.
//! One row per tenant, written whole by `PUT /api/branding`; a tenant without a row shows
//! defaults. The checks repeat the gateway's validation, so no other writer can store what the
//! API would refuse.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE tenant_branding (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    app_name         text NOT NULL CHECK (length(app_name) BETWEEN 1 AND 100),
    logo_url         text CHECK (length(logo_url) <= 2048 AND logo_url ~ '^https?://'),
    primary_color    text CHECK (primary_color ~ '^#([0-9a-f]{3}|[0-9a-f]{6})$'),
    secondary_color  text CHECK (secondary_color ~ '^#([0-9a-f]{3}|[0-9a-f]{6})$'),
    support_email    text CHECK (length(support_email) <= 254 AND support_email LIKE '_%@_%._%'),
    support_url      text CHECK (length(support_url) <= 2048 AND support_url ~ '^https?://'),
    -- Already sanitised: the gateway stores only what ammonia let through.
    home_html        text CHECK (length(home_html) <= 100000),
    -- The hostname a login page is served on (`login.example.com`); the public branding
    -- endpoint looks tenants up by it, hence the unique index UNIQUE creates.
    custom_host      text UNIQUE CHECK (
                         length(custom_host) <= 253
                         AND custom_host ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
                         AND custom_host !~ '\.[0-9]+$'),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
"#;

const DOWN: &str = "DROP TABLE IF EXISTS tenant_branding;";

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
