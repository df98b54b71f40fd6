//! The job API of the scaling guide: a campaign's job status, queue statistics, live workers,
//! and dead-lettered jobs with replay. Tenant users see their tenant's jobs; the superadmin sees
//! the whole platform.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use common::{CampaignId, CampaignStatus, JobId, JobState, QueueName, WorkerId};
use db::Reach;
use db::jobs::Job;
use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::campaigns::JobRef;
use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiResult, Envelope, ok};
use crate::auth::{Caller, Superadmin};
use crate::error::ApiError;
use crate::permissions::{Allowed, AllowedCaller, perm};
use crate::queue_stats::BrokerCounts;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(campaign_status)
        .service(queue_stats)
        .service(workers_status)
        .service(dead_letters)
        // Before `/jobs/{job_id}/replay`, which would take `dead` for a job id.
        .service(replay_all)
        .service(replay);
}

/// A campaign's job: its state, attempts and progress.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CampaignJobStatus {
    campaign_id: CampaignId,
    campaign_status: CampaignStatus,
    /// Why the campaign is paused, waiting for WUZAPI, failed or cancelled, in words.
    status_reason: Option<String>,
    job_id: JobId,
    queue: QueueName,
    state: JobState,
    attempts: i32,
    max_attempts: i32,
    /// When a delayed job runs again.
    next_attempt_at: Option<DateTime<Utc>>,
    progress: Progress,
    /// What the job reported when it finished.
    #[schema(value_type = Option<Object>)]
    result: Option<serde_json::Value>,
    /// Why the last attempt failed.
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// Recipients per state, and how much of the campaign is done.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Progress {
    sent: i64,
    failed: i64,
    uncertain: i64,
    pending: i64,
    sending: i64,
    cancelled: i64,
    /// Not messaged on purpose: the contact opted out, or is outside the campaign's audience.
    skipped: i64,
    total: i64,
    /// Recipients done (sent, failed, uncertain, cancelled or skipped) out of `total`, 0 to 100.
    percent: i64,
    /// Sent recipients WhatsApp reported delivered (read ones included).
    delivered: i64,
    /// Sent recipients WhatsApp reported read.
    read: i64,
    /// Sent recipients who wrote back.
    replied: i64,
    /// `delivered`, `read` and `replied` out of `sent`, 0 to 1 (0 while nothing is sent).
    rates: DeliveryRates,
}

/// Shares of the sent messages.
#[derive(Serialize, utoipa::ToSchema)]
struct DeliveryRates {
    delivered: f64,
    read: f64,
    replied: f64,
}

impl DeliveryRates {
    fn of(progress: &db::campaigns::Progress) -> Self {
        let share = |n: i64| {
            if progress.sent == 0 {
                0.0
            } else {
                n as f64 / progress.sent as f64
            }
        };
        Self {
            delivered: share(progress.delivered),
            read: share(progress.read),
            replied: share(progress.replied),
        }
    }
}

/// The status of a campaign's job.
///
/// Its state (waiting, active, completed, failed, delayed) with attempts and next attempt
/// time, and the campaign's progress counted from its recipients. Tenant users, for their
/// tenant's campaigns.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "jobs",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "The campaign's job", body = Envelope<CampaignJobStatus>)),
)]
#[get("/jobs/campaign/{campaign_id}/status")]
pub async fn campaign_status(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsRead>,
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
            skipped: progress.skipped,
            total: progress.total,
            percent,
            delivered: progress.delivered,
            read: progress.read,
            replied: progress.replied,
            rates: DeliveryRates::of(&progress),
        },
        result: job.result,
        error: job.error,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    }))
}

/// Every queue's figures.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct QueueStats {
    queues: Vec<QueueEntry>,
    /// Whether RabbitMQ answered (always `true` for tenants, who are not shown its figures).
    broker_available: bool,
}

/// One queue's figures. `broker` and `consumers` are the superadmin's only: absent for
/// tenants, `null` when RabbitMQ did not answer.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct QueueEntry {
    queue: QueueName,
    waiting: i64,
    active: i64,
    completed: i64,
    failed: i64,
    delayed: i64,
    dead_lettered: i64,
    /// What RabbitMQ holds for this queue (superadmin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BrokerCounts>)]
    broker: Option<Option<BrokerCounts>>,
    /// Processes consuming the queue (superadmin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>)]
    consumers: Option<Option<u32>>,
}

