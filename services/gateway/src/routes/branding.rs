//! Tenant branding: what a tenant's users see (app name, logo, colours, support contacts, home
//! page) and what its login page shows before anyone signs in.
//!
//! Every read goes through the cache under `branding:{tenantId}`; the public endpoint first
//! resolves the slug or host to a tenant id with one indexed query, so a changed custom host
//! takes effect at once. A write replaces the whole branding and drops that one entry.

use std::collections::HashSet;
use std::sync::LazyLock;

use actix_web::{HttpRequest, get, post, put, web};
use chrono::{DateTime, Utc};
use common::{ErrorCode, TenantId};
use db::branding::NewBranding;
use email_address::EmailAddress;
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::{ApiJson, ApiResult, BodyLimit, Envelope, ok, required_text};
use crate::auth::{TenantAdmin, TenantUser};
use crate::error::ApiError;
use crate::state::AppState;

cache::key_type! {
    /// A tenant's branding as shown (its defaults while it has set none).
    pub BrandingKey: Branding, id = TenantId, value = Branding, schema = 2
}

/// A tenant's branding as the API shows it (and the cache stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The lower-case hostname the tenant's login page is served on, once verified; to the
    /// tenant's own users also while it is only claimed (see `customHostVerified`).
    pub custom_host: Option<String>,
    /// Whether the tenant proved it controls `customHost`'s DNS; until then the login page is
    /// not served on it.
    pub custom_host_verified: bool,
    /// `None` (`null`) while the tenant has never set its branding (the defaults are shown).
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<db::branding::Branding> for Branding {
    fn from(v: db::branding::Branding) -> Self {
        Self {
            app_name: v.app_name,
            logo_url: v.logo_url,
            primary_color: v.primary_color,
            secondary_color: v.secondary_color,
            support_email: v.support_email,
            support_url: v.support_url,
            home_html: v.home_html,
            custom_host: v.custom_host,
            custom_host_verified: v.custom_host_verified,
            updated_at: v.updated_at,
        }
    }
}

pub const MAX_APP_NAME_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_HOME_HTML_CHARS: usize = 100_000;
/// The body limit of `PUT /api/branding`: 100 000 characters of HTML can take 400 000 bytes of
/// UTF-8, and more once JSON escapes them, beyond the API-wide default.
pub const JSON_LIMIT_BYTES: usize = 1024 * 1024;

/// [`JSON_LIMIT_BYTES`] as the body limit of `PUT /api/branding`.
pub struct BrandingLimit;

impl BodyLimit for BrandingLimit {
    fn bytes(_: &HttpRequest) -> Option<usize> {
        Some(JSON_LIMIT_BYTES)
    }
}

/// What survives in the home page: ammonia's default safe tags and attributes (formatting,
/// links, images, tables; never scripts, styles, event handlers or forms), with links and image
/// sources limited to web, mail and phone URLs. Links get `rel="noopener noreferrer"`.
static HOME_HTML_SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.url_schemes(HashSet::from(["http", "https", "mailto", "tel"]));
    builder
});

/// The whole branding. An optional field left out, `null` or blank clears it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutBranding {
    /// At most 100 characters.
    app_name: String,
    /// An `https://` URL (`http://` only for localhost).
    logo_url: Option<String>,
    /// `#rgb` or `#rrggbb`.
    primary_color: Option<String>,
    /// `#rgb` or `#rrggbb`.
    secondary_color: Option<String>,
    /// A plain address such as `help@example.com`.
    support_email: Option<String>,
    /// An `https://` URL (`http://` only for localhost).
    support_url: Option<String>,
    /// The home page, at most 100 000 characters of HTML; scripts, styles, event handlers and
    /// forms are removed.
    home_html: Option<String>,
    /// The hostname the tenant's login page is to be served on, such as `login.example.com`.
    /// A new host is a claim: it is used once verified (`GET /api/branding/custom-host` says
    /// which DNS TXT record proves it). The platform's own hosts cannot be claimed.
    custom_host: Option<String>,
}

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(get)
        .service(replace)
        .service(public)
        .service(custom_host)
        .service(verify_custom_host);
}

