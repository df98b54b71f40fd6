//! Webhook endpoints of a tenant, their deliveries and replays; `worker-webhook` sends them.
//!
//! Tenant admins only (an endpoint receives every subscribed event of the whole tenant, and its
//! secret is the tenant's), with the `webhooks` feature (403 `feature_not_enabled`). Another
//! tenant's endpoint or delivery is 404 everywhere, and nothing changes.

use actix_web::{delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use common::webhooks::DeliveryStatus;
use common::{EventKind, WebhookDeliveryId, WebhookEndpointId};
use db::webhooks::{Attempt, Delivery, Endpoint};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Deserializer, Serialize};

use super::campaigns::JobRef;
use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Deleted, Envelope, Routes, accepted, created, ok};
use crate::auth::TenantAdmin;
use crate::state::AppState;
use crate::usecases;
use crate::usecases::webhooks::{EndpointEdit, EndpointInput, overlap_until, require_feature};

pub fn routes(cfg: &mut Routes) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(update)
        .service(remove)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(get_delivery)
        .service(replay_delivery)
        .service(replay_failed);
}

/// An endpoint as the API shows it; its secret only ever in [`EndpointWithSecret`].
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    id: WebhookEndpointId,
    url: String,
    description: Option<String>,
    event_types: Vec<EventKind>,
    enabled: bool,
    /// Why it is disabled (by a user, or for failing since `failingSince`).
    disabled_reason: Option<String>,
    /// Since when its deliveries have failed without a success in between.
    failing_since: Option<DateTime<Utc>>,
    /// While the secret before the last rotation still signs, until when.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        let now = Utc::now();
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_expires_at.filter(|at| *at > now),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its new signing secret: shown this once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    endpoint: EndpointView,
    /// `whsec_<base64>`: verify deliveries with it (Standard Webhooks). Not shown again.
    secret: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpoint {
    /// `http(s)://` URL receiving the deliveries; its host must resolve to public addresses.
    pub url: String,
    /// Event types to deliver (at least one).
    pub event_types: Vec<EventKind>,
    pub description: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// Creates an endpoint; the answer carries its signing secret, shown only here.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateEndpoint,
    responses((status = 201, description = "The endpoint and its secret", body = Envelope<EndpointWithSecret>)),
)]
#[post("/webhooks/endpoints")]
pub async fn create(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<CreateEndpoint>,
) -> ApiResult {
    let input = EndpointInput::parse(body.into_inner());
    let (endpoint, secret) = usecases::webhooks::create(&state, &admin, input).await?;
    Ok(created(EndpointWithSecret {
        endpoint: EndpointView::from(endpoint),
        secret: secret.expose().to_owned(),
    }))
}

pub const ENDPOINTS: ListSpec = ListSpec {
    name: "webhook_endpoints",
    fields: &[
        "id",
        "url",
        "description",
        "eventTypes",
        "enabled",
        "disabledReason",
        "failingSince",
        "previousSecretExpiresAt",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "url", "eventTypes", "enabled"],
};

/// The tenant's endpoints, oldest first.
#[utoipa::path(
    tag = "webhooks",
    params(ListParams),
    responses((status = 200, description = "A page of endpoints", body = Page<EndpointView>)),
)]
#[get("/webhooks/endpoints")]
pub async fn list(state: web::Data<AppState>, admin: TenantAdmin, query: ListQuery) -> ApiResult {
    require_feature(&state, &admin).await?;
    let page = query.page(&ENDPOINTS)?;
    let (rows, more) =
        db::webhooks::page(admin.0.scope(&state.db), page.after(), page.limit()).await?;
    let views: Vec<EndpointView> = rows.into_iter().map(EndpointView::from).collect();
    page.respond(views, more, |e| e.id.into_uuid())
}

/// One endpoint.
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint", body = Envelope<EndpointView>)),
)]
#[get("/webhooks/endpoints/{endpoint_id}")]
pub async fn get(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let endpoint = db::webhooks::find(admin.0.scope(&state.db), path.into_inner()).await?;
    Ok(ok(EndpointView::from(endpoint)))
}

/// A present field, even `null`, as `Some`: tells "clear it" from "leave it".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventKind>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint and restarts its failing clock.
    pub enabled: Option<bool>,
}

/// Changes the fields given; the others stay.
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path, description = "The endpoint")),
    request_body = UpdateEndpoint,
    responses((status = 200, description = "The endpoint as changed", body = Envelope<EndpointView>)),
)]
#[patch("/webhooks/endpoints/{endpoint_id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
    body: ApiJson<UpdateEndpoint>,
) -> ApiResult {
    let edit = EndpointEdit::parse(body.into_inner());
    let endpoint = usecases::webhooks::update(&state, &admin, path.into_inner(), edit).await?;
    Ok(ok(EndpointView::from(endpoint)))
}

/// Deletes an endpoint with its delivery log; queued deliveries to it are dropped.
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path, description = "The endpoint")),
    responses((status = 200, description = "Deleted", body = Envelope<Deleted<uuid::Uuid>>)),
)]
#[delete("/webhooks/endpoints/{endpoint_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let id = path.into_inner();
    db::webhooks::delete(admin.0.scope(&state.db), id).await?;
    Ok(ok(Deleted::new(id.into_uuid())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing beside the new one: 0 to 604800 s (default
    /// 86400). During the overlap each delivery carries two `v1,` signatures.
    #[schema(minimum = 0, maximum = 604800)]
    pub overlap_seconds: Option<i64>,
}

/// Replaces the signing secret; the new one is in the answer, shown only here.
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path, description = "The endpoint")),
    request_body = RotateSecret,
    responses((status = 200, description = "The endpoint and its new secret", body = Envelope<EndpointWithSecret>)),
)]
#[post("/webhooks/endpoints/{endpoint_id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
    body: ApiJson<RotateSecret>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let previous_until = overlap_until(body.into_inner(), Utc::now())?;
    let (endpoint, secret) =
        usecases::webhooks::rotate_secret(&state, &admin, path.into_inner(), previous_until)
            .await?;
    Ok(ok(EndpointWithSecret {
        endpoint: EndpointView::from(endpoint),
        secret: secret.expose().to_owned(),
    }))
}

