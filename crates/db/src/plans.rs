//! Subscription plans a tenant sells to its users, each user's subscription, and per-user
//! overrides of a plan's quotas and features.
//!
//! The quota and feature names are closed sets ([`Quota`], [`Feature`]); the tables' checks
//! refuse any other name. A plan's quota that is `None` is unlimited. What a user may actually
//! do (plan, overrides and subscription status together) is [`crate::quotas::entitlements`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use common::sql;
use common::subscription::{Feature, Quota, SubscriptionStatus};
use common::{SubscriptionPlanId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, SqlErr, Statement};

use crate::{DbError, DbResult, TenantScope};

/// One limit per [`Quota`]; `None` is unlimited. Serialised with the quotas' names as keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    pub max_inboxes: Option<i64>,
    pub max_contacts: Option<i64>,
    pub max_campaigns: Option<i64>,
    pub messages_per_day: Option<i64>,
}

impl QuotaLimits {
    pub const UNLIMITED: QuotaLimits = QuotaLimits {
        max_inboxes: None,
        max_contacts: None,
        max_campaigns: None,
        messages_per_day: None,
    };

    pub const ZERO: QuotaLimits = QuotaLimits {
        max_inboxes: Some(0),
        max_contacts: Some(0),
        max_campaigns: Some(0),
        messages_per_day: Some(0),
    };

    pub fn get(&self, quota: Quota) -> Option<i64> {
        match quota {
            Quota::MaxInboxes => self.max_inboxes,
            Quota::MaxContacts => self.max_contacts,
            Quota::MaxCampaigns => self.max_campaigns,
            Quota::MessagesPerDay => self.messages_per_day,
        }
    }

    pub fn set(&mut self, quota: Quota, limit: Option<i64>) {
        let slot = match quota {
            Quota::MaxInboxes => &mut self.max_inboxes,
            Quota::MaxContacts => &mut self.max_contacts,
            Quota::MaxCampaigns => &mut self.max_campaigns,
            Quota::MessagesPerDay => &mut self.messages_per_day,
        };
        *slot = limit;
    }
}

/// A plan with its subscriber count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionPlan {
    pub id: SubscriptionPlanId,
    pub name: String,
    pub quotas: QuotaLimits,
    pub features: BTreeSet<Feature>,
    /// Users subscribed to it, whatever their subscription's status.
    pub subscribers: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A plan to write, already validated (name trimmed, 1 to 100 characters; limits not negative).
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub name: String,
    pub quotas: QuotaLimits,
    pub features: BTreeSet<Feature>,
}

#[derive(FromQueryResult)]
struct PlanRow {
    id: uuid::Uuid,
    name: String,
    max_inboxes: Option<i64>,
    max_contacts: Option<i64>,
    max_campaigns: Option<i64>,
    messages_per_day: Option<i64>,
    features: Vec<String>,
    subscribers: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Stored feature names as a set; an unknown one means the code is older than the data.
pub(crate) fn parse_features(names: &[String]) -> DbResult<BTreeSet<Feature>> {
    names
        .iter()
        .map(|name| {
            Feature::from_name(name)
                .ok_or_else(|| DbError::corrupt("subscription_plans", "features", name.as_str()))
        })
        .collect()
}

impl TryFrom<PlanRow> for SubscriptionPlan {
    type Error = DbError;

