//! Campaigns: creating one queues its send.

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, Utc};
use common::jobs::kind::CampaignBatch;
use common::template::{MAX_TEMPLATE_LEN, Template};
use common::{
    CampaignAudience, CampaignId, CampaignStatus, ContactId, InboxId, JobId, JobState, QueueName,
    RecipientId, RecipientStatus,
};
use db::campaigns::{Campaign, Recipient};
use db::jobs::Enqueue;
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, BodyLimit, Envelope, accepted, ok, required_text};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(recipients);
}

/// The body limit of campaign creation (`HTTP_CAMPAIGN_JSON_LIMIT_BYTES`), which carries up to
/// 100 000 contact ids and so needs more than other endpoints.
pub struct CampaignLimit;

impl BodyLimit for CampaignLimit {
    fn bytes(req: &HttpRequest) -> Option<usize> {
        req.app_data::<web::Data<AppState>>()
            .map(|state| state.config.campaign_json_limit_bytes)
    }
}

/// Most recipients one campaign may have (bigger sends are several campaigns or an import).
const MAX_RECIPIENTS: usize = 100_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    /// At most 200 characters.
    name: String,
    /// The inbox (WhatsApp number) that sends the messages.
    inbox_id: InboxId,
    /// `Hello {{name}}!`; `{a|b}` picks a variant per message. Every variable without a default
    /// (`{{name|there}}`) must be set on every contact.
    template: String,
    /// The recipients: 1 to 100 000 of the tenant's contacts.
    #[schema(min_items = 1, max_items = 100_000)]
    contact_ids: Vec<ContactId>,
    /// Pause between two messages of this campaign, drawn uniformly from [min, max].
    #[serde(default = "default_delay_min")]
    #[schema(maximum = 600_000, default = 3_000)]
    delay_min_ms: u32,
    /// At least `delayMinMs`, at most 600 000 (ten minutes).
    #[serde(default = "default_delay_max")]
    #[schema(maximum = 600_000, default = 8_000)]
    delay_max_ms: u32,
    /// Start later instead of now (at most 365 days ahead).
    scheduled_at: Option<DateTime<Utc>>,
    /// `everyone` (the default): every named contact who has not opted out;
    /// `wrote_before`: only those who have written to the inbox's number before.
    #[serde(default)]
    audience: CampaignAudience,
}

fn default_delay_min() -> u32 {
    3_000
}
fn default_delay_max() -> u32 {
    8_000
}

/// A campaign as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CampaignView {
    id: CampaignId,
    inbox_id: InboxId,
    name: String,
    template: String,
    status: CampaignStatus,
    /// Why it is paused, waiting for WUZAPI, failed or cancelled, in words its owner can act on.
    status_reason: Option<String>,
    /// How many recipients the campaign has.
    total: i32,
    delay_min_ms: i32,
    delay_max_ms: i32,
    scheduled_at: Option<DateTime<Utc>>,
    /// Who it may message: `everyone` named who has not opted out, or only those who
    /// `wrote_before` to its number.
    audience: CampaignAudience,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// A job as the answers that start or restart one show it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRef {
    pub id: JobId,
    pub queue: QueueName,
    pub state: JobState,
}

impl From<&db::jobs::Job> for JobRef {
    fn from(job: &db::jobs::Job) -> Self {
        Self {
            id: job.id,
            queue: job.queue,
            state: job.state,
        }
    }
}

/// The campaign just created, and the job that sends it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedCampaign {
    campaign: CampaignView,
    job: JobRef,
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
            audience: m.audience,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

