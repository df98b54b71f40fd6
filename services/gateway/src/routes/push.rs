//! Web Push subscriptions: a browser registers the subscription its `PushManager.subscribe()`
//! returned (with the key of `GET /api/push/vapid-public-key`), and `worker-notification`
//! pushes the caller's notifications to it. A user manages only its own subscriptions.

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use common::{ErrorCode, PushSubscriptionId};
use db::notifications::{NewPushSubscription, PushSubscription, SubscribeError};
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Deleted, Envelope, Routes, created, ok};
use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(subscribe)
        .service(list)
        .service(unsubscribe)
        .service(vapid_public_key);
}

/// The longest endpoint URL accepted.
const MAX_ENDPOINT_CHARS: usize = 2048;

/// A browser's `PushSubscription.toJSON()` (its `expirationTime` may be sent; it is ignored).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubscription {
    /// The push service URL for this browser: `https://` (plain `http://` only where
    /// `WEB_PUSH_ALLOW_HTTP=true`, for tests).
    endpoint: String,
    keys: SubscriptionKeys,
    /// Sent by browsers; not used.
    #[serde(default)]
    #[allow(dead_code)]
    expiration_time: Option<serde_json::Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// base64url of the browser's uncompressed P-256 public key (65 bytes).
    p256dh: String,
    /// base64url of the 16-byte authentication secret.
    auth: String,
}

/// A subscription as the API shows it (never its keys).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    id: PushSubscriptionId,
    endpoint: String,
    created_at: DateTime<Utc>,
    /// When a push last reached it.
    last_success_at: Option<DateTime<Utc>>,
}

impl From<PushSubscription> for SubscriptionView {
    fn from(s: PushSubscription) -> Self {
        Self {
            id: s.id,
            endpoint: s.endpoint,
            created_at: s.created_at,
            last_success_at: s.last_success_at,
        }
    }
}

/// Registers the caller's browser for pushes: 201 when new; the same endpoint again updates
/// its keys (200). An endpoint registered by another user is 409. An endpoint whose host is or
/// resolves to a non-public address, or on a port other than `WEB_PUSH_ALLOWED_PORTS` (443),
/// is 422 on `endpoint`.
#[utoipa::path(
    tag = "push",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "Registered", body = Envelope<SubscriptionView>),
        (status = 200, description = "Already registered: its keys were updated", body = Envelope<SubscriptionView>),
        (status = 409, description = "The endpoint is another user's", body = common::ErrorBody),
        (status = 422, description = "A bad field (`field` names it), or an endpoint on a non-public address or a port other than `WEB_PUSH_ALLOWED_PORTS`; nothing stored", body = common::ErrorBody),
    ),
)]
#[post("/push/subscriptions")]
pub async fn subscribe(
    state: web::Data<AppState>,
    user: TenantUser,
    body: ApiJson<CreateSubscription>,
) -> ApiResult {
    let body = body.into_inner();
    let endpoint = check_endpoint(&body.endpoint, state.config.push_allow_http)?;
    check_target(&endpoint, &state.config.push_targets).await?;
    common::push::check_public_key(&body.keys.p256dh)
        .map_err(|reason| ApiError::validation("keys.p256dh", format!("`keys.p256dh` {reason}")))?;
    common::push::check_auth_secret(&body.keys.auth)
        .map_err(|reason| ApiError::validation("keys.auth", format!("`keys.auth` {reason}")))?;
    let (subscription, inserted) = db::notifications::subscribe(
        user.scope(&state.db),
        NewPushSubscription {
            user_id: user.user_id(),
            endpoint,
            p256dh: body.keys.p256dh.trim().trim_end_matches('=').to_owned(),
            auth: body.keys.auth.trim().trim_end_matches('=').to_owned(),
        },
    )
    .await
    .map_err(|e| match e {
        SubscribeError::TakenByOther => ApiError {
            field: Some("endpoint".into()),
            ..ApiError::new(ErrorCode::Conflict, e.to_string())
        },
        SubscribeError::Db(e) => e.into(),
    })?;
    let view = SubscriptionView::from(subscription);
    Ok(if inserted { created(view) } else { ok(view) })
}

