//! Job status, as the scaling guide's Job Status API.

use actix_web::web;
use common::{CampaignId, QueueName};
use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};

use super::{ApiResult, ok};
use crate::auth::Caller;
use crate::state::AppState;

/// `GET /api/jobs/campaign/{campaignId}/status`: the campaign's newest job, its state
/// (waiting, active, completed, failed, delayed) and progress counted from its recipients.
pub async fn campaign_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let tenant_id = caller.tenant_id()?;
    let campaign_id = path.into_inner();
    // One snapshot for the three reads, so the campaign, its job and its counts agree even while
    // a worker is changing them.
    let snapshot = state
        .db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
        .map_err(db::DbError::from)?;
    // Scoped lookup first: another tenant's campaign id is simply not found.
    let campaign = db::campaigns::find(&snapshot, tenant_id, campaign_id).await?;
    let job = db::jobs::latest_for_subject(
        &snapshot,
        tenant_id,
        QueueName::Campaign,
        campaign_id.into_uuid(),
    )
    .await?;
    let progress = db::campaigns::progress(&snapshot, campaign_id).await?;
    snapshot.commit().await.map_err(db::DbError::from)?;
    let done = progress.sent + progress.failed;
    let percent = if progress.total == 0 {
        100
    } else {
        done * 100 / progress.total
    };
    Ok(ok(serde_json::json!({
        "campaignId": campaign.id,
        "campaignStatus": campaign.status,
        "jobId": job.id,
        "queue": job.queue,
        "state": job.state,
        "attempts": job.attempts,
        "maxAttempts": job.max_attempts,
        "progress": {
            "sent": progress.sent,
            "failed": progress.failed,
            "pending": progress.pending,
            "total": progress.total,
            "percent": percent,
        },
        "result": job.result,
        "error": job.error,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
    })))
}
