//! Job rows: the state of queued work that `/api/jobs/...` reports, and the protocol that lets
//! exactly one worker at a time run a job however often its message is delivered.
//!
//! - **Generations.** `seq` numbers the job's current queue message. A continuation, a restart
//!   (resume) or a replay writes a new message with `seq + 1` in the same transaction as the
//!   state it continues from; a message whose `seq` is older is a duplicate and is dropped.
//! - **Leases.** [`start_attempt`] takes the job for one worker until `lease_expires_at`; the
//!   holder renews it while it works, and every write that finishes or continues the job is
//!   fenced by the lease token, so a worker whose lease was taken over changes nothing.
//! - **Attempts.** `attempts` counts starts of the current generation; it never passes
//!   `max_attempts` (a check constraint), and a job whose workers keep dying is failed rather
//!   than started again.
//! - **Scopes.** What a tenant or the operator reads goes through a [`TenantScope`] or a
//!   [`Reach`]. The protocol's own writes are keyed by the [`Lease`] a worker holds, or by a job
//!   whose tenant [`start_attempt`] checked against the message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::proto::JobRef;
use common::sql;
use common::{JobId, JobKind, JobState, LeaseToken, QueueName, TenantId, WorkerId};
use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Set, Statement,
};

use crate::entity::{job, outbox};
use crate::{DbError, DbResult, Reach, TenantScope};

/// A job as its owner and the workers see it (the row without its lease and its message).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub queue: QueueName,
    /// The object the job works on (a campaign, an import, ...).
    pub subject_id: Option<uuid::Uuid>,
    pub state: JobState,
    /// Starts of the current generation.
    pub attempts: i32,
    pub max_attempts: i32,
    /// The job type's parameters beyond its subject (`JobKind::Params` as JSON).
    pub params: Option<serde_json::Value>,
    pub progress: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// When the current message is due.
    pub run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub dead_lettered_at: Option<DateTime<Utc>>,
    /// Generation of the current queue message.
    pub seq: i32,
}

impl From<job::Model> for Job {
    fn from(m: job::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            queue: m.queue,
            subject_id: m.subject_id,
            state: m.state,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            params: m.params,
            progress: m.progress,
            result: m.result,
            error: m.error,
            run_at: m.run_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
            dead_lettered_at: m.dead_lettered_at,
            seq: m.seq,
        }
    }
}

/// AMQP header carrying a message's generation.
pub const SEQ_HEADER: &str = "x-job-seq";
/// AMQP header naming a message's job (also its message id), so a dead-letter queue can be
/// searched without decoding payloads.
pub const JOB_ID_HEADER: &str = "x-job-id";
/// AMQP header carrying the job's trace (W3C trace context, the name the AMQP mapping uses).
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// How a job is created, beyond its type, subject and parameters.
#[derive(Debug, Clone, Default)]
pub struct Enqueue {
    /// Attempts it gets; `None` takes its type's [`JobKind::DEFAULT_ATTEMPTS`].
    pub max_attempts: Option<i32>,
    /// Not before this time (a scheduled start); `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// The W3C `traceparent` of the work that creates the job (an API request), so its runs
    /// join that trace; `None` when traces are not exported.
    pub trace_context: Option<String>,
}

impl Enqueue {
    /// Created now, with its type's attempts and no trace.
    pub fn now() -> Self {
        Self::default()
    }
}

/// The state of a job whose next message is due at `run_at`: `delayed` until then.
fn state_until(run_at: DateTime<Utc>) -> JobState {
    if run_at > Utc::now() {
        JobState::Delayed
    } else {
        JobState::Waiting
    }
}

