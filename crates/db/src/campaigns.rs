//! Campaigns and their recipients: creation (with its job, in one transaction), the claims and
//! records a campaign batch makes, and the owner's controls (pause, resume, cancel, resend).
//!
//! A recipient is claimed (`sending`, with the batch's lease token) before its WUZAPI call and
//! recorded after it. Only the claim's holder can record it, and a claim left behind by a
//! worker that died becomes `uncertain`: the message may have gone out, so it is never resent
//! unless the owner asks ([`resend_uncertain`]).
//!
//! Every function takes a [`TenantScope`]: the gateway builds it from the caller, the worker
//! from the job its lease holds (whose tenant the message was checked against).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::sql;
use common::{
    AccountId, CampaignAudience, CampaignId, CampaignStatus, ContactId, EventKind, InboxId,
    LeaseToken, QueueName, RecipientId, RecipientStatus, TenantId, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, Iterable, QueryFilter, QueryOrder, Set, Statement,
    TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::entity::{campaign, campaign_recipient, contact, inbox};
use crate::jobs::{self, Job, Lease};
use crate::{DbError, DbResult, TenantScope};

/// A campaign as its owner and its worker see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub account_id: AccountId,
    pub inbox_id: InboxId,
    pub created_by: Option<UserId>,
    pub name: String,
    pub template: String,
    pub status: CampaignStatus,
    /// Why it is paused, waiting, failed or cancelled, in words its owner can act on.
    pub status_reason: Option<String>,
    pub delay_min_ms: i32,
    pub delay_max_ms: i32,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Recipients (distinct phones).
    pub total: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// WUZAPI probes that failed in the current outage (0 when WUZAPI answers).
    pub outage_probes: i32,
    pub audience: CampaignAudience,
}

impl From<campaign::Model> for Campaign {
    fn from(m: campaign::Model) -> Self {
        Self {
            id: m.id,
            account_id: m.account_id,
            inbox_id: m.inbox_id,
            created_by: m.created_by,
            name: m.name,
            template: m.template,
            status: m.status,
            status_reason: m.status_reason,
            delay_min_ms: m.delay_min_ms,
            delay_max_ms: m.delay_max_ms,
            scheduled_at: m.scheduled_at,
            total: m.total,
            created_at: m.created_at,
            updated_at: m.updated_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
            outage_probes: m.outage_probes,
            audience: m.audience,
        }
    }
}

