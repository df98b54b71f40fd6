#![doc = include_str!("../README.md")]

mod consumer;
mod topology;

use std::time::Duration;

use common::QueueName;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

pub use consumer::{Delivery, HandlerError, JobHandler, TRANSIENT_REQUEUE_DELAY, run_consumer};
pub use topology::Topology;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused message for queue {0} (nack)")]
    Nacked(String),
    #[error("RabbitMQ did not answer within {0:?}")]
    Timeout(Duration),
}

/// A connection to RabbitMQ with the names of one deployment (or one test).
pub struct Broker {
    connection: Connection,
    topology: Topology,
}

impl Broker {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        Ok(Self {
            connection,
            topology: Topology::new(prefix),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub async fn channel(&self) -> Result<Channel, QueueError> {
        Ok(self.connection.create_channel().await?)
    }

    /// Declares the exchanges and queues of `queues`. Idempotent; every service that publishes
    /// or consumes calls it at start, so no start order between services matters.
    pub async fn declare(&self, queues: &[QueueName]) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        self.topology.declare(&channel, queues).await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    /// A channel in confirm mode for publishing jobs.
    pub async fn publisher(&self) -> Result<Publisher, QueueError> {
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            exchange: self.topology.jobs_exchange(),
        })
    }

    /// Messages waiting in `queue` (not counting unacknowledged ones).
    pub async fn depth(&self, queue: QueueName) -> Result<u32, QueueError> {
        let channel = self.channel().await?;
        let declared = self.topology.declare_queue(&channel, queue).await?;
        let _ = channel.close(200, "depth".into()).await;
        Ok(declared.message_count())
    }

    /// Deletes every queue and exchange under this prefix, messages included. For tearing down
    /// a test's topology; never called by services.
    pub async fn delete_topology(&self) -> Result<(), QueueError> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        let channel = self.channel().await?;
        for queue in QueueName::ALL {
            for name in [
                self.topology.work_queue(queue),
                self.topology.dead_queue(queue),
            ] {
                channel
                    .queue_delete(name.into(), QueueDeleteOptions::default())
                    .await?;
            }
        }
        for exchange in [self.topology.jobs_exchange(), self.topology.dead_exchange()] {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        let _ = channel.close(200, "deleted".into()).await;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.connection.close(200, "bye".into()).await;
    }
}

/// Publishes jobs with publisher confirms and persistent delivery.
pub struct Publisher {
    channel: Channel,
    exchange: String,
}

/// Delivery mode 2: the broker writes the message to disk before confirming it.
const PERSISTENT: u8 = 2;

impl Publisher {
    /// Publishes every message, keeping all confirms in flight at once, and returns when the
    /// broker confirmed them all. Any nack fails the whole call: the caller keeps the messages
    /// (in the outbox) and tries again, and consumers tolerate the resulting duplicates.
    pub async fn publish_all(&self, messages: &[OutgoingMessage<'_>]) -> Result<(), QueueError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type("application/x-protobuf".into())
                .with_message_id(message.message_id.into())
                .with_headers(message.headers.clone());
            let confirm = self
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    message.queue.as_str().into(),
                    // mandatory: an unroutable message (no queue bound) comes back instead of
                    // vanishing, and we treat that as a failure.
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    message.payload,
                    properties,
                )
                .await?;
            confirms.push((message.queue, confirm));
        }
        for (queue, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(_)) | Confirmation::Nack(_) | Confirmation::NotRequested => {
                    return Err(QueueError::Nacked(queue.as_str().to_owned()));
                }
            }
        }
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }
}

/// One job message to publish.
pub struct OutgoingMessage<'a> {
    pub queue: QueueName,
    /// Stable across republishing, so a duplicate can be recognised.
    pub message_id: &'a str,
    pub payload: &'a [u8],
    pub headers: FieldTable,
}