    fn try_from(row: PlanRow) -> DbResult<Self> {
        Ok(Self {
            id: row.id.into(),
            name: row.name,
            quotas: QuotaLimits {
                max_inboxes: row.max_inboxes,
                max_contacts: row.max_contacts,
                max_campaigns: row.max_campaigns,
                messages_per_day: row.messages_per_day,
            },
            features: parse_features(&row.features)?,
            subscribers: row.subscribers,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const PLAN_COLUMNS: &str = "p.id, p.name, p.max_inboxes, p.max_contacts, p.max_campaigns,
    p.messages_per_day, p.features, p.created_at, p.updated_at,
    (SELECT count(*) FROM user_subscriptions s WHERE s.plan_id = p.id) AS subscribers";

fn feature_names(features: &BTreeSet<Feature>) -> Vec<String> {
    features.iter().map(|f| f.as_str().to_owned()).collect()
}

fn duplicate_name(err: DbErr, name: &str) -> DbError {
    DbError::conflict_on_unique(err, format!("a plan named `{name}` exists"))
}

async fn plan_query(
    conn: &impl ConnectionTrait,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<PlanRow>, DbErr> {
    PlanRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .all(conn)
    .await
}

pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewPlan,
) -> DbResult<SubscriptionPlan> {
    let sql = sql!(
        "WITH p AS (
             INSERT INTO subscription_plans (id, tenant_id, name, max_inboxes, max_contacts,
                                             max_campaigns, messages_per_day, features)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[])
             RETURNING *
         )
         SELECT {PLAN_COLUMNS} FROM p",
        PLAN_COLUMNS
    );
    let rows = plan_query(
        scope.conn(),
        sql,
        vec![
            SubscriptionPlanId::new().into_uuid().into(),
            scope.tenant_uuid().into(),
            new.name.clone().into(),
            new.quotas.max_inboxes.into(),
            new.quotas.max_contacts.into(),
            new.quotas.max_campaigns.into(),
            new.quotas.messages_per_day.into(),
            feature_names(&new.features).into(),
        ],
    )
    .await
    .map_err(|e| duplicate_name(e, &new.name))?;
    rows.into_iter()
        .next()
        .ok_or(DbError::NotFound("plan"))?
        .try_into()
}

/// One page of the tenant's plans, oldest first after `cursor`: up to `limit` plans and whether
/// more follow. One statement: the subscriber counts are subqueries of it.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cursor: Option<SubscriptionPlanId>,
    limit: u64,
) -> DbResult<(Vec<SubscriptionPlan>, bool)> {
    let sql = sql!(
        "SELECT {PLAN_COLUMNS} FROM subscription_plans p
          WHERE p.tenant_id = $1 AND ($2::uuid IS NULL OR p.id > $2)
          ORDER BY p.id LIMIT $3",
        PLAN_COLUMNS
    );
    let mut rows = plan_query(
        scope.conn(),
        sql,
        vec![
            scope.tenant_uuid().into(),
            cursor.map(SubscriptionPlanId::into_uuid).into(),
            // One more than asked: its presence says whether another page follows.
            i64::try_from(limit.saturating_add(1))
                .unwrap_or(i64::MAX)
                .into(),
        ],
    )
    .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let plans = rows
        .into_iter()
        .map(SubscriptionPlan::try_from)
        .collect::<DbResult<_>>()?;
    Ok((plans, more))
}

pub async fn find(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: SubscriptionPlanId,
) -> DbResult<SubscriptionPlan> {
    let sql = sql!(
        "SELECT {PLAN_COLUMNS} FROM subscription_plans p WHERE p.tenant_id = $1 AND p.id = $2",
        PLAN_COLUMNS
    );
    plan_query(
        scope.conn(),
        sql,
        vec![scope.tenant_uuid().into(), id.into_uuid().into()],
    )
    .await?
    .into_iter()
    .next()
    .ok_or(DbError::NotFound("plan"))?
    .try_into()
}

/// Replaces a plan's name, quotas and features.
pub async fn replace(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: SubscriptionPlanId,
    new: NewPlan,
) -> DbResult<SubscriptionPlan> {
    let sql = sql!(
        "WITH p AS (
             UPDATE subscription_plans
                SET name = $3, max_inboxes = $4, max_contacts = $5, max_campaigns = $6,
                    messages_per_day = $7, features = $8::text[], updated_at = now()
              WHERE tenant_id = $1 AND id = $2
          RETURNING *
         )
         SELECT {PLAN_COLUMNS} FROM p",
        PLAN_COLUMNS
    );
    plan_query(
        scope.conn(),
        sql,
        vec![
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            new.name.clone().into(),
            new.quotas.max_inboxes.into(),
            new.quotas.max_contacts.into(),
            new.quotas.max_campaigns.into(),
            new.quotas.messages_per_day.into(),
            feature_names(&new.features).into(),
        ],
    )
    .await
    .map_err(|e| duplicate_name(e, &new.name))?
    .into_iter()
    .next()
    .ok_or(DbError::NotFound("plan"))?
    .try_into()
}

/// Deletes a plan nobody is subscribed to; one with subscribers is a [`DbError::Conflict`].
pub async fn delete(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: SubscriptionPlanId,
) -> DbResult<()> {
    let plan = find(scope, id).await?;
    let in_use = || {
        DbError::Conflict(format!(
            "plan `{}` has subscribers; move them to another plan first",
            plan.name
        ))
    };
    if plan.subscribers > 0 {
        return Err(in_use());
    }
    // A subscription written since the check above makes the foreign key refuse the delete.
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("DELETE FROM subscription_plans WHERE tenant_id = $1 AND id = $2"),
            [scope.tenant_uuid().into(), id.into_uuid().into()],
        ))
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => in_use(),
            _ => DbError::Db(e),
        })?;
    Ok(())
}

#[derive(FromQueryResult)]
struct UserIdRow {
    user_id: uuid::Uuid,
}

