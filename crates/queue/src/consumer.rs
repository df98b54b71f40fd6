//! The consumer harness: prefetch-bounded concurrency, ack after the handler, graceful drain.

use std::future::Future;
use std::sync::Arc;

use common::QueueName;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Broker, QueueError};

/// What a handler sees of a message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub payload: Vec<u8>,
    /// The broker delivered this message before (a consumer died without acknowledging it).
    pub redelivered: bool,
    pub message_id: Option<String>,
}

/// Why a handler gave up on a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Can never succeed (undecodable payload, unknown job): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Might succeed later (a dependency such as the database was down). The message goes back
    /// to the queue after [`TRANSIENT_REQUEUE_DELAY`], so an outage delays the job and never
    /// loses it.
    #[error("transient: {0}")]
    Transient(String),
}

/// How long a message that failed transiently waits before it is put back on its queue; the
/// pause keeps a broken dependency from turning into a hot redelivery loop.
pub const TRANSIENT_REQUEUE_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// A worker's job logic for one queue.
pub trait JobHandler: Send + Sync + 'static {
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Consumes `queue` until `shutdown` is cancelled, running up to `concurrency` handlers at once;
/// then stops taking messages and waits for the ones in flight. Returns on shutdown or when the
/// broker connection fails (the caller decides whether to reconnect or exit).
pub async fn run_consumer<H: JobHandler>(
    broker: &Broker,
    queue: QueueName,
    concurrency: u16,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
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
    let queue_label = queue.as_str();
    let outcome = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "job task panicked");
                }
            }
            next = consumer.next() => {
                let delivery = match next {
                    Some(Ok(delivery)) => delivery,
                    Some(Err(e)) => break Err(QueueError::Amqp(e)),
                    None => break Ok(()),
                };
                let handler = handler.clone();
                in_flight.spawn(async move {
                    metrics::gauge!("worker_jobs_in_flight", "queue" => queue_label).increment(1.0);
                    let job = Delivery {
                        payload: delivery.data.clone(),
                        redelivered: delivery.redelivered,
                        message_id: delivery.properties.message_id().as_ref().map(|m| m.to_string()),
                    };
                    let result = handler.handle(job).await;
                    let acked = match &result {
                        Ok(()) => delivery.ack(BasicAckOptions::default()).await,
                        Err(e @ HandlerError::Permanent(_)) => {
                            tracing::warn!(queue = queue_label, error = %e, "job rejected to the dead-letter queue");
                            delivery.reject(BasicRejectOptions { requeue: false }).await
                        }
                        Err(e @ HandlerError::Transient(_)) => {
                            tracing::warn!(queue = queue_label, error = %e, "job failed transiently; requeueing");
                            tokio::time::sleep(TRANSIENT_REQUEUE_DELAY).await;
                            delivery.reject(BasicRejectOptions { requeue: true }).await
                        }
                    };
                    if let Err(e) = acked {
                        // The broker will redeliver; handlers are idempotent.
                        tracing::warn!(queue = queue_label, error = %e, "could not acknowledge a message");
                    }
                    metrics::gauge!("worker_jobs_in_flight", "queue" => queue_label).decrement(1.0);
                });
            }
        }
    };
    let _ = channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await;
    while let Some(done) = in_flight.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "job task panicked");
        }
    }
    let _ = channel.close(200, "drained".into()).await;
    outcome
}
