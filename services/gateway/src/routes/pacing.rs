//! Pacing of each number beyond its campaigns' delays (daily cap, warm-up, send window,
//! typing, failure breaker; `common::pacing`), and the tenant's time zone its days and windows
//! are read in. worker-campaign applies them before and during every batch, across replicas.
//! Another tenant's inbox is 404, and nothing changes.

use actix_web::{get, put, web};
use chrono::{NaiveDate, Utc};
use common::InboxId;
use common::pacing::Pacing;
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiResult, Envelope, Routes, ok};
use crate::auth::{TenantAdmin, TenantUser};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(get_pacing)
        .service(put_pacing)
        .service(get_time_zone)
        .service(put_time_zone);
}

/// An inbox's pacing and where its day stands.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PacingView {
    inbox_id: InboxId,
    pacing: Pacing,
    /// The tenant's time zone, which days and windows are read in.
    time_zone: String,
    today: TodayView,
}

/// The number's current day in the tenant's calendar.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TodayView {
    date: NaiveDate,
    /// Messages sent today, by all the number's campaigns.
    sent: u32,
    /// What today's cap (or warm-up day) allows; `null`: no limit.
    allowance: Option<u32>,
}

/// The tenant's zone, parsed; a stored name that no longer parses reads as UTC.
async fn tenant_zone(
    state: &AppState,
    user: &TenantUser,
) -> Result<(String, chrono_tz::Tz), ApiError> {
    let name = db::tenants::time_zone(user.scope(&state.db)).await?;
    let zone = common::pacing::time_zone(&name).unwrap_or(chrono_tz::UTC);
    Ok((name, zone))
}

async fn view(
    state: &AppState,
    user: &TenantUser,
    inbox: db::inboxes::Inbox,
) -> Result<PacingView, ApiError> {
    let (time_zone, zone) = tenant_zone(state, user).await?;
    let date = Utc::now().with_timezone(&zone).date_naive();
    let sent = db::send_slots::sent_on(&state.db, inbox.id, date).await?;
    Ok(PacingView {
        inbox_id: inbox.id,
        today: TodayView {
            date,
            sent,
            allowance: inbox.pacing.allowance(date),
        },
        pacing: inbox.pacing,
        time_zone,
    })
}

/// An inbox's pacing (the defaults until set: no cap, no window, typing on, the breaker at 10
/// refused sends in 600 s) and today's count. Tenant users.
#[utoipa::path(
    extensions(("x-permission" = json!("inboxes.read"))),
    tag = "inboxes",
    params(("inbox_id" = uuid::Uuid, Path, description = "The inbox's id")),
    responses((status = 200, description = "The inbox's pacing", body = Envelope<PacingView>)),
)]
#[get("/inboxes/{inbox_id}/pacing")]
pub async fn get_pacing(
    state: web::Data<AppState>,
    user: Allowed<perm::InboxesRead>,
    path: web::Path<InboxId>,
) -> ApiResult {
    let inbox = db::inboxes::find(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(view(&state, &user, inbox).await?))
}

/// Replaces an inbox's pacing. A cap of 0, a warm-up without a cap or starting above it, a
/// factor outside 1.05-10, a window without days or with `from` equal to `to`, or a breaker
/// out of range is 422 naming the field. A new warm-up starts today (the tenant's day) unless
/// `startedOn` says otherwise. Running campaigns follow it from their next batch. Tenant users.
#[utoipa::path(
    extensions(("x-permission" = json!("inboxes.write"))),
    tag = "inboxes",
    params(("inbox_id" = uuid::Uuid, Path, description = "The inbox's id")),
    request_body = Pacing,
    responses((status = 200, description = "The inbox's pacing as stored", body = Envelope<PacingView>)),
)]
#[put("/inboxes/{inbox_id}/pacing")]
pub async fn put_pacing(
    state: web::Data<AppState>,
    user: Allowed<perm::InboxesWrite>,
    path: web::Path<InboxId>,
    body: ApiJson<Pacing>,
) -> ApiResult {
    let inbox_id = path.into_inner();
    // 404 before 422: another tenant's inbox is not there at all.
    db::inboxes::find(user.scope(&state.db), inbox_id).await?;
    let (_, zone) = tenant_zone(&state, &user).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let pacing = body
        .into_inner()
        .checked(today)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    let inbox = db::inboxes::set_pacing(user.scope(&state.db), inbox_id, &pacing).await?;
    Ok(ok(view(&state, &user, inbox).await?))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeZoneView {
    /// An IANA name (`America/Sao_Paulo`); `UTC` until set.
    time_zone: String,
}

/// The tenant's time zone: daily caps count its days, send windows its hours. Tenant users.
#[utoipa::path(
    tag = "tenants",
    responses((status = 200, description = "The tenant's time zone", body = Envelope<TimeZoneView>)),
)]
#[get("/tenants/current/time-zone")]
pub async fn get_time_zone(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let time_zone = db::tenants::time_zone(user.scope(&state.db)).await?;
    Ok(ok(TimeZoneView { time_zone }))
}

/// Sets the tenant's time zone (an unknown name is 422 on `timeZone`). Tenant admins.
#[utoipa::path(
    tag = "tenants",
    request_body = TimeZoneView,
    responses((status = 200, description = "The tenant's time zone", body = Envelope<TimeZoneView>)),
)]
#[put("/tenants/current/time-zone")]
pub async fn put_time_zone(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<TimeZoneView>,
) -> ApiResult {
    let name = body.into_inner().time_zone;
    let zone =
        common::pacing::time_zone(name.trim()).map_err(|e| ApiError::validation("timeZone", e))?;
    let canonical = zone.name().to_owned();
    db::tenants::set_time_zone(admin.scope(&state.db), &canonical).await?;
    Ok(ok(TimeZoneView {
        time_zone: canonical,
    }))
}
