//! Queue figures for `/api/jobs/queues/stats` and the queue gauges: jobs per queue and state
//! from Postgres, ready messages and consumers from RabbitMQ.

use std::time::Duration;

use common::{JobState, QueueName};
use db::DatabaseConnection;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::broker::BrokerHandle;

/// What RabbitMQ says about one queue.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerCounts {
    /// Messages ready in the work queue.
    pub ready: u32,
    /// Processes consuming the work queue.
    pub consumers: u32,
    /// Messages in the dead-letter queue.
    pub dead_letter_queue: u32,
}

/// The broker's counts for every queue, or `None` when RabbitMQ cannot be reached.
pub async fn broker_counts(broker: &BrokerHandle) -> Option<Vec<(QueueName, BrokerCounts)>> {
    let counted = broker
        .with(async |broker| {
            let mut out = Vec::new();
            for queue in QueueName::ALL {
                let topology = broker.topology();
                let work = broker.queue_counts(&topology.work_queue(queue)).await?;
                let dead = broker.queue_counts(&topology.dead_queue(queue)).await?;
                out.push((
                    queue,
                    BrokerCounts {
                        ready: work.map_or(0, |(ready, _)| ready),
                        consumers: work.map_or(0, |(_, consumers)| consumers),
                        dead_letter_queue: dead.map_or(0, |(ready, _)| ready),
                    },
                ));
            }
            Ok(out)
        })
        .await;
    match counted {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::warn!(error = %e, "queue counts: RabbitMQ unavailable");
            None
        }
    }
}

/// Refreshes `queue_jobs{queue,state}`, `queue_depth{queue,kind}` and
/// `queue_consumers{queue}` every `interval` until `stop`.
pub async fn export_gauges(
    db: DatabaseConnection,
    broker: std::sync::Arc<BrokerHandle>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match db::jobs::counts(db::PlatformScope::new(&db).into()).await {
            Ok(counts) => {
                for (queue, counts) in counts {
                    for state in JobState::ALL {
                        metrics::gauge!("queue_jobs", "queue" => queue.as_str(), "state" => state.as_str())
                            .set(counts.get(state) as f64);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "queue gauges: Postgres unavailable"),
        }
        if let Some(counts) = broker_counts(&broker).await {
            for (queue, counts) in counts {
                metrics::gauge!("queue_depth", "queue" => queue.as_str(), "kind" => "work")
                    .set(f64::from(counts.ready));
                metrics::gauge!("queue_depth", "queue" => queue.as_str(), "kind" => "dead")
                    .set(f64::from(counts.dead_letter_queue));
                metrics::gauge!("queue_consumers", "queue" => queue.as_str())
                    .set(f64::from(counts.consumers));
            }
        }
    }
}
