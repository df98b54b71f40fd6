//! The owner's controls over a campaign: pause, resume, cancel, and resending the recipients
//! whose delivery is uncertain. Each takes effect within one batch of the worker.

use actix_web::web;
use common::CampaignId;
use serde::Serialize;

use super::campaigns::CampaignView;
use super::{ApiResult, ok};
use crate::auth::TenantUser;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/campaigns/{campaign_id}/pause", web::post().to(pause))
        .route("/campaigns/{campaign_id}/resume", web::post().to(resume))
        .route("/campaigns/{campaign_id}/cancel", web::post().to(cancel))
        .route(
            "/campaigns/{campaign_id}/resend-uncertain",
            web::post().to(resend_uncertain),
        );
}

/// The answer to `resend-uncertain`.
#[derive(Serialize)]
struct Resent {
    /// Recipients queued again.
    resent: u64,
    campaign: CampaignView,
}

/// `POST /api/campaigns/{id}/pause`: the running batch stops before its next send; every
/// outcome is kept and a resume goes on exactly where it stopped. 409 for a finished campaign.
pub async fn pause(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = db::campaigns::pause(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

/// `POST /api/campaigns/{id}/resume`: a paused campaign (or one waiting for WUZAPI, at once)
/// goes on with its pending recipients. 409 unless paused or waiting.
pub async fn resume(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = db::campaigns::resume(user.scope(&state.db), path.into_inner()).await?;
    state.relay_waker.wake();
    Ok(ok(CampaignView::from(campaign)))
}

/// `POST /api/campaigns/{id}/cancel`: recipients not yet messaged become `cancelled`. 409 for
/// a finished campaign.
pub async fn cancel(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = db::campaigns::cancel(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

/// `POST /api/campaigns/{id}/resend-uncertain`: sends again to the recipients left
/// `uncertain` by a worker that stopped mid-send. Some of them may have received the message
/// already; this is the owner's call, never the system's.
pub async fn resend_uncertain(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let scope = user.scope(&state.db);
    let campaign_id = path.into_inner();
    let resent = db::campaigns::resend_uncertain(scope, campaign_id).await?;
    state.relay_waker.wake();
    let campaign = db::campaigns::find(scope, campaign_id).await?;
    Ok(ok(Resent {
        resent,
        campaign: CampaignView::from(campaign),
    }))
}