/// One recipient of a campaign and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub id: RecipientId,
    pub contact_id: Option<ContactId>,
    pub phone: String,
    /// The contact's fields (and `name`, `phone`) as the template sees them.
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub status: RecipientStatus,
    /// The WhatsApp message id, the same on every attempt (see [`message_id`]).
    pub message_id: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    /// When WhatsApp said the message reached the phone (a delivery or read receipt).
    pub delivered_at: Option<DateTime<Utc>>,
    /// When WhatsApp said the recipient read it.
    pub read_at: Option<DateTime<Utc>>,
    /// When the recipient first wrote back after it.
    pub replied_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<campaign_recipient::Model> for Recipient {
    fn from(m: campaign_recipient::Model) -> Self {
        Self {
            id: m.id,
            contact_id: m.contact_id,
            phone: m.phone,
            variables: match m.variables {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            status: m.status,
            message_id: m.message_id,
            error: m.error,
            attempts: m.attempts,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            replied_at: m.replied_at,
            updated_at: m.updated_at,
        }
    }
}

pub struct NewCampaign {
    pub account_id: AccountId,
    pub inbox_id: InboxId,
    pub created_by: UserId,
    pub name: String,
    pub template: String,
    pub contact_ids: Vec<ContactId>,
    pub delay_min_ms: i32,
    pub delay_max_ms: i32,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub audience: CampaignAudience,
}

pub struct CreatedCampaign {
    pub campaign: Campaign,
    /// Recipients that will not be messaged: opted out, or outside the campaign's audience.
    pub skipped: u64,
}

/// The WhatsApp message id a recipient's message is sent with: the same on every attempt, so a
/// resend after a crash carries the id of the first try. Shaped like whatsmeow's ids.
pub fn message_id(campaign_id: CampaignId, phone: &str) -> String {
    let digest = Sha256::digest(format!("{campaign_id}:{phone}").as_bytes());
    format!("3EB0{}", hex::encode_upper(&digest[..10]))
}

/// Writes the campaign and one recipient per distinct phone, in one transaction.
/// `check_contacts` sees the contacts (as template variables) before anything is written and
/// may refuse them. Given a transaction, it writes inside it (as a savepoint), so the caller
/// can check more, and enqueue the campaign's job (`jobs::enqueue::<CampaignBatch>`), before
/// it commits.
pub async fn create(
    scope: TenantScope<
        '_,
        impl ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
    >,
    new: NewCampaign,
    check_contacts: impl FnOnce(
        &[(ContactId, serde_json::Map<String, serde_json::Value>)],
    ) -> DbResult<()>,
) -> DbResult<CreatedCampaign> {
    let tenant_id = scope.tenant_id();
    let txn = scope.conn().begin().await?;

    ensure_inbox_exists(&txn, tenant_id, new.inbox_id).await?;
    let contacts = load_named_contacts(&txn, tenant_id, &new.contact_ids).await?;

    let now = Utc::now();
    let campaign_id = CampaignId::new();
    let recipients = one_recipient_per_phone(contacts);
    let as_variables: Vec<(ContactId, serde_json::Map<String, serde_json::Value>)> = recipients
        .iter()
        .map(|(id, _, vars)| (*id, vars.clone()))
        .collect();
    check_contacts(&as_variables)?;
    drop(as_variables);

    let (account_id, inbox_id, audience) = (new.account_id, new.inbox_id, new.audience);
    let total = i32::try_from(recipients.len()).unwrap_or(i32::MAX);
    let campaign = campaign_row(campaign_id, tenant_id, new, total, now)
        .insert(&txn)
        .await?;
    insert_recipients(&txn, campaign_id, tenant_id, recipients, now).await?;
    // Opted-out numbers, and with that audience those who never wrote, are recorded but not
    // messaged.
    let mut skipped =
        crate::consent::skip_opted_out(scope.on(&txn), campaign_id, account_id).await?;
    if audience == CampaignAudience::WroteBefore {
        skipped +=
            crate::consent::skip_never_written(scope.on(&txn), campaign_id, inbox_id).await?;
    }

    txn.commit().await?;
    Ok(CreatedCampaign {
        campaign: campaign.into(),
        skipped,
    })
}

/// A recipient before it is written: its contact, its phone and its template variables.
type RecipientDraft = (
    ContactId,
    String,
    serde_json::Map<String, serde_json::Value>,
);

/// `Invalid` unless the inbox is the tenant's.
async fn ensure_inbox_exists(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    inbox_id: InboxId,
) -> DbResult<()> {
    inbox::Entity::find_by_id(inbox_id.into_uuid())
        .filter(inbox::Column::TenantId.eq(tenant_id.into_uuid()))
        .one(conn)
        .await?
        .ok_or_else(|| DbError::Invalid {
            field: "inboxId",
            message: format!("inbox {inbox_id} does not exist"),
        })?;
    Ok(())
}

/// The tenant's contacts named by `contact_ids` (duplicates ignored), by id; `Invalid` when
/// any does not exist.
async fn load_named_contacts(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    contact_ids: &[ContactId],
) -> DbResult<Vec<contact::Model>> {
    let mut wanted: Vec<uuid::Uuid> = contact_ids.iter().map(|c| c.into_uuid()).collect();
    wanted.sort();
    wanted.dedup();
    let contacts = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant_id.into_uuid()))
        // One array parameter rather than one per id: a campaign may name more contacts than
        // Postgres allows bind parameters in a statement (65535).
        .filter(Expr::cust_with_values(
            "contacts.id = ANY($1)",
            [sea_orm::Value::from(wanted.clone())],
        ))
        .order_by_asc(contact::Column::Id)
        .all(conn)
        .await?;
    if contacts.len() != wanted.len() {
        let found: HashSet<_> = contacts.iter().map(|c| c.id).collect();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| !found.contains(id))
            .take(5)
            .map(ToString::to_string)
            .collect();
        return Err(DbError::Invalid {
            field: "contactIds",
            message: format!(
                "{} contact id(s) do not exist, e.g. {}",
                wanted.len() - contacts.len(),
                missing.join(", ")
            ),
        });
    }
    Ok(contacts)
}

