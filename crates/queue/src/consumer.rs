//! The consumer harness: prefetch-bounded concurrency, an explicit disposition for every
//! message, graceful drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::QueueName;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Broker, Publisher, QueueError};

/// What a handler sees of a message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub queue: QueueName,
    pub payload: Vec<u8>,
    pub headers: FieldTable,
    /// The broker delivered this message before (a consumer died without acknowledging it).
    pub redelivered: bool,
    pub message_id: Option<String>,
}

/// What becomes of a message once its handler is done. Every disposition but `Requeue` ends
/// with an acknowledgement, and only after the copy it implies was confirmed by the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Done (or a duplicate to drop).
    Ack,
    /// Comes back after `delay` through the wait queue of that delay, with these headers.
    Retry {
        delay: Duration,
        headers: FieldTable,
    },
    /// Can never succeed: kept in the dead-letter queue with the reason.
    DeadLetter { reason: String },
    /// Put back on the work queue at once (the process is stopping mid-message).
    Requeue,
}

/// A worker's job logic for one queue.
pub trait JobHandler: Send + Sync + 'static {
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Disposition> + Send;
}

/// Consumes `queue` until `shutdown` is cancelled, running up to `concurrency` handlers at once;
/// then stops taking messages and waits for the ones in flight. Returns on shutdown or when the
/// broker connection fails (the caller reconnects or exits).
pub async fn run_consumer<H: JobHandler>(
    broker: &Broker,
    queue: QueueName,
    concurrency: u16,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    let publisher = broker.publisher().await?;
    let channel = broker.channel().await?;
    // Prefetch = concurrency: the broker never hands this process more than it can work on, so
    // other replicas get the rest.
    channel
        .basic_qos(concurrency, BasicQosOptions::default())
        .await?;
    let tag = format!("{}-{}", queue.as_str(), uuid::Uuid::new_v4());
    let mut consumer = channel
        .basic_consume(
            broker.topology().work_queue(queue).into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_flight = JoinSet::new();
    let outcome = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(queue = queue.as_str(), error = %e, "job task panicked");
                }
            }
            next = consumer.next() => {
                let delivery = match next {
                    Some(Ok(delivery)) => delivery,
                    Some(Err(e)) => break Err(QueueError::Amqp(e)),
                    None => break Ok(()),
                };
                let handler = handler.clone();
                let publisher = publisher.clone();
                in_flight.spawn(async move {
                    let job = Delivery {
                        queue,
                        payload: delivery.data.clone(),
                        headers: delivery.properties.headers().clone().unwrap_or_default(),
                        redelivered: delivery.redelivered,
                        message_id: delivery.properties.message_id().as_ref().map(|m| m.to_string()),
                    };
                    let message_id = job.message_id.clone().unwrap_or_default();
                    let disposition = handler.handle(job).await;
                    let settled = settle(&publisher, queue, &message_id, &delivery, disposition).await;
                    if let Err(e) = settled {
                        // Not acknowledged: the broker redelivers it, and the job's generation and
                        // lease in Postgres make the repeat harmless.
                        tracing::warn!(queue = queue.as_str(), error = %e, "could not settle a message; it will be redelivered");
                    }
                });
            }
        }
    };
    let _ = channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await;
    while let Some(done) = in_flight.join_next().await {
        if let Err(e) = done {
            tracing::error!(queue = queue.as_str(), error = %e, "job task panicked");
        }
    }
    let _ = channel.close(200, "drained".into()).await;
    publisher.close().await;
    outcome
}

/// Carries out a disposition: the copy first (confirmed), then the acknowledgement, so a crash
/// in between duplicates a message rather than losing it.
async fn settle(
    publisher: &Publisher,
    queue: QueueName,
    message_id: &str,
    delivery: &lapin::message::Delivery,
    disposition: Disposition,
) -> Result<(), QueueError> {
    match disposition {
        Disposition::Ack => {}
        Disposition::Retry { delay, headers } => {
            publisher
                .publish_delayed(queue, delay, message_id, &delivery.data, headers)
                .await?;
        }
        Disposition::DeadLetter { reason } => {
            let headers = delivery.properties.headers().clone().unwrap_or_default();
            publisher
                .publish_dead(queue, message_id, &delivery.data, headers, &reason)
                .await?;
        }
        Disposition::Requeue => {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await?;
            return Ok(());
        }
    }
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(())
}
