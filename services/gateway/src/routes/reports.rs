//! Reports: a campaign's delivery, the contacts, the usage per day, as CSV or JSON files that
//! `worker-report` generates into storage and this gateway streams back.

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use common::jobs::kind::ReportGeneration;
use common::reports::{ReportFormat, ReportKind, ReportStatus};
use common::subscription::Feature;
use common::{CampaignId, ErrorCode, Permission, ReportId};
use db::jobs::Enqueue;
use db::reports::{NewReport, Report, USAGE_MAX_DAYS};
use futures_util::StreamExt;
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};

use super::campaigns::JobRef;
use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, Routes, accepted, ok};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::routes::plans::features_of;
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(download);
}

/// The days a usage report covers when `from` is not given.
const USAGE_DEFAULT_DAYS: i64 = 30;

/// What to report.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReport {
    /// `campaign_delivery` (one row per recipient of `campaignId`), `contacts` (one row per
    /// contact) or `usage` (one row per UTC day).
    kind: ReportKind,
    /// `csv` or `json`.
    format: ReportFormat,
    /// The campaign of a `campaign_delivery` report (required there, refused elsewhere).
    campaign_id: Option<CampaignId>,
    /// Start of the time range (RFC 3339, included): contacts created from then (default: all);
    /// usage from then (default: 30 days before `to`). Not for `campaign_delivery`.
    from: Option<DateTime<Utc>>,
    /// End of the time range (RFC 3339, excluded): contacts created before then (default:
    /// all); usage until then (default: now). Not for `campaign_delivery`.
    to: Option<DateTime<Utc>>,
}

/// What a report covers. Which fields a kind takes is the API's to check: `campaignId` for
/// `campaign_delivery`; `from`/`to` (creation times, `from` included, `to` excluded) for
/// `contacts` (optional) and `usage` (set at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

impl From<db::reports::ReportParameters> for ReportParameters {
    fn from(v: db::reports::ReportParameters) -> Self {
        Self {
            campaign_id: v.campaign_id,
            from: v.from,
            to: v.to,
        }
    }
}

/// A report as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    id: ReportId,
    kind: ReportKind,
    format: ReportFormat,
    /// What it covers: `campaignId`, or the time range `from`/`to` it was made for.
    parameters: ReportParameters,
    status: ReportStatus,
    /// Why it failed.
    status_reason: Option<String>,
    /// Data rows of the file (the CSV header not counted), once ready.
    rows: Option<i64>,
    /// The file's size, once ready.
    bytes: Option<i64>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// When the file is deleted (`REPORT_TTL_HOURS` after it was ready).
    expires_at: Option<DateTime<Utc>>,
}

impl From<Report> for ReportView {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            format: r.format,
            parameters: r.parameters.into(),
            status: r.status,
            status_reason: r.status_reason,
            rows: r.rows,
            bytes: r.bytes,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            expires_at: r.expires_at,
        }
    }
}

/// The report just created, and the job that generates it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedReport {
    report: ReportView,
    job: JobRef,
}

