//! In-app notifications and Web Push subscriptions, per user of a tenant.
//!
//! A notification is written once per event and recipient (`UNIQUE (event_id, user_id)`), so
//! the worker's retries never notify twice. A user reads only its own: every query below takes
//! the tenant's scope and the user. Push subscriptions belong to one user too; which of them an
//! event's push already reached is kept in `push_deliveries`, so a retry sends to the others.

use chrono::{DateTime, Utc};
use common::sql;
use common::{EventId, EventKind, NotificationId, PushSubscriptionId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbError, DbResult, TenantScope, parse_stored};

/// The Redis pub/sub channel a tenant's new notifications are published on, under the
/// deployment's key prefix (`CACHE_KEY_PREFIX`), so systems sharing one Redis stay apart.
pub fn live_channel(key_prefix: &str, tenant_id: common::TenantId) -> String {
    format!("{key_prefix}notifications:{tenant_id}")
}

/// The tenant a [`live_channel`] belongs to.
pub fn live_channel_tenant(key_prefix: &str, channel: &str) -> Option<common::TenantId> {
    channel
        .strip_prefix(key_prefix)?
        .strip_prefix("notifications:")?
        .parse()
        .ok()
}

/// The pattern matching every tenant's [`live_channel`].
pub fn live_channel_pattern(key_prefix: &str) -> String {
    // A prefix holding glob characters would widen the pattern; escape them.
    let escaped: String = key_prefix
        .chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("{escaped}notifications:*")
}

/// A notification as stored. Its serde is the message of the live channel ([`live_channel`]):
/// `worker-notification` publishes it, every gateway reads it; the API shows a notification
/// through the gateway's own type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    pub event_id: EventId,
    pub kind: EventKind,
    pub title: String,
    pub body: String,
    /// What the app links to: the subject's ids and, where there is one, its `url` path.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: UserId,
    pub event_id: EventId,
    pub kind: EventKind,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

#[derive(FromQueryResult)]
struct Row {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    event_id: uuid::Uuid,
    kind: String,
    title: String,
    body: String,
    data: serde_json::Value,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, event_id, kind, title, body, data, created_at, read_at";

impl TryFrom<Row> for Notification {
    type Error = DbError;

    fn try_from(r: Row) -> DbResult<Self> {
        Ok(Self {
            id: NotificationId::from(r.id),
            user_id: UserId::from(r.user_id),
            event_id: EventId::from(r.event_id),
            kind: parse_stored("notifications", "kind", &r.kind)?,
            title: r.title,
            body: r.body,
            data: r.data,
            created_at: r.created_at,
            read_at: r.read_at,
        })
    }
}

fn rows(rows: Vec<Row>) -> DbResult<Vec<Notification>> {
    rows.into_iter().map(Notification::try_from).collect()
}

/// Writes `new` unless the user already has the event's notification. `Some` only when it was
/// written now: the caller tells the user of it (live stream) only then.
pub async fn insert(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewNotification,
) -> DbResult<Option<Notification>> {
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO notifications (id, tenant_id, user_id, event_id, kind, title, body, data)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE EXISTS (SELECT 1 FROM users WHERE id = $3 AND tenant_id = $2)
             ON CONFLICT (event_id, user_id) DO NOTHING
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            NotificationId::new().into_uuid().into(),
            scope.tenant_uuid().into(),
            new.user_id.into_uuid().into(),
            new.event_id.into_uuid().into(),
            new.kind.as_str().into(),
            new.title.into(),
            new.body.into(),
            new.data.into(),
        ],
    ))
    .one(scope.conn())
    .await?;
    row.map(Notification::try_from).transpose()
}

/// The notifications of `event_id` already written (to whichever of its recipients).
pub async fn of_event(
    scope: TenantScope<'_, impl ConnectionTrait>,
    event_id: EventId,
) -> DbResult<Vec<Notification>> {
    rows(
        Row::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE event_id = $1 AND tenant_id = $2 ORDER BY id",
                COLUMNS
            ),
            [event_id.into_uuid().into(), scope.tenant_uuid().into()],
        ))
        .all(scope.conn())
        .await?,
    )
}

/// A page of the user's notifications, newest first: those older than `before` (the previous
/// page's last), only unread ones if asked. `true` when another page follows.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    before: Option<NotificationId>,
    unread_only: bool,
    limit: u64,
) -> DbResult<(Vec<Notification>, bool)> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut found = rows(
        Row::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE tenant_id = $1 AND user_id = $2
                   AND ($3::uuid IS NULL OR id < $3)
                   AND (NOT $4 OR read_at IS NULL)
                 ORDER BY id DESC LIMIT $5",
                COLUMNS
            ),
            [
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
                before.map(NotificationId::into_uuid).into(),
                unread_only.into(),
                limit.saturating_add(1).into(),
            ],
        ))
        .all(scope.conn())
        .await?,
    )?;
    let more = found.len() as i64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((found, more))
}

