//! Webhooks: a tenant's endpoints, one delivery per event and subscribed endpoint, and the
//! attempts of each delivery.
//!
//! - **Fan-out** (`app::events::emit`, over [`subscribed_endpoints`] and [`insert_delivery`]):
//!   in the transaction that records an event, each enabled endpoint of the tenant subscribed to
//!   its kind gets a delivery row and a job on the `webhook` queue, so an event is never
//!   announced without its deliveries, nor a delivery made for an event that did not commit.
//! - **Secrets**: `whsec_<base64 of 32 random bytes>`, encrypted at rest with `SECRETS_KEY`
//!   (the caller seals them with `secrets::SecretCipher`), held in [`WebhookSecret`] which never
//!   prints. After a rotation the previous secret keeps signing until `previous_expires_at`.
//! - **Failing clock**: an endpoint's `failing_since` is set by its first failed attempt and
//!   cleared by a success; the worker disables an endpoint failing for longer than its setting
//!   ([`disable_failing`]; `app::webhooks::disable_for_failing` also emits
//!   `webhook.endpoint_disabled`).
//! - **Replay** starts a new attempt sequence (a new job) of the same delivery, so its
//!   `webhook-id` stays the one the receiver may already have seen.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use common::sql;
use common::webhooks::DeliveryStatus;
use common::{EventId, EventKind, JobId, TenantId, UserId, WebhookDeliveryId, WebhookEndpointId};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use secrecy::{ExposeSecret, SecretString};

use crate::events::{self, Event};
use crate::{DbError, DbResult, TenantScope, parse_stored};

/// Random bytes in a new signing secret (Standard Webhooks asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// What prefixes every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret, `whsec_<base64>`. Its `Debug` prints `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct WebhookSecret(SecretString);

impl WebhookSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(SecretString::from(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(bytes)
        )))
    }

    /// A secret as stored (decrypted): it must be `whsec_` and base64 of 24 bytes or more.
    pub fn from_stored(secret: SecretString) -> DbResult<Self> {
        let secret = Self(secret);
        match secret.key() {
            Some(key) if key.len() >= 24 => Ok(secret),
            _ => Err(DbError::Db(sea_orm::DbErr::Custom(
                "a stored webhook secret is not whsec_<base64>".into(),
            ))),
        }
    }

    /// The text shown once to the tenant.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The HMAC key: the base64 after the prefix, decoded.
    pub fn key(&self) -> Option<Vec<u8>> {
        let encoded = self.0.expose_secret().strip_prefix(SECRET_PREFIX)?;
        STANDARD.decode(encoded).ok()
    }
}