/// The parameters `body` asks for, checked against its kind, with the usage range's defaults
/// filled in (so the report says exactly what it covers).
fn parameters_of(
    body: &CreateReport,
    now: DateTime<Utc>,
) -> Result<db::reports::ReportParameters, ApiError> {
    let not_for = |field: &str| {
        ApiError::validation(
            field,
            format!("`{field}` is not taken by a `{}` report", body.kind),
        )
    };
    if let (Some(from), Some(to)) = (body.from, body.to)
        && from >= to
    {
        return Err(ApiError::validation("from", "`from` must be before `to`"));
    }
    match body.kind {
        ReportKind::CampaignDelivery => {
            if body.from.is_some() {
                return Err(not_for("from"));
            }
            if body.to.is_some() {
                return Err(not_for("to"));
            }
            let campaign_id = body.campaign_id.ok_or_else(|| {
                ApiError::validation(
                    "campaignId",
                    "`campaignId` is required for a `campaign_delivery` report",
                )
            })?;
            Ok(db::reports::ReportParameters {
                campaign_id: Some(campaign_id),
                ..db::reports::ReportParameters::default()
            })
        }
        ReportKind::Contacts => {
            if body.campaign_id.is_some() {
                return Err(not_for("campaignId"));
            }
            Ok(db::reports::ReportParameters {
                campaign_id: None,
                from: body.from,
                to: body.to,
            })
        }
        ReportKind::OptOuts => {
            for (field, given) in [
                ("campaignId", body.campaign_id.is_some()),
                ("from", body.from.is_some()),
                ("to", body.to.is_some()),
            ] {
                if given {
                    return Err(not_for(field));
                }
            }
            Ok(db::reports::ReportParameters::default())
        }
        ReportKind::Usage => {
            if body.campaign_id.is_some() {
                return Err(not_for("campaignId"));
            }
            let to = body.to.unwrap_or(now);
            let from = body
                .from
                .unwrap_or(to - chrono::Duration::days(USAGE_DEFAULT_DAYS));
            if from >= to {
                return Err(ApiError::validation("from", "`from` must be before `to`"));
            }
            if to - from > chrono::Duration::days(USAGE_MAX_DAYS) {
                return Err(ApiError::validation(
                    "from",
                    format!("a usage report covers at most {USAGE_MAX_DAYS} days"),
                ));
            }
            Ok(db::reports::ReportParameters {
                campaign_id: None,
                from: Some(from),
                to: Some(to),
            })
        }
    }
}

/// Asks for a report; `worker-report` generates it.
///
/// The answer is 202 with the report (`queued`) and its job; `GET /reports/{report_id}` shows
/// when it is `ready`, then `GET /reports/{report_id}/download` gives the file until
/// `expiresAt`. Needs the `reports` feature (403 `feature_not_enabled`). A `campaign_delivery`
/// report needs a campaign of the caller's tenant (404 otherwise); `from` must be before `to`,
/// and a usage report covers at most 366 days (422).
#[utoipa::path(
    extensions(("x-permission" = json!("reports.read"))),
    tag = "reports",
    request_body = CreateReport,
    responses((status = 202, description = "The report and its queued job", body = Envelope<CreatedReport>)),
)]
#[post("/reports")]
pub async fn create(
    state: web::Data<AppState>,
    user: Allowed<perm::ReportsRead>,
    body: ApiJson<CreateReport>,
) -> ApiResult {
    let body = body.into_inner();
    // A report is an export of its data: the data's own read permission too.
    let data = match body.kind {
        ReportKind::CampaignDelivery => Some(Permission::CampaignsRead),
        ReportKind::Contacts | ReportKind::OptOuts => Some(Permission::ContactsRead),
        ReportKind::Usage => None,
    };
    if let Some(permission) = data {
        crate::permissions::require(&state, &user, permission).await?;
    }
    let features = features_of(&state, &user, user.user_id()).await?;
    if !features.contains(&Feature::Reports) {
        return Err(ApiError::new(
            ErrorCode::FeatureNotEnabled,
            format!(
                "feature `{}` is not enabled for this user: reports need it",
                Feature::Reports
            ),
        ));
    }
    let parameters = parameters_of(&body, Utc::now())?;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    if let Some(campaign_id) = parameters.campaign_id {
        // Another tenant's campaign is not found.
        db::campaigns::find(user.scope(&txn), campaign_id).await?;
    }
    let report = db::reports::create(
        user.scope(&txn),
        NewReport {
            id: ReportId::new(),
            account_id: user.account_id().ok(),
            created_by: user.user_id(),
            kind: body.kind,
            format: body.format,
            parameters,
        },
    )
    .await?;
    let job = db::jobs::enqueue::<ReportGeneration>(
        user.scope(&txn),
        report.id,
        &(),
        Enqueue {
            max_attempts: Some(state.config.report_attempts),
            run_at: None,
            trace_context: telemetry::current_traceparent(),
        },
    )
    .await?;
    txn.commit().await.map_err(db::DbError::from)?;
    state.relay_waker.wake();
    Ok(accepted(CreatedReport {
        report: ReportView::from(report),
        job: JobRef::from(&job),
    }))
}

