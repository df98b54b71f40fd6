//! Campaigns: creating one queues its send.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use common::template::{MAX_TEMPLATE_LEN, Template};
use common::{CampaignId, CampaignStatus, ContactId, InboxId, RecipientId, RecipientStatus};
use db::campaigns::Campaign;
use serde::{Deserialize, Serialize};

use super::inboxes::account_of;
use super::{ApiJson, ApiResult, ok, required_text};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Most recipients one campaign may have (bigger sends are several campaigns or an import).
const MAX_RECIPIENTS: usize = 100_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    name: String,
    inbox_id: InboxId,
    /// `Hello {{name}}!`; `{a|b}` picks a variant per message.
    template: String,
    contact_ids: Vec<ContactId>,
    /// Pause between two messages of this campaign, drawn uniformly from [min, max].
    #[serde(default = "default_delay_min")]
    delay_min_ms: u32,
    #[serde(default = "default_delay_max")]
    delay_max_ms: u32,
    /// Start later instead of now.
    scheduled_at: Option<DateTime<Utc>>,
}

fn default_delay_min() -> u32 {
    3_000
}
fn default_delay_max() -> u32 {
    8_000
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CampaignView {
    id: CampaignId,
    inbox_id: InboxId,
    name: String,
    template: String,
    status: CampaignStatus,
    /// Why it is paused, waiting for WUZAPI, failed or cancelled, in words its owner can act on.
    status_reason: Option<String>,
    total: i32,
    delay_min_ms: i32,
    delay_max_ms: i32,
    scheduled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<Campaign> for CampaignView {
    fn from(m: Campaign) -> Self {
        Self {
            id: m.id,
            inbox_id: m.inbox_id,
            name: m.name,
            template: m.template,
            status: m.status,
            status_reason: m.status_reason,
            total: m.total,
            delay_min_ms: m.delay_min_ms,
            delay_max_ms: m.delay_max_ms,
            scheduled_at: m.scheduled_at,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

/// `POST /api/campaigns`: writes the campaign, its recipients, its job and the outbox row in one
/// transaction and answers 202; the send runs in `worker-campaign`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CreateCampaign>,
) -> ApiResult {
    let account_id = account_of(&caller)?;
    let body = body.into_inner();
    let name = required_text("name", &body.name, 200)?;
    if body.template.len() > MAX_TEMPLATE_LEN {
        return Err(ApiError::validation(
            "template",
            format!("`template` must be at most {MAX_TEMPLATE_LEN} bytes"),
        ));
    }
    let template = Template::parse(&body.template)
        .map_err(|e| ApiError::validation("template", e.to_string()))?;
    if body.contact_ids.is_empty() {
        return Err(ApiError::validation(
            "contactIds",
            "`contactIds` must name at least one contact",
        ));
    }
    if body.contact_ids.len() > MAX_RECIPIENTS {
        return Err(ApiError::validation(
            "contactIds",
            format!("at most {MAX_RECIPIENTS} contacts per campaign"),
        ));
    }
    let too_long = |ms: u32| ms > 10 * 60 * 1000;
    if body.delay_min_ms > body.delay_max_ms || too_long(body.delay_max_ms) {
        return Err(ApiError::validation(
            "delayMinMs",
            "`delayMinMs` must not exceed `delayMaxMs`, and delays are at most 600000 ms",
        ));
    }
    if let Some(at) = body.scheduled_at {
        check_schedule(at, Utc::now())?;
    }
    let admission = crate::quotas::admit_campaign(&state, &caller).await?;
    let created = db::campaigns::create(
        caller.scope(admission.txn())?,
        db::campaigns::NewCampaign {
            account_id,
            inbox_id: body.inbox_id,
            created_by: caller.0.user_id,
            name,
            template: body.template,
            contact_ids: body.contact_ids,
            delay_min_ms: body.delay_min_ms as i32,
            delay_max_ms: body.delay_max_ms as i32,
            scheduled_at: body.scheduled_at,
            max_attempts: state.config.campaign_attempts,
            trace_context: telemetry::current_traceparent(),
        },
        |contacts| missing_template_variables(&template, contacts),
    )
    .await?;
    admission.admit_recipients(created.campaign.total).await?;
    admission.commit().await?;
    state.relay_waker.wake();
    let job = &created.job;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "success": true,
        "data": {
            "campaign": CampaignView::from(created.campaign),
            "job": {"id": job.id, "queue": job.queue, "state": job.state},
        }
    })))
}

