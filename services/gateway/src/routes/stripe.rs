//! Each tenant's own Stripe account: its settings, the webhook Stripe calls with the tenant's
//! events, and the analytics computed from them.
//!
//! Secrets go in and only hints come out. The settings view is cached under
//! `stripe_settings:{tenantId}`, the default-period analytics under `stripe_analytics:{tenantId}`;
//! every write drops exactly the entry it changes.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, delete, get, post, put, web};
use chrono::{DateTime, Duration, Utc};
use common::{ErrorCode, TenantId};
use db::stripe::{NewStripeSettings, Recorded, WebhookSecret};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiResult, Envelope, invalid_parameter, ok, required_text};
use crate::auth::TenantAdmin;
use crate::error::ApiError;
use crate::state::AppState;

cache::key_type! {
    /// A tenant's Stripe settings as shown: the publishable key and the secrets' hints.
    pub StripeSettingsKey: StripeSettings, id = TenantId, value = StripeSettings, schema = 1
}

cache::key_type! {
    /// A tenant's Stripe analytics for the default period (the last 30 days).
    pub StripeAnalyticsKey: StripeAnalytics, id = TenantId, value = StripeAnalytics, schema = 1
}

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(delete_settings)
        .service(analytics)
        .service(webhook);
}

/// How far a delivery's signature timestamp may be from now: Stripe's own default.
const WEBHOOK_TOLERANCE_SECS: i64 = ::stripe::signature::DEFAULT_TOLERANCE_SECS;
/// The period analytics cover when the request names none.
const DEFAULT_PERIOD_DAYS: i64 = 30;
const MAX_KEY_CHARS: usize = 255;

/// All three keys, replacing what was stored.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutSettings {
    /// `pk_live_...` or `pk_test_...`.
    publishable_key: String,
    /// `sk_...` or a restricted `rk_...` key, of the same mode (live or test) as the
    /// publishable key. Stored encrypted; only a hint is shown.
    secret_key: String,
    /// The webhook's signing secret, `whsec_...`. Stored encrypted; only a hint is shown.
    webhook_secret: String,
}

/// A tenant's Stripe settings as the API shows them (and the cache stores them): no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeSettings {
    pub publishable_key: String,
    /// The secret key's last four characters (`…abcd`), to recognise it.
    pub secret_key_hint: String,
    /// The webhook secret's last four characters (`…abcd`), to recognise it.
    pub webhook_secret_hint: String,
    pub updated_at: DateTime<Utc>,
}

impl From<db::stripe::StripeSettings> for StripeSettings {
    fn from(v: db::stripe::StripeSettings) -> Self {
        Self {
            publishable_key: v.publishable_key,
            secret_key_hint: v.secret_key_hint,
            webhook_secret_hint: v.webhook_secret_hint,
            updated_at: v.updated_at,
        }
    }
}

/// A tenant's Stripe figures for a period `[from, to)`. Amounts are minor units (cents) keyed
/// by lowercase currency code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeAnalytics {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Monthly recurring revenue now: active and past-due subscriptions with a known amount,
    /// each normalised to one month.
    pub mrr: BTreeMap<String, i64>,
    /// Subscriptions by status now.
    pub subscriptions: SubscriptionCounts,
    /// `amount_paid` of the invoices paid in the period.
    pub revenue: BTreeMap<String, i64>,
    pub churn: Churn,
}

impl From<db::stripe::StripeAnalytics> for StripeAnalytics {
    fn from(v: db::stripe::StripeAnalytics) -> Self {
        Self {
            from: v.from,
            to: v.to,
            mrr: v.mrr,
            subscriptions: v.subscriptions.into(),
            revenue: v.revenue,
            churn: v.churn.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCounts {
    pub active: i64,
    pub trialing: i64,
    pub past_due: i64,
    pub canceled: i64,
}

impl From<db::stripe::SubscriptionCounts> for SubscriptionCounts {
    fn from(v: db::stripe::SubscriptionCounts) -> Self {
        Self {
            active: v.active,
            trialing: v.trialing,
            past_due: v.past_due,
            canceled: v.canceled,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Churn {
    /// Subscriptions canceled in the period.
    pub canceled: i64,
    /// Subscriptions that had started and were not canceled at the start of the period.
    pub active_at_start: i64,
    /// `canceled / active_at_start` to four decimals; `None` (`null`) when none were active.
    pub rate: Option<f64>,
}

impl From<db::stripe::Churn> for Churn {
    fn from(v: db::stripe::Churn) -> Self {
        Self {
            canceled: v.canceled,
            active_at_start: v.active_at_start,
            rate: v.rate,
        }
    }
}

/// The Stripe settings as the API shows them: no secret, only hints.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SettingsView {
    #[serde(flatten)]
    settings: StripeSettings,
    /// The path of this tenant's webhook endpoint, to register in the Stripe dashboard.
    webhook_url: String,
}

impl SettingsView {
    fn new(settings: StripeSettings, tenant_id: TenantId) -> Self {
        Self {
            settings,
            webhook_url: format!("/api/webhooks/stripe/{tenant_id}"),
        }
    }
}

/// The tenant's Stripe settings: the publishable key and hints of the secrets. Tenant admins.
#[utoipa::path(
    tag = "stripe",
    responses((status = 200, description = "The settings", body = Envelope<SettingsView>)),
)]
#[get("/stripe/settings")]
pub async fn get_settings(state: web::Data<AppState>, admin: TenantAdmin) -> ApiResult {
    let scope = admin.scope(&state.db);
    let tenant_id = scope.tenant_id();
    let load = async {
        Ok(db::stripe::find_settings(scope)
            .await?
            .map(StripeSettings::from))
    };
    let settings = crate::cached::read(&state, &StripeSettingsKey::key(&tenant_id), load)
        .await?
        .ok_or_else(|| ApiError::not_found("stripe settings"))?;
    Ok(ok(SettingsView::new(settings, tenant_id)))
}

/// Replaces the tenant's Stripe keys. Tenant admins.
#[utoipa::path(
    tag = "stripe",
    request_body = PutSettings,
    responses((status = 200, description = "The settings as stored", body = Envelope<SettingsView>)),
)]
#[put("/stripe/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<PutSettings>,
) -> ApiResult {
    let new = validate(body.into_inner())?;
    let scope = admin.scope(&state.db);
    let stored = db::stripe::replace_settings(scope, &state.token_cipher, new).await?;
    let tenant_id = scope.tenant_id();
    crate::cached::invalidate(
        &state,
        [cache::KeyRef::from(StripeSettingsKey::key(&tenant_id))],
    )
    .await;
    Ok(ok(SettingsView::new(stored.into(), tenant_id)))
}

