//! Events WUZAPI servers post about an inbox, recorded once and applied in batches.
//!
//! The gateway [`record`]s each post (idempotent on the inbox and the event's key) and, when
//! no drain is queued for the inbox yet, [`enqueue_drain`]s one in the same transaction.
//! worker-inbound [`begin_drain`]s, then [`claim_pending`]s batches and applies them:
//! [`apply_receipts`] moves recipients to delivered and read, [`apply_messages`] keeps who
//! wrote to the number and marks the campaign recipients who replied.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use common::sql;
use common::{CampaignId, InboxId, RecipientId, RecipientStatus};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbError, DbResult, PlatformScope, TenantScope, parse_stored};

common::text_enum! {
    /// What an inbound event is about.
    pub enum InboundKind as "inbound event kind" {
        /// A delivery or read receipt (`ReadReceipt`).
        Receipt = "receipt",
        /// A message someone sent to the number (`Message`).
        Message = "message",
        /// The number's session changed (`Connected`, `Disconnected`, `LoggedOut`, ...).
        Connection = "connection",
        /// Anything else worth keeping.
        Other = "other",
    }
}

common::text_enum! {
    /// What applying an event did.
    pub enum InboundOutcome as "inbound outcome" {
        /// It changed something (a recipient, a conversation).
        Applied = "applied",
        /// Nothing to change: unknown message ids, our own messages, groups, ...
        Ignored = "ignored",
    }
}

/// One event as it is recorded.
pub struct NewInboundEvent<'a> {
    pub kind: InboundKind,
    /// What makes a repeat of the same post the same event.
    pub dedupe_key: &'a str,
    pub payload: &'a serde_json::Value,
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct Recorded {
    /// False when the same event was recorded before (a repeated post).
    pub recorded: bool,
    /// True when this call claimed the inbox's "drain queued" flag: the caller must enqueue a
    /// drain ([`enqueue_drain`]) in the same transaction.
    pub drain_needed: bool,
}

/// Records one event of the scope's inbox, once. Run it in a transaction with
/// [`enqueue_drain`] when the answer says so.
pub async fn record(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    event: NewInboundEvent<'_>,
) -> DbResult<Recorded> {
    let row = Recorded::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "WITH event AS (
             INSERT INTO inbound_events (tenant_id, inbox_id, kind, dedupe_key, payload)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (inbox_id, dedupe_key) DO NOTHING
             RETURNING id),
         flag AS (
             UPDATE inboxes SET events_drain_pending = true
              WHERE id = $2 AND tenant_id = $1 AND NOT events_drain_pending
                AND EXISTS (SELECT 1 FROM event)
             RETURNING id)
         SELECT EXISTS (SELECT 1 FROM event) AS recorded,
                EXISTS (SELECT 1 FROM flag) AS drain_needed"
        ),
        [
            scope.tenant_uuid().into(),
            inbox_id.into_uuid().into(),
            event.kind.as_str().into(),
            event.dedupe_key.into(),
            event.payload.clone().into(),
        ],
    ))
    .one(scope.conn())
    .await?;
    Ok(row.unwrap_or(Recorded {
        recorded: false,
        drain_needed: false,
    }))
}

/// Clears the inbox's "drain queued" flag as a drain starts: an event recorded from now on
/// queues the next drain, and one recorded before is seen by this one.
pub async fn begin_drain(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE inboxes SET events_drain_pending = false
              WHERE id = $1 AND tenant_id = $2 AND events_drain_pending"
            ),
            [inbox_id.into_uuid().into(), scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(())
}

/// An event waiting to be applied.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: i64,
    pub kind: InboundKind,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct PendingRow {
    id: i64,
    kind: String,
    payload: serde_json::Value,
    received_at: DateTime<Utc>,
}

impl TryFrom<PendingRow> for PendingEvent {
    type Error = DbError;

    fn try_from(r: PendingRow) -> DbResult<Self> {
        Ok(Self {
            id: r.id,
            kind: parse_stored("inbound_events", "kind", &r.kind)?,
            payload: r.payload,
            received_at: r.received_at,
        })
    }
}

/// Locks up to `limit` of the inbox's unapplied events, oldest first, skipping those another
/// drain holds. Call it in the transaction that applies them and [`mark_processed`]s them.
pub async fn claim_pending(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    limit: u64,
) -> DbResult<Vec<PendingEvent>> {
    PendingRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT id, kind, payload, received_at FROM inbound_events
          WHERE inbox_id = $1 AND tenant_id = $2 AND processed_at IS NULL
          ORDER BY id LIMIT $3
          FOR UPDATE SKIP LOCKED"
        ),
        [
            inbox_id.into_uuid().into(),
            scope.tenant_uuid().into(),
            (limit as i64).into(),
        ],
    ))
    .all(scope.conn())
    .await?
    .into_iter()
    .map(PendingEvent::try_from)
    .collect()
}