/// One recipient per distinct phone (the first contact with it), with the contact's fields,
/// name and phone as its template variables.
fn one_recipient_per_phone(contacts: Vec<contact::Model>) -> Vec<RecipientDraft> {
    let mut seen_phones = HashSet::new();
    contacts
        .into_iter()
        .filter(|c| seen_phones.insert(c.phone.clone()))
        .map(|c| {
            let mut variables = match c.fields {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            variables.insert("name".into(), c.name.into());
            variables.insert("phone".into(), c.phone.clone().into());
            (ContactId::from(c.id), c.phone, variables)
        })
        .collect()
}

/// The campaign's row: `scheduled` when it starts later, else `queued`.
fn campaign_row(
    campaign_id: CampaignId,
    tenant_id: TenantId,
    new: NewCampaign,
    total: i32,
    now: DateTime<Utc>,
) -> campaign::ActiveModel {
    let run_at = new.scheduled_at.filter(|at| *at > now);
    campaign::ActiveModel {
        id: Set(campaign_id),
        tenant_id: Set(tenant_id),
        account_id: Set(new.account_id),
        inbox_id: Set(new.inbox_id),
        created_by: Set(Some(new.created_by)),
        name: Set(new.name),
        template: Set(new.template),
        status: Set(if run_at.is_some() {
            CampaignStatus::Scheduled
        } else {
            CampaignStatus::Queued
        }),
        delay_min_ms: Set(new.delay_min_ms),
        delay_max_ms: Set(new.delay_max_ms),
        scheduled_at: Set(new.scheduled_at),
        total: Set(total),
        status_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        outage_probes: Set(0),
        audience: Set(new.audience),
    }
}

/// Writes the recipients, all `pending`, each with its message id.
async fn insert_recipients(
    conn: &impl ConnectionTrait,
    campaign_id: CampaignId,
    tenant_id: TenantId,
    recipients: Vec<RecipientDraft>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let rows: Vec<campaign_recipient::ActiveModel> = recipients
        .into_iter()
        .map(
            |(contact_id, phone, variables)| campaign_recipient::ActiveModel {
                id: Set(RecipientId::new()),
                campaign_id: Set(campaign_id),
                tenant_id: Set(tenant_id),
                contact_id: Set(Some(contact_id)),
                message_id: Set(message_id(campaign_id, &phone)),
                phone: Set(phone),
                variables: Set(variables.into()),
                status: Set(RecipientStatus::Pending),
                error: Set(None),
                attempts: Set(0),
                sent_at: Set(None),
                delivered_at: Set(None),
                read_at: Set(None),
                replied_at: Set(None),
                updated_at: Set(now),
                claim_token: Set(None),
                claimed_at: Set(None),
            },
        )
        .collect();
    // Bounded chunks keep each INSERT under Postgres' limit of 65535 bind parameters.
    for chunk in rows.chunks(1000) {
        campaign_recipient::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(())
}

pub async fn find(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: CampaignId,
) -> DbResult<Campaign> {
    campaign::Entity::find_by_id(id)
        .filter(campaign::Column::TenantId.eq(scope.tenant_id()))
        .one(scope.conn())
        .await?
        .map(Campaign::from)
        .ok_or(DbError::NotFound("campaign"))
}

/// A page of the tenant's campaigns, newest first (ids smaller than `before`), only those in
/// `status` when given, only those of `inbox` when given.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    status: Option<CampaignStatus>,
    inbox: Option<InboxId>,
    before: Option<CampaignId>,
    limit: u64,
) -> DbResult<(Vec<Campaign>, bool)> {
    let mut select =
        campaign::Entity::find().filter(campaign::Column::TenantId.eq(scope.tenant_id()));
    if let Some(status) = status {
        select = select.filter(campaign::Column::Status.eq(status));
    }
    if let Some(inbox) = inbox {
        select = select.filter(campaign::Column::InboxId.eq(inbox));
    }
    let (rows, more) = crate::page_by_id_in(
        scope.conn(),
        select,
        campaign::Column::Id,
        before.map(CampaignId::into_uuid),
        limit,
        crate::IdOrder::NewestFirst,
    )
    .await?;
    Ok((rows.into_iter().map(Campaign::from).collect(), more))
}

/// Recipient counts: the source of truth for a campaign's progress. Serialised as the result
/// of the campaign's job once it finished (`jobs.result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct Progress {
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
    pub sending: i64,
    pub uncertain: i64,
    pub cancelled: i64,
    /// Not messaged on purpose: opted out, or outside the campaign's audience.
    pub skipped: i64,
    /// Sent recipients WhatsApp reported delivered (read ones included).
    pub delivered: i64,
    /// Sent recipients WhatsApp reported read.
    pub read: i64,
    /// Sent recipients who wrote back.
    pub replied: i64,
}

