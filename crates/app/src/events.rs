//! Recording an event and handing it on, in the transaction of the change it announces.

use common::WebhookDeliveryId;
use common::jobs::kind::{EventNotification, WebhookDelivery};
use db::events::{Event, NewEvent};
use db::jobs::{self, Enqueue};
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

/// Records `new`, queues the job that tells the tenant's people about it, and gives each
/// enabled endpoint subscribed to its kind a delivery with its job. Run it in the transaction
/// of the change it announces, so the event and what it causes commit with the change.
pub async fn emit(scope: TenantScope<'_, impl ConnectionTrait>, new: NewEvent) -> DbResult<Event> {
    let event = db::events::insert(scope, new).await?;
    jobs::enqueue::<EventNotification>(scope, event.id, &(), Enqueue::now()).await?;
    fan_out(scope, &event).await?;
    Ok(event)
}

/// One delivery, and the job that runs it, per enabled endpoint subscribed to `event`'s kind.
async fn fan_out(
    scope: TenantScope<'_, impl ConnectionTrait>,
    event: &Event,
) -> DbResult<Vec<WebhookDeliveryId>> {
    let endpoints = db::webhooks::subscribed_endpoints(scope, event.kind).await?;
    let mut deliveries = Vec::with_capacity(endpoints.len());
    for endpoint_id in endpoints {
        let id = WebhookDeliveryId::new();
        // The job first: the delivery row names it.
        let job = jobs::enqueue::<WebhookDelivery>(scope, id, &(), Enqueue::now()).await?;
        db::webhooks::insert_delivery(scope, id, endpoint_id, event, job.id).await?;
        deliveries.push(id);
    }
    Ok(deliveries)
}
