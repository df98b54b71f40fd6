#![doc = include_str!("../README.md")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{QueueName, QueueType};
use db::DatabaseConnection;
use queue::{Broker, OutgoingMessage, Publisher};
use sea_orm::TransactionTrait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Rows published per transaction.
const BATCH: u64 = 200;
/// Longest wait for the broker to confirm one batch.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Wakes the relay early: called after a transaction that wrote outbox rows commits, so a job
/// is published at once instead of at the next poll.
#[derive(Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Relay {
    db: DatabaseConnection,
    amqp_url: String,
    queue_prefix: String,
    queue_type: QueueType,
    waker: RelayWaker,
    connected: Arc<AtomicBool>,
    /// Longest sleep between polls; rows written by other processes (or falling due) wait at
    /// most this long.
    pub poll_interval: Duration,
}

impl Relay {
    pub fn new(
        db: DatabaseConnection,
        amqp_url: &str,
        queue_prefix: &str,
        queue_type: QueueType,
        waker: RelayWaker,
    ) -> Self {
        Self {
            db,
            amqp_url: amqp_url.to_owned(),
            queue_prefix: queue_prefix.to_owned(),
            queue_type,
            waker,
            connected: Arc::default(),
            poll_interval: Duration::from_millis(500),
        }
    }

    /// Whether the relay currently holds an open publisher (for readiness probes).
    pub fn connected_flag(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Connects, declares every queue (so a job published before any worker started is kept)
    /// and opens a confirming publisher.
    async fn open_publisher(&self) -> Result<(Broker, Publisher), queue::QueueError> {
        let broker = Broker::connect(&self.amqp_url, &self.queue_prefix, self.queue_type).await?;
        broker.declare(&QueueName::ALL).await?;
        let publisher = broker.publisher().await?;
        Ok((broker, publisher))
    }

    /// Publishes due rows until `shutdown`. Errors are logged and retried with back-off; the
    /// loop itself never gives up.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut publisher: Option<(Broker, Publisher)> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            if publisher.as_ref().is_none_or(|(_, p)| !p.is_open()) {
                publisher = match self.open_publisher().await {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay cannot reach RabbitMQ");
                        metrics::counter!("outbox_publish_errors_total", "stage" => "connect")
                            .increment(1);
                        None
                    }
                };
            }
            self.connected.store(publisher.is_some(), Ordering::Relaxed);
            let result = match &publisher {
                Some((_, p)) => self.publish_due(p).await,
                None => Err(anyhow::anyhow!("RabbitMQ is unreachable")),
            };
            let healthy = result.is_ok();
            let sleep = match result {
                Ok(published) if published as u64 == BATCH => Duration::ZERO,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    self.poll_interval
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying");
                    if let Some((broker, publisher)) = publisher.take() {
                        publisher.close().await;
                        broker.close().await;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    if let Some((broker, publisher)) = publisher {
                        publisher.close().await;
                        broker.close().await;
                    }
                    return;
                }
                // While backing off, new rows wait for the back-off too: a burst of requests
                // must not turn into a burst of reconnection attempts.
                _ = self.waker.0.notified(), if healthy => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One pass: claims due rows, publishes them, deletes what the broker confirmed. Returns how
    /// many were published.
    pub async fn publish_due(&self, publisher: &Publisher) -> anyhow::Result<usize> {
        let txn = self.db.begin().await?;
        let rows = db::outbox::claim_due(&txn, BATCH).await?;
        if rows.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        let mut messages = Vec::with_capacity(rows.len());
        let message_ids: Vec<String> = rows.iter().map(|r| r.job_id.to_string()).collect();
        for (row, message_id) in rows.iter().zip(&message_ids) {
            let Ok(queue) = row.queue.parse::<QueueName>() else {
                anyhow::bail!("outbox row {} names unknown queue `{}`", row.id, row.queue);
            };
            messages.push(OutgoingMessage {
                queue,
                message_id,
                payload: &row.payload,
                headers: queue::headers::from_json(&row.headers),
            });
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // Bounded: rows stay locked while we wait, and a stalled broker must not hold them forever.
        let published = tokio::time::timeout(PUBLISH_TIMEOUT, publisher.publish_all(&messages))
            .await
            .unwrap_or(Err(queue::QueueError::Timeout(PUBLISH_TIMEOUT)));
        match published {
            Ok(()) => {
                let job_ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.job_id).collect();
                db::outbox::mark_published(&txn, &ids, &job_ids).await?;
                txn.commit().await?;
                for message in &messages {
                    metrics::counter!("queue_jobs_total", "queue" => message.queue.as_str(), "status" => "waiting")
                        .increment(1);
                }
                metrics::counter!("outbox_published_total").increment(rows.len() as u64);
                Ok(rows.len())
            }
            Err(e) => {
                db::outbox::mark_failed(&txn, &ids, &e.to_string(), 1000).await?;
                txn.commit().await?;
                metrics::counter!("outbox_publish_errors_total", "stage" => "publish").increment(1);
                Err(e.into())
            }
        }
    }
}
