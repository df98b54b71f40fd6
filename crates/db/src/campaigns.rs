//! Campaigns and their recipients: creation (with its job, in one transaction) and the steps a
//! campaign worker takes.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::proto::CampaignBatch;
use common::{
    AccountId, CampaignId, ContactId, InboxId, JobId, JobState, QueueName, RecipientId, TenantId,
    UserId,
};
use prost::Message;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::entity::{campaign, campaign_recipient, contact, inbox, job, outbox};
use crate::{DbError, DbResult};

/// Campaign states as stored.
pub mod status {
    /// Created; its job waits for a worker.
    pub const QUEUED: &str = "queued";
    /// Created with a future `scheduledAt`.
    pub const SCHEDULED: &str = "scheduled";
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
}

/// Recipient states as stored.
pub mod recipient_status {
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
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
    pub max_attempts: i32,
}

pub struct CreatedCampaign {
    pub campaign: campaign::Model,
    pub job: job::Model,
}

/// The WhatsApp message id a recipient's message is sent with: the same on every attempt, so a
/// resend after a crash carries the id of the first try. Shaped like whatsmeow's ids.
pub fn message_id(campaign_id: CampaignId, phone: &str) -> String {
    let digest = Sha256::digest(format!("{campaign_id}:{phone}").as_bytes());
    format!("3EB0{}", hex::encode_upper(&digest[..10]))
}

/// Writes the campaign, one recipient per distinct phone, its job and the outbox row that will
/// publish the job, all in one transaction.
pub async fn create(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    new: NewCampaign,
) -> DbResult<CreatedCampaign> {
    let tenant = tenant_id.into_uuid();
    let txn = db.begin().await?;

    inbox::Entity::find_by_id(new.inbox_id.into_uuid())
        .filter(inbox::Column::TenantId.eq(tenant))
        .one(&txn)
        .await?
        .ok_or_else(|| DbError::Invalid {
            field: "inboxId",
            message: format!("inbox {} does not exist", new.inbox_id),
        })?;

    let mut wanted: Vec<uuid::Uuid> = new.contact_ids.iter().map(|c| c.into_uuid()).collect();
    wanted.sort();
    wanted.dedup();
    let contacts = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant))
        // One array parameter rather than one per id: a campaign may name more contacts than
        // Postgres allows bind parameters in a statement (65535).
        .filter(Expr::cust_with_values(
            "contacts.id = ANY($1)",
            [sea_orm::Value::from(wanted.clone())],
        ))
        .order_by_asc(contact::Column::Id)
        .all(&txn)
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

    let now = Utc::now();
    let campaign_id = CampaignId::new();
    let mut seen_phones = HashSet::new();
    let recipients: Vec<campaign_recipient::ActiveModel> = contacts
        .into_iter()
        .filter(|c| seen_phones.insert(c.phone.clone()))
        .map(|c| {
            let mut variables = match c.fields {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            variables.insert("name".into(), c.name.into());
            variables.insert("phone".into(), c.phone.clone().into());
            campaign_recipient::ActiveModel {
                id: Set(RecipientId::new().into()),
                campaign_id: Set(campaign_id.into()),
                tenant_id: Set(tenant),
                contact_id: Set(Some(c.id)),
                message_id: Set(message_id(campaign_id, &c.phone)),
                phone: Set(c.phone),
                variables: Set(variables.into()),
                status: Set(recipient_status::PENDING.to_owned()),
                error: Set(None),
                attempts: Set(0),
                sent_at: Set(None),
                updated_at: Set(now),
            }
        })
        .collect();

    let run_at = new.scheduled_at.filter(|at| *at > now);
    let campaign = campaign::ActiveModel {
        id: Set(campaign_id.into()),
        tenant_id: Set(tenant),
        account_id: Set(new.account_id.into()),
        inbox_id: Set(new.inbox_id.into()),
        created_by: Set(Some(new.created_by.into())),
        name: Set(new.name),
        template: Set(new.template),
        status: Set(if run_at.is_some() {
            status::SCHEDULED
        } else {
            status::QUEUED
        }
        .to_owned()),
        delay_min_ms: Set(new.delay_min_ms),
        delay_max_ms: Set(new.delay_max_ms),
        scheduled_at: Set(new.scheduled_at),
        total: Set(i32::try_from(recipients.len()).unwrap_or(i32::MAX)),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
    }
    .insert(&txn)
    .await?;

    // Bounded chunks keep each INSERT under Postgres' limit of 65535 bind parameters.
    for chunk in recipients.chunks(1000) {
        campaign_recipient::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }

    let job_id = JobId::new();
    let job = job::ActiveModel {
        id: Set(job_id.into()),
        tenant_id: Set(tenant),
        queue: Set(QueueName::Campaign.as_str().to_owned()),
        subject_id: Set(Some(campaign_id.into())),
        state: Set(if run_at.is_some() {
            JobState::Delayed
        } else {
            JobState::Waiting
        }
        .as_str()
        .to_owned()),
        attempts: Set(0),
        max_attempts: Set(new.max_attempts),
        progress: Set(serde_json::json!({})),
        result: Set(None),
        error: Set(None),
        run_at: Set(run_at.unwrap_or(now)),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
    }
    .insert(&txn)
    .await?;

    let message = CampaignBatch {
        job_id: job_id.to_string(),
        tenant_id: tenant_id.to_string(),
        campaign_id: campaign_id.to_string(),
    };
    outbox::ActiveModel {
        queue: Set(QueueName::Campaign.as_str().to_owned()),
        job_id: Set(job_id.into()),
        payload: Set(message.encode_to_vec()),
        headers: Set(serde_json::json!({})),
        created_at: Set(now),
        available_at: Set(run_at.unwrap_or(now)),
        publish_attempts: Set(0),
        last_error: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    txn.commit().await?;
    Ok(CreatedCampaign { campaign, job })
}

pub async fn find(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    id: CampaignId,
) -> DbResult<campaign::Model> {
    campaign::Entity::find_by_id(id.into_uuid())
        .filter(campaign::Column::TenantId.eq(tenant_id.into_uuid()))
        .one(db)
        .await?
        .ok_or(DbError::NotFound("campaign"))
}

/// Recipient counts: the source of truth for a campaign's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(FromQueryResult)]
struct ProgressRow {
    total: i64,
    sent: i64,
    failed: i64,
    pending: i64,
}

pub async fn progress(db: &impl ConnectionTrait, campaign_id: CampaignId) -> DbResult<Progress> {
    let row = ProgressRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT count(*) AS total,
                count(*) FILTER (WHERE status = 'sent') AS sent,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'pending') AS pending
           FROM campaign_recipients WHERE campaign_id = $1",
        [campaign_id.into_uuid().into()],
    ))
    .one(db)
    .await?;
    Ok(row
        .map(|r| Progress {
            total: r.total,
            sent: r.sent,
            failed: r.failed,
            pending: r.pending,
        })
        .unwrap_or_default())
}