/// Creates a job of type `K` on `subject` for the scope's tenant: its row, and the outbox row
/// that publishes its first message (a [`JobRef`]) once the caller's transaction commits.
/// Run it in the transaction that writes the subject, so neither exists without the other.
pub async fn enqueue<K: JobKind>(
    scope: TenantScope<'_, impl ConnectionTrait>,
    subject: K::Subject,
    params: &K::Params,
    options: Enqueue,
) -> DbResult<Job> {
    let db = scope.conn();
    let id = JobId::new();
    let now = Utc::now();
    let run_at = options.run_at.filter(|at| *at > now).unwrap_or(now);
    let params = serde_json::to_value(params).map_err(|e| DbErr::Json(e.to_string()))?;
    let message = JobRef {
        job_id: id.to_string(),
    };
    let job = job::ActiveModel {
        id: Set(id),
        tenant_id: Set(scope.tenant_id()),
        queue: Set(K::QUEUE),
        subject_id: Set(Some(subject.into())),
        state: Set(state_until(run_at)),
        attempts: Set(0),
        max_attempts: Set(options.max_attempts.unwrap_or(K::DEFAULT_ATTEMPTS)),
        progress: Set(serde_json::json!({})),
        result: Set(None),
        error: Set(None),
        run_at: Set(run_at),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        seq: Set(0),
        payload: Set(message.encode_to_vec()),
        params: Set((!params.is_null()).then_some(params)),
        lease_token: Set(None),
        lease_worker: Set(None),
        lease_expires_at: Set(None),
        dead_lettered_at: Set(None),
        trace_context: Set(options.trace_context),
    }
    .insert(db)
    .await?;
    write_message(db, &job, run_at).await?;
    Ok(job.into())
}

/// The headers of `job`'s messages: its generation, its id and, when it has one, its trace.
fn message_headers(job: &job::Model) -> serde_json::Value {
    let mut headers = serde_json::json!({ SEQ_HEADER: job.seq, JOB_ID_HEADER: job.id });
    if let Some(traceparent) = &job.trace_context {
        headers[TRACEPARENT_HEADER] = traceparent.as_str().into();
    }
    headers
}

/// The outbox row that publishes `job`'s current generation at `available_at`.
async fn write_message(
    db: &impl ConnectionTrait,
    job: &job::Model,
    available_at: DateTime<Utc>,
) -> DbResult<()> {
    outbox::ActiveModel {
        queue: Set(job.queue.as_str().to_owned()),
        job_id: Set(job.id.into_uuid()),
        payload: Set(job.payload.clone()),
        headers: Set(message_headers(job)),
        created_at: Set(Utc::now()),
        available_at: Set(available_at),
        publish_attempts: Set(0),
        last_error: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The newest job of `queue` working on `subject_id` for this tenant.
pub async fn latest_for_subject(
    scope: TenantScope<'_, impl ConnectionTrait>,
    queue: QueueName,
    subject_id: uuid::Uuid,
) -> DbResult<Job> {
    job::Entity::find()
        .filter(job::Column::TenantId.eq(scope.tenant_id()))
        .filter(job::Column::Queue.eq(queue))
        .filter(job::Column::SubjectId.eq(subject_id))
        .order_by_desc(job::Column::CreatedAt)
        .one(scope.conn())
        .await?
        .map(Job::from)
        .ok_or(DbError::NotFound("job"))
}

/// A job the reach may see; another tenant's job is not found.
pub async fn find(reach: Reach<'_, impl ConnectionTrait>, id: JobId) -> DbResult<Job> {
    let mut select = job::Entity::find_by_id(id);
    if let Some(tenant_id) = reach.tenant_id() {
        select = select.filter(job::Column::TenantId.eq(tenant_id));
    }
    select
        .one(reach.conn())
        .await?
        .map(Job::from)
        .ok_or(DbError::NotFound("job"))
}

/// Nobody holds the job: no lease, or one that ran out (its holder died).
const UNHELD: &str = "(jobs.lease_token IS NULL OR jobs.lease_expires_at < now())";

/// A worker's hold on a job; every write that ends or continues the job names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub job_id: JobId,
    pub token: LeaseToken,
}

/// What a worker may do with a delivered message.
#[derive(Debug)]
pub enum Attempt {
    /// The job is now this worker's, for one more attempt.
    Started(Box<Job>),
    /// The job already finished: a duplicate, to acknowledge and drop.
    Finished,
    /// The message is an older generation than the job's current one: a duplicate.
    Stale,
    /// Another worker holds the job's lease for `remaining` more; try again after that (the
    /// holder may have died, in which case its lease runs out).
    Leased { remaining: Duration },
    /// Every attempt was started and none finished (the workers died): fail it.
    OutOfAttempts(Box<Job>),
    /// No job has this id and this exact message: the message is not to be trusted, and no
    /// row changes.
    NoSuchJob,
}

/// Takes the job for one more attempt if the message is its current generation, it has not
/// finished, attempts remain and nobody else holds it. The message is trusted only as far as
/// it matches the row: its id, its generation and its exact bytes; the tenant and everything
/// else the job works on come from the row.
pub async fn start_attempt(
    db: &impl ConnectionTrait,
    id: JobId,
    seq: i32,
    payload: &[u8],
    holder: (LeaseToken, WorkerId),
    ttl: Duration,
) -> DbResult<Attempt> {
    let (token, worker) = holder;
    let started = job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE jobs
                SET state = $7, attempts = attempts + 1, updated_at = now(),
                    started_at = coalesce(started_at, now()),
                    lease_token = $4, lease_worker = $5,
                    lease_expires_at = now() + make_interval(secs => $6)
              WHERE id = $1 AND seq = $2 AND payload = $3
                AND state IN ($8, $9, $7)
                AND attempts < max_attempts
                AND (lease_token IS NULL OR lease_expires_at < now())
          RETURNING *"
            ),
            [
                id.into(),
                seq.into(),
                payload.to_vec().into(),
                token.into(),
                worker.into(),
                ttl.as_secs_f64().into(),
                JobState::Active.into(),
                JobState::Waiting.into(),
                JobState::Delayed.into(),
            ],
        ))
        .one(db)
        .await?;
    if let Some(job) = started {
        return Ok(Attempt::Started(Box::new(job.into())));
    }
    why_not_started(db, id, seq, payload).await
}

