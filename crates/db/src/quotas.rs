//! What a user may create: the effective limits and features of its subscription, and its
//! account's usage, counted live.
//!
//! Usage is the account's (inboxes, contacts and campaigns belong to an account); the limits
//! are those of the user creating. Counting and inserting stay exact under concurrency when
//! both run in one transaction after [`lock_account`]: creators of one account then take turns.

use std::collections::BTreeSet;

use common::sql;
use common::{AccountId, EventKind, RecipientStatus, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use common::subscription::{Feature, Quota, SubscriptionStatus};

use crate::plans::{Overrides, QuotaLimits, parse_features};
use crate::{DbError, DbResult, TenantScope, parse_stored_json};

/// A user's effective limits and features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    pub limits: QuotaLimits,
    pub features: BTreeSet<Feature>,
}

/// What a user gets from its subscription (if any) and its overrides:
/// - no subscription: the tenant has not adopted plans, so unlimited and every feature;
/// - otherwise the plan's limits and features;
/// - then the overrides replace the limits and switch the features they name;
/// - a `canceled` subscription then has every limit at zero (its features stay as computed,
///   though nothing can be created to use them).
pub fn effective(
    subscription: Option<(SubscriptionStatus, QuotaLimits, BTreeSet<Feature>)>,
    overrides: &Overrides,
) -> Entitlements {
    let (status, mut limits, mut features) = match subscription {
        Some((status, limits, features)) => (Some(status), limits, features),
        None => (
            None,
            QuotaLimits::UNLIMITED,
            Feature::ALL.into_iter().collect(),
        ),
    };
    for (quota, limit) in &overrides.quotas {
        limits.set(*quota, *limit);
    }
    for (feature, enabled) in &overrides.features {
        if *enabled {
            features.insert(*feature);
        } else {
            features.remove(feature);
        }
    }
    if status == Some(SubscriptionStatus::Canceled) {
        limits = QuotaLimits::ZERO;
    }
    Entitlements { limits, features }
}

#[derive(FromQueryResult)]
struct EntitlementRow {
    status: Option<String>,
    max_inboxes: Option<i64>,
    max_contacts: Option<i64>,
    max_campaigns: Option<i64>,
    messages_per_day: Option<i64>,
    features: Option<Vec<String>>,
    override_quotas: Option<serde_json::Value>,
    override_features: Option<serde_json::Value>,
}

/// The user's effective limits and features (see [`effective`]); `None` when the tenant has
/// no such user.
pub async fn entitlements(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
) -> DbResult<Option<Entitlements>> {
    let row = EntitlementRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT s.status, p.max_inboxes, p.max_contacts, p.max_campaigns, p.messages_per_day,
                p.features, o.quotas AS override_quotas, o.features AS override_features
           FROM users u
           LEFT JOIN user_subscriptions s ON s.user_id = u.id
           LEFT JOIN subscription_plans p ON p.id = s.plan_id
           LEFT JOIN user_plan_overrides o ON o.user_id = u.id
          WHERE u.tenant_id = $1 AND u.id = $2"
        ),
        [scope.tenant_uuid().into(), user_id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let subscription = match row.status {
        Some(status) => Some((
            crate::plans::stored_subscription_status(&status)?,
            QuotaLimits {
                max_inboxes: row.max_inboxes,
                max_contacts: row.max_contacts,
                max_campaigns: row.max_campaigns,
                messages_per_day: row.messages_per_day,
            },
            parse_features(&row.features.unwrap_or_default())?,
        )),
        None => None,
    };
    let overrides = Overrides {
        quotas: stored_overrides("quotas", row.override_quotas)?,
        features: stored_overrides("features", row.override_features)?,
    };
    Ok(Some(effective(subscription, &overrides)))
}

/// A stored overrides map; none stored is an empty one.
fn stored_overrides<T: serde::de::DeserializeOwned + Default>(
    column: &'static str,
    value: Option<serde_json::Value>,
) -> DbResult<T> {
    let Some(value) = value else {
        return Ok(T::default());
    };
    parse_stored_json("user_plan_overrides", column, value)
}