/// An endpoint as the API shows it (its secrets are read apart, by [`signing_secrets`]).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub tenant_id: TenantId,
    pub created_by: Option<UserId>,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<EventKind>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// While the previous secret still signs, when it stops.
    pub previous_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct EndpointRow {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    created_by: Option<uuid::Uuid>,
    url: String,
    description: Option<String>,
    event_types: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, tenant_id, created_by, url, description, event_types, \
    enabled, disabled_reason, previous_expires_at, failing_since, created_at, updated_at";

impl TryFrom<EndpointRow> for Endpoint {
    type Error = DbError;

    fn try_from(r: EndpointRow) -> DbResult<Self> {
        Ok(Self {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            created_by: r.created_by.map(UserId::from),
            url: r.url,
            description: r.description,
            event_types: r
                .event_types
                .iter()
                .map(|t| parse_stored("webhook_endpoints", "event_types", t))
                .collect::<DbResult<_>>()?,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            previous_expires_at: r.previous_expires_at,
            failing_since: r.failing_since,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn kinds(types: &[EventKind]) -> Vec<String> {
    types.iter().map(|k| k.as_str().to_owned()).collect()
}

/// An endpoint to create; its URL already checked by the caller.
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    /// One or more, no duplicates.
    pub event_types: Vec<EventKind>,
    pub enabled: bool,
    pub created_by: UserId,
    /// The signing secret, sealed with `SecretCipher::encrypt`.
    pub sealed_secret: Vec<u8>,
}

pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewEndpoint,
) -> DbResult<Endpoint> {
    EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO webhook_endpoints (id, tenant_id, created_by, url, description,
                 event_types, enabled, secret)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING {ENDPOINT_COLUMNS}",
            ENDPOINT_COLUMNS
        ),
        [
            WebhookEndpointId::new().into_uuid().into(),
            scope.tenant_uuid().into(),
            new.created_by.into_uuid().into(),
            new.url.into(),
            new.description.into(),
            kinds(&new.event_types).into(),
            new.enabled.into(),
            new.sealed_secret.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook endpoint"))?
    .try_into()
}

pub async fn find(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
) -> DbResult<Endpoint> {
    EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
            ENDPOINT_COLUMNS
        ),
        [scope.tenant_uuid().into(), id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook endpoint"))?
    .try_into()
}

fn limit_plus_one(limit: u64) -> Value {
    i64::try_from(limit.saturating_add(1))
        .unwrap_or(i64::MAX)
        .into()
}

fn take<T>(mut rows: Vec<T>, limit: u64) -> (Vec<T>, bool) {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    (rows, more)
}

/// One page of the tenant's endpoints in creation order after `cursor`.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cursor: Option<WebhookEndpointId>,
    limit: u64,
) -> DbResult<(Vec<Endpoint>, bool)> {
    let rows = EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3",
            ENDPOINT_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            Value::Uuid(cursor.map(WebhookEndpointId::into_uuid)),
            limit_plus_one(limit),
        ],
    ))
    .all(scope.conn())
    .await?;
    let (rows, more) = take(rows, limit);
    let endpoints = rows
        .into_iter()
        .map(Endpoint::try_from)
        .collect::<DbResult<_>>()?;
    Ok((endpoints, more))
}

/// What a `PATCH` changes; `None` keeps the field.
#[derive(Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<EventKind>>,
    /// Enabling clears the disabled reason and the failing clock.
    pub enabled: Option<bool>,
}

pub async fn update(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
    changes: EndpointChanges,
) -> DbResult<Endpoint> {
    let (description_set, description) = match changes.description {
        Some(d) => (true, d),
        None => (false, None),
    };
    EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE webhook_endpoints
                SET url = coalesce($3, url),
                    description = CASE WHEN $4 THEN $5 ELSE description END,
                    event_types = coalesce($6, event_types),
                    enabled = coalesce($7, enabled),
                    disabled_reason = CASE WHEN $7 THEN NULL
                                           WHEN $7 = false AND enabled THEN 'disabled by a user'
                                           ELSE disabled_reason END,
                    failing_since = CASE WHEN $7 THEN NULL ELSE failing_since END,
                    updated_at = now()
              WHERE tenant_id = $1 AND id = $2
              RETURNING {ENDPOINT_COLUMNS}",
            ENDPOINT_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            changes.url.into(),
            description_set.into(),
            description.into(),
            Value::Array(
                sea_orm::sea_query::ArrayType::String,
                changes
                    .event_types
                    .map(|t| Box::new(kinds(&t).into_iter().map(Value::from).collect())),
            ),
            changes.enabled.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook endpoint"))?
    .try_into()
}

/// Deletes an endpoint with its deliveries and their attempts; jobs still queued for them find
/// nothing and end.
pub async fn delete(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
) -> DbResult<()> {
    let deleted = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"),
            [scope.tenant_uuid().into(), id.into_uuid().into()],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(DbError::NotFound("webhook endpoint"));
    }
    Ok(())
}

/// Replaces the signing secret with `sealed_new`; the old one keeps signing until
/// `previous_until` (`None`: it stops at once).
pub async fn rotate_secret(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
    sealed_new: Vec<u8>,
    previous_until: Option<DateTime<Utc>>,
) -> DbResult<Endpoint> {
    EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE webhook_endpoints
                SET previous_secret = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret END,
                    previous_expires_at = $4,
                    secret = $3,
                    updated_at = now()
              WHERE tenant_id = $1 AND id = $2
              RETURNING {ENDPOINT_COLUMNS}",
            ENDPOINT_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            sealed_new.into(),
            previous_until.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook endpoint"))?
    .try_into()
}

/// The sealed secrets that sign now: the current one, and the previous one while its overlap
/// lasts.
#[derive(FromQueryResult)]
pub struct SealedSecrets {
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
}