/// Why [`start_attempt`] did not take the job.
async fn why_not_started(
    db: &impl ConnectionTrait,
    id: JobId,
    seq: i32,
    payload: &[u8],
) -> DbResult<Attempt> {
    #[derive(FromQueryResult)]
    struct Why {
        state: JobState,
        seq: i32,
        attempts: i32,
        max_attempts: i32,
        held_ms: Option<f64>,
    }
    let why = Why::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT state, seq, attempts, max_attempts,
                CASE WHEN lease_token IS NOT NULL AND lease_expires_at >= now()
                     THEN extract(epoch FROM lease_expires_at - now())::float8 * 1000 END AS held_ms
           FROM jobs WHERE id = $1 AND payload = $2"
        ),
        [id.into(), payload.to_vec().into()],
    ))
    .one(db)
    .await?;
    let Some(why) = why else {
        return Ok(Attempt::NoSuchJob);
    };
    Ok(if why.state.is_finished() {
        Attempt::Finished
    } else if seq < why.seq {
        Attempt::Stale
    } else if seq > why.seq {
        Attempt::NoSuchJob
    } else if let Some(ms) = why.held_ms {
        Attempt::Leased {
            remaining: Duration::from_millis(ms.max(0.0) as u64),
        }
    } else if why.attempts >= why.max_attempts {
        let job = job::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or(DbError::NotFound("job"))?;
        Attempt::OutOfAttempts(Box::new(job.into()))
    } else {
        // Changed between the two statements (another worker finished or took it): let the
        // caller look again shortly.
        Attempt::Leased {
            remaining: Duration::from_secs(1),
        }
    })
}

/// Extends the lease; false when it is no longer this holder's.
pub async fn renew_lease(db: &impl ConnectionTrait, lease: Lease, ttl: Duration) -> DbResult<bool> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3)
              WHERE id = $1 AND lease_token = $2"
            ),
            [
                lease.job_id.into(),
                lease.token.into(),
                ttl.as_secs_f64().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The fenced update every ending of an attempt goes through: only the lease holder's write
/// lands, and the lease is released with it.
fn fenced(lease: Lease) -> sea_orm::UpdateMany<job::Entity> {
    job::Entity::update_many()
        .col_expr(
            job::Column::LeaseToken,
            Expr::value(Option::<LeaseToken>::None),
        )
        .col_expr(
            job::Column::LeaseWorker,
            Expr::value(Option::<WorkerId>::None),
        )
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::current_timestamp())
        .filter(job::Column::Id.eq(lease.job_id))
        .filter(job::Column::LeaseToken.eq(lease.token))
}

