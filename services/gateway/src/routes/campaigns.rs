//! Campaigns: creating one queues its send.

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, Utc};

use common::{
    CampaignAudience, CampaignId, CampaignStatus, ContactId, InboxId, JobId, JobState, QueueName,
    RecipientId, RecipientStatus,
};
use db::campaigns::{Campaign, Recipient};
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, BodyLimit, Envelope, accepted, ok};
use crate::permissions::{Allowed, perm};
use crate::state::AppState;
use crate::usecases::{self, campaigns::NewCampaign};

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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    /// At most 200 characters.
    pub(crate) name: String,
    /// The inbox (WhatsApp number) that sends the messages.
    pub(crate) inbox_id: InboxId,
    /// `Hello {{name}}!`; `{a|b}` picks a variant per message. Every variable without a default
    /// (`{{name|there}}`) must be set on every contact.
    pub(crate) template: String,
    /// The recipients: 1 to 100 000 of the tenant's contacts.
    #[schema(min_items = 1, max_items = 100_000)]
    pub(crate) contact_ids: Vec<ContactId>,
    /// Pause between two messages of this campaign, drawn uniformly from [min, max].
    #[serde(default = "default_delay_min")]
    #[schema(maximum = 600_000, default = 3_000)]
    pub(crate) delay_min_ms: u32,
    /// At least `delayMinMs`, at most 600 000 (ten minutes).
    #[serde(default = "default_delay_max")]
    #[schema(maximum = 600_000, default = 8_000)]
    pub(crate) delay_max_ms: u32,
    /// Start later instead of now (at most 365 days ahead).
    pub(crate) scheduled_at: Option<DateTime<Utc>>,
    /// `everyone` (the default): every named contact who has not opted out;
    /// `wrote_before`: only those who have written to the inbox's number before.
    #[serde(default)]
    pub(crate) audience: CampaignAudience,
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
    let new = NewCampaign::parse(body.into_inner(), Utc::now())?;
    let (campaign, job) = usecases::campaigns::create(&state, &user, new).await?;
    Ok(accepted(CreatedCampaign {
        job: JobRef::from(&job),
        campaign: CampaignView::from(campaign),
    }))
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