/// Queue statistics.
///
/// Per queue, jobs waiting, active, completed, failed, delayed and dead-lettered (the caller's
/// tenant's, or the whole platform's for the superadmin), and what RabbitMQ holds (ready
/// messages, consumers, dead-letter queue; platform-wide, so only for the superadmin).
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "jobs",
    responses((status = 200, description = "Every queue's figures", body = Envelope<QueueStats>)),
)]
#[get("/jobs/queues/stats")]
pub async fn queue_stats(
    state: web::Data<AppState>,
    caller: AllowedCaller<perm::CampaignsRead>,
) -> ApiResult {
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
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct WorkerView {
    id: WorkerId,
    queue: QueueName,
    host: String,
    pid: i32,
    /// Jobs it runs at once at most.
    concurrency: i32,
    /// Jobs it is running.
    in_flight: i32,
    /// How often it reports.
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

/// The live worker processes.
///
/// Every worker heard from within three heartbeats, in id order. Superadmin only: workers
/// serve every tenant.
#[utoipa::path(
    tag = "jobs",
    params(ListParams),
    responses((status = 200, description = "A page of workers", body = Page<WorkerView>)),
)]
#[get("/jobs/workers/status")]
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

/// A dead-lettered job: it failed every attempt.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadJobView {
    id: JobId,
    queue: QueueName,
    /// What the job works on (the campaign, for a campaign job).
    subject_id: Option<uuid::Uuid>,
    state: common::JobState,
    attempts: i32,
    max_attempts: i32,
    /// Why the last attempt failed.
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadFilter {
    /// Only the jobs of this queue.
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

/// Dead-lettered jobs, oldest first.
///
/// The caller's tenant's, or the whole platform's for the superadmin.
#[utoipa::path(
    extensions(("x-permission" = json!("settings.manage"))),
    tag = "jobs",
    params(DeadFilter, ListParams),
    responses((status = 200, description = "A page of dead-lettered jobs", body = Page<DeadJobView>)),
)]
#[get("/jobs/dead")]
pub async fn dead_letters(
    state: web::Data<AppState>,
    caller: AllowedCaller<perm::SettingsManage>,
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
        let scope = db::TenantScope::for_job(&txn, job.tenant_id);
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

/// Replays one dead-lettered job.
///
/// The job runs again as a new generation, published at once; a replayed campaign is sendable
/// again. A tenant's own jobs, or any job for the superadmin.
#[utoipa::path(
    extensions(("x-permission" = json!("settings.manage"))),
    tag = "jobs",
    params(("job_id" = uuid::Uuid, Path, description = "The dead-lettered job's id")),
    responses((status = 200, description = "The replayed job", body = Envelope<JobRef>)),
)]
#[post("/jobs/{job_id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    caller: AllowedCaller<perm::SettingsManage>,
    path: web::Path<JobId>,
) -> ApiResult {
    let job = replay_one(&state, &caller, path.into_inner()).await?;
    state.relay_waker.wake();
    tidy_dead_queues(&state, std::slice::from_ref(&job)).await;
    Ok(ok(JobRef::from(&job)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReplayAllQuery {
    /// Only the jobs of this queue.
    queue: Option<QueueName>,
}

/// How many jobs were replayed.
#[derive(Serialize, utoipa::ToSchema)]
struct ReplayedAll {
    /// Jobs replayed by this call.
    replayed: usize,
}

/// Replays every dead-lettered job (of one queue), up to 1000 per call.
///
/// The caller's tenant's jobs, or the whole platform's for the superadmin. Jobs replayed by
/// someone else meanwhile are skipped.
#[utoipa::path(
    extensions(("x-permission" = json!("settings.manage"))),
    tag = "jobs",
    params(ReplayAllQuery),
    responses((status = 200, description = "How many jobs were replayed", body = Envelope<ReplayedAll>)),
)]
#[post("/jobs/dead/replay")]
pub async fn replay_all(
    state: web::Data<AppState>,
    caller: AllowedCaller<perm::SettingsManage>,
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
