//! Tenant branding: app name, logo, colours, support contacts, home page and custom host.
//!
//! A tenant has at most one `tenant_branding` row, replaced whole on every write. A tenant
//! without a row reads as the defaults: its own name as the app name, nothing else set. Callers
//! validate (and sanitise the HTML) before [`replace`]; the table's checks refuse anything else.

use chrono::{DateTime, Utc};
use common::TenantId;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::{Deserialize, Serialize};

use crate::{DbError, DbResult, TenantScope};

/// A tenant's branding as the API shows it (and the cache stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Branding {
    pub app_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    /// Sanitised HTML, safe to render as is.
    pub home_html: Option<String>,
    /// The lower-case hostname the tenant's login page is served on.
    pub custom_host: Option<String>,
    /// `None` (`null`) while the tenant has never set its branding (the defaults are shown).
    pub updated_at: Option<DateTime<Utc>>,
}

/// A full replacement of a tenant's branding, already validated and sanitised.
#[derive(Debug, Clone)]
pub struct NewBranding {
    pub app_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub home_html: Option<String>,
    pub custom_host: Option<String>,
}

/// The tenant's branding, or its defaults when it has set none; `None` when the tenant does
/// not exist (deleted meanwhile).
pub async fn find(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<Option<Branding>> {
    Ok(Branding::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT coalesce(b.app_name, t.name) AS app_name,
                b.logo_url, b.primary_color, b.secondary_color, b.support_email,
                b.support_url, b.home_html, b.custom_host, b.updated_at
           FROM tenants t
           LEFT JOIN tenant_branding b ON b.tenant_id = t.id
          WHERE t.id = $1",
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?)
}

/// Replaces the tenant's branding with `new` and returns what was stored. A custom host that
/// another tenant already uses is a [`DbError::Conflict`].
pub async fn replace(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewBranding,
) -> DbResult<Branding> {
    let host = new.custom_host.clone();
    let sql = "INSERT INTO tenant_branding (tenant_id, app_name, logo_url, primary_color,
                                      secondary_color, support_email, support_url, home_html,
                                      custom_host, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         ON CONFLICT (tenant_id) DO UPDATE SET
             app_name = excluded.app_name,
             logo_url = excluded.logo_url,
             primary_color = excluded.primary_color,
             secondary_color = excluded.secondary_color,
             support_email = excluded.support_email,
             support_url = excluded.support_url,
             home_html = excluded.home_html,
             custom_host = excluded.custom_host,
             updated_at = excluded.updated_at
         RETURNING app_name, logo_url, primary_color, secondary_color, support_email,
                   support_url, home_html, custom_host, updated_at";
    Branding::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            scope.tenant_uuid().into(),
            new.app_name.into(),
            new.logo_url.into(),
            new.primary_color.into(),
            new.secondary_color.into(),
            new.support_email.into(),
            new.support_url.into(),
            new.home_html.into(),
            new.custom_host.into(),
        ],
    ))
    .one(scope.conn())
    .await
    .map_err(|e| {
        // The primary key cannot collide (the upsert updates), so a unique violation is the host.
        DbError::conflict_on_unique(
            e,
            format!(
                "the custom host `{}` is used by another tenant",
                host.unwrap_or_default()
            ),
        )
    })?
    .ok_or(DbError::NotFound("tenant"))
}

/// The tenant whose slug is `slug` (unique index on `tenants.slug`).
pub async fn tenant_by_slug(db: &impl ConnectionTrait, slug: &str) -> DbResult<Option<TenantId>> {
    tenant_id_by("SELECT id FROM tenants WHERE slug = $1", db, slug).await
}

/// The tenant whose branding names `host` as its custom host (unique index on `custom_host`).
/// `host` must already be lower-case, as stored.
pub async fn tenant_by_host(db: &impl ConnectionTrait, host: &str) -> DbResult<Option<TenantId>> {
    tenant_id_by(
        "SELECT tenant_id AS id FROM tenant_branding WHERE custom_host = $1",
        db,
        host,
    )
    .await
}

#[derive(FromQueryResult)]
struct TenantIdRow {
    id: uuid::Uuid,
}

async fn tenant_id_by(
    sql: &str,
    db: &impl ConnectionTrait,
    value: &str,
) -> DbResult<Option<TenantId>> {
    let row = TenantIdRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [value.into()],
    ))
    .one(db)
    .await?;
    Ok(row.map(|row| row.id.into()))
}