/// The caller's tenant's branding (its defaults while it has set none). Any user of a tenant.
#[utoipa::path(
    tag = "branding",
    responses((status = 200, description = "The branding", body = Envelope<Branding>)),
)]
#[get("/branding")]
pub async fn get(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    Ok(ok(cached_branding(&state, user.scope(&state.db)).await?))
}

/// Replaces the tenant's branding. Tenant admins.
///
/// URLs are normalised and the home page sanitised; the answer is what was stored. A new
/// `customHost` is a claim to verify (`POST /api/branding/custom-host/verify`); 409 when another
/// tenant has verified it, 422 for the platform's own hosts.
#[utoipa::path(
    tag = "branding",
    request_body = PutBranding,
    responses((status = 200, description = "The branding as stored", body = Envelope<Branding>)),
)]
#[put("/branding")]
pub async fn replace(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<PutBranding, BrandingLimit>,
) -> ApiResult {
    let new = validate(body.into_inner())?;
    if let Some(host) = &new.custom_host
        && state
            .config
            .custom_hosts
            .is_reserved(host, state.config.public_url.as_ref())
    {
        return Err(ApiError::validation(
            "customHost",
            format!("`{host}` is one of the platform's own hosts: choose a host of your own"),
        ));
    }
    let scope = admin.scope(&state.db);
    let stored = db::branding::replace(scope, new)
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(message) => ApiError {
                field: Some("customHost".to_owned()),
                ..ApiError::new(ErrorCode::Conflict, message)
            },
            other => other.into(),
        })?;
    crate::cached::invalidate(
        &state,
        [cache::KeyRef::from(BrandingKey::key(&scope.tenant_id()))],
    )
    .await;
    Ok(ok(Branding::from(stored)))
}

/// Exactly one of `slug` and `host`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicBrandingQuery {
    /// The tenant's slug.
    slug: Option<String>,
    /// The tenant's custom host, such as `login.example.com`.
    host: Option<String>,
}

/// The branding a tenant's login page shows, found by the tenant's slug or by its custom host.
///
/// Public: no API key. Give exactly one of `slug` and `host`.
#[utoipa::path(
    tag = "branding",
    params(PublicBrandingQuery),
    responses((status = 200, description = "The tenant's branding", body = Envelope<Branding>)),
    security(()),
)]
#[get("/public/branding")]
pub async fn public(
    state: web::Data<AppState>,
    query: web::Query<PublicBrandingQuery>,
) -> ApiResult {
    let tenant_id = match query.into_inner() {
        PublicBrandingQuery {
            slug: Some(slug),
            host: None,
        } => {
            let slug = slug.trim().to_ascii_lowercase();
            if slug.is_empty() {
                return Err(invalid_parameter("`slug` must not be empty"));
            }
            db::branding::tenant_by_slug(&state.db, &slug).await?
        }
        PublicBrandingQuery {
            slug: None,
            host: Some(host),
        } => {
            let host = hostname(&host).ok_or_else(|| {
                invalid_parameter("`host` must be a hostname such as `login.example.com`")
            })?;
            db::branding::tenant_by_host(&state.db, &host).await?
        }
        _ => {
            return Err(invalid_parameter("give exactly one of `slug` and `host`"));
        }
    };
    let tenant_id = tenant_id.ok_or_else(|| ApiError::not_found("tenant"))?;
    let scope = db::TenantScope::for_public_page(&state.db, tenant_id);
    let mut branding = cached_branding(&state, scope).await?;
    // A host only claimed is not the tenant's (yet): the public page does not name it.
    if !branding.custom_host_verified {
        branding.custom_host = None;
    }
    Ok(ok(branding))
}