impl Progress {
    /// Recipients with a final outcome.
    pub fn done(&self) -> i64 {
        self.sent + self.failed + self.uncertain + self.cancelled + self.skipped
    }
}

pub async fn progress(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<Progress> {
    let row = Progress::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT count(*) AS total,
                count(*) FILTER (WHERE status = $2) AS sent,
                count(*) FILTER (WHERE status = $3) AS failed,
                count(*) FILTER (WHERE status = $4) AS pending,
                count(*) FILTER (WHERE status = $5) AS sending,
                count(*) FILTER (WHERE status = $6) AS uncertain,
                count(*) FILTER (WHERE status = $7) AS cancelled,
                count(*) FILTER (WHERE status = $9) AS skipped,
                count(delivered_at) AS delivered,
                count(read_at) AS read,
                count(replied_at) AS replied
           FROM campaign_recipients WHERE campaign_id = $1 AND tenant_id = $8"
        ),
        [
            campaign_id.into(),
            RecipientStatus::Sent.into(),
            RecipientStatus::Failed.into(),
            RecipientStatus::Pending.into(),
            RecipientStatus::Sending.into(),
            RecipientStatus::Uncertain.into(),
            RecipientStatus::Cancelled.into(),
            scope.tenant_uuid().into(),
            RecipientStatus::Skipped.into(),
        ],
    ))
    .one(scope.conn())
    .await?;
    Ok(row.unwrap_or_default())
}

/// What a batch gets when it asks for its next recipients.
#[derive(Debug)]
pub enum Claim {
    /// Claimed for this lease (`sending`); empty when no recipient is pending any more.
    Recipients(Vec<Recipient>),
    /// The campaign is no longer sendable (paused, cancelled, ...): stop before sending.
    Stopped(CampaignStatus),
    /// The job's lease was taken over: stop before the next send.
    LeaseLost,
    /// Recipients are pending but none was claimed: the campaign was stopped when the claim ran
    /// and is sendable again now (paused and resumed in between), or the rows were locked.
    /// Try again shortly; never read this as "all sent".
    Contended,
}

