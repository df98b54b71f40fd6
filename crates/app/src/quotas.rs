//! A quota line crossed, announced.

use common::{AccountId, UserId};
use db::events::{Event, NewEvent};
use db::quotas::{UsageChange, threshold_crossed};
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

use crate::events;

/// Records `quota.warning` or `quota.reached` for `user_id` when `change` crossed 80% or 100% of
/// the limit. Run it in the creating transaction (after `db::quotas::lock_account`), so the
/// announcement commits with the creation and concurrent creators never both cross the same
/// line.
pub async fn announce_usage(
    scope: TenantScope<'_, impl ConnectionTrait>,
    user_id: UserId,
    account_id: AccountId,
    change: UsageChange,
) -> DbResult<Option<Event>> {
    let Some(kind) = threshold_crossed(change.limit, change.before, change.after) else {
        return Ok(None);
    };
    let event = events::emit(
        scope,
        NewEvent {
            kind,
            subject_id: Some(user_id.into_uuid()),
            user_id: Some(user_id),
            data: serde_json::json!({
                "quota": change.quota,
                "limit": change.limit,
                "used": change.after,
                "percent": change.after.saturating_mul(100) / change.limit,
                "accountId": account_id,
                "userId": user_id,
            }),
        },
    )
    .await?;
    Ok(Some(event))
}