/// A custom host and what proves it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHostAnswer {
    /// The claimed host.
    host: String,
    /// `pending` until the TXT record was seen, then `verified`.
    status: CustomHostStatus,
    /// The DNS name to publish a TXT record at: `_wuzapi-manager.<host>`.
    txt_record: String,
    /// The TXT record's value.
    txt_value: String,
    /// When the record was seen.
    verified_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(serde::Serialize, utoipa::ToSchema, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CustomHostStatus {
    Pending,
    Verified,
}

impl From<db::branding::CustomHostClaim> for CustomHostAnswer {
    fn from(claim: db::branding::CustomHostClaim) -> Self {
        Self {
            txt_record: crate::custom_host::txt_name(&claim.host),
            status: if claim.verified_at.is_some() {
                CustomHostStatus::Verified
            } else {
                CustomHostStatus::Pending
            },
            host: claim.host,
            txt_value: claim.token,
            verified_at: claim.verified_at,
        }
    }
}

/// The tenant's custom host and the DNS TXT record that proves it. Tenant admins; 404 when the
/// branding names no custom host.
#[utoipa::path(
    tag = "branding",
    responses((status = 200, description = "The custom host and its proof", body = Envelope<CustomHostAnswer>)),
)]
#[get("/branding/custom-host")]
pub async fn custom_host(state: web::Data<AppState>, admin: TenantAdmin) -> ApiResult {
    let claim = db::branding::custom_host_claim(admin.scope(&state.db))
        .await?
        .ok_or_else(|| ApiError::not_found("custom host"))?;
    Ok(ok(CustomHostAnswer::from(claim)))
}

/// Looks up the custom host's TXT record `_wuzapi-manager.<host>` and, when it holds the token,
/// makes the host the tenant's: the login page is served on it from then on. Tenant admins.
///
/// 422 (`customHost`) while the record is not seen, 409 when another tenant verified the host
/// first, 503 when the DNS cannot be asked; 404 without a custom host.
#[utoipa::path(
    tag = "branding",
    responses((status = 200, description = "The custom host, verified", body = Envelope<CustomHostAnswer>)),
)]
#[post("/branding/custom-host/verify")]
pub async fn verify_custom_host(state: web::Data<AppState>, admin: TenantAdmin) -> ApiResult {
    let scope = admin.scope(&state.db);
    let claim = db::branding::custom_host_claim(scope)
        .await?
        .ok_or_else(|| ApiError::not_found("custom host"))?;
    if claim.verified_at.is_none() {
        use crate::custom_host::{Proof, prove, txt_name};
        match prove(&state.config.custom_hosts, &claim.host, &claim.token).await {
            Proof::Found => {}
            Proof::Missing => {
                return Err(ApiError::validation(
                    "customHost",
                    format!(
                        "no TXT record `{}` with the value `{}` was found: publish it at your \
                         DNS provider and try again (new records can take minutes to be seen)",
                        txt_name(&claim.host),
                        claim.token
                    ),
                ));
            }
            Proof::Unavailable => {
                return Err(ApiError::new(
                    ErrorCode::ServiceUnavailable,
                    "the DNS could not be asked for the TXT record: try again shortly",
                ));
            }
        }
    }
    let verified = db::branding::mark_custom_host_verified(scope, &claim.host, &claim.token)
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(message) => ApiError {
                field: Some("customHost".to_owned()),
                ..ApiError::new(ErrorCode::Conflict, message)
            },
            other => other.into(),
        })?
        // The branding changed between the look-up and now: the claim checked is gone.
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Conflict,
                "the custom host changed meanwhile: verify the new one",
            )
        })?;
    crate::cached::invalidate(
        &state,
        [cache::KeyRef::from(BrandingKey::key(&scope.tenant_id()))],
    )
    .await;
    Ok(ok(CustomHostAnswer::from(verified)))
}