/// Renews the job lease, checks that the campaign may still send, and claims up to `limit`
/// pending recipients for this lease. One statement in the usual case (a group is claimed);
/// only when nothing is claimed does a second look say why.
pub async fn claim_next(
    scope: TenantScope<'_, DatabaseConnection>,
    lease: Lease,
    lease_ttl: std::time::Duration,
    campaign_id: CampaignId,
    limit: u64,
) -> DbResult<Claim> {
    let sendable: Vec<String> = CampaignStatus::iter()
        .filter(|status| status.is_sendable())
        .map(|status| status.as_str().to_owned())
        .collect();
    // The lease renewal and the status check gate the claim inside the statement, which is
    // atomic on its own: no round trips for BEGIN and COMMIT.
    let claimed = campaign_recipient::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "WITH lease AS (
                 UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $6)
                  WHERE id = $7 AND lease_token = $2
              RETURNING id
             )
             UPDATE campaign_recipients
                SET status = $4, claim_token = $2, claimed_at = now(), updated_at = now()
              WHERE id IN (SELECT id FROM campaign_recipients
                            WHERE campaign_id = $1 AND status = $5 AND tenant_id = $9
                              AND EXISTS (SELECT 1 FROM lease)
                              AND EXISTS (SELECT 1 FROM campaigns
                                           WHERE id = $1 AND tenant_id = $9
                                             AND status = ANY($8::text[]))
                            ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING *"
            ),
            [
                campaign_id.into(),
                lease.token.into(),
                (limit as i64).into(),
                RecipientStatus::Sending.into(),
                RecipientStatus::Pending.into(),
                lease_ttl.as_secs_f64().into(),
                lease.job_id.into(),
                sendable.into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .all(scope.conn())
        .await?;
    if !claimed.is_empty() {
        let mut claimed: Vec<Recipient> = claimed.into_iter().map(Recipient::from).collect();
        claimed.sort_by_key(|r| r.id);
        return Ok(Claim::Recipients(claimed));
    }
    // Nothing claimed: the lease is gone, the campaign stopped, nobody is pending, or the claim
    // raced a pause and resume (or locked rows) and must be tried again.
    let txn = scope.conn().begin().await?;
    if !jobs::renew_lease(&txn, lease, lease_ttl).await? {
        txn.rollback().await?;
        return Ok(Claim::LeaseLost);
    }
    let status = find(scope.on(&txn), campaign_id).await?.status;
    let pending = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT EXISTS (SELECT 1 FROM campaign_recipients
                             WHERE campaign_id = $1 AND tenant_id = $2 AND status = $3) AS pending"
            ),
            [
                campaign_id.into(),
                scope.tenant_uuid().into(),
                RecipientStatus::Pending.into(),
            ],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "pending"))
        .transpose()?
        .unwrap_or(false);
    txn.commit().await?;
    if !status.is_sendable() {
        return Ok(Claim::Stopped(status));
    }
    if pending {
        return Ok(Claim::Contended);
    }
    Ok(Claim::Recipients(Vec::new()))
}

/// A claimed recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Will never succeed (not on WhatsApp, refused); the reason is shown to the owner.
    Failed(String),
    /// The call may or may not have delivered (a timeout): not resent unless the owner asks.
    Uncertain(String),
    /// The call certainly did not happen or certainly failed before WhatsApp saw it: back to
    /// pending for a later batch.
    Unsent,
}

/// The number a group was sent from, and its day in the tenant's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentFrom {
    pub inbox_id: InboxId,
    pub day: chrono::NaiveDate,
}

/// Records the outcomes of claimed recipients; only this lease's claims change. With
/// `sent_from`, also notes that inbox's last send (by the database's clock) and adds the sent
/// messages to its count of the day in its send slot, if this lease holds it, in the same
/// statement. Returns how many recipients changed.
pub async fn record_outcomes(
    scope: TenantScope<'_, impl ConnectionTrait>,
    token: LeaseToken,
    outcomes: &[(RecipientId, Outcome)],
    sent_from: Option<SentFrom>,
) -> DbResult<u64> {
    if outcomes.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(outcomes.len());
    let mut statuses = Vec::with_capacity(outcomes.len());
    let mut errors: Vec<String> = Vec::with_capacity(outcomes.len());
    for (id, outcome) in outcomes {
        ids.push(id.into_uuid());
        let (status, error) = match outcome {
            Outcome::Sent => (RecipientStatus::Sent, None),
            Outcome::Failed(e) => (RecipientStatus::Failed, Some(e.clone())),
            Outcome::Uncertain(e) => (RecipientStatus::Uncertain, Some(e.clone())),
            Outcome::Unsent => (RecipientStatus::Pending, None),
        };
        statuses.push(status.as_str().to_owned());
        // Empty means none: Postgres arrays of text cannot carry NULL through this driver.
        errors.push(error.unwrap_or_default());
    }
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "WITH recorded AS (
                 UPDATE campaign_recipients r
                    SET status = u.status,
                        error = nullif(u.error, ''),
                        sent_at = CASE WHEN u.status = $5 THEN now() ELSE r.sent_at END,
                        attempts = r.attempts + CASE WHEN u.status = $6 THEN 0 ELSE 1 END,
                        claim_token = CASE WHEN u.status = $6 THEN NULL ELSE r.claim_token END,
                        updated_at = now()
                   FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, status, error)
                  WHERE r.id = u.id AND r.claim_token = $4 AND r.status IN ($7, $8)
                    AND r.tenant_id = $10
              RETURNING u.status
             ), last_send AS (
                 UPDATE inbox_send_slots
                    SET last_sent_at = now(),
                        sent_on_day = CASE WHEN sent_day = $11 THEN sent_on_day ELSE 0 END
                            + (SELECT count(*) FROM recorded WHERE status = $5)::int,
                        sent_day = $11
                  WHERE inbox_id = $9 AND holder = $4
             )
             SELECT count(*) AS recorded FROM recorded"
            ),
            [
                ids.into(),
                statuses.into(),
                errors.into(),
                token.into(),
                RecipientStatus::Sent.into(),
                RecipientStatus::Pending.into(),
                RecipientStatus::Sending.into(),
                RecipientStatus::Uncertain.into(),
                sent_from.map(|s| s.inbox_id.into_uuid()).into(),
                scope.tenant_uuid().into(),
                sent_from.map(|s| s.day).into(),
            ],
        ))
        .await?;
    let recorded: i64 = match row {
        Some(row) => row.try_get("", "recorded")?,
        None => 0,
    };
    Ok(recorded as u64)
}