async fn exec_fenced(
    db: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<job::Entity>,
) -> DbResult<bool> {
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// The attempt succeeded: the job is completed with `result`.
pub async fn complete(
    db: &impl ConnectionTrait,
    lease: Lease,
    result: Option<serde_json::Value>,
) -> DbResult<bool> {
    exec_fenced(
        db,
        fenced(lease)
            .col_expr(job::Column::State, Expr::value(JobState::Completed))
            .col_expr(job::Column::Result, Expr::value(result))
            .col_expr(job::Column::Error, Expr::value(Option::<String>::None))
            .col_expr(job::Column::FinishedAt, Expr::current_timestamp()),
    )
    .await
}

/// The job failed for good and its message goes to the dead-letter queue.
pub async fn fail(db: &impl ConnectionTrait, lease: Lease, error: &str) -> DbResult<bool> {
    exec_fenced(
        db,
        fenced(lease)
            .col_expr(job::Column::State, Expr::value(JobState::Failed))
            .col_expr(job::Column::Error, Expr::value(error))
            .col_expr(job::Column::FinishedAt, Expr::current_timestamp())
            .col_expr(job::Column::DeadLetteredAt, Expr::current_timestamp()),
    )
    .await
}

/// Fails a job nobody holds (its workers died on every attempt); its message is dead-lettered.
pub async fn fail_unheld(
    db: &impl ConnectionTrait,
    id: JobId,
    seq: i32,
    error: &str,
) -> DbResult<bool> {
    let result = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Failed))
        .col_expr(job::Column::Error, Expr::value(error))
        .col_expr(job::Column::FinishedAt, Expr::current_timestamp())
        .col_expr(job::Column::DeadLetteredAt, Expr::current_timestamp())
        .col_expr(job::Column::UpdatedAt, Expr::current_timestamp())
        .col_expr(
            job::Column::LeaseToken,
            Expr::value(Option::<LeaseToken>::None),
        )
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Seq.eq(seq))
        .filter(job::Column::State.is_not_in([JobState::Completed, JobState::Failed]))
        .filter(Expr::cust(UNHELD))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The attempt failed but may succeed later: the job waits (`delayed`) until `run_at`, when its
/// retry message comes back from the wait queue.
pub async fn schedule_retry(
    db: &impl ConnectionTrait,
    lease: Lease,
    error: &str,
    run_at: DateTime<Utc>,
) -> DbResult<bool> {
    exec_fenced(
        db,
        fenced(lease)
            .col_expr(job::Column::State, Expr::value(JobState::Delayed))
            .col_expr(job::Column::Error, Expr::value(error))
            .col_expr(job::Column::RunAt, Expr::value(run_at)),
    )
    .await
}

/// The attempt could not start its work yet (e.g. the inbox is busy with another campaign):
/// the attempt is given back and the message comes back at `run_at`.
pub async fn defer(
    db: &impl ConnectionTrait,
    lease: Lease,
    run_at: DateTime<Utc>,
) -> DbResult<bool> {
    exec_fenced(
        db,
        fenced(lease)
            .col_expr(job::Column::State, Expr::value(JobState::Waiting))
            .col_expr(
                job::Column::Attempts,
                Expr::cust("greatest(attempts - 1, 0)"),
            )
            .col_expr(job::Column::RunAt, Expr::value(run_at)),
    )
    .await
}

/// The attempt did its part and the job goes on in a new message (the next batch), published
/// at `run_at` by the outbox relay. Attempts start over: they count failures of one batch.
/// Returns false (and writes nothing) when the lease was lost.
pub async fn continue_at(
    db: &impl ConnectionTrait,
    lease: Lease,
    run_at: DateTime<Utc>,
    progress: Option<serde_json::Value>,
) -> DbResult<bool> {
    let mut update = fenced(lease)
        .col_expr(job::Column::State, Expr::value(state_until(run_at)))
        .col_expr(job::Column::Seq, Expr::cust("seq + 1"))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(job::Column::RunAt, Expr::value(run_at));
    if let Some(progress) = progress {
        update = update.col_expr(job::Column::Progress, Expr::value(progress));
    }
    let updated = job::Entity::find()
        .from_raw_sql(update_returning(db, update))
        .one(db)
        .await?;
    let Some(job) = updated else {
        return Ok(false);
    };
    write_message(db, &job, run_at).await?;
    Ok(true)
}