/// The user's notifications newer than `after`, oldest first, at most `limit`: what a live
/// stream that reconnects with `Last-Event-ID` missed.
pub async fn since(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    after: NotificationId,
    limit: u64,
) -> DbResult<Vec<Notification>> {
    rows(
        Row::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE tenant_id = $1 AND user_id = $2 AND id > $3
                 ORDER BY id LIMIT $4",
                COLUMNS
            ),
            [
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
                after.into_uuid().into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .all(scope.conn())
        .await?,
    )
}

#[derive(FromQueryResult)]
struct Count {
    count: i64,
}

/// How many of the user's notifications are unread.
pub async fn unread_count(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<i64> {
    Ok(Count::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT count(*) AS count FROM notifications
         WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL"
        ),
        [scope.tenant_uuid().into(), user_id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .map_or(0, |c| c.count))
}

/// Marks one of the user's notifications read (once: a second call keeps the first time).
/// Another user's or tenant's notification is `NotFound`.
pub async fn mark_read(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    id: NotificationId,
) -> DbResult<Notification> {
    Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE notifications SET read_at = coalesce(read_at, now())
             WHERE id = $1 AND tenant_id = $2 AND user_id = $3
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            id.into_uuid().into(),
            scope.tenant_uuid().into(),
            user_id.into_uuid().into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("notification"))?
    .try_into()
}

/// Marks every unread notification of the user read; returns how many.
pub async fn mark_all_read(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<u64> {
    let done = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE notifications SET read_at = now()
             WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL"
            ),
            [scope.tenant_uuid().into(), user_id.into_uuid().into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

#[derive(FromQueryResult)]
struct UserRow {
    id: uuid::Uuid,
}

/// Whom an event concerns: its user while that user is still one of the tenant's, else the
/// tenant's admins; for quota and webhook events (the tenant's business) the admins too.
/// Distinct, in id order.
pub async fn recipients(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: Option<UserId>,
    admins_too: bool,
) -> DbResult<Vec<UserId>> {
    let found = UserRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "WITH subject AS (
             SELECT id FROM users WHERE id = $2 AND tenant_id = $1
         )
         SELECT id FROM subject
         UNION
         SELECT id FROM users
          WHERE tenant_id = $1 AND role = $4
            AND ($3 OR NOT EXISTS (SELECT 1 FROM subject))
         ORDER BY id"
        ),
        [
            scope.tenant_uuid().into(),
            user_id.map(UserId::into_uuid).into(),
            admins_too.into(),
            common::Role::TenantAdmin.as_str().into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    Ok(found.into_iter().map(|r| UserId::from(r.id)).collect())
}

/// A browser's push subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSubscription {
    pub id: PushSubscriptionId,
    pub user_id: UserId,
    pub endpoint: String,
    /// base64url of the browser's uncompressed P-256 public key.
    pub p256dh: String,
    /// base64url of the 16-byte auth secret.
    pub auth: String,
    pub created_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
}

#[derive(FromQueryResult)]
struct SubscriptionRow {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    endpoint: String,
    p256dh: String,
    auth: String,
    created_at: DateTime<Utc>,
    last_success_at: Option<DateTime<Utc>>,
}

impl From<SubscriptionRow> for PushSubscription {
    fn from(r: SubscriptionRow) -> Self {
        Self {
            id: PushSubscriptionId::from(r.id),
            user_id: UserId::from(r.user_id),
            endpoint: r.endpoint,
            p256dh: r.p256dh,
            auth: r.auth,
            created_at: r.created_at,
            last_success_at: r.last_success_at,
        }
    }
}

const SUBSCRIPTION_COLUMNS: &str =
    "id, user_id, endpoint, p256dh, auth, created_at, last_success_at";

/// A subscription to register (keys already checked).
#[derive(Debug, Clone)]
pub struct NewPushSubscription {
    pub user_id: UserId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Why a subscription could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The endpoint is registered by another user (or tenant): a browser has one endpoint per
    /// subscription, so this is not the caller's browser.
    #[error("this endpoint is registered by someone else")]
    TakenByOther,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Registers a subscription, or updates the keys of the caller's own with the same endpoint
/// (a browser re-subscribing). `true` when it was created.
pub async fn subscribe(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewPushSubscription,
) -> Result<(PushSubscription, bool), SubscribeError> {
    #[derive(FromQueryResult)]
    struct Upserted {
        id: uuid::Uuid,
        user_id: uuid::Uuid,
        endpoint: String,
        p256dh: String,
        auth: String,
        created_at: DateTime<Utc>,
        last_success_at: Option<DateTime<Utc>>,
        inserted: bool,
    }
    let row = Upserted::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO push_subscriptions (id, tenant_id, user_id, endpoint, p256dh, auth)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth
             WHERE push_subscriptions.tenant_id = excluded.tenant_id
               AND push_subscriptions.user_id = excluded.user_id
             RETURNING {SUBSCRIPTION_COLUMNS}, (xmax = 0) AS inserted",
            SUBSCRIPTION_COLUMNS
        ),
        [
            PushSubscriptionId::new().into_uuid().into(),
            scope.tenant_uuid().into(),
            new.user_id.into_uuid().into(),
            new.endpoint.into(),
            new.p256dh.into(),
            new.auth.into(),
        ],
    ))
    .one(scope.conn())
    .await
    .map_err(DbError::from)?
    .ok_or(SubscribeError::TakenByOther)?;
    let inserted = row.inserted;
    Ok((
        PushSubscription::from(SubscriptionRow {
            id: row.id,
            user_id: row.user_id,
            endpoint: row.endpoint,
            p256dh: row.p256dh,
            auth: row.auth,
            created_at: row.created_at,
            last_success_at: row.last_success_at,
        }),
        inserted,
    ))
}