/// The users subscribed to a plan: whose cached quotas, features and subscription a change of
/// the plan makes stale.
pub async fn subscriber_ids(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: SubscriptionPlanId,
) -> DbResult<Vec<UserId>> {
    let rows = UserIdRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT user_id FROM user_subscriptions WHERE tenant_id = $1 AND plan_id = $2"),
        [scope.tenant_uuid().into(), id.into_uuid().into()],
    ))
    .all(scope.conn())
    .await?;
    Ok(rows.into_iter().map(|r| r.user_id.into()).collect())
}

pub(crate) fn stored_subscription_status(name: &str) -> DbResult<SubscriptionStatus> {
    crate::parse_stored("user_subscriptions", "status", name)
}

/// A user's subscription: its plan, status and start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub plan_id: SubscriptionPlanId,
    pub plan_name: String,
    pub status: SubscriptionStatus,
    /// When the user moved to this plan (a change of status alone keeps it).
    pub started_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct SubscriptionRow {
    plan_id: uuid::Uuid,
    plan_name: String,
    status: String,
    started_at: DateTime<Utc>,
}

/// The user's subscription, `None` when it has none (or is not a user of this tenant).
pub async fn subscription(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<Option<Subscription>> {
    let row = SubscriptionRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT s.plan_id, p.name AS plan_name, s.status, s.started_at
           FROM user_subscriptions s
           JOIN subscription_plans p ON p.id = s.plan_id
          WHERE s.tenant_id = $1 AND s.user_id = $2"
        ),
        [scope.tenant_uuid().into(), user_id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?;
    row.map(|row| {
        Ok(Subscription {
            plan_id: row.plan_id.into(),
            plan_name: row.plan_name,
            status: stored_subscription_status(&row.status)?,
            started_at: row.started_at,
        })
    })
    .transpose()
}

/// Fails with [`DbError::NotFound`] unless `user_id` is a user of the scope's tenant.
pub async fn require_user(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<()> {
    let found = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2"),
            [scope.tenant_uuid().into(), user_id.into_uuid().into()],
        ))
        .await?;
    found.map(|_| ()).ok_or(DbError::NotFound("user"))
}

/// Subscribes a user of the tenant to one of the tenant's plans, or changes its plan or status.
/// An unknown user is [`DbError::NotFound`]; a plan of no such id in this tenant is
/// [`DbError::Invalid`] on `planId`.
pub async fn subscribe(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    plan_id: SubscriptionPlanId,
    status: SubscriptionStatus,
) -> DbResult<Subscription> {
    require_user(scope, user_id).await?;
    let unknown_plan = || DbError::Invalid {
        field: "planId",
        message: format!("plan {plan_id} does not exist"),
    };
    find(scope, plan_id).await.map_err(|e| match e {
        DbError::NotFound(_) => unknown_plan(),
        other => other,
    })?;
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO user_subscriptions (user_id, tenant_id, plan_id, status)
             VALUES ($2, $1, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET
                 plan_id = excluded.plan_id,
                 status = excluded.status,
                 started_at = CASE WHEN user_subscriptions.plan_id = excluded.plan_id
                                   THEN user_subscriptions.started_at ELSE now() END,
                 updated_at = now()"
            ),
            [
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
                plan_id.into_uuid().into(),
                status.as_str().into(),
            ],
        ))
        .await
        // The plan was deleted since it was found.
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => unknown_plan(),
            _ => DbError::Db(e),
        })?;
    subscription(scope, user_id)
        .await?
        .ok_or(DbError::NotFound("subscription"))
}

/// A user's adjustments to its plan. A quota named here replaces the plan's limit (`None`:
/// unlimited); a feature named here is switched on or off whatever the plan says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub quotas: BTreeMap<Quota, Option<i64>>,
    pub features: BTreeMap<Feature, bool>,
}

/// Replaces a user's overrides (empty maps clear them) and returns what was stored.
pub async fn set_overrides(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    overrides: Overrides,
) -> DbResult<Overrides> {
    require_user(scope, user_id).await?;
    let as_json = |value: serde_json::Result<serde_json::Value>| {
        value.map_err(|e| DbError::Db(DbErr::Custom(format!("overrides as JSON: {e}"))))
    };
    let quotas = as_json(serde_json::to_value(&overrides.quotas))?;
    let features = as_json(serde_json::to_value(&overrides.features))?;
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO user_plan_overrides (user_id, tenant_id, quotas, features)
             VALUES ($2, $1, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET
                 quotas = excluded.quotas, features = excluded.features, updated_at = now()"
            ),
            [
                scope.tenant_uuid().into(),
                user_id.into_uuid().into(),
                quotas.into(),
                features.into(),
            ],
        ))
        .await?;
    Ok(overrides)
}