/// `UPDATE ... RETURNING *` from an `UpdateMany`.
fn update_returning(
    db: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<job::Entity>,
) -> Statement {
    use sea_orm::QueryTrait;
    let mut query = update.into_query();
    query.returning_all();
    db.get_database_backend().build(&query)
}

/// The job stops without finishing and without a next message (its campaign was paused): it
/// shows `delayed` until [`restart`] gives it a new generation.
pub async fn park(db: &impl ConnectionTrait, lease: Lease, reason: &str) -> DbResult<bool> {
    exec_fenced(
        db,
        fenced(lease)
            .col_expr(job::Column::State, Expr::value(JobState::Delayed))
            .col_expr(job::Column::Attempts, Expr::value(0))
            .col_expr(job::Column::Error, Expr::value(reason)),
    )
    .await
}

/// Starts a new generation of a job that nobody holds and that is not running: a resumed
/// campaign, a replayed dead letter. Its new message is published at `run_at`. Older messages
/// become stale. Returns the job, or `None` when it is held by a live worker. Callers found
/// the job through a scope first.
pub async fn restart(
    db: &impl ConnectionTrait,
    id: JobId,
    run_at: DateTime<Utc>,
) -> DbResult<Option<Job>> {
    let update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(state_until(run_at)))
        .col_expr(job::Column::Seq, Expr::cust("seq + 1"))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::Result,
            Expr::value(Option::<serde_json::Value>::None),
        )
        .col_expr(job::Column::RunAt, Expr::value(run_at))
        .col_expr(
            job::Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            job::Column::DeadLetteredAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            job::Column::LeaseToken,
            Expr::value(Option::<LeaseToken>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::current_timestamp())
        .filter(job::Column::Id.eq(id))
        .filter(Expr::cust(UNHELD));
    let job = job::Entity::find()
        .from_raw_sql(update_returning(db, update))
        .one(db)
        .await?;
    if let Some(job) = &job {
        write_message(db, job, run_at).await?;
    }
    Ok(job.map(Job::from))
}

