//! A lazily (re)connected RabbitMQ connection for the job API: queue counts and dead-letter
//! housekeeping. Publishing stays the outbox relay's.
//!
//! Each connection declares the topology first (idempotent, as every service that publishes
//! or consumes does at start): counting a queue is a passive declaration, and one of a queue no
//! worker or relay has declared yet is a 404 that closes its channel and logs an error, on every
//! refresh of the queue gauges.

use std::time::Duration;

use common::{QueueName, QueueType};
use queue::{Broker, QueueError};
use tokio::sync::Mutex;

pub struct BrokerHandle {
    url: String,
    prefix: String,
    queue_type: QueueType,
    broker: Mutex<Option<Broker>>,
}

/// How long the API waits for RabbitMQ before it answers without it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl BrokerHandle {
    pub fn new(url: &str, prefix: &str, queue_type: QueueType) -> Self {
        Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            queue_type,
            broker: Mutex::new(None),
        }
    }

    /// Runs `f` with a connected broker, connecting first when there is none (or it dropped).
    pub async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&Broker) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        let mut guard = self.broker.lock().await;
        if guard.as_ref().is_none_or(|b| !b.is_connected()) {
            let connect = Broker::connect(&self.url, &self.prefix, self.queue_type);
            let broker = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| QueueError::Timeout(CONNECT_TIMEOUT))??;
            broker.declare(&QueueName::ALL).await?;
            *guard = Some(broker);
        }
        let broker = guard.as_ref().expect("connected above");
        let result = f(broker).await;
        if result.is_err() && !broker.is_connected() {
            *guard = None;
        }
        result
    }

    /// Closes the connection, if any, so the broker sees a clean close at a graceful stop
    /// (a dropped connection's channels end in a logged "Connection error").
    pub async fn close(&self) {
        if let Some(broker) = self.broker.lock().await.take() {
            broker.close().await;
        }
    }
}