/// An absolute `https://` URL (or `http://` when allowed) with a host, no user name or
/// password, at most 2048 characters.
fn check_endpoint(endpoint: &str, allow_http: bool) -> Result<String, ApiError> {
    let invalid = |why: &str| ApiError::validation("endpoint", format!("`endpoint` {why}"));
    if endpoint.chars().count() > MAX_ENDPOINT_CHARS {
        return Err(invalid(&format!(
            "must be at most {MAX_ENDPOINT_CHARS} characters"
        )));
    }
    let url = url::Url::parse(endpoint.trim()).map_err(|_| invalid("must be an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(invalid("must be an https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not hold a user name or password"));
    }
    Ok(url.to_string())
}

/// The endpoint as an egress target: an allowed port (`WEB_PUSH_ALLOWED_PORTS`, 443) and a
/// host that is not, and does not resolve to, a loopback, private, link-local, unique-local,
/// metadata, CGNAT or other non-public address (IPv4-mapped and NAT64 forms judged by the IPv4
/// inside), unless `WEB_PUSH_ALLOW_PRIVATE`. `worker-notification` checks again at every
/// connection, so this is the early, explained refusal. A name that does not resolve now is
/// accepted: push services are public, and a passing DNS failure should not lose a browser.
async fn check_target(endpoint: &str, targets: &common::push::PushTargets) -> Result<(), ApiError> {
    let invalid = |why: String| ApiError::validation("endpoint", format!("`endpoint`: {why}"));
    let ports = egress::Ports::Only(targets.ports.clone());
    let target = egress::Target::parse_with(endpoint, targets.allow_private, &ports)
        .map_err(|e| invalid(e.to_string()))?;
    let guard = egress::Guard::new(targets.allow_private, Arc::new(egress::SystemLookup));
    match guard.resolve(&target).await {
        Ok(_) | Err(egress::ResolveError::Lookup { .. }) => Ok(()),
        // The reason class only: the address a name resolved to is not the caller's to learn.
        Err(egress::ResolveError::Refused(refused)) => Err(invalid(format!(
            "the host is {}, not a public address",
            refused.reason
        ))),
    }
}

pub const SUBSCRIPTIONS: ListSpec = ListSpec {
    name: "push_subscriptions",
    fields: &["id", "endpoint", "createdAt", "lastSuccessAt"],
    default_fields: &["id", "endpoint", "createdAt", "lastSuccessAt"],
};

/// The caller's push subscriptions, oldest first.
#[utoipa::path(
    tag = "push",
    params(ListParams),
    responses((status = 200, description = "A page of subscriptions", body = Page<SubscriptionView>)),
)]
#[get("/push/subscriptions")]
pub async fn list(state: web::Data<AppState>, user: TenantUser, query: ListQuery) -> ApiResult {
    let page = query.page_within(&SUBSCRIPTIONS, user.user_id())?;
    let (rows, more) = db::notifications::subscriptions_page(
        user.scope(&state.db),
        user.user_id(),
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<SubscriptionView> = rows.into_iter().map(SubscriptionView::from).collect();
    page.respond(views, more, |s| s.id.into_uuid())
}

/// Removes one of the caller's subscriptions (the browser unsubscribed).
#[utoipa::path(
    tag = "push",
    params(("subscription_id" = uuid::Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "Removed", body = Envelope<Deleted<PushSubscriptionId>>)),
)]
#[delete("/push/subscriptions/{subscription_id}")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<PushSubscriptionId>,
) -> ApiResult {
    let id = path.into_inner();
    db::notifications::unsubscribe(user.scope(&state.db), user.user_id(), id).await?;
    Ok(ok(Deleted::new(id)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VapidPublicKey {
    /// base64url of the uncompressed P-256 public key: `applicationServerKey` for
    /// `PushManager.subscribe()`.
    public_key: String,
}

/// The VAPID public key browsers subscribe with. Public. 404 when Web Push is not configured.
#[utoipa::path(
    tag = "push",
    security(()),
    responses((status = 200, description = "The key", body = Envelope<VapidPublicKey>)),
)]
#[get("/push/vapid-public-key")]
pub async fn vapid_public_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let public_key = state
        .config
        .vapid_public_key
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "Web Push is not configured"))?;
    Ok(ok(VapidPublicKey { public_key }))
}