/// `{"deleted":true}`.
#[derive(Serialize, utoipa::ToSchema)]
struct SettingsDeleted {
    deleted: bool,
}

/// Removes the tenant's Stripe keys. Tenant admins.
///
/// The webhook then refuses every delivery. Recorded events and analytics stay.
#[utoipa::path(
    tag = "stripe",
    responses((status = 200, description = "The settings are gone", body = Envelope<SettingsDeleted>)),
)]
#[delete("/stripe/settings")]
pub async fn delete_settings(state: web::Data<AppState>, admin: TenantAdmin) -> ApiResult {
    let scope = admin.scope(&state.db);
    if !db::stripe::delete_settings(scope).await? {
        return Err(ApiError::not_found("stripe settings"));
    }
    crate::cached::invalidate(
        &state,
        [cache::KeyRef::from(StripeSettingsKey::key(
            &scope.tenant_id(),
        ))],
    )
    .await;
    Ok(ok(SettingsDeleted { deleted: true }))
}

/// Checks the three keys: each trimmed, of Stripe's alphabet, with its kind's prefix; the
/// secret key of the same mode (live or test) as the publishable key.
fn validate(body: PutSettings) -> Result<NewStripeSettings, ApiError> {
    let publishable_key = stripe_key(
        "publishableKey",
        &body.publishable_key,
        &["pk_live_", "pk_test_"],
    )?;
    let secret_key = stripe_key("secretKey", &body.secret_key, &["sk_", "rk_"])?;
    let webhook_secret = stripe_key("webhookSecret", &body.webhook_secret, &["whsec_"])?;
    let mode = |key: &str| {
        let (_, rest) = key.split_once('_')?;
        ["live_", "test_"]
            .into_iter()
            .find(|mode| rest.starts_with(mode))
    };
    if let (Some(publishable), Some(secret)) = (mode(&publishable_key), mode(&secret_key))
        && publishable != secret
    {
        return Err(ApiError::validation(
            "secretKey",
            "`secretKey` and `publishableKey` must both be live keys or both test keys",
        ));
    }
    Ok(NewStripeSettings {
        publishable_key,
        secret_key: SecretString::from(secret_key),
        webhook_secret: SecretString::from(webhook_secret),
    })
}

/// A key of Stripe's form: one of `prefixes`, then letters, digits and `_`. Error messages
/// never repeat the value, which may be a secret.
fn stripe_key(field: &str, value: &str, prefixes: &[&str]) -> Result<String, ApiError> {
    let key = required_text(field, value, MAX_KEY_CHARS)?;
    let well_formed = prefixes.iter().any(|prefix| {
        key.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty())
    }) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if well_formed {
        Ok(key)
    } else {
        let expected = prefixes
            .iter()
            .map(|prefix| format!("`{prefix}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        Err(ApiError::validation(
            field,
            format!(
                "`{field}` must start with {expected}, followed by letters, digits and `_` only"
            ),
        ))
    }
}

/// The acknowledgement Stripe gets for a verified delivery.
#[derive(Serialize, utoipa::ToSchema)]
struct WebhookReceipt {
    received: bool,
    /// The event was recorded before (a redelivery) and changed nothing.
    duplicate: bool,
}

