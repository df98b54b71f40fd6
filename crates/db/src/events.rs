//! Events: recorded once, in the caller's transaction with the change that caused them.
//! Recording one is `app::events::emit`, which also hands it on in the same transaction (a
//! notification job for the tenant's people, a webhook delivery per subscribed endpoint);
//! this module holds the rows.

use chrono::{DateTime, Utc};
use common::sql;
use common::{EventId, EventKind, TenantId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbError, DbResult, TenantScope, parse_stored};

/// An event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub kind: EventKind,
    /// The object it is about.
    pub subject_id: Option<uuid::Uuid>,
    /// Whom it concerns first; `None`: the tenant's admins.
    pub user_id: Option<UserId>,
    /// The event's details, as webhook consumers receive them.
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub subject_id: Option<uuid::Uuid>,
    pub user_id: Option<UserId>,
    pub data: serde_json::Value,
}

#[derive(FromQueryResult)]
struct Row {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    kind: String,
    subject_id: Option<uuid::Uuid>,
    user_id: Option<uuid::Uuid>,
    data: serde_json::Value,
    occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, kind, subject_id, user_id, data, occurred_at";

impl TryFrom<Row> for Event {
    type Error = DbError;

    fn try_from(r: Row) -> DbResult<Self> {
        Ok(Self {
            id: EventId::from(r.id),
            tenant_id: TenantId::from(r.tenant_id),
            kind: parse_stored("events", "kind", &r.kind)?,
            subject_id: r.subject_id,
            user_id: r.user_id.map(UserId::from),
            data: r.data,
            occurred_at: r.occurred_at,
        })
    }
}

/// Writes the event row. Only `app::events::emit` calls it, so that no event is recorded
/// without being handed on.
pub async fn insert(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewEvent,
) -> DbResult<Event> {
    let id = EventId::new();
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO events (id, tenant_id, kind, subject_id, user_id, data)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            id.into_uuid().into(),
            scope.tenant_uuid().into(),
            new.kind.as_str().into(),
            new.subject_id.into(),
            new.user_id.map(UserId::into_uuid).into(),
            new.data.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("event"))?;
    Event::try_from(row)
}

/// One of the tenant's events.
pub async fn find(scope: TenantScope<'_, impl ConnectionTrait>, id: EventId) -> DbResult<Event> {
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT {COLUMNS} FROM events WHERE id = $1 AND tenant_id = $2",
            COLUMNS
        ),
        [id.into_uuid().into(), scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("event"))?;
    Event::try_from(row)
}

/// The tenant's events of `subject_id`, oldest first.
pub async fn of_subject(
    scope: TenantScope<'_, impl ConnectionTrait>,
    subject_id: uuid::Uuid,
) -> DbResult<Vec<Event>> {
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT {COLUMNS} FROM events WHERE subject_id = $1 AND tenant_id = $2
             ORDER BY occurred_at, id",
            COLUMNS
        ),
        [subject_id.into(), scope.tenant_uuid().into()],
    ))
    .all(scope.conn())
    .await?;
    rows.into_iter().map(Event::try_from).collect()
}