pub const REPORTS: ListSpec = ListSpec {
    name: "reports",
    fields: &[
        "id",
        "kind",
        "format",
        "parameters",
        "status",
        "statusReason",
        "rows",
        "bytes",
        "createdAt",
        "startedAt",
        "finishedAt",
        "expiresAt",
    ],
    default_fields: &["id", "kind", "format", "status", "expiresAt"],
};

/// The tenant's reports, oldest first.
#[utoipa::path(
    extensions(("x-permission" = json!("reports.read"))),
    tag = "reports",
    params(ListParams),
    responses((status = 200, description = "A page of reports", body = Page<ReportView>)),
)]
#[get("/reports")]
pub async fn list(
    state: web::Data<AppState>,
    user: Allowed<perm::ReportsRead>,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&REPORTS)?;
    let (rows, more) = db::reports::page(user.scope(&state.db), page.after(), page.limit()).await?;
    let views: Vec<ReportView> = rows.into_iter().map(ReportView::from).collect();
    page.respond(views, more, |r| r.id.into_uuid())
}

/// One report: its status, rows, size and expiry.
#[utoipa::path(
    extensions(("x-permission" = json!("reports.read"))),
    tag = "reports",
    params(("report_id" = uuid::Uuid, Path, description = "The report")),
    responses((status = 200, description = "The report", body = Envelope<ReportView>)),
)]
#[get("/reports/{report_id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: Allowed<perm::ReportsRead>,
    path: web::Path<ReportId>,
) -> ApiResult {
    let report = db::reports::find(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(ReportView::from(report)))
}

fn gone(id: ReportId) -> ApiError {
    ApiError::new(
        ErrorCode::Gone,
        format!("report {id} has expired and its file was deleted; ask for a new one"),
    )
}

/// The report's file, streamed: `text/csv` or `application/json` (an array of objects), as an
/// attachment. 409 `conflict` while it is not ready (or when it failed), 410 `gone` once it
/// expired.
#[utoipa::path(
    extensions(("x-permission" = json!("reports.read"))),
    tag = "reports",
    params(("report_id" = uuid::Uuid, Path, description = "The report")),
    responses((status = 200, description = "The file", content(
        (String = "text/csv"),
        (Vec<serde_json::Value> = "application/json"),
    ))),
)]
#[get("/reports/{report_id}/download")]
pub async fn download(
    state: web::Data<AppState>,
    user: Allowed<perm::ReportsRead>,
    path: web::Path<ReportId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let report = db::reports::find(user.scope(&state.db), id).await?;
    match report.status {
        ReportStatus::Ready => {}
        ReportStatus::Expired => return Err(gone(id)),
        ReportStatus::Failed => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "report {id} failed ({}); ask for a new one",
                    report
                        .status_reason
                        .as_deref()
                        .unwrap_or("no reason recorded")
                ),
            ));
        }
        ReportStatus::Queued | ReportStatus::Running => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "report {id} is {}, not ready yet; GET /api/reports/{id} says when it is",
                    report.status
                ),
            ));
        }
    }
    // Past its expiry but not yet swept: as good as deleted.
    if report.expires_at.is_none_or(|at| at <= Utc::now()) {
        return Err(gone(id));
    }
    let key = report
        .storage_key
        .as_deref()
        .ok_or_else(|| ApiError::internal(format!("ready report {id} has no storage key")))?;
    let key = storage::StorageKey::parse(key).map_err(ApiError::internal)?;
    let stream = match state.storage.get_stream(&key).await {
        Ok(stream) => stream,
        // Deleted by a sweep between the read above and now.
        Err(e) if e.is_not_found() => return Err(gone(id)),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let body = stream.map(|chunk| chunk.map_err(std::io::Error::other));
    Ok(HttpResponse::Ok()
        .content_type(report.format.content_type())
        .insert_header((
            CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"report-{}-{id}.{}\"",
                report.kind,
                report.format.extension()
            ),
        ))
        .streaming(body))
}
