#![doc = include_str!("../README.md")]

pub mod access;
pub mod analytics;
pub mod apikey;
pub mod auth;
pub mod branding;
pub mod campaigns;
pub mod consent;
pub mod contacts;
pub mod entity;
pub mod events;
pub mod imports;
pub mod inbound;
pub mod inboxes;
pub mod invitations;
pub mod jobs;
pub mod notifications;
pub mod outbox;
pub mod plans;
pub mod quotas;
pub mod reports;
pub mod scope;
pub mod secrets;
pub mod send_slots;
pub mod sessions;
pub mod storage_usage;
pub mod stripe;
pub mod tenants;
pub mod webhooks;
pub mod workers;

use std::time::Duration;

use common::sql;
pub use scope::{PlatformScope, Reach, TenantScope};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, SqlErr};
pub use sea_orm::{DatabaseConnection, DbErr};

/// What a query can fail with, in terms a handler can map to a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// No such row for this tenant (or at all: callers cannot tell, on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The input refers to something that does not exist or cannot be used.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A unique constraint refused the row.
    #[error("{0}")]
    Conflict(String),
    /// A stored value that does not parse into its type: the database and the code disagree
    /// (a row written by newer code, or changed by hand). The row is at fault, not the request.
    #[error("{table}.{column} holds `{value}`, which does not parse")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl DbError {
    /// [`DbError::Corrupt`]: `value` stored in `table.column` does not parse.
    pub fn corrupt(table: &'static str, column: &'static str, value: impl Into<String>) -> Self {
        DbError::Corrupt {
            table,
            column,
            value: value.into(),
        }
    }

    /// Maps a unique-violation to [`DbError::Conflict`] with `message`; keeps other errors.
    pub fn conflict_on_unique(err: DbErr, message: impl Into<String>) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => DbError::Conflict(message.into()),
            _ => DbError::Db(err),
        }
    }
}

/// A conversion that cannot fail (a row read straight into its type) fits where one that can
/// is expected.
impl From<std::convert::Infallible> for DbError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Parses the text stored in `table.column`; text no value matches is [`DbError::Corrupt`].
pub(crate) fn parse_stored<T: std::str::FromStr>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> DbResult<T> {
    text.parse()
        .map_err(|_| DbError::corrupt(table, column, text))
}

/// Reads the JSON stored in `table.column` into its type; JSON that does not fit is
/// [`DbError::Corrupt`] (with the JSON as its value).
pub(crate) fn parse_stored_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    value: serde_json::Value,
) -> DbResult<T> {
    T::deserialize(&value).map_err(|_| DbError::corrupt(table, column, value.to_string()))
}

/// Opens a connection pool. `max_connections` bounds what one replica takes from Postgres.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// `SELECT 1`, for readiness probes.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared(sql!("SELECT 1")).await.map(|_| ())
}

/// One page of `select` in id order after `cursor`: up to `limit` rows, and whether more follow.
/// Ids are UUIDv7, so id order is creation order and the cursor is simply the last id seen.
pub(crate) async fn page_by_id<E>(
    db: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
    id: E::Column,
    cursor: Option<uuid::Uuid>,
    limit: u64,
) -> DbResult<(Vec<E::Model>, bool)>
where
    E: sea_orm::EntityTrait,
{
    page_by_id_in(db, select, id, cursor, limit, IdOrder::OldestFirst).await
}

/// [`page_by_id`] for tables read with hand-written SQL rather than an entity (their rows need
/// a conversion, such as text states parsed into enums): one page of the scope's rows, read by
/// `sql` as `R` and converted to `T`, in id order after `cursor`. `sql` is
/// `SELECT <columns> FROM <table> WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
/// ORDER BY id LIMIT $3`.
pub(crate) async fn tenant_page_by_id<R, T>(
    scope: TenantScope<'_, impl ConnectionTrait>,
    sql: &str,
    cursor: Option<uuid::Uuid>,
    limit: u64,
) -> DbResult<(Vec<T>, bool)>
where
    R: sea_orm::FromQueryResult,
    T: TryFrom<R>,
    DbError: From<T::Error>,
{
    let rows = R::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        sql,
        [
            scope.tenant_uuid().into(),
            sea_orm::Value::Uuid(cursor),
            i64::try_from(limit.saturating_add(1))
                .unwrap_or(i64::MAX)
                .into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    let more = rows.len() as u64 > limit;
    let page = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|row| T::try_from(row).map_err(DbError::from))
        .collect::<DbResult<Vec<_>>>()?;
    Ok((page, more))
}

/// Which way a list pages through ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdOrder {
    /// Ascending: the cursor is the last id seen, the next page holds greater ones.
    OldestFirst,
    /// Descending (lists people read from the top, such as campaigns): the next page holds
    /// ids smaller than the cursor.
    NewestFirst,
}

/// [`page_by_id`] in either order.
pub(crate) async fn page_by_id_in<E>(
    db: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
    id: E::Column,
    cursor: Option<uuid::Uuid>,
    limit: u64,
    order: IdOrder,
) -> DbResult<(Vec<E::Model>, bool)>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let select = match (cursor, order) {
        (Some(after), IdOrder::OldestFirst) => select.filter(id.gt(after)),
        (Some(before), IdOrder::NewestFirst) => select.filter(id.lt(before)),
        (None, _) => select,
    };
    let select = match order {
        IdOrder::OldestFirst => select.order_by_asc(id),
        IdOrder::NewestFirst => select.order_by_desc(id),
    };
    let mut rows = select.limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

#[cfg(test)]
mod tests {
    use common::Plan;

    use super::*;

    #[test]
    fn a_stored_value_that_does_not_parse_is_corrupt_and_named() {
        let err = parse_stored::<Plan>("tenants", "plan", "gold").unwrap_err();
        assert!(matches!(
            &err,
            DbError::Corrupt { table: "tenants", column: "plan", value } if value == "gold"
        ));
        assert_eq!(
            err.to_string(),
            "tenants.plan holds `gold`, which does not parse"
        );
        let err = parse_stored_json::<Vec<i64>>("reports", "parameters", serde_json::json!({}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reports.parameters holds `{}`, which does not parse"
        );
        assert_eq!(
            parse_stored::<Plan>("tenants", "plan", "pro").unwrap(),
            Plan::Pro
        );
    }
}