/// The next recipients still to message, oldest first.
pub async fn pending_recipients(
    db: &impl ConnectionTrait,
    campaign_id: CampaignId,
    limit: u64,
) -> DbResult<Vec<campaign_recipient::Model>> {
    Ok(campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(campaign_id.into_uuid()))
        .filter(campaign_recipient::Column::Status.eq(recipient_status::PENDING))
        .order_by_asc(campaign_recipient::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Records one recipient's outcome. Only a pending recipient changes, so a duplicate delivery of
/// the same batch cannot overwrite an outcome.
pub async fn record_outcome(
    db: &impl ConnectionTrait,
    recipient_id: RecipientId,
    outcome: Result<(), String>,
) -> DbResult<bool> {
    let now = Utc::now();
    let mut update = campaign_recipient::Entity::update_many()
        .col_expr(
            campaign_recipient::Column::Attempts,
            Expr::col(campaign_recipient::Column::Attempts).add(1),
        )
        .col_expr(campaign_recipient::Column::UpdatedAt, Expr::value(now));
    update = match outcome {
        Ok(()) => update
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(recipient_status::SENT),
            )
            .col_expr(campaign_recipient::Column::SentAt, Expr::value(now)),
        Err(error) => update
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(recipient_status::FAILED),
            )
            .col_expr(campaign_recipient::Column::Error, Expr::value(error)),
    };
    let result = update
        .filter(campaign_recipient::Column::Id.eq(recipient_id.into_uuid()))
        .filter(campaign_recipient::Column::Status.eq(recipient_status::PENDING))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Moves a campaign to `to` from any of `from`, stamping start and finish times. Returns whether
/// it moved.
pub async fn transition(
    db: &impl ConnectionTrait,
    campaign_id: CampaignId,
    from: &[&str],
    to: &str,
    last_error: Option<String>,
) -> DbResult<bool> {
    let now = Utc::now();
    let mut update = campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value(to))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now));
    if to == status::RUNNING {
        update = update.col_expr(
            campaign::Column::StartedAt,
            Expr::cust_with_values("coalesce(started_at, $1)", [now]),
        );
    }
    if [status::COMPLETED, status::FAILED].contains(&to) {
        update = update.col_expr(campaign::Column::FinishedAt, Expr::value(now));
    }
    if let Some(error) = last_error {
        update = update.col_expr(campaign::Column::LastError, Expr::value(error));
    }
    let result = update
        .filter(campaign::Column::Id.eq(campaign_id.into_uuid()))
        .filter(campaign::Column::Status.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// One page of a campaign's recipients in id order, after `cursor`; the campaign must belong
/// to the tenant. Returns up to `limit` rows and whether more follow.
pub async fn recipients_page(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    campaign_id: CampaignId,
    cursor: Option<RecipientId>,
    limit: u64,
) -> DbResult<(Vec<campaign_recipient::Model>, bool)> {
    find(db, tenant_id, campaign_id).await?;
    let select = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(campaign_id.into_uuid()))
        .filter(campaign_recipient::Column::TenantId.eq(tenant_id.into_uuid()));
    crate::page_by_id(
        db,
        select,
        campaign_recipient::Column::Id,
        cursor.map(RecipientId::into_uuid),
        limit,
    )
    .await
}
