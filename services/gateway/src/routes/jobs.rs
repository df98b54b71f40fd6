//! The job API of the scaling guide: a campaign's job status, queue statistics, live workers,
//! and dead-lettered jobs with replay. Tenant users see their tenant's jobs; the superadmin sees
//! the whole platform.

use actix_web::web;
use chrono::{DateTime, Utc};
use common::{CampaignId, JobId, QueueName};
use db::Reach;
use db::jobs::Job;
use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::{ApiResult, ok};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/jobs/campaign/{campaignId}/status`: the campaign's job, its state (waiting,
/// active, completed, failed, delayed) with attempts and next attempt time, and progress
/// counted from its recipients.
pub async fn campaign_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CampaignId>,
) -> ApiResult {
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
    let scope = caller.scope(&snapshot)?;
    // Scoped lookup first: another tenant's campaign id is simply not found.
    let campaign = db::campaigns::find(scope, campaign_id).await?;
    let job =
        db::jobs::latest_for_subject(scope, QueueName::Campaign, campaign_id.into_uuid()).await?;
    let progress = db::campaigns::progress(scope, campaign_id).await?;
    snapshot.commit().await.map_err(db::DbError::from)?;
    let percent = if progress.total == 0 {
        100
    } else {
        progress.done() * 100 / progress.total
    };
    Ok(ok(serde_json::json!({
        "campaignId": campaign.id,
        "campaignStatus": campaign.status,
        "statusReason": campaign.status_reason,
        "jobId": job.id,
        "queue": job.queue,
        "state": job.state,
        "attempts": job.attempts,
        "maxAttempts": job.max_attempts,
        "nextAttemptAt": (job.state == common::JobState::Delayed).then_some(job.run_at),
        "progress": {
            "sent": progress.sent,
            "failed": progress.failed,
            "uncertain": progress.uncertain,
            "pending": progress.pending,
            "sending": progress.sending,
            "cancelled": progress.cancelled,
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

/// `GET /api/jobs/queues/stats`: per queue, jobs waiting, active, completed, failed, delayed
/// and dead-lettered (from the job table, scoped to the caller), and what RabbitMQ holds
/// (ready messages, consumers, dead-letter queue; platform-wide, so only for the superadmin).
pub async fn queue_stats(state: web::Data<AppState>, caller: Caller) -> ApiResult {
    let reach = caller.reach(&state.db)?;
    let platform = matches!(reach, Reach::Platform(_));
    let counts = db::jobs::counts(reach).await?;
    let broker = if platform {
        crate::queue_stats::broker_counts(&state.broker).await
    } else {
        None
    };
    let queues: Vec<serde_json::Value> = counts
        .into_iter()
        .map(|(queue, counts)| {
            let mut entry = serde_json::json!({
                "queue": queue,
                "waiting": counts.waiting,
                "active": counts.active,
                "completed": counts.completed,
                "failed": counts.failed,
                "delayed": counts.delayed,
                "deadLettered": counts.dead_lettered,
            });
            if platform {
                entry["broker"] = match broker
                    .as_ref()
                    .and_then(|b| b.iter().find(|(q, _)| *q == queue))
                {
                    Some((_, counts)) => serde_json::to_value(counts).unwrap_or_default(),
                    None => serde_json::Value::Null,
                };
                entry["consumers"] = entry["broker"]["consumers"].clone();
            }
            entry
        })
        .collect();
    Ok(ok(serde_json::json!({
        "queues": queues,
        "brokerAvailable": !platform || broker.is_some(),
    })))
}

/// `GET /api/jobs/workers/status`: every live worker process (heard from within three
/// heartbeats). Superadmin only: workers serve every tenant.
pub async fn workers_status(state: web::Data<AppState>, caller: Caller) -> ApiResult {
    caller.require_superadmin()?;
    let workers = db::workers::live(&state.db).await?;
    let data: Vec<serde_json::Value> = workers
        .into_iter()
        .map(|w| {
            serde_json::json!({
                "id": w.id,
                "queue": w.queue,
                "host": w.host,
                "pid": w.pid,
                "concurrency": w.concurrency,
                "inFlight": w.in_flight,
                "heartbeatMs": w.heartbeat_ms,
                "startedAt": w.started_at,
                "lastHeartbeatAt": w.last_heartbeat_at,
            })
        })
        .collect();
    Ok(ok(data))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeadJobView {
    id: JobId,
    queue: QueueName,
    subject_id: Option<uuid::Uuid>,
    state: common::JobState,
    attempts: i32,
    max_attempts: i32,
    error: Option<String>,
    created_at: DateTime<Utc>,
    dead_lettered_at: Option<DateTime<Utc>>,
}

impl From<Job> for DeadJobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            queue: j.queue,
            subject_id: j.subject_id,
            state: j.state,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            error: j.error,
            created_at: j.created_at,
            dead_lettered_at: j.dead_lettered_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    queue: Option<QueueName>,
    limit: Option<u64>,
    cursor: Option<JobId>,
}

/// `GET /api/jobs/dead?queue=&limit=&cursor=`: dead-lettered jobs, oldest first.
pub async fn dead_letters(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<DeadQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let limit = super::page_limit(query.limit)?;
    let (rows, more) =
        db::jobs::dead_lettered(caller.reach(&state.db)?, query.queue, query.cursor, limit).await?;
    let next_cursor = if more {
        rows.last().map(|j| j.id)
    } else {
        None
    };
    let data: Vec<DeadJobView> = rows.into_iter().map(DeadJobView::from).collect();
    Ok(actix_web::HttpResponse::Ok().json(serde_json::json!({
        "success": true,
        "data": data,
        "nextCursor": next_cursor,
    })))
}

/// Replays one job in a transaction: a new generation, published now; a replayed campaign is
/// sendable again.
async fn replay_one(state: &AppState, caller: &Caller, id: JobId) -> Result<Job, ApiError> {
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let job = db::jobs::replay(caller.reach(&txn)?, id).await?;
    if job.queue == QueueName::Campaign
        && let Some(subject) = job.subject_id
    {
        // The job's own tenant: the superadmin replays any tenant's job.
        let scope = db::TenantScope::new(&txn, job.tenant_id);
        db::campaigns::reopen_for_replay(scope, CampaignId::from(subject)).await?;
    }
    txn.commit().await.map_err(db::DbError::from)?;
    Ok(job)
}

/// Removes the replayed jobs' old messages from the dead-letter queues (best effort: a
/// leftover is an older generation, dropped if it is ever replayed by hand).
async fn tidy_dead_queues(state: &AppState, replayed: &[Job]) {
    for queue in QueueName::ALL {
        let ids: std::collections::HashSet<String> = replayed
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id.to_string())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let removed = state
            .broker
            .with(async |broker| {
                broker
                    .remove_dead(queue, |headers| {
                        queue::headers::text(headers, "x-job-id")
                            .is_some_and(|id| ids.contains(&id))
                    })
                    .await
            })
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, queue = queue.as_str(), "could not tidy the dead-letter queue");
        }
    }
}

/// `POST /api/jobs/{jobId}/replay`: replays one dead-lettered job.
pub async fn replay(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<JobId>,
) -> ApiResult {
    let job = replay_one(&state, &caller, path.into_inner()).await?;
    state.relay_waker.wake();
    tidy_dead_queues(&state, std::slice::from_ref(&job)).await;
    Ok(ok(serde_json::json!({
        "id": job.id,
        "queue": job.queue,
        "state": job.state,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayAllQuery {
    queue: Option<QueueName>,
}

/// `POST /api/jobs/dead/replay?queue=`: replays every dead-lettered job (of the queue), up to
/// 1000 per call.
pub async fn replay_all(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ReplayAllQuery>,
) -> ApiResult {
    let ids = db::jobs::dead_lettered_ids(caller.reach(&state.db)?, query.queue, 1000).await?;
    let mut replayed = Vec::with_capacity(ids.len());
    for id in ids {
        match replay_one(&state, &caller, id).await {
            Ok(job) => replayed.push(job),
            // Replayed or taken by someone else meanwhile.
            Err(e) if e.code == common::ErrorCode::Conflict => {}
            Err(e) if e.code == common::ErrorCode::ValidationFailed => {}
            Err(e) => return Err(e),
        }
    }
    state.relay_waker.wake();
    tidy_dead_queues(&state, &replayed).await;
    Ok(ok(serde_json::json!({ "replayed": replayed.len() })))
}