/// Creates a campaign and queues its send.
///
/// The campaign, its recipients and its job are written at once; the messages are sent by a
/// worker, so the answer is 202 with the job to follow (`GET /jobs/campaign/{campaignId}/status`).
/// Counts against the campaign and recipient quotas. For tenant users who belong to an account.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.write"))),
    tag = "campaigns",
    request_body = CreateCampaign,
    responses((status = 202, description = "The campaign and its queued job", body = Envelope<CreatedCampaign>)),
)]
#[post("/campaigns")]
pub async fn create(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsWrite>,
    body: ApiJson<CreateCampaign, CampaignLimit>,
) -> ApiResult {
    let account_id = user.account_id()?;
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
    let scheduled_at = body.scheduled_at;
    let mut admission = crate::quotas::admit_campaign(&state, &user).await?;
    let created = db::campaigns::create(
        user.scope(admission.txn()),
        db::campaigns::NewCampaign {
            account_id,
            inbox_id: body.inbox_id,
            created_by: user.user_id(),
            name,
            template: body.template,
            contact_ids: body.contact_ids,
            delay_min_ms: body.delay_min_ms as i32,
            delay_max_ms: body.delay_max_ms as i32,
            scheduled_at: body.scheduled_at,
            audience: body.audience,
        },
        |contacts| missing_template_variables(&template, contacts),
    )
    .await?;
    let job = db::jobs::enqueue::<CampaignBatch>(
        user.scope(admission.txn()),
        created.campaign.id,
        &(),
        Enqueue {
            max_attempts: Some(state.config.campaign_attempts),
            run_at: scheduled_at,
            trace_context: telemetry::current_traceparent(),
        },
    )
    .await?;
    // Skipped recipients are not messaged, so they do not count.
    let messaged = i64::from(created.campaign.total) - created.skipped as i64;
    admission
        .admit_recipients(i32::try_from(messaged).unwrap_or(i32::MAX))
        .await?;
    admission.commit().await?;
    state.relay_waker.wake();
    Ok(accepted(CreatedCampaign {
        job: JobRef::from(&job),
        campaign: CampaignView::from(created.campaign),
    }))
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

/// One of the tenant's campaigns.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "campaigns",
    params(("campaign_id" = uuid::Uuid, Path, description = "The campaign's id")),
    responses((status = 200, description = "The campaign", body = Envelope<CampaignView>)),
)]
#[get("/campaigns/{campaign_id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsRead>,
    path: web::Path<CampaignId>,
) -> ApiResult {
    let campaign = db::campaigns::find(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(CampaignView::from(campaign)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignsFilter {
    /// Only campaigns in this state.
    status: Option<CampaignStatus>,
    /// Only campaigns sent through this inbox.
    inbox_id: Option<InboxId>,
}

pub const CAMPAIGNS: ListSpec = ListSpec {
    name: "campaigns",
    fields: &[
        "id",
        "inboxId",
        "name",
        "template",
        "status",
        "statusReason",
        "total",
        "delayMinMs",
        "delayMaxMs",
        "scheduledAt",
        "audience",
        "createdAt",
        "startedAt",
        "finishedAt",
    ],
    default_fields: &["id", "name", "status", "total", "createdAt"],
};

/// The tenant's campaigns, newest first; `status` and `inboxId` narrow the list.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "campaigns",
    params(CampaignsFilter, ListParams),
    responses((status = 200, description = "A page of campaigns", body = Page<CampaignView>)),
)]
#[get("/campaigns")]
pub async fn list(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsRead>,
    query: ListQuery<CampaignsFilter>,
) -> ApiResult {
    let page = query.page(&CAMPAIGNS)?;
    let (rows, more) = db::campaigns::page(
        user.scope(&state.db),
        query.filter.status,
        query.filter.inbox_id,
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<CampaignView> = rows.into_iter().map(CampaignView::from).collect();
    page.respond(views, more, |c| c.id.into_uuid())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecipientsFilter {
    /// Only recipients in this state (`pending`, `sending`, `sent`, `failed`, `uncertain`,
    /// `cancelled`, `skipped`).
    status: Option<RecipientStatus>,
}

/// A recipient's outcome.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientView {
    id: RecipientId,
    /// `null` once the contact was deleted; the recipient keeps its phone.
    contact_id: Option<ContactId>,
    /// E.164 digits, without `+`.
    phone: String,
    status: RecipientStatus,
    /// Why the send failed, in words.
    error: Option<String>,
    /// The WhatsApp message id, the same on every attempt.
    message_id: String,
    sent_at: Option<DateTime<Utc>>,
    /// When WhatsApp reported the message delivered (a read receipt delivers too).
    delivered_at: Option<DateTime<Utc>>,
    /// When WhatsApp reported it read.
    read_at: Option<DateTime<Utc>>,
    /// When the recipient first wrote back after it.
    replied_at: Option<DateTime<Utc>>,
}

impl From<Recipient> for RecipientView {
    fn from(r: Recipient) -> Self {
        Self {
            id: r.id,
            contact_id: r.contact_id,
            phone: r.phone,
            status: r.status,
            error: r.error,
            message_id: r.message_id,
            sent_at: r.sent_at,
            delivered_at: r.delivered_at,
            read_at: r.read_at,
            replied_at: r.replied_at,
        }
    }
}

pub const RECIPIENTS: ListSpec = ListSpec {
    name: "campaign_recipients",
    fields: &[
        "id",
        "contactId",
        "phone",
        "status",
        "error",
        "messageId",
        "sentAt",
        "deliveredAt",
        "readAt",
        "repliedAt",
    ],
    default_fields: &["id", "phone", "status"],
};

/// Each recipient of a campaign with its outcome, in id order; `status` keeps one state.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "campaigns",
    params(
        ("campaign_id" = uuid::Uuid, Path, description = "The campaign's id"),
        RecipientsFilter,
        ListParams,
    ),
    responses((status = 200, description = "A page of recipients", body = Page<RecipientView>)),
)]
#[get("/campaigns/{campaign_id}/recipients")]
pub async fn recipients(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsRead>,
    path: web::Path<CampaignId>,
    query: ListQuery<RecipientsFilter>,
) -> ApiResult {
    let campaign_id = path.into_inner();
    let page = query.page_within(&RECIPIENTS, campaign_id.into_uuid())?;
    let (rows, more) = db::campaigns::recipients_page(
        user.scope(&state.db),
        campaign_id,
        query.filter.status,
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<RecipientView> = rows.into_iter().map(RecipientView::from).collect();
    page.respond(views, more, |r| r.id.into_uuid())
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