/// A page of the user's subscriptions in id order, after `after`.
pub async fn subscriptions_page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    after: Option<PushSubscriptionId>,
    limit: u64,
) -> DbResult<(Vec<PushSubscription>, bool)> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut found: Vec<PushSubscription> =
        SubscriptionRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions
                 WHERE tenant_id = $1 AND user_id = $2 AND ($3::uuid IS NULL OR id > $3)
                 ORDER BY id LIMIT $4",
                SUBSCRIPTION_COLUMNS
            ),
            [
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
                after.map(PushSubscriptionId::into_uuid).into(),
                limit.saturating_add(1).into(),
            ],
        ))
        .all(scope.conn())
        .await?
        .into_iter()
        .map(PushSubscription::from)
        .collect();
    let more = found.len() as i64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((found, more))
}

/// Every subscription of the user (the worker's recipients).
pub async fn subscriptions_of(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<Vec<PushSubscription>> {
    Ok(
        SubscriptionRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions
                 WHERE tenant_id = $1 AND user_id = $2 ORDER BY id",
                SUBSCRIPTION_COLUMNS
            ),
            [scope.tenant_uuid().into(), user_id.into_uuid().into()],
        ))
        .all(scope.conn())
        .await?
        .into_iter()
        .map(PushSubscription::from)
        .collect(),
    )
}

/// Removes one of the user's subscriptions; another user's or tenant's is `NotFound`.
pub async fn unsubscribe(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    id: PushSubscriptionId,
) -> DbResult<()> {
    let done = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "DELETE FROM push_subscriptions WHERE id = $1 AND tenant_id = $2 AND user_id = $3"
            ),
            [
                id.into_uuid().into(),
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
            ],
        ))
        .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound("push subscription"));
    }
    Ok(())
}

/// Removes a subscription the push service called gone (404/410).
pub async fn remove_gone(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: PushSubscriptionId,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("DELETE FROM push_subscriptions WHERE id = $1 AND tenant_id = $2"),
            [id.into_uuid().into(), scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(())
}

/// The subscriptions `event_id`'s push already reached.
pub async fn delivered(
    scope: TenantScope<'_, impl ConnectionTrait>,
    event_id: EventId,
) -> DbResult<Vec<PushSubscriptionId>> {
    #[derive(FromQueryResult)]
    struct Delivered {
        subscription_id: uuid::Uuid,
    }
    Ok(Delivered::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT d.subscription_id FROM push_deliveries d
               JOIN push_subscriptions s ON s.id = d.subscription_id
              WHERE d.event_id = $1 AND s.tenant_id = $2"
        ),
        [event_id.into_uuid().into(), scope.tenant_uuid().into()],
    ))
    .all(scope.conn())
    .await?
    .into_iter()
    .map(|d| PushSubscriptionId::from(d.subscription_id))
    .collect())
}

/// Records that `event_id`'s push reached `subscription_id` (the push service took it).
pub async fn record_delivery(
    scope: TenantScope<'_, impl ConnectionTrait>,
    event_id: EventId,
    subscription_id: PushSubscriptionId,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "WITH touched AS (
                 UPDATE push_subscriptions SET last_success_at = now()
                  WHERE id = $2 AND tenant_id = $3 RETURNING id
             )
             INSERT INTO push_deliveries (event_id, subscription_id)
             SELECT $1, id FROM touched
             ON CONFLICT DO NOTHING"
            ),
            [
                event_id.into_uuid().into(),
                subscription_id.into_uuid().into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_channels_name_their_tenant_under_the_prefix() {
        let tenant = common::TenantId::new();
        let channel = live_channel("t1:", tenant);
        assert_eq!(live_channel_tenant("t1:", &channel), Some(tenant));
        assert_eq!(live_channel_tenant("t2:", &channel), None);
        assert_eq!(live_channel_pattern("t1:"), "t1:notifications:*");
        assert_eq!(live_channel_pattern("a*b:"), "a\\*b:notifications:*");
    }
}