/// Claims left `sending` by an earlier holder of this campaign's job (a worker that died or
/// lost its lease mid-send) become `uncertain`. Called by a new lease holder before it sends.
pub async fn mark_abandoned_uncertain(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    current: LeaseToken,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("UPDATE campaign_recipients
                SET status = $3, updated_at = now(),
                    error = 'the worker stopped during the send: it may or may not have been delivered'
              WHERE campaign_id = $1 AND status = $4 AND claim_token IS DISTINCT FROM $2
                AND tenant_id = $5"),
            [
                campaign_id.into(),
                current.into(),
                RecipientStatus::Uncertain.into(),
                RecipientStatus::Sending.into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Moves a campaign to `to` from any of `from`, stamping start and finish times and the reason.
/// Returns whether it moved.
pub async fn transition(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    from: &[CampaignStatus],
    to: CampaignStatus,
    reason: Option<String>,
) -> DbResult<bool> {
    let mut update = campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value(to))
        .col_expr(campaign::Column::UpdatedAt, Expr::current_timestamp())
        .col_expr(campaign::Column::StatusReason, Expr::value(reason));
    if to == CampaignStatus::Running {
        update = update.col_expr(
            campaign::Column::StartedAt,
            Expr::cust("coalesce(started_at, now())"),
        );
    }
    if to.is_finished() {
        update = update.col_expr(campaign::Column::FinishedAt, Expr::current_timestamp());
    }
    let result = update
        .filter(campaign::Column::Id.eq(campaign_id))
        .filter(campaign::Column::TenantId.eq(scope.tenant_id()))
        .filter(campaign::Column::Status.is_in(from.iter().copied()))
        .exec(scope.conn())
        .await?;
    Ok(result.rows_affected == 1)
}

/// The event a campaign's move to `to` announces, if any.
pub fn announced_by(to: CampaignStatus) -> Option<EventKind> {
    match to {
        CampaignStatus::Running => Some(EventKind::CampaignStarted),
        CampaignStatus::Completed => Some(EventKind::CampaignCompleted),
        CampaignStatus::Failed => Some(EventKind::CampaignFailed),
        CampaignStatus::Paused => Some(EventKind::CampaignPaused),
        _ => None,
    }
}

/// WUZAPI answered again: the next outage starts probing from the shortest delay.
pub async fn outage_over(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<()> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::OutageProbes, Expr::value(0))
        .filter(campaign::Column::Id.eq(campaign_id))
        .filter(campaign::Column::TenantId.eq(scope.tenant_id()))
        .exec(scope.conn())
        .await?;
    Ok(())
}

/// Parks a campaign during a WUZAPI outage and returns how many probes failed before this one.
pub async fn park_for_outage(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    reason: &str,
) -> DbResult<i32> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaigns SET status = $2, status_reason = $3, updated_at = now(),
                    outage_probes = outage_probes + 1
              WHERE id = $1 AND tenant_id = $7 AND status IN ($4, $5, $6, $2)
          RETURNING outage_probes"
            ),
            [
                campaign_id.into(),
                CampaignStatus::WaitingWuzapi.into(),
                reason.into(),
                CampaignStatus::Queued.into(),
                CampaignStatus::Scheduled.into(),
                CampaignStatus::Running.into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i32>("", "outage_probes")? - 1,
        None => 0,
    })
}