pub async fn signing_secrets(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
) -> DbResult<SealedSecrets> {
    SealedSecrets::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT secret,
                CASE WHEN previous_expires_at > now() THEN previous_secret END AS previous_secret
           FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
        ),
        [scope.tenant_uuid().into(), id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook endpoint"))
}

/// A delivery as stored.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub event_type: EventKind,
    pub status: DeliveryStatus,
    pub job_id: JobId,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct DeliveryRow {
    id: uuid::Uuid,
    endpoint_id: uuid::Uuid,
    event_id: uuid::Uuid,
    event_type: String,
    status: String,
    job_id: uuid::Uuid,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, job_id, attempts, \
    last_status, last_error, next_attempt_at, delivered_at, created_at, updated_at";

impl TryFrom<DeliveryRow> for Delivery {
    type Error = DbError;

    fn try_from(r: DeliveryRow) -> DbResult<Self> {
        Ok(Self {
            id: r.id.into(),
            endpoint_id: r.endpoint_id.into(),
            event_id: r.event_id.into(),
            event_type: parse_stored("webhook_deliveries", "event_type", &r.event_type)?,
            status: parse_stored("webhook_deliveries", "status", &r.status)?,
            job_id: r.job_id.into(),
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            delivered_at: r.delivered_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The tenant's enabled endpoints subscribed to `kind`, in id order.
pub async fn subscribed_endpoints(
    scope: TenantScope<'_, impl ConnectionTrait>,
    kind: EventKind,
) -> DbResult<Vec<WebhookEndpointId>> {
    let rows = scope
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT id FROM webhook_endpoints
              WHERE tenant_id = $1 AND enabled AND event_types @> ARRAY[$2]::text[]
              ORDER BY id"
            ),
            [scope.tenant_uuid().into(), kind.as_str().into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(WebhookEndpointId::from(
                row.try_get::<uuid::Uuid>("", "id")?,
            ))
        })
        .collect()
}

/// A pending delivery of `event` to one endpoint, run by `job_id` (enqueued first in the same
/// transaction: `app::events::emit` does both).
pub async fn insert_delivery(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
    endpoint_id: WebhookEndpointId,
    event: &Event,
    job_id: JobId,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id,
                 event_type, job_id, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, now())"
            ),
            [
                id.into_uuid().into(),
                scope.tenant_uuid().into(),
                endpoint_id.into_uuid().into(),
                event.id.into_uuid().into(),
                event.kind.as_str().into(),
                job_id.into_uuid().into(),
            ],
        ))
        .await?;
    Ok(())
}

pub async fn find_delivery(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
) -> DbResult<Delivery> {
    select_delivery(
        scope,
        id,
        &sql!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
              WHERE tenant_id = $1 AND id = $2",
            DELIVERY_COLUMNS
        ),
    )
    .await
}

async fn select_delivery(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
    sql: &str,
) -> DbResult<Delivery> {
    DeliveryRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [scope.tenant_uuid().into(), id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("webhook delivery"))?
    .try_into()
}

/// One page of an endpoint's deliveries, oldest first; `status` keeps one state.
pub async fn deliveries_page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    endpoint_id: WebhookEndpointId,
    status: Option<DeliveryStatus>,
    cursor: Option<WebhookDeliveryId>,
    limit: u64,
) -> DbResult<(Vec<Delivery>, bool)> {
    let rows = DeliveryRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
              WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3::text IS NULL OR status = $3)
                AND ($4::uuid IS NULL OR id > $4)
              ORDER BY id LIMIT $5",
            DELIVERY_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            endpoint_id.into_uuid().into(),
            status.map(|s| s.as_str().to_owned()).into(),
            Value::Uuid(cursor.map(WebhookDeliveryId::into_uuid)),
            limit_plus_one(limit),
        ],
    ))
    .all(scope.conn())
    .await?;
    let (rows, more) = take(rows, limit);
    let deliveries = rows
        .into_iter()
        .map(Delivery::try_from)
        .collect::<DbResult<_>>()?;
    Ok((deliveries, more))
}