/// Marks events applied with their outcomes.
pub async fn mark_processed(
    scope: TenantScope<'_, impl ConnectionTrait>,
    outcomes: &[(i64, InboundOutcome)],
) -> DbResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = outcomes.iter().map(|(id, _)| *id).collect();
    let labels: Vec<String> = outcomes
        .iter()
        .map(|(_, outcome)| outcome.as_str().to_owned())
        .collect();
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE inbound_events e SET processed_at = now(), outcome = u.outcome
               FROM unnest($1::bigint[], $2::text[]) AS u(id, outcome)
              WHERE e.id = u.id AND e.tenant_id = $3"
            ),
            [ids.into(), labels.into(), scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(())
}

/// One receipt for one message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub at: DateTime<Utc>,
    /// Read (implies delivered), not only delivered.
    pub read: bool,
}

/// Moves the inbox's campaign recipients named by `receipts` to delivered and read (a read
/// receipt also delivers; the earliest time of each wins, so order does not matter). A
/// recipient whose send timed out (`uncertain`) is `sent` after all once a receipt names it.
/// Message ids of other inboxes or tenants change nothing. Returns the ids that matched.
pub async fn apply_receipts(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    receipts: &[Receipt],
) -> DbResult<Vec<String>> {
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    // One row per message id: an UPDATE ... FROM applies only one source row per target.
    let mut merged: HashMap<&str, (DateTime<Utc>, Option<DateTime<Utc>>)> = HashMap::new();
    for receipt in receipts {
        let entry = merged
            .entry(receipt.message_id.as_str())
            .or_insert((receipt.at, None));
        entry.0 = entry.0.min(receipt.at);
        if receipt.read {
            entry.1 = Some(entry.1.map_or(receipt.at, |at| at.min(receipt.at)));
        }
    }
    let mut ids = Vec::with_capacity(merged.len());
    let mut delivered = Vec::with_capacity(merged.len());
    let mut read = Vec::with_capacity(merged.len());
    for (id, (delivered_at, read_at)) in merged {
        ids.push(id.to_owned());
        delivered.push(delivered_at);
        // Arrays of nullable timestamps do not bind: an empty text is "not read".
        read.push(read_at.map(|at| at.to_rfc3339()).unwrap_or_default());
    }
    #[derive(FromQueryResult)]
    struct Matched {
        message_id: String,
    }
    let matched = Matched::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE campaign_recipients r
            SET delivered_at = LEAST(r.delivered_at, u.delivered),
                read_at = LEAST(r.read_at, NULLIF(u.read, '')::timestamptz),
                status = $4,
                updated_at = now()
           FROM unnest($3::text[], $5::timestamptz[], $6::text[]) AS u(message_id, delivered, read)
          WHERE r.message_id = u.message_id AND r.tenant_id = $1
            AND r.status IN ($4, $7)
            AND r.campaign_id IN (SELECT id FROM campaigns WHERE inbox_id = $2 AND tenant_id = $1)
      RETURNING r.message_id"
        ),
        [
            scope.tenant_uuid().into(),
            inbox_id.into_uuid().into(),
            ids.into(),
            RecipientStatus::Sent.into(),
            delivered.into(),
            read.into(),
            RecipientStatus::Uncertain.into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    Ok(matched.into_iter().map(|m| m.message_id).collect())
}

/// One message someone sent to the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The sender's number, digits only.
    pub phone: String,
    pub at: DateTime<Utc>,
}

/// A campaign recipient who wrote back for the first time.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Reply {
    pub phone: String,
    pub recipient_id: RecipientId,
    pub campaign_id: CampaignId,
    pub replied_at: DateTime<Utc>,
}

/// Keeps who wrote to the number and when ([`has_written`]), and marks as replied the latest
/// campaign recipient of this inbox each sender was sent to before writing. Returns the
/// recipients who replied for the first time.
pub async fn apply_messages(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    messages: &[IncomingMessage],
) -> DbResult<Vec<Reply>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let phones: Vec<String> = messages.iter().map(|m| m.phone.clone()).collect();
    let times: Vec<DateTime<Utc>> = messages.iter().map(|m| m.at).collect();
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("INSERT INTO inbox_conversations (inbox_id, phone, tenant_id, first_message_at, last_message_at, messages)
             SELECT $2, u.phone, $1, min(u.at), max(u.at), count(*)
               FROM unnest($3::text[], $4::timestamptz[]) AS u(phone, at)
              GROUP BY u.phone
             ON CONFLICT (inbox_id, phone) DO UPDATE
                SET first_message_at = LEAST(inbox_conversations.first_message_at, EXCLUDED.first_message_at),
                    last_message_at = GREATEST(inbox_conversations.last_message_at, EXCLUDED.last_message_at),
                    messages = inbox_conversations.messages + EXCLUDED.messages"),
            [
                scope.tenant_uuid().into(),
                inbox_id.into_uuid().into(),
                phones.clone().into(),
                times.clone().into(),
            ],
        ))
        .await?;
    // Each sender's first message of the batch answers the latest recipient sent to before it.
    let replies = Reply::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "WITH firsts AS (
             SELECT DISTINCT ON (u.phone) u.phone, u.at
               FROM unnest($3::text[], $4::timestamptz[]) AS u(phone, at)
              ORDER BY u.phone, u.at),
         targets AS (
             SELECT f.phone, f.at,
                    (SELECT r.id FROM campaign_recipients r
                       JOIN campaigns c ON c.id = r.campaign_id
                      WHERE c.inbox_id = $2 AND c.tenant_id = $1 AND r.tenant_id = $1
                        AND r.phone = f.phone AND r.status = $5
                        -- WhatsApp's timestamps are whole seconds.
                        AND date_trunc('second', r.sent_at) <= f.at
                      ORDER BY r.sent_at DESC LIMIT 1) AS recipient_id
               FROM firsts f)
         UPDATE campaign_recipients r
            SET replied_at = t.at, updated_at = now()
           FROM targets t
          WHERE r.id = t.recipient_id AND r.replied_at IS NULL
      RETURNING t.phone, r.id AS recipient_id, r.campaign_id, t.at AS replied_at"
        ),
        [
            scope.tenant_uuid().into(),
            inbox_id.into_uuid().into(),
            phones.into(),
            times.into(),
            RecipientStatus::Sent.into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    Ok(replies)
}