/// How far in the past `scheduledAt` may be (clock skew, slow networks): it then starts now.
const SCHEDULE_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);
/// How far ahead a campaign may be scheduled.
const SCHEDULE_HORIZON_DAYS: i64 = 365;

/// `scheduledAt` must be between `now` minus [`SCHEDULE_SLACK`] and [`SCHEDULE_HORIZON_DAYS`]
/// ahead: earlier is a mistake, later would never run (and extreme years do not fit Postgres).
fn check_schedule(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if at < now - SCHEDULE_SLACK {
        return Err(ApiError::validation(
            "scheduledAt",
            "scheduledAt is in the past; leave it out to start now",
        ));
    }
    if at > now + chrono::TimeDelta::days(SCHEDULE_HORIZON_DAYS) {
        return Err(ApiError::validation(
            "scheduledAt",
            format!("scheduledAt must be at most {SCHEDULE_HORIZON_DAYS} days ahead"),
        ));
    }
    Ok(())
}

/// `GET /api/campaigns/{campaignId}`
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = db::campaigns::find(caller.scope(&state.db)?, path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientsQuery {
    limit: Option<u64>,
    cursor: Option<RecipientId>,
    /// Only recipients in this state (`pending`, `sending`, `sent`, `failed`, `uncertain`,
    /// `cancelled`).
    status: Option<RecipientStatus>,
}

/// `GET /api/campaigns/{campaignId}/recipients?limit=&cursor=`: each recipient's outcome.
pub async fn recipients(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CampaignId>,
    query: web::Query<RecipientsQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let limit = super::page_limit(query.limit)?;
    let (rows, more) = db::campaigns::recipients_page(
        caller.scope(&state.db)?,
        path.into_inner(),
        query.status,
        query.cursor,
        limit,
    )
    .await?;
    let next_cursor = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let data: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "contactId": r.contact_id,
                "phone": r.phone,
                "status": r.status,
                "error": r.error,
                "messageId": r.message_id,
                "sentAt": r.sent_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "success": true,
        "data": data,
        "nextCursor": next_cursor,
    })))
}

/// Refuses a template whose variables (without a default) some contacts lack, naming a few of
/// those contacts, so no recipient gets a message with a hole in it.
fn missing_template_variables(
    template: &Template,
    contacts: &[(ContactId, serde_json::Map<String, serde_json::Value>)],
) -> Result<(), db::DbError> {
    let lacking: Vec<(ContactId, Vec<String>)> = contacts
        .iter()
        .filter_map(|(id, variables)| {
            let missing: Vec<String> = template
                .missing_variables(variables)
                .into_iter()
                .map(str::to_owned)
                .collect();
            (!missing.is_empty()).then_some((*id, missing))
        })
        .collect();
    let Some((_, first_missing)) = lacking.first() else {
        return Ok(());
    };
    let examples: Vec<String> = lacking
        .iter()
        .take(5)
        .map(|(id, missing)| format!("{id} (no {})", missing.join(", ")))
        .collect();
    Err(db::DbError::Invalid {
        field: "template",
        message: format!(
            "{} contact(s) lack template variable(s) {}: e.g. {}; give the variable a default such as `{{{{{}|there}}}}` or fill the contacts' fields",
            lacking.len(),
            first_missing.join(", "),
            examples.join("; "),
            first_missing[0],
        ),
    })
}