/// One attempt of a delivery, as logged.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Attempt {
    /// From 1, across the delivery's replays.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The answer's status; `None` when none came (timeout, connection error, refused address).
    pub status_code: Option<i32>,
    /// The start of the answer's body, at most `WEBHOOK_RESPONSE_EXCERPT_BYTES`.
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

/// A delivery's attempts in order (at most [`MAX_ATTEMPTS_SHOWN`], the latest).
pub async fn attempts_of(
    scope: TenantScope<'_, impl ConnectionTrait>,
    delivery_id: WebhookDeliveryId,
) -> DbResult<Vec<Attempt>> {
    let mut attempts = Attempt::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT attempt, started_at, duration_ms, status_code, response_excerpt, error
           FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2
          ORDER BY attempt DESC LIMIT $3"
        ),
        [
            scope.tenant_uuid().into(),
            delivery_id.into_uuid().into(),
            MAX_ATTEMPTS_SHOWN.into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    attempts.reverse();
    Ok(attempts)
}

/// Most attempts one delivery view lists.
pub const MAX_ATTEMPTS_SHOWN: i64 = 100;

/// What one attempt did, and what it leaves the delivery as.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// `Delivered` on 2xx; `Pending` when another attempt follows at `next_attempt_at`;
    /// `Failed` when none does.
    pub outcome: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Logs an attempt and moves the delivery and its endpoint's failing clock. Returns the
/// endpoint's `failing_since` afterwards (`None` after a success).
pub async fn record_attempt(
    scope: TenantScope<'_, impl ConnectionTrait>,
    delivery: &Delivery,
    record: AttemptRecord,
) -> DbResult<Option<DateTime<Utc>>> {
    let conn = scope.conn();
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms,
             status_code, response_excerpt, error)
         SELECT id, tenant_id, attempts + 1, $3, $4, $5, $6, $7
           FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2"),
        [
            scope.tenant_uuid().into(),
            delivery.id.into_uuid().into(),
            record.started_at.into(),
            record.duration_ms.into(),
            record.status_code.into(),
            record.response_excerpt.clone().into(),
            record.error.clone().into(),
        ],
    ))
    .await?;
    let delivered = record.outcome == DeliveryStatus::Delivered;
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE webhook_deliveries
            SET attempts = attempts + 1, status = $3, last_status = $4, last_error = $5,
                next_attempt_at = $6,
                delivered_at = CASE WHEN $7 THEN now() ELSE delivered_at END,
                updated_at = now()
          WHERE tenant_id = $1 AND id = $2"
        ),
        [
            scope.tenant_uuid().into(),
            delivery.id.into_uuid().into(),
            record.outcome.as_str().into(),
            record.status_code.into(),
            record.error.into(),
            record.next_attempt_at.into(),
            delivered.into(),
        ],
    ))
    .await?;
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE webhook_endpoints
                SET failing_since = CASE WHEN $3 THEN NULL
                                         ELSE coalesce(failing_since, $4) END
              WHERE tenant_id = $1 AND id = $2
              RETURNING failing_since"
            ),
            [
                scope.tenant_uuid().into(),
                delivery.endpoint_id.into_uuid().into(),
                delivered.into(),
                record.started_at.into(),
            ],
        ))
        .await?
        .ok_or(DbError::NotFound("webhook endpoint"))?;
    Ok(row.try_get("", "failing_since")?)
}

/// Marks a delivery failed without an attempt (its endpoint is disabled).
pub async fn fail_unattempted(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
    reason: &str,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE webhook_deliveries
                SET status = $4, last_error = $3, next_attempt_at = NULL, updated_at = now()
              WHERE tenant_id = $1 AND id = $2 AND status = $5"
            ),
            [
                scope.tenant_uuid().into(),
                id.into_uuid().into(),
                reason.into(),
                DeliveryStatus::Failed.as_str().into(),
                DeliveryStatus::Pending.as_str().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Disables an enabled endpoint with `reason`; `None` if it was already disabled (so the
/// caller, `app::webhooks::disable_for_failing`, announces it once).
pub async fn disable_failing(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
    reason: &str,
) -> DbResult<Option<Endpoint>> {
    let Some(row) = EndpointRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE webhook_endpoints
                SET enabled = false, disabled_reason = $3, updated_at = now()
              WHERE tenant_id = $1 AND id = $2 AND enabled
              RETURNING {ENDPOINT_COLUMNS}",
            ENDPOINT_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            reason.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    else {
        return Ok(None);
    };
    Endpoint::try_from(row).map(Some)
}

/// Locks a delivery to replay; 409 while it is pending, or when its endpoint is disabled.
/// `app::webhooks::replay` then gives it a new job ([`restart_delivery`]).
pub async fn lock_for_replay(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
) -> DbResult<Delivery> {
    let delivery = select_delivery(
        scope,
        id,
        &sql!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
              WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            DELIVERY_COLUMNS
        ),
    )
    .await?;
    if delivery.status == DeliveryStatus::Pending {
        return Err(DbError::Conflict(
            "the delivery is pending: an attempt is due or under way".into(),
        ));
    }
    let endpoint = find(scope, delivery.endpoint_id).await?;
    if !endpoint.enabled {
        return Err(DbError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        ));
    }
    Ok(delivery)
}