/// Shares of a campaign's messages delivered that announce themselves, in percent of the
/// recipients messaged (not skipped or cancelled).
pub const DELIVERY_MILESTONES: [i16; 4] = [25, 50, 75, 100];

/// A campaign whose delivered share just reached a new milestone.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DeliveryMilestone {
    pub campaign_id: CampaignId,
    pub name: String,
    pub created_by: Option<uuid::Uuid>,
    /// The highest of [`DELIVERY_MILESTONES`] reached.
    pub milestone: i16,
    pub delivered: i64,
    pub read: i64,
    pub messaged: i64,
}

/// After receipts for `message_ids` were applied: the campaigns they belong to whose
/// delivered share reached a milestone not reached before, each recorded so it is announced
/// once (a jump from 20% to 80% announces 75 only).
pub async fn reach_delivery_milestones(
    scope: TenantScope<'_, impl ConnectionTrait>,
    message_ids: &[String],
) -> DbResult<Vec<DeliveryMilestone>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(
        DeliveryMilestone::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "WITH touched AS (
             SELECT DISTINCT campaign_id FROM campaign_recipients
              WHERE tenant_id = $1 AND message_id = ANY($2)),
         counts AS (
             SELECT r.campaign_id,
                    count(*) FILTER (WHERE r.status NOT IN ($3, $4)) AS messaged,
                    count(r.delivered_at) AS delivered,
                    count(r.read_at) AS read
               FROM campaign_recipients r
              WHERE r.tenant_id = $1 AND r.campaign_id IN (SELECT campaign_id FROM touched)
              GROUP BY r.campaign_id),
         reached AS (
             SELECT campaign_id, messaged, delivered, read,
                    (SELECT max(m) FROM unnest($5::smallint[]) AS m
                      WHERE counts.delivered * 100 >= m * counts.messaged) AS milestone
               FROM counts WHERE messaged > 0)
         UPDATE campaigns c SET delivery_milestone = reached.milestone
           FROM reached
          WHERE c.id = reached.campaign_id AND c.tenant_id = $1
            AND reached.milestone > c.delivery_milestone
      RETURNING c.id AS campaign_id, c.name, c.created_by, reached.milestone,
                reached.delivered, reached.read, reached.messaged"
            ),
            [
                scope.tenant_uuid().into(),
                message_ids.to_vec().into(),
                RecipientStatus::Skipped.into(),
                RecipientStatus::Cancelled.into(),
                DELIVERY_MILESTONES.to_vec().into(),
            ],
        ))
        .all(scope.conn())
        .await?,
    )
}

/// Whether `phone` has ever written to the inbox's number.
pub async fn has_written(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    phone: &str,
) -> DbResult<bool> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("SELECT 1 FROM inbox_conversations WHERE inbox_id = $1 AND tenant_id = $2 AND phone = $3"),
            [
                inbox_id.into_uuid().into(),
                scope.tenant_uuid().into(),
                phone.into(),
            ],
        ))
        .await?;
    Ok(row.is_some())
}

/// Deletes applied events received before `before` (their keys no longer dedupe repeats),
/// up to `limit` at a time; returns how many went.
pub async fn delete_processed_before(
    scope: PlatformScope<'_, impl ConnectionTrait>,
    before: DateTime<Utc>,
    limit: u64,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "DELETE FROM inbound_events WHERE id IN (
                 SELECT id FROM inbound_events
                  WHERE processed_at IS NOT NULL AND processed_at < $1
                  LIMIT $2)"
            ),
            [before.into(), (limit as i64).into()],
        ))
        .await?;
    Ok(result.rows_affected())
}