/// A delivery of one event to one endpoint.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Also the `webhook-id` header the receiver sees, the same on every attempt and replay.
    id: WebhookDeliveryId,
    endpoint_id: WebhookEndpointId,
    event_id: common::EventId,
    event_type: EventKind,
    status: DeliveryStatus,
    attempts: i32,
    /// The last attempt's answer status, if one came.
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesFilter {
    /// Only deliveries in this state (`pending`, `delivered`, `failed`).
    status: Option<DeliveryStatus>,
}

pub const DELIVERIES: ListSpec = ListSpec {
    name: "webhook_deliveries",
    fields: &[
        "id",
        "endpointId",
        "eventId",
        "eventType",
        "status",
        "attempts",
        "lastStatus",
        "lastError",
        "nextAttemptAt",
        "deliveredAt",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "eventType", "status", "attempts", "lastStatus"],
};

/// An endpoint's deliveries, oldest first.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("endpoint_id" = uuid::Uuid, Path, description = "The endpoint"),
        DeliveriesFilter,
        ListParams,
    ),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryView>)),
)]
#[get("/webhooks/endpoints/{endpoint_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
    query: ListQuery<DeliveriesFilter>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let endpoint_id = path.into_inner();
    let page = query.page_within(&DELIVERIES, endpoint_id.into_uuid())?;
    let scope = admin.0.scope(&state.db);
    db::webhooks::find(scope, endpoint_id).await?;
    let (rows, more) = db::webhooks::deliveries_page(
        scope,
        endpoint_id,
        query.filter.status,
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<DeliveryView> = rows.into_iter().map(DeliveryView::from).collect();
    page.respond(views, more, |d| d.id.into_uuid())
}

/// One attempt as logged.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// From 1, across replays.
    attempt: i32,
    started_at: DateTime<Utc>,
    duration_ms: i32,
    /// `null` when no answer came (timeout, connection error, refused address).
    status_code: Option<i32>,
    /// The start of the answer's body (at most `WEBHOOK_RESPONSE_EXCERPT_BYTES`).
    response_excerpt: Option<String>,
    error: Option<String>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            response_excerpt: a.response_excerpt,
            error: a.error,
        }
    }
}

/// A delivery with its attempts (the latest 100).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    delivery: DeliveryView,
    attempts: Vec<AttemptView>,
}

/// One delivery and its attempts.
#[utoipa::path(
    tag = "webhooks",
    params(("delivery_id" = uuid::Uuid, Path, description = "The delivery")),
    responses((status = 200, description = "The delivery", body = Envelope<DeliveryDetail>)),
)]
#[get("/webhooks/deliveries/{delivery_id}")]
pub async fn get_delivery(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookDeliveryId>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let id = path.into_inner();
    let scope = admin.0.scope(&state.db);
    let delivery = db::webhooks::find_delivery(scope, id).await?;
    let attempts = db::webhooks::attempts_of(scope, id).await?;
    Ok(ok(DeliveryDetail {
        delivery: DeliveryView::from(delivery),
        attempts: attempts.into_iter().map(AttemptView::from).collect(),
    }))
}

/// The delivery restarted, and the job of its new attempt sequence.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayedDelivery {
    delivery: DeliveryView,
    job: JobRef,
}

/// Sends a delivered or failed delivery again: a new attempt sequence of the same delivery
/// (same `webhook-id`, new attempts appended to its log). 409 while it is pending or when its
/// endpoint is disabled.
#[utoipa::path(
    tag = "webhooks",
    params(("delivery_id" = uuid::Uuid, Path, description = "The delivery")),
    responses((status = 202, description = "Queued again", body = Envelope<ReplayedDelivery>)),
)]
#[post("/webhooks/deliveries/{delivery_id}/replay")]
pub async fn replay_delivery(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookDeliveryId>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let (delivery, job) = app::webhooks::replay(admin.0.scope(&txn), path.into_inner()).await?;
    txn.commit().await.map_err(db::DbError::from)?;
    state.relay_waker.wake();
    Ok(accepted(ReplayedDelivery {
        delivery: DeliveryView::from(delivery),
        job: JobRef::from(&job),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayFailed {
    /// Replays the failed deliveries created at or after this time (RFC 3339).
    since: DateTime<Utc>,
}

/// How many deliveries a bulk replay restarted.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedCount {
    replayed: u64,
    /// More failed deliveries are left (at most 1000 are replayed per call): call again.
    more: bool,
}

/// Replays every failed delivery of the endpoint created since `since`, oldest first (at most
/// 1000 per call). 409 when the endpoint is disabled.
#[utoipa::path(
    tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path, description = "The endpoint")),
    request_body = ReplayFailed,
    responses((status = 202, description = "Queued again", body = Envelope<ReplayedCount>)),
)]
#[post("/webhooks/endpoints/{endpoint_id}/replay")]
pub async fn replay_failed(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<WebhookEndpointId>,
    body: ApiJson<ReplayFailed>,
) -> ApiResult {
    require_feature(&state, &admin).await?;
    let since = body.into_inner().since;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let (replayed, more) =
        app::webhooks::replay_failed_since(admin.0.scope(&txn), path.into_inner(), since).await?;
    txn.commit().await.map_err(db::DbError::from)?;
    state.relay_waker.wake();
    Ok(accepted(ReplayedCount { replayed, more }))
}