/// Receives a tenant's Stripe events (called by Stripe).
///
/// No API key: the `Stripe-Signature` header authenticates the delivery. Answers 400
/// `invalid_signature` and records nothing unless it verifies against the tenant's webhook
/// secret; a redelivered event is acknowledged and changes nothing. Register
/// `/api/webhooks/stripe/{tenantId}` (the settings' `webhookUrl`) in the Stripe dashboard.
#[utoipa::path(
    tag = "stripe",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The tenant whose Stripe account sends the event"),
        ("Stripe-Signature" = String, Header, description = "Stripe's signature of the body, verified with the tenant's webhook secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, as Stripe signed it (verified byte for byte)"),
    responses((status = 200, description = "The delivery was verified and recorded (or was a redelivery)", body = Envelope<WebhookReceipt>)),
    security(()),
)]
#[post("/webhooks/stripe/{tenant_id}")]
pub async fn webhook(
    state: web::Data<AppState>,
    path: web::Path<TenantId>,
    request: HttpRequest,
    body: web::Bytes,
) -> ApiResult {
    let tenant_id = path.into_inner();
    // The tenant comes from the URL, not from a caller; nothing is written for it before the
    // signature proves the delivery was made with this tenant's secret.
    let scope = db::TenantScope::for_signed_callback(&state.db, tenant_id);
    let secret = match db::stripe::webhook_secret(scope, &state.token_cipher).await? {
        WebhookSecret::UnknownTenant => return Err(ApiError::not_found("tenant")),
        WebhookSecret::NotConfigured => {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "this tenant has no Stripe settings, so no delivery can be verified",
            ));
        }
        WebhookSecret::Configured(secret) => secret,
    };
    // A header that is not visible ASCII is malformed, not missing.
    let header = request
        .headers()
        .get("Stripe-Signature")
        .map(|value| value.to_str().unwrap_or_default());
    ::stripe::signature::verify(
        header,
        &body,
        secret.expose_secret(),
        Utc::now(),
        WEBHOOK_TOLERANCE_SECS,
    )
    .map_err(|e| {
        tracing::info!(tenant = %tenant_id, reason = %e, "Stripe webhook refused");
        ApiError::new(ErrorCode::InvalidSignature, e.to_string())
    })?;
    let event = ::stripe::Event::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    let payload: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    // PostgreSQL's jsonb cannot hold the NUL character: refuse the event rather than fail.
    if let Some(path) = common::text::nul_path(&payload) {
        return Err(ApiError::validation(
            &path,
            format!(
                "`{path}`: the event holds the NUL character (\\u0000), which cannot be stored"
            ),
        ));
    }
    let recorded = db::stripe::record_event(scope, &event, payload).await?;
    tracing::info!(
        tenant = %tenant_id,
        event = %event.id,
        event_type = %event.event_type,
        duplicate = recorded == Recorded::Duplicate,
        "Stripe webhook received"
    );
    if recorded == Recorded::New {
        crate::cached::invalidate(
            &state,
            [cache::KeyRef::from(StripeAnalyticsKey::key(&tenant_id))],
        )
        .await;
    }
    Ok(ok(WebhookReceipt {
        received: true,
        duplicate: recorded == Recorded::Duplicate,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// RFC 3339; defaults to 30 days before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339; defaults to now.
    #[param(format = DateTime)]
    to: Option<String>,
}

/// The tenant's Stripe analytics. Tenant admins.
///
/// MRR, subscription counts, revenue and churn for `[from, to)`, computed from the events the
/// webhook recorded. The default period is the last 30 days.
#[utoipa::path(
    tag = "stripe",
    params(AnalyticsQuery),
    responses((status = 200, description = "The analytics", body = Envelope<StripeAnalytics>)),
)]
#[get("/stripe/analytics")]
pub async fn analytics(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    query: web::Query<AnalyticsQuery>,
) -> ApiResult {
    let scope = admin.scope(&state.db);
    let query = query.into_inner();
    let from = query
        .from
        .as_deref()
        .map(|v| rfc3339("from", v))
        .transpose()?;
    let to = query.to.as_deref().map(|v| rfc3339("to", v)).transpose()?;
    let period = Duration::days(DEFAULT_PERIOD_DAYS);
    let analytics = match (from, to) {
        (None, None) => {
            let to = Utc::now();
            crate::cached::read(
                &state,
                &StripeAnalyticsKey::key(&scope.tenant_id()),
                async move {
                    let analytics = db::stripe::analytics(scope, to - period, to).await?;
                    Ok(Some(StripeAnalytics::from(analytics)))
                },
            )
            .await?
            .ok_or_else(|| ApiError::internal("analytics load answered nothing"))?
        }
        (from, to) => {
            let to = to.unwrap_or_else(Utc::now);
            let from = from.unwrap_or(to - period);
            if from >= to {
                return Err(invalid_parameter(
                    "from",
                    "`from` must be earlier than `to`",
                ));
            }
            db::stripe::analytics(scope, from, to).await?.into()
        }
    };
    Ok(ok(analytics))
}

fn rfc3339(field: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            invalid_parameter(
                field,
                format!("`{field}` must be an RFC 3339 time such as `2026-01-31T00:00:00Z`"),
            )
        })
}
