//! The transactional outbox: rows written with a job, published to RabbitMQ by the relay.

use common::JobState;
use common::sql;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Statement};

use crate::DbResult;
use crate::entity::outbox;

/// Locks up to `limit` due rows for this transaction; other relays skip them rather than wait,
/// so any number of relays can run side by side.
pub async fn claim_due(txn: &DatabaseTransaction, limit: u64) -> DbResult<Vec<outbox::Model>> {
    Ok(outbox::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT * FROM outbox WHERE available_at <= now()
              ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
            ),
            [(limit as i64).into()],
        ))
        .all(txn)
        .await?)
}

/// Deletes published rows and moves their jobs from delayed to waiting: they are queued now.
pub async fn mark_published(
    txn: &DatabaseTransaction,
    ids: &[i64],
    job_ids: &[uuid::Uuid],
) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("DELETE FROM outbox WHERE id = ANY($1)"),
        [ids.to_vec().into()],
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("UPDATE jobs SET state = $2, updated_at = now() WHERE id = ANY($1) AND state = $3"),
        [
            job_ids.to_vec().into(),
            JobState::Waiting.as_str().into(),
            JobState::Delayed.as_str().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records a failed publish; the row stays and is retried after `retry_in_ms`.
pub async fn mark_failed(
    txn: &DatabaseTransaction,
    ids: &[i64],
    error: &str,
    retry_in_ms: i64,
) -> DbResult<()> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = $2,
                available_at = now() + make_interval(secs => $3::double precision / 1000)
          WHERE id = ANY($1)"
        ),
        [ids.to_vec().into(), error.into(), retry_in_ms.into()],
    ))
    .await?;
    Ok(())
}

/// How many rows wait to be published (a gauge for operators).
pub async fn pending_count(db: &impl ConnectionTrait) -> DbResult<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            sql!("SELECT count(*) AS n FROM outbox"),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    })
}