/// The branding of the scope's tenant through the cache. The scope comes from the authenticated
/// caller or from the public lookup; either way only this tenant's row is read.
async fn cached_branding(
    state: &AppState,
    scope: db::TenantScope<'_, sea_orm::DatabaseConnection>,
) -> Result<Branding, ApiError> {
    let load = async { Ok(db::branding::find(scope).await?.map(Branding::from)) };
    crate::cached::read(state, &BrandingKey::key(&scope.tenant_id()), load)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

fn invalid_parameter(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, message)
}

/// Checks every field, in body order, and normalises what is stored.
fn validate(body: PutBranding) -> Result<NewBranding, ApiError> {
    Ok(NewBranding {
        app_name: required_text("appName", &body.app_name, MAX_APP_NAME_CHARS)?,
        logo_url: optional(body.logo_url)
            .map(|v| web_url("logoUrl", &v))
            .transpose()?,
        primary_color: optional(body.primary_color)
            .map(|v| color("primaryColor", &v))
            .transpose()?,
        secondary_color: optional(body.secondary_color)
            .map(|v| color("secondaryColor", &v))
            .transpose()?,
        support_email: optional(body.support_email)
            .map(|v| email("supportEmail", v))
            .transpose()?,
        support_url: optional(body.support_url)
            .map(|v| web_url("supportUrl", &v))
            .transpose()?,
        home_html: body
            .home_html
            .filter(|html| !html.trim().is_empty())
            .map(|html| sanitised_html("homeHtml", &html))
            .transpose()?,
        custom_host: optional(body.custom_host)
            .map(|v| {
                hostname(&v).ok_or_else(|| {
                    ApiError::validation(
                        "customHost",
                        "`customHost` must be a DNS name such as `login.example.com` \
                         (letters, digits and `-` in dot-separated labels; no port, no IP address)",
                    )
                })
            })
            .transpose()?,
    })
}

