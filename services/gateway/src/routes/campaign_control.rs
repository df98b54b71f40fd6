//! The owner's controls over a campaign: pause, resume, cancel, and resending the recipients
//! whose delivery is uncertain. Each takes effect within one batch of the worker.

use actix_web::{post, web};
use common::CampaignId;
use serde::Serialize;

use super::campaigns::CampaignView;
use super::{ApiResult, Envelope, ok};
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(pause)
        .service(resume)
        .service(cancel)
        .service(resend_uncertain);
}

/// The answer to `resend-uncertain`.
#[derive(Serialize, utoipa::ToSchema)]
struct Resent {
    /// Recipients queued again.
    resent: u64,
    campaign: CampaignView,
}

/// Pauses a campaign.
///
/// The running batch stops before its next send; every outcome is kept and a resume goes on
/// exactly where it stopped. 409 for a finished campaign.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.write"))),
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "The paused campaign", body = Envelope<CampaignView>)),
)]
#[post("/campaigns/{campaign_id}/pause")]
pub async fn pause(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsWrite>,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = app::campaigns::pause(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

/// Resumes a campaign.
///
/// A paused campaign (or one waiting for WUZAPI, at once) goes on with its pending recipients.
/// 409 unless paused or waiting.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.write"))),
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "The resumed campaign", body = Envelope<CampaignView>)),
)]
#[post("/campaigns/{campaign_id}/resume")]
pub async fn resume(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsWrite>,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = app::campaigns::resume(user.scope(&state.db), path.into_inner()).await?;
    state.relay_waker.wake();
    Ok(ok(CampaignView::from(campaign)))
}

/// Cancels a campaign.
///
/// Recipients not yet messaged become `cancelled`. 409 for a finished campaign.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.write"))),
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "The cancelled campaign", body = Envelope<CampaignView>)),
)]
#[post("/campaigns/{campaign_id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsWrite>,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = app::campaigns::cancel(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

/// Sends again to the recipients whose delivery is uncertain.
///
/// Recipients are left `uncertain` by a worker that stopped mid-send. Some of them may have
/// received the message already; resending is the owner's call, never the system's.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.write"))),
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "How many recipients were queued again, and the campaign", body = Envelope<Resent>)),
)]
#[post("/campaigns/{campaign_id}/resend-uncertain")]
pub async fn resend_uncertain(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsWrite>,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let scope = user.scope(&state.db);
    let campaign_id = path.into_inner();
    let resent = app::campaigns::resend_uncertain(scope, campaign_id).await?;
    state.relay_waker.wake();
    let campaign = db::campaigns::find(scope, campaign_id).await?;
    Ok(ok(Resent {
        resent,
        campaign: CampaignView::from(campaign),
    }))
}
