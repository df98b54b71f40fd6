//! Webhook endpoints disabled for failing, and deliveries replayed.

use chrono::{DateTime, Utc};
use common::jobs::kind::WebhookDelivery;
use common::{EventKind, WebhookDeliveryId, WebhookEndpointId};
use db::events::NewEvent;
use db::jobs::{self, Enqueue, Job};
use db::webhooks::Delivery;
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

use crate::events;

/// Disables an enabled endpoint with `reason` and records `webhook.endpoint_disabled` for its
/// creator (the notification worker tells them). `false` if it was already disabled: the event
/// is recorded once. Run it in a transaction.
pub async fn disable_for_failing(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookEndpointId,
    reason: &str,
) -> DbResult<bool> {
    let Some(endpoint) = db::webhooks::disable_failing(scope, id, reason).await? else {
        return Ok(false);
    };
    events::emit(
        scope,
        NewEvent {
            kind: EventKind::WebhookEndpointDisabled,
            subject_id: Some(endpoint.id.into_uuid()),
            user_id: endpoint.created_by,
            data: serde_json::json!({
                "endpointId": endpoint.id,
                "url": endpoint.url,
                "reason": reason,
                "failingSince": endpoint.failing_since,
            }),
        },
    )
    .await?;
    Ok(true)
}

/// Starts a new attempt sequence of a delivery that is not pending: a new job, the delivery
/// back to `pending`. 409 while it is pending, or when its endpoint is disabled. Run it in a
/// transaction.
pub async fn replay(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: WebhookDeliveryId,
) -> DbResult<(Delivery, Job)> {
    let delivery = db::webhooks::lock_for_replay(scope, id).await?;
    restart(scope, &delivery).await
}

/// Replays the endpoint's failed deliveries created since `since`, oldest first, at most
/// `db::webhooks::MAX_BULK_REPLAY`; answers how many, and whether more are left. 409 when the
/// endpoint is disabled. Run it in a transaction.
pub async fn replay_failed_since(
    scope: TenantScope<'_, impl ConnectionTrait>,
    endpoint_id: WebhookEndpointId,
    since: DateTime<Utc>,
) -> DbResult<(u64, bool)> {
    let (deliveries, more) = db::webhooks::lock_failed_since(scope, endpoint_id, since).await?;
    for delivery in &deliveries {
        restart(scope, delivery).await?;
    }
    Ok((deliveries.len() as u64, more))
}

/// A new job for `delivery`, and the delivery back to `pending` under it.
async fn restart(
    scope: TenantScope<'_, impl ConnectionTrait>,
    delivery: &Delivery,
) -> DbResult<(Delivery, Job)> {
    let job = jobs::enqueue::<WebhookDelivery>(scope, delivery.id, &(), Enqueue::now()).await?;
    let restarted = db::webhooks::restart_delivery(scope, delivery.id, job.id).await?;
    Ok((restarted, job))
}
