//! Worker heartbeats, for `/api/jobs/workers/status`.

use common::sql;
use common::{QueueName, WorkerId};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};

use crate::DbResult;
use crate::entity::worker;

/// What a worker process says about itself.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    pub id: WorkerId,
    pub queue: QueueName,
    pub host: String,
    pub pid: i32,
    pub concurrency: i32,
    pub heartbeat_ms: i32,
}

/// Records a heartbeat (the first one registers the worker).
pub async fn heartbeat(
    db: &impl ConnectionTrait,
    info: &WorkerInfo,
    in_flight: i32,
) -> DbResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("INSERT INTO workers (id, queue, host, pid, concurrency, in_flight, heartbeat_ms, started_at, last_heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())
         ON CONFLICT (id) DO UPDATE SET in_flight = EXCLUDED.in_flight, last_heartbeat_at = now()"),
        [
            info.id.into(),
            info.queue.as_str().into(),
            info.host.clone().into(),
            info.pid.into(),
            info.concurrency.into(),
            in_flight.into(),
            info.heartbeat_ms.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A worker that stopped cleanly leaves at once.
pub async fn deregister(db: &impl ConnectionTrait, id: WorkerId) -> DbResult<()> {
    worker::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Workers heard from within three of their heartbeat intervals; older rows (workers that died)
/// are deleted on the way.
pub async fn live(db: &impl ConnectionTrait) -> DbResult<Vec<worker::Model>> {
    db.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        sql!(
            "DELETE FROM workers
          WHERE last_heartbeat_at < now() - make_interval(secs => heartbeat_ms * 3 / 1000.0)"
        ),
    ))
    .await?;
    Ok(worker::Entity::find()
        .from_raw_sql(Statement::from_string(
            DbBackend::Postgres,
            sql!("SELECT * FROM workers ORDER BY queue, started_at, id"),
        ))
        .all(db)
        .await?)
}

/// One page of the live workers (as [`live`] sees them) in id order after `cursor`: up to
/// `limit` and whether more follow. One statement: the dead rows are deleted in a CTE, which
/// the SELECT does not see, so it applies the same liveness test itself.
pub async fn live_page(
    db: &impl ConnectionTrait,
    cursor: Option<WorkerId>,
    limit: u64,
) -> DbResult<(Vec<worker::Model>, bool)> {
    let mut rows = worker::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "WITH dead AS (
                 DELETE FROM workers
                  WHERE last_heartbeat_at < now() - make_interval(secs => heartbeat_ms * 3 / 1000.0)
             )
             SELECT * FROM workers
              WHERE last_heartbeat_at >= now() - make_interval(secs => heartbeat_ms * 3 / 1000.0)
                AND ($1::uuid IS NULL OR id > $1)
              ORDER BY id LIMIT $2"
            ),
            [
                cursor.map(WorkerId::into_uuid).into(),
                // One more than asked: its presence says whether another page follows.
                i64::try_from(limit.saturating_add(1))
                    .unwrap_or(i64::MAX)
                    .into(),
            ],
        ))
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, more))
}
