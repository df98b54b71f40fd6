//! The job API of the scaling guide: a campaign's job status, queue statistics, live workers,
//! and dead-lettered jobs with replay. Tenant users see their tenant's jobs; the superadmin sees
//! the whole platform.

use actix_web::web;
use chrono::{DateTime, Utc};
use common::{CampaignId, CampaignStatus, JobId, JobState, QueueName, WorkerId};
use db::Reach;
use db::jobs::Job;
use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::campaigns::JobRef;
use super::paging::{ListQuery, ListSpec};
use super::{ApiResult, ok};
use crate::auth::{Caller, Superadmin, TenantUser};
use crate::error::ApiError;
use crate::queue_stats::BrokerCounts;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/jobs/campaign/{campaign_id}/status",
        web::get().to(campaign_status),
    )
    .route("/jobs/queues/stats", web::get().to(queue_stats))
    .route("/jobs/workers/status", web::get().to(workers_status))
    .route("/jobs/dead", web::get().to(dead_letters))
    // Before `/jobs/{job_id}/replay`, which would take `dead` for a job id.
    .route("/jobs/dead/replay", web::post().to(replay_all))
    .route("/jobs/{job_id}/replay", web::post().to(replay));
}

/// A campaign's job as `GET /api/jobs/campaign/{campaignId}/status` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignJobStatus {
    campaign_id: CampaignId,
    campaign_status: CampaignStatus,
    status_reason: Option<String>,
    job_id: JobId,
    queue: QueueName,
    state: JobState,
    attempts: i32,
    max_attempts: i32,
    /// When a delayed job runs again.
    next_attempt_at: Option<DateTime<Utc>>,
    progress: Progress,
    result: Option<serde_json::Value>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// Recipients per state, and how much of the campaign is done.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    sent: i64,
    failed: i64,
    uncertain: i64,
    pending: i64,
    sending: i64,
    cancelled: i64,
    total: i64,
    percent: i64,
}

/// `GET /api/jobs/campaign/{campaignId}/status`: the campaign's job, its state (waiting,
/// active, completed, failed, delayed) with attempts and next attempt time, and progress
/// counted from its recipients.
pub async fn campaign_status(
    state: web::Data<AppState>,
    user: TenantUser,
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
    let scope = user.scope(&snapshot);
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
    Ok(ok(CampaignJobStatus {
        campaign_id: campaign.id,
        campaign_status: campaign.status,
        status_reason: campaign.status_reason,
        job_id: job.id,
        queue: job.queue,
        state: job.state,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        next_attempt_at: (job.state == JobState::Delayed).then_some(job.run_at),
        progress: Progress {
            sent: progress.sent,
            failed: progress.failed,
            uncertain: progress.uncertain,
            pending: progress.pending,
            sending: progress.sending,
            cancelled: progress.cancelled,
            total: progress.total,
            percent,
        },
        result: job.result,
        error: job.error,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    }))
}

/// The answer of `GET /api/jobs/queues/stats`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueStats {
    queues: Vec<QueueEntry>,
    /// Whether RabbitMQ answered (always `true` for tenants, who are not shown its figures).
    broker_available: bool,
}

/// One queue's figures. `broker` and `consumers` are the superadmin's only: absent for
/// tenants, `null` when RabbitMQ did not answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueEntry {
    queue: QueueName,
    waiting: i64,
    active: i64,
    completed: i64,
    failed: i64,
    delayed: i64,
    dead_lettered: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    broker: Option<Option<BrokerCounts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumers: Option<Option<u32>>,
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
    let queues = counts
        .into_iter()
        .map(|(queue, counts)| {
            let in_broker = platform.then(|| {
                broker
                    .as_ref()
                    .and_then(|all| all.iter().find(|(q, _)| *q == queue))
                    .map(|(_, counts)| *counts)
            });
            QueueEntry {
                queue,
                waiting: counts.waiting,
                active: counts.active,
                completed: counts.completed,
                failed: counts.failed,
                delayed: counts.delayed,
                dead_lettered: counts.dead_lettered,
                consumers: in_broker.map(|counts| counts.map(|c| c.consumers)),
                broker: in_broker,
            }
        })
        .collect();
    Ok(ok(QueueStats {
        queues,
        broker_available: !platform || broker.is_some(),
    }))
}

/// A live worker process.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkerView {
    id: WorkerId,
    queue: QueueName,
    host: String,
    pid: i32,
    concurrency: i32,
    in_flight: i32,
    heartbeat_ms: i32,
    started_at: DateTime<Utc>,
    last_heartbeat_at: DateTime<Utc>,
}

impl From<db::entity::worker::Model> for WorkerView {
    fn from(w: db::entity::worker::Model) -> Self {
        Self {
            id: w.id,
            queue: w.queue,
            host: w.host,
            pid: w.pid,
            concurrency: w.concurrency,
            in_flight: w.in_flight,
            heartbeat_ms: w.heartbeat_ms,
            started_at: w.started_at,
            last_heartbeat_at: w.last_heartbeat_at,
        }
    }
}

pub const WORKERS: ListSpec = ListSpec {
    name: "workers",
    fields: &[
        "id",
        "queue",
        "host",
        "pid",
        "concurrency",
        "inFlight",
        "heartbeatMs",
        "startedAt",
        "lastHeartbeatAt",
    ],
    default_fields: &["id", "queue", "host"],
};

/// `GET /api/jobs/workers/status?limit=&cursor=&fields=`: every live worker process (heard
/// from within three heartbeats), in id order. Superadmin only: workers serve every tenant.
pub async fn workers_status(
    state: web::Data<AppState>,
    _operator: Superadmin,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&WORKERS)?;
    let (rows, more) = db::workers::live_page(&state.db, page.after(), page.limit()).await?;
    let views: Vec<WorkerView> = rows.into_iter().map(WorkerView::from).collect();
    page.respond(views, more, |w| w.id.into_uuid())
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
pub struct DeadFilter {
    queue: Option<QueueName>,
}

pub const DEAD_JOBS: ListSpec = ListSpec {
    name: "dead_jobs",
    fields: &[
        "id",
        "queue",
        "subjectId",
        "state",
        "attempts",
        "maxAttempts",
        "error",
        "createdAt",
        "deadLetteredAt",
    ],
    default_fields: &["id", "queue", "subjectId", "error"],
};

/// `GET /api/jobs/dead?queue=&limit=&cursor=&fields=`: dead-lettered jobs, oldest first; a
/// tenant's own, or the whole platform's for the superadmin.
pub async fn dead_letters(
    state: web::Data<AppState>,
    caller: Caller,
    query: ListQuery<DeadFilter>,
) -> ApiResult {
    let page = query.page(&DEAD_JOBS)?;
    let (rows, more) = db::jobs::dead_lettered(
        caller.reach(&state.db)?,
        query.filter.queue,
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<DeadJobView> = rows.into_iter().map(DeadJobView::from).collect();
    page.respond(views, more, |j| j.id.into_uuid())
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
    Ok(ok(JobRef::from(&job)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayAllQuery {
    queue: Option<QueueName>,
}

/// The answer of `POST /api/jobs/dead/replay`.
#[derive(Serialize)]
struct ReplayedAll {
    /// Jobs replayed by this call.
    replayed: usize,
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
    Ok(ok(ReplayedAll {
        replayed: replayed.len(),
    }))
}
