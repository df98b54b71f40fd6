//! Tenant branding: app name, logo, colours, support contacts, home page and custom host.
//!
//! A tenant has at most one `tenant_branding` row, replaced whole on every write. A tenant
//! without a row reads as the defaults: its own name as the app name, nothing else set. Callers
//! validate (and sanitise the HTML) before [`replace`]; the table's checks refuse anything else.
//!
//! A custom host is first a *claim*: it comes with a token the tenant publishes as a DNS TXT
//! record, and only once the gateway has seen that record ([`mark_custom_host_verified`]) is the
//! host the tenant's: [`tenant_by_host`] finds verified hosts only, and no two tenants hold one
//! verified host (several may claim it; the first to prove it wins).

use chrono::{DateTime, Utc};
use common::TenantId;
use common::sql;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbError, DbResult, TenantScope};

/// A tenant's branding as shown: its defaults while it has set none.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Branding {
    pub app_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    /// Sanitised HTML, safe to render as is.
    pub home_html: Option<String>,
    /// The lower-case hostname the tenant's login page is served on, once verified; to the
    /// tenant's own users also while it is only claimed (see `customHostVerified`).
    pub custom_host: Option<String>,
    /// Whether the tenant proved it controls `customHost`'s DNS; until then the login page is
    /// not served on it.
    pub custom_host_verified: bool,
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
        sql!(
            "SELECT coalesce(b.app_name, t.name) AS app_name,
                b.logo_url, b.primary_color, b.secondary_color, b.support_email,
                b.support_url, b.home_html, b.custom_host,
                b.custom_host_verified_at IS NOT NULL AND b.custom_host IS NOT NULL
                    AS custom_host_verified,
                b.updated_at
           FROM tenants t
           LEFT JOIN tenant_branding b ON b.tenant_id = t.id
          WHERE t.id = $1"
        ),
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?)
}

/// Replaces the tenant's branding with `new` and returns what was stored. A custom host that
/// another tenant has verified is a [`DbError::Conflict`]. A new (or changed) custom host is a
/// fresh claim: a new token, not verified; the same host again keeps its token and verification.
pub async fn replace(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewBranding,
) -> DbResult<Branding> {
    if let Some(host) = &new.custom_host
        && verified_elsewhere(&scope, host).await?
    {
        return Err(DbError::Conflict(format!(
            "the custom host `{host}` is used by another tenant"
        )));
    }
    // The token is made here, and kept only when the host is new or changed.
    let sql = sql!(
        "INSERT INTO tenant_branding (tenant_id, app_name, logo_url, primary_color,
                                      secondary_color, support_email, support_url, home_html,
                                      custom_host, custom_host_token, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 CASE WHEN $9::text IS NULL THEN NULL
                      ELSE 'wmv_' || replace(gen_random_uuid()::text, '-', '') END,
                 now())
         ON CONFLICT (tenant_id) DO UPDATE SET
             app_name = excluded.app_name,
             logo_url = excluded.logo_url,
             primary_color = excluded.primary_color,
             secondary_color = excluded.secondary_color,
             support_email = excluded.support_email,
             support_url = excluded.support_url,
             home_html = excluded.home_html,
             custom_host = excluded.custom_host,
             custom_host_token = CASE
                 WHEN tenant_branding.custom_host IS NOT DISTINCT FROM excluded.custom_host
                 THEN tenant_branding.custom_host_token
                 ELSE excluded.custom_host_token END,
             custom_host_verified_at = CASE
                 WHEN tenant_branding.custom_host IS NOT DISTINCT FROM excluded.custom_host
                 THEN tenant_branding.custom_host_verified_at
                 ELSE NULL END,
             updated_at = excluded.updated_at
         RETURNING app_name, logo_url, primary_color, secondary_color, support_email,
                   support_url, home_html, custom_host,
                   custom_host_verified_at IS NOT NULL AND custom_host IS NOT NULL
                       AS custom_host_verified,
                   updated_at"
    );
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
    .await?
    .ok_or(DbError::NotFound("tenant"))
}

/// Whether a tenant other than the scope's holds `host` verified.
async fn verified_elsewhere(
    scope: &TenantScope<'_, impl ConnectionTrait>,
    host: &str,
) -> DbResult<bool> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT 1 AS held FROM tenant_branding
              WHERE custom_host = $1 AND custom_host_verified_at IS NOT NULL
                AND tenant_id <> $2"
            ),
            [host.into(), scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// A tenant's custom host with what proves it: the DNS TXT record to publish and, once seen,
/// when it was verified.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct CustomHostClaim {
    pub host: String,
    /// The value of the TXT record `_wuzapi-manager.<host>` (`wmv_` and 32 hex digits).
    pub token: String,
    pub verified_at: Option<DateTime<Utc>>,
}

/// The tenant's claimed (or verified) custom host; `None` when it has set none.
pub async fn custom_host_claim(
    scope: TenantScope<'_, impl ConnectionTrait>,
) -> DbResult<Option<CustomHostClaim>> {
    Ok(
        CustomHostClaim::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT custom_host AS host, custom_host_token AS token,
                    custom_host_verified_at AS verified_at
               FROM tenant_branding
              WHERE tenant_id = $1 AND custom_host IS NOT NULL"
            ),
            [scope.tenant_uuid().into()],
        ))
        .one(scope.conn())
        .await?,
    )
}

/// Marks the claim of `host` with `token` verified (kept as it was when already verified).
/// `None` when the tenant no longer claims `host` with that token (changed meanwhile); a host
/// another tenant verified first is a [`DbError::Conflict`].
pub async fn mark_custom_host_verified(
    scope: TenantScope<'_, impl ConnectionTrait>,
    host: &str,
    token: &str,
) -> DbResult<Option<CustomHostClaim>> {
    CustomHostClaim::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE tenant_branding
            SET custom_host_verified_at = coalesce(custom_host_verified_at, now())
          WHERE tenant_id = $1 AND custom_host = $2 AND custom_host_token = $3
          RETURNING custom_host AS host, custom_host_token AS token,
                    custom_host_verified_at AS verified_at"
        ),
        [scope.tenant_uuid().into(), host.into(), token.into()],
    ))
    .one(scope.conn())
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(
            e,
            format!("the custom host `{host}` is used by another tenant"),
        )
    })
}

/// The tenant whose slug is `slug` (unique index on `tenants.slug`).
pub async fn tenant_by_slug(db: &impl ConnectionTrait, slug: &str) -> DbResult<Option<TenantId>> {
    tenant_id_by(sql!("SELECT id FROM tenants WHERE slug = $1"), db, slug).await
}

/// The tenant that holds `host` as its verified custom host (a unique partial index). A host
/// only claimed, not yet verified, is nobody's. `host` must already be lower-case, as stored.
pub async fn tenant_by_host(db: &impl ConnectionTrait, host: &str) -> DbResult<Option<TenantId>> {
    tenant_id_by(
        sql!(
            "SELECT tenant_id AS id FROM tenant_branding
          WHERE custom_host = $1 AND custom_host_verified_at IS NOT NULL"
        ),
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