/// Locks the account's row until the transaction ends, so that its creators count and insert
/// one at a time. `conn` must be a transaction.
pub async fn lock_account(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<()> {
    let locked = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("SELECT 1 FROM accounts WHERE tenant_id = $1 AND id = $2 FOR UPDATE"),
            [scope.tenant_uuid().into(), account_id.into_uuid().into()],
        ))
        .await?;
    locked.map(|_| ()).ok_or(DbError::NotFound("account"))
}

// The SQL counting an account's usage of each quota (`$1` the tenant, `$2` the account), the
// fragments of the statements of `usage` and `usage_of_all`.
const INBOXES_USED: &str = "SELECT count(*) FROM inboxes WHERE tenant_id = $1 AND account_id = $2";
const CONTACTS_USED: &str =
    "SELECT count(*) FROM contacts WHERE tenant_id = $1 AND account_id = $2";
const CAMPAIGNS_USED: &str =
    "SELECT count(*) FROM campaigns WHERE tenant_id = $1 AND account_id = $2";
/// Messages of the day are those sent since midnight UTC plus those reserved: recipients still
/// pending or being sent, whenever they will go. So admitting a campaign only when its
/// recipients fit keeps what is sent on any one day within the quota, and cancelling a
/// campaign gives its unsent recipients back. Only campaigns still running or finished today
/// are read. The recipient states are bound as $3 to $5 ([`usage_values`]); midnight UTC of
/// the current day is `date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`.
const MESSAGES_USED: &str = "SELECT count(*) FROM campaign_recipients r
               JOIN campaigns c ON c.id = r.campaign_id
              WHERE c.tenant_id = $1 AND c.account_id = $2 AND r.tenant_id = $1
                AND (c.finished_at IS NULL
                     OR c.finished_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))
                AND (r.status = ANY($3)
                     OR (r.status = $4
                         AND r.sent_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))
                     OR (r.status = $5
                         AND r.updated_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')))";

/// The parameters of the usage statements for `quotas`: the tenant and account, then, when
/// `MessagesPerDay` is among them, the recipient states it counts (PostgreSQL refuses a
/// parameter a statement does not use, so the others get none).
fn usage_values(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    quotas: &[Quota],
) -> Vec<Value> {
    let mut values = vec![scope.tenant_uuid().into(), account_id.into_uuid().into()];
    if quotas.contains(&Quota::MessagesPerDay) {
        let reserved: Vec<String> = [RecipientStatus::Pending, RecipientStatus::Sending]
            .map(|s| s.as_str().to_owned())
            .to_vec();
        values.extend([
            reserved.into(),
            RecipientStatus::Sent.as_str().into(),
            RecipientStatus::Uncertain.as_str().into(),
        ]);
    }
    values
}

/// How much of `quota` the account uses now (rows of this transaction included).
pub async fn usage(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    quota: Quota,
) -> DbResult<i64> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            match quota {
                Quota::MaxInboxes => sql!("SELECT ({INBOXES_USED}) AS used", INBOXES_USED),
                Quota::MaxContacts => sql!("SELECT ({CONTACTS_USED}) AS used", CONTACTS_USED),
                Quota::MaxCampaigns => sql!("SELECT ({CAMPAIGNS_USED}) AS used", CAMPAIGNS_USED),
                Quota::MessagesPerDay => sql!("SELECT ({MESSAGES_USED}) AS used", MESSAGES_USED),
            },
            usage_values(scope, account_id, &[quota]),
        ))
        .await?;
    match row {
        Some(row) => Ok(row.try_get("", "used")?),
        None => Ok(0),
    }
}

/// The account's usage of every quota, in [`Quota::ALL`] order.
pub async fn usage_of_all(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<Vec<(Quota, i64)>> {
    let row = scope
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // A column per quota, named as the quota (`Quota::as_str`).
            sql!(
                "SELECT ({INBOXES_USED}) AS max_inboxes, ({CONTACTS_USED}) AS max_contacts,
                        ({CAMPAIGNS_USED}) AS max_campaigns, ({MESSAGES_USED}) AS messages_per_day",
                INBOXES_USED,
                CONTACTS_USED,
                CAMPAIGNS_USED,
                MESSAGES_USED
            ),
            usage_values(scope, account_id, &Quota::ALL),
        ))
        .await?;
    Quota::ALL
        .into_iter()
        .map(|quota| {
            let used = match &row {
                Some(row) => row.try_get("", quota.as_str())?,
                None => 0,
            };
            Ok((quota, used))
        })
        .collect()
}

