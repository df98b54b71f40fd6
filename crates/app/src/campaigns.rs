//! A campaign's announced moves, and its owner's controls.

use chrono::Utc;
use common::{CampaignId, CampaignStatus, EventKind};
use db::campaigns::{self, Campaign};
use db::events::NewEvent;
use db::jobs;
use db::{DatabaseConnection, DbError, DbResult, TenantScope};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use crate::events;

/// Moves the campaign like `db::campaigns::transition` and, when it moved, records the event
/// the move announces (started, completed, failed, paused) with the campaign's progress.
/// `campaign` is the campaign as the caller read it before the move: a move to running is
/// announced on the first start only, not when a paused or parked campaign goes on. Run it in
/// a transaction, so the move and its event commit together.
pub async fn transition_announced(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign: &Campaign,
    from: &[CampaignStatus],
    to: CampaignStatus,
    reason: Option<String>,
) -> DbResult<bool> {
    let moved = campaigns::transition(scope, campaign.id, from, to, reason.clone()).await?;
    let kind = match campaigns::announced_by(to) {
        Some(EventKind::CampaignStarted) if campaign.started_at.is_some() => None,
        kind => kind,
    };
    if let (true, Some(kind)) = (moved, kind) {
        let progress = campaigns::progress(scope, campaign.id).await?;
        events::emit(
            scope,
            NewEvent {
                kind,
                subject_id: Some(campaign.id.into_uuid()),
                user_id: campaign.created_by,
                data: serde_json::json!({
                    "campaignId": campaign.id,
                    "name": campaign.name,
                    "inboxId": campaign.inbox_id,
                    "status": to,
                    "reason": reason,
                    "progress": progress,
                }),
            },
        )
        .await?;
    }
    Ok(moved)
}

/// Why an owner's control request was refused.
fn not_allowed(action: &str, status: CampaignStatus) -> DbError {
    DbError::Conflict(format!("a {status} campaign cannot be {action}"))
}

/// Runs an owner's control request on the locked campaign, in one transaction; answers the
/// campaign as the request left it.
async fn control(
    scope: TenantScope<'_, DatabaseConnection>,
    campaign_id: CampaignId,
    act: impl AsyncFnOnce(TenantScope<'_, DatabaseTransaction>, &Campaign) -> DbResult<()>,
) -> DbResult<Campaign> {
    let txn = scope.conn().begin().await?;
    let locked = campaigns::lock(scope.on(&txn), campaign_id).await?;
    act(scope.on(&txn), &locked).await?;
    let campaign = campaigns::find(scope.on(&txn), campaign_id).await?;
    txn.commit().await?;
    Ok(campaign)
}

/// Pauses a campaign that has not finished. A running batch sees it before its next send; the
/// campaign keeps every outcome and resumes exactly where it stopped.
pub async fn pause(
    scope: TenantScope<'_, DatabaseConnection>,
    campaign_id: CampaignId,
) -> DbResult<Campaign> {
    control(scope, campaign_id, async |txn, campaign| {
        if campaign.status == CampaignStatus::Paused {
            return Ok(());
        }
        if campaign.status.is_finished() {
            return Err(not_allowed("paused", campaign.status));
        }
        let reason = Some("paused by its owner".into());
        transition_announced(
            txn,
            campaign,
            &[campaign.status],
            CampaignStatus::Paused,
            reason,
        )
        .await?;
        Ok(())
    })
    .await
}

/// Resumes a paused campaign (or one parked for a WUZAPI outage, at once): a new generation of
/// its job is published now, and sending goes on with the recipients still pending.
pub async fn resume(
    scope: TenantScope<'_, DatabaseConnection>,
    campaign_id: CampaignId,
) -> DbResult<Campaign> {
    control(scope, campaign_id, async |txn, campaign| {
        if !matches!(
            campaign.status,
            CampaignStatus::Paused | CampaignStatus::WaitingWuzapi
        ) {
            return Err(not_allowed("resumed", campaign.status));
        }
        let job = campaigns::job_of(txn, campaign_id).await?;
        campaigns::transition(
            txn,
            campaign_id,
            &[campaign.status],
            CampaignStatus::Queued,
            None,
        )
        .await?;
        // A batch that still holds the lease sees the campaign sendable again and goes on by
        // itself; otherwise the job starts a new generation now.
        jobs::restart(txn.conn(), job.id, Utc::now()).await?;
        Ok(())
    })
    .await
}

/// Cancels a campaign that has not finished: recipients not yet messaged become `cancelled`.
/// A batch under way stops before its next send and finishes the job.
pub async fn cancel(
    scope: TenantScope<'_, DatabaseConnection>,
    campaign_id: CampaignId,
) -> DbResult<Campaign> {
    control(scope, campaign_id, async |txn, campaign| {
        if campaign.status.is_finished() {
            return Err(not_allowed("cancelled", campaign.status));
        }
        let reason = Some("cancelled by its owner".into());
        let to = CampaignStatus::Cancelled;
        campaigns::transition(txn, campaign_id, &[campaign.status], to, reason).await?;
        campaigns::cancel_pending_recipients(txn, campaign_id).await?;
        let job = campaigns::job_of(txn, campaign_id).await?;
        let progress = campaigns::progress(txn, campaign_id).await?;
        jobs::complete_unheld(txn.conn(), job.id, serde_json::to_value(progress).ok()).await?;
        Ok(())
    })
    .await
}

/// Puts `uncertain` recipients back to pending and sends them again: the owner's explicit
/// choice, since some of them may have received the message already. Returns how many.
pub async fn resend_uncertain(
    scope: TenantScope<'_, DatabaseConnection>,
    campaign_id: CampaignId,
) -> DbResult<u64> {
    let txn = scope.conn().begin().await?;
    let scoped = scope.on(&txn);
    let campaign = campaigns::lock(scoped, campaign_id).await?;
    if matches!(
        campaign.status,
        CampaignStatus::Cancelled | CampaignStatus::Failed
    ) {
        return Err(not_allowed("resent", campaign.status));
    }
    let moved = campaigns::requeue_uncertain(scoped, campaign_id).await?;
    if moved > 0 && campaign.status == CampaignStatus::Completed {
        campaigns::transition(
            scoped,
            campaign_id,
            &[CampaignStatus::Completed],
            CampaignStatus::Queued,
            None,
        )
        .await?;
        let job = campaigns::job_of(scoped, campaign_id).await?;
        jobs::restart(&txn, job.id, Utc::now()).await?;
    }
    txn.commit().await?;
    Ok(moved)
}