/// Finishes a job that nobody holds (a cancelled campaign whose batch is not running). Callers
/// found the job through a scope first.
pub async fn complete_unheld(
    db: &impl ConnectionTrait,
    id: JobId,
    result: Option<serde_json::Value>,
) -> DbResult<bool> {
    let result = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Completed))
        .col_expr(job::Column::Result, Expr::value(result))
        .col_expr(job::Column::FinishedAt, Expr::current_timestamp())
        .col_expr(job::Column::UpdatedAt, Expr::current_timestamp())
        .col_expr(job::Column::Seq, Expr::cust("seq + 1"))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.is_not_in([JobState::Completed, JobState::Failed]))
        .filter(Expr::cust(UNHELD))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The attempt under way made progress (a long job's batch recorded outcomes): earlier attempts
/// that died are forgiven, so a job whose workers are killed now and then is not failed for
/// it, while one that dies on every attempt without progress still is.
pub async fn note_progress(db: &impl ConnectionTrait, lease: Lease) -> DbResult<()> {
    job::Entity::update_many()
        .col_expr(job::Column::Attempts, Expr::value(1))
        .filter(job::Column::Id.eq(lease.job_id))
        .filter(job::Column::LeaseToken.eq(lease.token))
        .filter(job::Column::Attempts.gt(1))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores the latest progress figures on the job row (lease-fenced).
pub async fn set_progress(
    db: &impl ConnectionTrait,
    lease: Lease,
    progress: serde_json::Value,
) -> DbResult<bool> {
    let result = job::Entity::update_many()
        .col_expr(job::Column::Progress, Expr::value(progress))
        .col_expr(job::Column::UpdatedAt, Expr::current_timestamp())
        .filter(job::Column::Id.eq(lease.job_id))
        .filter(job::Column::LeaseToken.eq(lease.token))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Jobs per queue and state (and dead-lettered ones), for the whole platform or one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub waiting: i64,
    pub active: i64,
    pub completed: i64,
    pub failed: i64,
    pub delayed: i64,
    pub dead_lettered: i64,
}

impl QueueCounts {
    pub fn get(&self, state: JobState) -> i64 {
        match state {
            JobState::Waiting => self.waiting,
            JobState::Active => self.active,
            JobState::Completed => self.completed,
            JobState::Failed => self.failed,
            JobState::Delayed => self.delayed,
        }
    }
}

pub async fn counts(
    reach: Reach<'_, impl ConnectionTrait>,
) -> DbResult<Vec<(QueueName, QueueCounts)>> {
    #[derive(FromQueryResult)]
    struct Row {
        queue: QueueName,
        state: JobState,
        n: i64,
        dead: i64,
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT queue, state, count(*) AS n, count(dead_lettered_at) AS dead
           FROM jobs WHERE ($1::uuid IS NULL OR tenant_id = $1)
          GROUP BY queue, state"
        ),
        [reach.tenant_id().map(TenantId::into_uuid).into()],
    ))
    .all(reach.conn())
    .await?;
    let mut out: Vec<(QueueName, QueueCounts)> = QueueName::ALL
        .iter()
        .map(|q| (*q, QueueCounts::default()))
        .collect();
    for row in rows {
        let Some((_, counts)) = out.iter_mut().find(|(q, _)| *q == row.queue) else {
            continue;
        };
        match row.state {
            JobState::Waiting => counts.waiting += row.n,
            JobState::Active => counts.active += row.n,
            JobState::Completed => counts.completed += row.n,
            JobState::Failed => counts.failed += row.n,
            JobState::Delayed => counts.delayed += row.n,
        }
        counts.dead_lettered += row.dead;
    }
    Ok(out)
}

/// One page of dead-lettered jobs, newest id first after `cursor`.
pub async fn dead_lettered(
    reach: Reach<'_, impl ConnectionTrait>,
    queue: Option<QueueName>,
    cursor: Option<JobId>,
    limit: u64,
) -> DbResult<(Vec<Job>, bool)> {
    let mut select = job::Entity::find().filter(job::Column::DeadLetteredAt.is_not_null());
    if let Some(tenant_id) = reach.tenant_id() {
        select = select.filter(job::Column::TenantId.eq(tenant_id));
    }
    if let Some(queue) = queue {
        select = select.filter(job::Column::Queue.eq(queue));
    }
    let (rows, more) = crate::page_by_id(
        reach.conn(),
        select,
        job::Column::Id,
        cursor.map(JobId::into_uuid),
        limit,
    )
    .await?;
    Ok((rows.into_iter().map(Job::from).collect(), more))
}

/// Ids of the dead-lettered jobs a replay-all would take (bounded per call).
pub async fn dead_lettered_ids(
    reach: Reach<'_, impl ConnectionTrait>,
    queue: Option<QueueName>,
    limit: u64,
) -> DbResult<Vec<JobId>> {
    let (rows, _) = dead_lettered(reach, queue, None, limit).await?;
    Ok(rows.into_iter().map(|j| j.id).collect())
}

/// Replays a dead-lettered job: a new generation, attempts from zero, published now.
/// `NotFound` for a job of another tenant; `Invalid` for a job that is not dead-lettered.
pub async fn replay(reach: Reach<'_, impl ConnectionTrait>, id: JobId) -> DbResult<Job> {
    let job = find(reach, id).await?;
    if job.dead_lettered_at.is_none() {
        return Err(DbError::Invalid {
            field: "jobId",
            message: format!(
                "job {id} is {} and not dead-lettered; only dead-lettered jobs can be replayed",
                job.state
            ),
        });
    }
    restart(reach.conn(), id, Utc::now())
        .await?
        .ok_or(DbError::Conflict(format!("job {id} is being worked on")))
}