/// The delivery back to `pending`, run by the new job `job_id` (a new attempt sequence; its
/// `webhook-id` stays the one the receiver may have seen).
pub async fn restart_delivery(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
    job_id: JobId,
) -> DbResult<Delivery> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE webhook_deliveries
                SET status = $4, job_id = $3, next_attempt_at = now(), updated_at = now()
              WHERE tenant_id = $1 AND id = $2"
            ),
            [
                scope.tenant_uuid().into(),
                id.into_uuid().into(),
                job_id.into_uuid().into(),
                DeliveryStatus::Pending.as_str().into(),
            ],
        ))
        .await?;
    find_delivery(scope, id).await
}

/// Most deliveries one bulk replay restarts; the answer says when more are left.
pub const MAX_BULK_REPLAY: u64 = 1000;

/// The endpoint's failed deliveries created since `since`, oldest first and locked, at most
/// [`MAX_BULK_REPLAY`] (and whether more are left); 409 when the endpoint is disabled.
/// `app::webhooks::replay_failed_since` restarts them.
pub async fn lock_failed_since(
    scope: TenantScope<'_, impl ConnectionTrait>,
    endpoint_id: WebhookEndpointId,
    since: DateTime<Utc>,
) -> DbResult<(Vec<Delivery>, bool)> {
    let endpoint = find(scope, endpoint_id).await?;
    if !endpoint.enabled {
        return Err(DbError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        ));
    }
    let rows = DeliveryRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            // `'failed'` written out (not bound) to match the predicate of the partial index
            // `webhook_deliveries_failed_idx` (migration 12) this replay reads.
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
              WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'failed'
                AND created_at >= $3
              ORDER BY created_at, id LIMIT $4
              FOR UPDATE",
            DELIVERY_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            endpoint_id.into_uuid().into(),
            since.into(),
            limit_plus_one(MAX_BULK_REPLAY),
        ],
    ))
    .all(scope.conn())
    .await?;
    let (rows, more) = take(rows, MAX_BULK_REPLAY);
    let deliveries = rows
        .into_iter()
        .map(Delivery::try_from)
        .collect::<DbResult<Vec<_>>>()?;
    Ok((deliveries, more))
}

/// What the worker needs for one attempt: the delivery, its endpoint and its event.
pub struct DeliveryWork {
    pub delivery: Delivery,
    pub endpoint: Endpoint,
    pub event: Event,
}

/// The delivery with its endpoint and event; `NotFound` when the endpoint (and so the delivery)
/// was deleted.
pub async fn work(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
) -> DbResult<DeliveryWork> {
    let delivery = find_delivery(scope, id).await?;
    let endpoint = find(scope, delivery.endpoint_id).await?;
    let event = events::find(scope, delivery.event_id).await?;
    Ok(DeliveryWork {
        delivery,
        endpoint,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_and_never_print() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with(SECRET_PREFIX));
        assert_eq!(secret.key().unwrap().len(), SECRET_BYTES);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert_ne!(secret.expose(), WebhookSecret::generate().expose());
        let again = WebhookSecret::from_stored(SecretString::from(secret.expose().to_owned()));
        assert_eq!(again.unwrap().key(), secret.key());
        assert!(WebhookSecret::from_stored(SecretString::from("whsec_c2hvcnQ=")).is_err());
    }
}
