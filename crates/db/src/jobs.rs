//! Job rows: the state of queued work that `/api/jobs/...` reports.

use chrono::Utc;
use common::{JobId, JobState, QueueName, TenantId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};

use crate::entity::job;
use crate::{DbError, DbResult};

/// The newest job of `queue` working on `subject_id` for this tenant.
pub async fn latest_for_subject(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    queue: QueueName,
    subject_id: uuid::Uuid,
) -> DbResult<job::Model> {
    job::Entity::find()
        .filter(job::Column::TenantId.eq(tenant_id.into_uuid()))
        .filter(job::Column::Queue.eq(queue.as_str()))
        .filter(job::Column::SubjectId.eq(subject_id))
        .order_by_desc(job::Column::CreatedAt)
        .one(db)
        .await?
        .ok_or(DbError::NotFound("job"))
}

/// What a worker may do with a queue message's job.
#[derive(Debug)]
pub enum Attempt {
    /// The job is now active for one more attempt.
    Started(Box<job::Model>),
    /// The job already finished: the message is a duplicate delivery, to acknowledge and drop.
    AlreadyFinished,
    /// No job of this tenant works on this subject under that id: the message is not to be
    /// trusted, and the job row (if any) is left alone.
    NoSuchJob,
}

/// Marks the job active for one more attempt, if it belongs to `tenant_id` and works on
/// `subject_id` and has not finished.
pub async fn start_attempt(
    db: &impl ConnectionTrait,
    id: JobId,
    tenant_id: TenantId,
    subject_id: uuid::Uuid,
) -> DbResult<Attempt> {
    let started = job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE jobs
                SET state = 'active', attempts = attempts + 1, updated_at = now(),
                    started_at = coalesce(started_at, now())
              WHERE id = $1 AND tenant_id = $2 AND subject_id = $3
                AND state NOT IN ('completed', 'failed')
          RETURNING *",
            [
                id.into_uuid().into(),
                tenant_id.into_uuid().into(),
                subject_id.into(),
            ],
        ))
        .one(db)
        .await?;
    if let Some(job) = started {
        return Ok(Attempt::Started(Box::new(job)));
    }
    let finished = job::Entity::find_by_id(id.into_uuid())
        .filter(job::Column::TenantId.eq(tenant_id.into_uuid()))
        .filter(job::Column::SubjectId.eq(subject_id))
        .one(db)
        .await?
        .is_some();
    Ok(if finished {
        Attempt::AlreadyFinished
    } else {
        Attempt::NoSuchJob
    })
}

/// Finishes a job as completed or failed, with its result or last error.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: JobId,
    state: JobState,
    result: Option<serde_json::Value>,
    error: Option<String>,
) -> DbResult<()> {
    debug_assert!(state.is_finished());
    let now = Utc::now();
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(state.as_str()))
        .col_expr(job::Column::Result, Expr::value(result))
        .col_expr(job::Column::Error, Expr::value(error))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id.into_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores the latest progress figures on the job row.
pub async fn set_progress(
    db: &impl ConnectionTrait,
    id: JobId,
    progress: serde_json::Value,
) -> DbResult<()> {
    job::Entity::update_many()
        .col_expr(job::Column::Progress, Expr::value(progress))
        .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(id.into_uuid()))
        .exec(db)
        .await?;
    Ok(())
}