/// A trimmed optional text; blank counts as absent.
fn optional(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An absolute `https://` URL (`http://` only for localhost), without credentials, stored in
/// its normalised form. Every other scheme (`javascript:`, `data:`, ...) is refused.
fn web_url(field: &str, value: &str) -> Result<String, ApiError> {
    let too_long = || {
        ApiError::validation(
            field,
            format!("`{field}` must be at most {MAX_URL_CHARS} characters"),
        )
    };
    if value.chars().count() > MAX_URL_CHARS {
        return Err(too_long());
    }
    let url = Url::parse(value).map_err(|e| {
        ApiError::validation(
            field,
            format!("`{field}` must be an absolute https:// URL: {e}"),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(ApiError::validation(
                field,
                format!("`{field}` must use https:// (http:// is accepted only for localhost)"),
            ));
        }
        other => {
            return Err(ApiError::validation(
                field,
                format!("`{field}` must be an https:// URL, not a `{other}:` one"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must not contain a user name or password"),
        ));
    }
    let normalised = String::from(url);
    if normalised.chars().count() > MAX_URL_CHARS {
        return Err(too_long());
    }
    Ok(normalised)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `#rgb` or `#rrggbb`, stored lower-case.
fn color(field: &str, value: &str) -> Result<String, ApiError> {
    value
        .strip_prefix('#')
        .filter(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|hex| format!("#{}", hex.to_ascii_lowercase()))
        .ok_or_else(|| {
            ApiError::validation(
                field,
                format!("`{field}` must be a colour written `#rgb` or `#rrggbb`"),
            )
        })
}

/// A plain address (`name@example.com`: no display name, no IP literal, a domain with a dot).
fn email(field: &str, value: String) -> Result<String, ApiError> {
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must be at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let options = email_address::Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    EmailAddress::parse_with_options(&value, options)
        .map(|_| value)
        .map_err(|e| {
            ApiError::validation(
                field,
                format!("`{field}` must be an email address such as help@example.com: {e}"),
            )
        })
}

/// The home page with everything unsafe removed. The limit applies to the HTML as sent and as
/// stored: sanitising escapes text and adds `rel` to links, so it can grow.
fn sanitised_html(field: &str, html: &str) -> Result<String, ApiError> {
    let too_long = |which: &str| {
        ApiError::validation(
            field,
            format!("`{field}` must be at most {MAX_HOME_HTML_CHARS} characters{which}"),
        )
    };
    if html.chars().count() > MAX_HOME_HTML_CHARS {
        return Err(too_long(""));
    }
    let clean = HOME_HTML_SANITISER.clean(html).to_string();
    if clean.chars().count() > MAX_HOME_HTML_CHARS {
        return Err(too_long(" after sanitising"));
    }
    Ok(clean)
}

/// A lower-case DNS name of two or more labels (a trailing dot dropped), or `None`. IP
/// addresses (an all-digit last label) and internationalised names not in `xn--` form are not
/// hostnames here.
pub(crate) fn hostname(value: &str) -> Option<String> {
    let value = value.trim();
    let host = value
        .strip_suffix('.')
        .unwrap_or(value)
        .to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = host.split('.').collect();
    let valid = host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| label_ok(label))
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    valid.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_local_http() {
        assert_eq!(
            web_url("logoUrl", "https://cdn.example.com/logo.png").unwrap(),
            "https://cdn.example.com/logo.png"
        );
        assert!(web_url("logoUrl", "http://localhost:8080/logo.png").is_ok());
        assert!(web_url("logoUrl", "http://127.0.0.1/logo.png").is_ok());
        for bad in [
            "http://cdn.example.com/logo.png",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/png;base64,AAAA",
            "ftp://example.com/logo.png",
            "/logo.png",
            "https://user:pass@example.com/",
        ] {
            let err = web_url("logoUrl", bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("logoUrl"), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(web_url("logoUrl", &long).is_err());
    }

    #[test]
    fn colours_are_short_or_long_hex() {
        assert_eq!(color("c", "#ABC").unwrap(), "#abc");
        assert_eq!(color("c", "#0a1B2c").unwrap(), "#0a1b2c");
        for bad in ["abc", "#abcd", "#ggg", "red", "#", "#12345g"] {
            assert!(color("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_plain_addresses() {
        assert!(email("e", "help@example.com".to_owned()).is_ok());
        for bad in [
            "help",
            "help@",
            "@example.com",
            "help@localhost",
            "Help <help@example.com>",
            "help@[127.0.0.1]",
        ] {
            assert!(email("e", bad.to_owned()).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(email("e", long).is_err());
    }

    #[test]
    fn hostnames_are_lower_case_dns_names() {
        assert_eq!(
            hostname("Login.Example.COM.").as_deref(),
            Some("login.example.com")
        );
        assert_eq!(
            hostname("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        for bad in [
            "localhost",
            "example.com:8080",
            "192.168.0.1",
            "-bad.example.com",
            "bad-.example.com",
            "a..example.com",
            "under_score.example.com",
            "bücher.example",
            "",
        ] {
            assert_eq!(hostname(bad), None, "{bad}");
        }
        assert_eq!(hostname(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn home_html_keeps_formatting_and_drops_scripts() {
        let clean = sanitised_html(
            "homeHtml",
            r#"<b>Hi</b><script>alert(1)</script><img src="https://x.example/a.png" onerror="alert(2)"><a href="javascript:alert(3)">bad</a><a href="https://example.com">good</a>"#,
        )
        .unwrap();
        assert!(clean.contains("<b>Hi</b>"), "{clean}");
        assert!(clean.contains(r#"href="https://example.com""#), "{clean}");
        assert!(
            clean.contains(r#"src="https://x.example/a.png""#),
            "{clean}"
        );
        for gone in ["script", "alert", "onerror", "javascript:"] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(sanitised_html("homeHtml", &"a".repeat(MAX_HOME_HTML_CHARS + 1)).is_err());
    }
}
