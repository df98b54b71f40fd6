//! Delivery analytics an owner can chart: sent, delivered, read, replied, failed and opted out
//! per hour or day of the tenant's time zone, for the tenant, one inbox or one campaign, and
//! the top failure reasons (`db::analytics`). Another tenant's campaign or inbox is 404.

use std::collections::HashMap;

use actix_web::{get, web};
use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};
use common::{CampaignId, InboxId};
use db::analytics::{AnalyticsScope, Counts, Interval};
use serde::{Deserialize, Serialize};

use super::{ApiResult, Envelope, Routes, invalid_parameter, ok};
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(analytics);
}

/// Most points a series has (31 days of hours, a year and a month of days).
const MAX_POINTS: i64 = 800;
const TOP_REASONS: u64 = 10;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// Only this campaign.
    campaign_id: Option<CampaignId>,
    /// Only this inbox's campaigns (and the opt-outs written to it).
    inbox_id: Option<InboxId>,
    /// Start (RFC 3339; default: `to` minus 7 days).
    from: Option<DateTime<Utc>>,
    /// End, excluded (default: now).
    to: Option<DateTime<Utc>>,
    /// `hour` or `day` (default), in the tenant's time zone.
    interval: Option<String>,
}

/// One bucket of the series.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    /// The bucket's start, local time of `timeZone` (no offset).
    #[schema(value_type = String, example = "2026-12-03T14:00:00")]
    start: NaiveDateTime,
    #[serde(flatten)]
    counts: DeliveryCounts,
}

#[derive(Serialize, utoipa::ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryCounts {
    sent: i64,
    delivered: i64,
    read: i64,
    replied: i64,
    failed: i64,
    opted_out: i64,
}

impl From<Counts> for DeliveryCounts {
    fn from(c: Counts) -> Self {
        Self {
            sent: c.sent,
            delivered: c.delivered,
            read: c.read,
            replied: c.replied,
            failed: c.failed,
            opted_out: c.opted_out,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureReasonView {
    reason: String,
    count: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAnalytics {
    campaign_id: Option<CampaignId>,
    inbox_id: Option<InboxId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: String,
    time_zone: String,
    /// Sums over the range.
    totals: DeliveryCounts,
    /// Every bucket of the range, oldest first, empty ones included.
    series: Vec<SeriesPoint>,
    /// The most frequent reasons of the range's failures, most frequent first.
    top_failure_reasons: Vec<FailureReasonView>,
}

/// What the tenant's messages did over time, for charts: per `interval` of the tenant's time
/// zone, counts of messages sent, delivered, read, replied, failed and numbers opted out, with
/// totals and the top 10 failure reasons. `from` not before `to`, an unknown `interval` or
/// more than 800 points is 400. Tenant users.
#[utoipa::path(
    extensions(("x-permission" = json!("campaigns.read"))),
    tag = "campaigns",
    params(AnalyticsQuery),
    responses((status = 200, description = "The series", body = Envelope<DeliveryAnalytics>)),
)]
#[get("/analytics")]
pub async fn analytics(
    state: web::Data<AppState>,
    user: Allowed<perm::CampaignsRead>,
    query: web::Query<AnalyticsQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let to = query.to.unwrap_or_else(Utc::now);
    let from = query.from.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(invalid_parameter("from", "`from` must be before `to`"));
    }
    let (interval, step) = match query.interval.as_deref().unwrap_or("day") {
        "hour" => (Interval::Hour, Duration::hours(1)),
        "day" => (Interval::Day, Duration::days(1)),
        other => {
            return Err(invalid_parameter(
                "interval",
                format!("`interval` is `hour` or `day`, not `{other}`"),
            ));
        }
    };
    let scope = user.scope(&state.db);
    // A campaign or inbox of another tenant is not found, before anything is counted.
    if let Some(id) = query.campaign_id {
        db::campaigns::find(scope, id).await?;
    }
    if let Some(id) = query.inbox_id {
        db::inboxes::find(scope, id).await?;
    }
    let time_zone = db::tenants::time_zone(scope).await?;
    let zone = common::pacing::time_zone(&time_zone).unwrap_or(chrono_tz::UTC);
    let first = bucket_start(from, zone, interval);
    let last = bucket_start(to - Duration::nanoseconds(1), zone, interval);
    let points = (last - first).num_seconds() / step.num_seconds() + 1;
    if points > MAX_POINTS {
        return Err(invalid_parameter(
            "from",
            format!("at most {MAX_POINTS} points: a shorter range or a longer interval"),
        ));
    }
    let of = AnalyticsScope {
        campaign_id: query.campaign_id,
        inbox_id: query.inbox_id,
    };
    let counted = db::analytics::series(scope, of, from, to, interval, zone.name()).await?;
    let reasons = db::analytics::top_failure_reasons(scope, of, from, to, TOP_REASONS).await?;
    let (totals, series) = every_bucket(&counted, first, last, step, points);
    Ok(ok(DeliveryAnalytics {
        campaign_id: query.campaign_id,
        inbox_id: query.inbox_id,
        from,
        to,
        interval: interval_name(interval).to_owned(),
        time_zone: zone.name().to_owned(),
        totals: totals.into(),
        series,
        top_failure_reasons: reasons
            .into_iter()
            .map(|r| FailureReasonView {
                reason: r.reason,
                count: r.count,
            })
            .collect(),
    }))
}

/// The start of the bucket `at` falls in, in the tenant's time zone.
fn bucket_start(at: DateTime<Utc>, zone: chrono_tz::Tz, interval: Interval) -> NaiveDateTime {
    let local = at.with_timezone(&zone).naive_local();
    let hour = local
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(local);
    match interval {
        Interval::Hour => hour,
        Interval::Day => hour.with_hour(0).unwrap_or(hour),
    }
}

/// Every bucket from `first` to `last`, empty ones included, and their sums.
fn every_bucket(
    counted: &HashMap<NaiveDateTime, Counts>,
    first: NaiveDateTime,
    last: NaiveDateTime,
    step: Duration,
    points: i64,
) -> (Counts, Vec<SeriesPoint>) {
    let mut totals = Counts::default();
    let mut series = Vec::with_capacity(points as usize);
    let mut start = first;
    while start <= last {
        let counts = counted.get(&start).copied().unwrap_or_default();
        totals.sent += counts.sent;
        totals.delivered += counts.delivered;
        totals.read += counts.read;
        totals.replied += counts.replied;
        totals.failed += counts.failed;
        totals.opted_out += counts.opted_out;
        series.push(SeriesPoint {
            start,
            counts: counts.into(),
        });
        start += step;
    }
    (totals, series)
}

fn interval_name(interval: Interval) -> &'static str {
    match interval {
        Interval::Hour => "hour",
        Interval::Day => "day",
    }
}