/// The share of a quota at which its user is warned: 80%.
const WARNING_PERCENT: i64 = 80;

/// The event a creation that moved usage from `before` to `after` of `limit` announces: the
/// quota reached (100%), or its warning (80%) when only that line was crossed.
pub fn threshold_crossed(limit: i64, before: i64, after: i64) -> Option<EventKind> {
    if limit <= 0 || after <= before {
        return None;
    }
    // ceil(80% of the limit): a limit of 10 warns at 8, a limit of 3 at 3 (then it is reached).
    let warning = (limit * WARNING_PERCENT + 99) / 100;
    if before < limit && after >= limit {
        Some(EventKind::QuotaReached)
    } else if before < warning && after >= warning {
        Some(EventKind::QuotaWarning)
    } else {
        None
    }
}

/// One creation's effect on one quota of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageChange {
    pub quota: Quota,
    pub limit: i64,
    pub before: i64,
    pub after: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(
        status: SubscriptionStatus,
    ) -> Option<(SubscriptionStatus, QuotaLimits, BTreeSet<Feature>)> {
        let limits = QuotaLimits {
            max_inboxes: Some(2),
            max_contacts: Some(10),
            max_campaigns: None,
            messages_per_day: Some(100),
        };
        Some((status, limits, BTreeSet::from([Feature::Reports])))
    }

    #[test]
    fn no_subscription_is_unlimited_with_every_feature() {
        let got = effective(None, &Overrides::default());
        assert_eq!(got.limits, QuotaLimits::UNLIMITED);
        assert_eq!(got.features.len(), Feature::ALL.len());
    }

    #[test]
    fn overrides_replace_limits_and_switch_features() {
        let overrides = Overrides {
            quotas: [(Quota::MaxInboxes, Some(5)), (Quota::MessagesPerDay, None)].into(),
            features: [(Feature::Reports, false), (Feature::Webhooks, true)].into(),
        };
        let got = effective(plan(SubscriptionStatus::Active), &overrides);
        assert_eq!(got.limits.max_inboxes, Some(5));
        assert_eq!(got.limits.max_contacts, Some(10));
        assert_eq!(got.limits.messages_per_day, None);
        assert_eq!(got.features, BTreeSet::from([Feature::Webhooks]));
    }

    #[test]
    fn a_canceled_subscription_may_create_nothing() {
        let overrides = Overrides {
            quotas: [(Quota::MaxInboxes, None)].into(),
            features: Default::default(),
        };
        let got = effective(plan(SubscriptionStatus::Canceled), &overrides);
        assert_eq!(got.limits, QuotaLimits::ZERO);
        let got = effective(plan(SubscriptionStatus::PastDue), &Overrides::default());
        assert_eq!(got.limits.max_inboxes, Some(2));
    }

    #[test]
    fn quotas_warn_at_eighty_percent_and_announce_the_limit_once() {
        assert_eq!(threshold_crossed(10, 6, 7), None);
        assert_eq!(threshold_crossed(10, 7, 8), Some(EventKind::QuotaWarning));
        assert_eq!(threshold_crossed(10, 8, 9), None);
        assert_eq!(threshold_crossed(10, 9, 10), Some(EventKind::QuotaReached));
        assert_eq!(threshold_crossed(10, 10, 11), None);
        // A jump over both lines announces the limit only.
        assert_eq!(threshold_crossed(10, 0, 10), Some(EventKind::QuotaReached));
        assert_eq!(
            threshold_crossed(100, 70, 85),
            Some(EventKind::QuotaWarning)
        );
        // 80% of 3 rounds up to 3: the limit itself.
        assert_eq!(threshold_crossed(3, 2, 3), Some(EventKind::QuotaReached));
        assert_eq!(threshold_crossed(0, 0, 1), None);
        assert_eq!(threshold_crossed(10, 9, 9), None);
    }
}
