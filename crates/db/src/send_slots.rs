//! One send slot per inbox (WhatsApp number): at most one campaign batch sends through a number
//! at a time, across every worker process, and consecutive messages keep their pace. The slot
//! remembers when the number last sent, so the next batch (of any campaign) waits its delay
//! after that.
//!
//! The slot is held under the batch's job lease token and lives as long as that lease: a worker
//! that dies mid-batch frees the number when its job lease runs out (`held_until` is only a
//! backstop).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use common::sql;
use common::{InboxId, LeaseToken};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::DbResult;

/// The answer to a request for an inbox's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The slot is ours until released or until the hold runs out. `since_last_send` is how
    /// long ago (by the database's clock) the number last sent, if it ever did.
    Granted { since_last_send: Option<Duration> },
    /// Another batch holds it for up to this long.
    Busy { remaining: Duration },
}

/// Takes (or re-takes) the inbox's slot for `holder` for `hold`.
pub async fn acquire(
    db: &impl ConnectionTrait,
    inbox_id: InboxId,
    holder: LeaseToken,
    hold: Duration,
) -> DbResult<Slot> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("INSERT INTO inbox_send_slots (inbox_id) VALUES ($1) ON CONFLICT DO NOTHING"),
        [inbox_id.into()],
    ))
    .await?;
    let granted = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE inbox_send_slots
                SET holder = $2, held_until = now() + make_interval(secs => $3)
              WHERE inbox_id = $1
                AND (holder IS NULL OR holder = $2 OR held_until < now()
                     -- The holder's job lease ran out: its worker died mid-batch.
                     OR NOT EXISTS (SELECT 1 FROM jobs
                                     WHERE jobs.lease_token = inbox_send_slots.holder
                                       AND jobs.lease_expires_at >= now()))
          RETURNING extract(epoch FROM now() - last_sent_at)::float8 * 1000 AS since_ms"
            ),
            [inbox_id.into(), holder.into(), hold.as_secs_f64().into()],
        ))
        .await?;
    if let Some(row) = granted {
        let since: Option<f64> = row.try_get("", "since_ms")?;
        return Ok(Slot::Granted {
            since_last_send: since.map(|ms| Duration::from_millis(ms.max(0.0) as u64)),
        });
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT extract(epoch FROM least(held_until,
                        (SELECT lease_expires_at FROM jobs WHERE jobs.lease_token = holder))
                        - now())::float8 * 1000 AS remaining_ms
               FROM inbox_send_slots WHERE inbox_id = $1"
            ),
            [inbox_id.into()],
        ))
        .await?;
    let remaining: Option<f64> = match row {
        Some(row) => row.try_get("", "remaining_ms")?,
        None => None,
    };
    Ok(Slot::Busy {
        remaining: Duration::from_millis(remaining.unwrap_or(0.0).max(0.0) as u64),
    })
}

/// Notes that the number just sent (by the database's clock) and, with `release`, frees the
/// slot. Only the holder's call counts.
pub async fn note_sent(
    db: &impl ConnectionTrait,
    inbox_id: InboxId,
    holder: LeaseToken,
    sent: bool,
    release: bool,
) -> DbResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE inbox_send_slots
            SET last_sent_at = CASE WHEN $3 THEN now() ELSE last_sent_at END,
                holder = CASE WHEN $4 THEN NULL ELSE holder END,
                held_until = CASE WHEN $4 THEN NULL ELSE held_until END
          WHERE inbox_id = $1 AND holder = $2"
        ),
        [inbox_id.into(), holder.into(), sent.into(), release.into()],
    ))
    .await?;
    Ok(())
}

/// When the number last sent, by the database's clock (for tests and the API).
pub async fn last_sent_at(
    db: &impl ConnectionTrait,
    inbox_id: InboxId,
) -> DbResult<Option<DateTime<Utc>>> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("SELECT last_sent_at FROM inbox_send_slots WHERE inbox_id = $1"),
            [inbox_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "last_sent_at")?,
        None => None,
    })
}

/// How many messages the number sent on `day` (the tenant's calendar), as counted by
/// [`crate::campaigns::record_outcomes`].
pub async fn sent_on(
    db: &impl ConnectionTrait,
    inbox_id: InboxId,
    day: NaiveDate,
) -> DbResult<u32> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT CASE WHEN sent_day = $2 THEN sent_on_day ELSE 0 END AS sent
               FROM inbox_send_slots WHERE inbox_id = $1"
            ),
            [inbox_id.into(), day.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => u32::try_from(row.try_get::<i32>("", "sent")?).unwrap_or(0),
        None => 0,
    })
}
