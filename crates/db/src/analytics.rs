//! Delivery analytics: what a tenant's messages did over time (sent, delivered, read,
//! replied, failed, opted out), per campaign, per inbox or tenant-wide, in buckets of the
//! tenant's local hours or days, and the top reasons sends failed.
//!
//! Counted from the recipients' own times (`sent_at`, `delivered_at`, `read_at`,
//! `replied_at`, a failure's last update) and `opt_outs.opted_out_at`, so every figure agrees
//! with the recipients list. Each query reads the scope's recipients once.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::sql;
use common::{CampaignId, InboxId, RecipientStatus};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbResult, TenantScope};

/// What the figures cover: the whole tenant, one inbox, one campaign (or both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalyticsScope {
    pub campaign_id: Option<CampaignId>,
    pub inbox_id: Option<InboxId>,
}

/// A bucket's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    fn sql(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }
}

/// The figures one series point or the totals hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub replied: i64,
    pub failed: i64,
    pub opted_out: i64,
}

impl Counts {
    fn add(&mut self, metric: &str, n: i64) {
        match metric {
            "sent" => self.sent += n,
            "delivered" => self.delivered += n,
            "read" => self.read += n,
            "replied" => self.replied += n,
            "failed" => self.failed += n,
            "opted_out" => self.opted_out += n,
            _ => {}
        }
    }
}

/// Counts per bucket start (local time of `time_zone`) with any activity in `[from, to)`.
pub async fn series(
    scope: TenantScope<'_, impl ConnectionTrait>,
    of: AnalyticsScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    time_zone: &str,
) -> DbResult<HashMap<NaiveDateTime, Counts>> {
    #[derive(FromQueryResult)]
    struct Row {
        bucket: NaiveDateTime,
        metric: String,
        n: i64,
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "WITH r AS (
                 SELECT r.phone, r.status, r.sent_at, r.delivered_at, r.read_at, r.replied_at,
                        r.updated_at
                   FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
                  WHERE r.tenant_id = $1 AND c.tenant_id = $1
                    AND ($2::uuid IS NULL OR c.id = $2)
                    AND ($3::uuid IS NULL OR c.inbox_id = $3)),
             ev AS (
                 SELECT 'sent' AS metric, sent_at AS at FROM r WHERE sent_at IS NOT NULL
                 UNION ALL SELECT 'delivered', delivered_at FROM r WHERE delivered_at IS NOT NULL
                 UNION ALL SELECT 'read', read_at FROM r WHERE read_at IS NOT NULL
                 UNION ALL SELECT 'replied', replied_at FROM r WHERE replied_at IS NOT NULL
                 UNION ALL SELECT 'failed', updated_at FROM r WHERE status = $7
                 UNION ALL SELECT 'opted_out', o.opted_out_at FROM opt_outs o
                  WHERE o.tenant_id = $1
                    AND ($3::uuid IS NULL OR o.inbox_id = $3)
                    AND ($2::uuid IS NULL OR o.phone IN (SELECT phone FROM r)))
             SELECT date_trunc($8, ev.at AT TIME ZONE $6) AS bucket, metric,
                    count(*) AS n
               FROM ev WHERE ev.at >= $4 AND ev.at < $5
              GROUP BY 1, 2"
        ),
        [
            scope.tenant_uuid().into(),
            of.campaign_id.map(CampaignId::into_uuid).into(),
            of.inbox_id.map(InboxId::into_uuid).into(),
            from.into(),
            to.into(),
            time_zone.into(),
            RecipientStatus::Failed.into(),
            interval.sql().into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    let mut series: HashMap<NaiveDateTime, Counts> = HashMap::new();
    for row in rows {
        series
            .entry(row.bucket)
            .or_default()
            .add(&row.metric, row.n);
    }
    Ok(series)
}

/// One reason sends failed, and how often.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct FailureReason {
    pub reason: String,
    pub count: i64,
}

/// The `limit` most frequent reasons of the scope's failures in `[from, to)`.
pub async fn top_failure_reasons(
    scope: TenantScope<'_, impl ConnectionTrait>,
    of: AnalyticsScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> DbResult<Vec<FailureReason>> {
    Ok(
        FailureReason::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT coalesce(r.error, 'unknown') AS reason, count(*) AS count
           FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
          WHERE r.tenant_id = $1 AND c.tenant_id = $1 AND r.status = $6
            AND ($2::uuid IS NULL OR c.id = $2)
            AND ($3::uuid IS NULL OR c.inbox_id = $3)
            AND r.updated_at >= $4 AND r.updated_at < $5
          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $7"
            ),
            [
                scope.tenant_uuid().into(),
                of.campaign_id.map(CampaignId::into_uuid).into(),
                of.inbox_id.map(InboxId::into_uuid).into(),
                from.into(),
                to.into(),
                RecipientStatus::Failed.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .all(scope.conn())
        .await?,
    )
}