/// One page of a campaign's recipients in id order, after `cursor`; the campaign must belong
/// to the tenant. Returns up to `limit` rows and whether more follow.
///
/// One query per page: recipient rows carry their tenant, so rows found prove the campaign is
/// the tenant's; only an empty page looks the campaign up, to tell "none" from "not yours".
pub async fn recipients_page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    status: Option<RecipientStatus>,
    cursor: Option<RecipientId>,
    limit: u64,
) -> DbResult<(Vec<Recipient>, bool)> {
    let mut select = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(campaign_id))
        .filter(campaign_recipient::Column::TenantId.eq(scope.tenant_id()));
    if let Some(status) = status {
        select = select.filter(campaign_recipient::Column::Status.eq(status));
    }
    let (rows, more) = crate::page_by_id(
        scope.conn(),
        select,
        campaign_recipient::Column::Id,
        cursor.map(RecipientId::into_uuid),
        limit,
    )
    .await?;
    if rows.is_empty() {
        find(scope, campaign_id).await?;
    }
    Ok((rows.into_iter().map(Recipient::from).collect(), more))
}

/// The campaign's job (a campaign has one).
pub async fn job_of(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<Job> {
    jobs::latest_for_subject(scope, QueueName::Campaign, campaign_id.into_uuid()).await
}

/// Locks the tenant's campaign row for a control request (run it in the request's transaction).
pub async fn lock(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<Campaign> {
    use sea_orm::QuerySelect;
    campaign::Entity::find_by_id(campaign_id)
        .filter(campaign::Column::TenantId.eq(scope.tenant_id()))
        .lock_exclusive()
        .one(scope.conn())
        .await?
        .map(Campaign::from)
        .ok_or(DbError::NotFound("campaign"))
}

/// Recipients not yet messaged become `cancelled` (the campaign was cancelled); how many.
pub async fn cancel_pending_recipients(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaign_recipients SET status = $2, updated_at = now()
              WHERE campaign_id = $1 AND status = $3 AND tenant_id = $4"
            ),
            [
                campaign_id.into(),
                RecipientStatus::Cancelled.into(),
                RecipientStatus::Pending.into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Pending recipients with one of `phones` in the account's campaigns are `skipped` with
/// `reason` (the numbers opted out): they will not be messaged. How many.
pub async fn skip_pending_recipients_with_phones(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    phones: &[String],
    reason: &str,
) -> DbResult<u64> {
    if phones.is_empty() {
        return Ok(0);
    }
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaign_recipients r
                SET status = $3, error = $4, updated_at = now()
               FROM campaigns c
              WHERE c.id = r.campaign_id AND c.tenant_id = $1 AND c.account_id = $2
                AND r.tenant_id = $1 AND r.status = $5 AND r.phone = ANY($6::text[])"
            ),
            [
                scope.tenant_uuid().into(),
                account_id.into_uuid().into(),
                RecipientStatus::Skipped.into(),
                reason.into(),
                RecipientStatus::Pending.into(),
                phones.to_vec().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// `uncertain` recipients back to `pending`, to be sent again; how many.
pub async fn requeue_uncertain(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaign_recipients SET status = $2, claim_token = NULL, updated_at = now()
              WHERE campaign_id = $1 AND status = $3 AND tenant_id = $4"
            ),
            [
                campaign_id.into(),
                RecipientStatus::Pending.into(),
                RecipientStatus::Uncertain.into(),
                scope.tenant_uuid().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// A campaign whose job was dead-lettered failed; replaying the job makes it sendable again.
pub async fn reopen_for_replay(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
) -> DbResult<bool> {
    transition(
        scope,
        campaign_id,
        &[CampaignStatus::Failed],
        CampaignStatus::Queued,
        None,
    )
    .await
}

/// What a batch that found its campaign not sendable did about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Paused (or parked): the job waits, without a message, for a resume.
    Parked(CampaignStatus),
    /// Cancelled or finished: the job is completed.
    Finished(CampaignStatus),
    /// Sendable again (resumed meanwhile): the batch goes on.
    Sendable,
    LeaseLost,
}

/// Ends a batch whose campaign stopped being sendable. Takes the campaign's row lock, as the
/// owner's controls do, so a resume that raced with this stop is never lost: either the resume
/// comes first (and the batch goes on), or the job is parked first (and the resume restarts it).
pub async fn stop_for_status(
    scope: TenantScope<'_, DatabaseConnection>,
    lease: Lease,
    campaign_id: CampaignId,
) -> DbResult<Stopped> {
    let txn = scope.conn().begin().await?;
    let campaign = lock(scope.on(&txn), campaign_id).await?;
    let stopped = if campaign.status.is_sendable() {
        Stopped::Sendable
    } else if campaign.status.is_finished() {
        let progress = progress(scope.on(&txn), campaign_id).await?;
        if jobs::complete(&txn, lease, serde_json::to_value(progress).ok()).await? {
            Stopped::Finished(campaign.status)
        } else {
            Stopped::LeaseLost
        }
    } else {
        let reason = campaign
            .status_reason
            .clone()
            .unwrap_or_else(|| format!("campaign is {}", campaign.status));
        if jobs::park(&txn, lease, &reason).await? {
            Stopped::Parked(campaign.status)
        } else {
            Stopped::LeaseLost
        }
    };
    txn.commit().await?;
    Ok(stopped)
}

/// Sets or clears why a running campaign is waiting (a daily cap reached, outside its send
/// window) without changing its status.
pub async fn note_waiting(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    reason: Option<&str>,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaigns SET status_reason = $3, updated_at = now()
              WHERE id = $1 AND tenant_id = $2 AND status = $4
                AND status_reason IS DISTINCT FROM $3"
            ),
            [
                campaign_id.into(),
                scope.tenant_uuid().into(),
                reason.map(str::to_owned).into(),
                CampaignStatus::Running.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// What a recipient's `error` says when the number check found it is not on WhatsApp.
pub const NOT_ON_WHATSAPP: &str = "the number is not on WhatsApp";

/// Sends from the inbox (any of its campaigns) that WhatsApp refused within the last
/// `window`: the failure breaker's count. Numbers not on WhatsApp do not count (they were
/// never sent to).
pub async fn recent_send_failures(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
    window: std::time::Duration,
) -> DbResult<i64> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("SELECT count(*) AS failures FROM campaign_recipients r
              WHERE r.tenant_id = $2 AND r.status = $3
                AND r.campaign_id IN (SELECT id FROM campaigns WHERE inbox_id = $1 AND tenant_id = $2
                                         AND status IN ($6, $7))
                AND r.updated_at > now() - make_interval(secs => $4)
                AND r.error IS DISTINCT FROM $5"),
            [
                inbox_id.into(),
                scope.tenant_uuid().into(),
                RecipientStatus::Failed.into(),
                window.as_secs_f64().into(),
                NOT_ON_WHATSAPP.into(),
                CampaignStatus::Running.into(),
                CampaignStatus::Paused.into(),
            ],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "failures")?,
        None => 0,
    })
}

/// The inbox's campaigns that would still send (queued, scheduled, running, waiting for
/// WUZAPI): what a ban signal of the number pauses.
pub async fn sendable_of_inbox(
    scope: TenantScope<'_, impl ConnectionTrait>,
    inbox_id: InboxId,
) -> DbResult<Vec<Campaign>> {
    let sendable: Vec<CampaignStatus> =
        CampaignStatus::iter().filter(|s| s.is_sendable()).collect();
    Ok(campaign::Entity::find()
        .filter(campaign::Column::TenantId.eq(scope.tenant_id()))
        .filter(campaign::Column::InboxId.eq(inbox_id))
        .filter(campaign::Column::Status.is_in(sendable))
        .all(scope.conn())
        .await?
        .into_iter()
        .map(Campaign::from)
        .collect())
}
