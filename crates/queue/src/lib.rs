#![doc = include_str!("../README.md")]

mod consumer;
pub mod headers;
mod topology;

use std::time::Duration;

use common::QueueName;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

pub use consumer::{Delivery, Disposition, JobHandler, run_consumer};
pub use topology::{QueueType, Topology};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused a message for queue {0} (nack or unroutable)")]
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
    pub async fn connect(
        url: &str,
        prefix: &str,
        queue_type: QueueType,
    ) -> Result<Self, QueueError> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        Ok(Self {
            connection,
            topology: Topology::new(prefix, queue_type),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    pub async fn channel(&self) -> Result<Channel, QueueError> {
        Ok(self.connection.create_channel().await?)
    }

    /// Declares the exchanges, work queues and dead-letter queues of `queues`. Idempotent;
    /// every service that publishes or consumes calls it at start, so no start order matters.
    pub async fn declare(&self, queues: &[QueueName]) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        self.topology.declare(&channel, queues).await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    /// Declares `queue`'s wait queues, one per delay. Idempotent.
    pub async fn declare_wait(
        &self,
        queue: QueueName,
        delays: &[Duration],
    ) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        self.topology.declare_wait(&channel, queue, delays).await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    /// A channel in confirm mode for publishing.
    pub async fn publisher(&self) -> Result<Publisher, QueueError> {
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            topology: self.topology.clone(),
        })
    }

    /// Ready messages and consumers of a queue by name; `None` when it does not exist. A
    /// passive declaration, so it never creates or changes a queue.
    pub async fn queue_counts(&self, name: &str) -> Result<Option<(u32, u32)>, QueueError> {
        let channel = self.channel().await?;
        let declared = channel
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(queue) => {
                let _ = channel.close(200, "counted".into()).await;
                Ok(Some((queue.message_count(), queue.consumer_count())))
            }
            // 404 NOT_FOUND closes the channel: the queue was never declared.
            Err(e) if matches!(e.kind(), lapin::ErrorKind::ProtocolError(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Messages waiting in `queue`'s work queue (not counting unacknowledged ones).
    pub async fn depth(&self, queue: QueueName) -> Result<u32, QueueError> {
        Ok(self
            .queue_counts(&self.topology.work_queue(queue))
            .await?
            .map_or(0, |(ready, _)| ready))
    }

    /// Removes from `queue`'s dead-letter queue the messages `remove` picks (by their headers),
    /// leaving the others in place. Returns how many were removed. Used after a dead job was
    /// replayed from Postgres, so its old message does not linger.
    pub async fn remove_dead(
        &self,
        queue: QueueName,
        remove: impl Fn(&FieldTable) -> bool,
    ) -> Result<usize, QueueError> {
        let name = self.topology.dead_queue(queue);
        let Some((ready, _)) = self.queue_counts(&name).await? else {
            return Ok(0);
        };
        let channel = self.channel().await?;
        let mut kept = Vec::new();
        let mut removed = 0;
        // Each message is looked at once: the ones kept stay unacknowledged until the end, so
        // `basic_get` cannot hand them out again in this pass.
        for _ in 0..ready {
            let Some(message) = channel
                .basic_get(name.as_str().into(), BasicGetOptions::default())
                .await?
            else {
                break;
            };
            let headers = message
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            if remove(&headers) {
                message.delivery.ack(BasicAckOptions::default()).await?;
                removed += 1;
            } else {
                kept.push(message.delivery);
            }
        }
        for delivery in kept {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await?;
        }
        let _ = channel.close(200, "removed".into()).await;
        Ok(removed)
    }

    /// Deletes every queue and exchange under this prefix, messages included, with the wait
    /// queues of `wait_delays`. For tearing down a test's topology; never called by services.
    pub async fn delete_topology(&self, wait_delays: &[Duration]) -> Result<(), QueueError> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        let channel = self.channel().await?;
        for queue in QueueName::ALL {
            let mut names = vec![
                self.topology.work_queue(queue),
                self.topology.dead_queue(queue),
            ];
            names.extend(
                wait_delays
                    .iter()
                    .map(|d| self.topology.wait_queue(queue, *d)),
            );
            for name in names {
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

/// Publishes with publisher confirms and persistent delivery.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    topology: Topology,
}

/// Delivery mode 2: the broker writes the message to disk before confirming it.
const PERSISTENT: u8 = 2;

/// The header that says why a message was dead-lettered.
pub const DEAD_REASON_HEADER: &str = "x-dead-reason";

/// One job message to publish.
pub struct OutgoingMessage<'a> {
    pub queue: QueueName,
    /// Stable across republishing, so a duplicate can be recognised.
    pub message_id: &'a str,
    pub payload: &'a [u8],
    pub headers: FieldTable,
}

impl Publisher {
    /// Closes the publishing channel. Call it before [`Broker::close`]: a channel still open
    /// when its connection closes is closed again when dropped, which fails and logs a
    /// "Connection error" at every stop.
    pub async fn close(&self) {
        if self.channel.status().connected() {
            let _ = self.channel.close(200, "done".into()).await;
        }
    }

    fn properties(message_id: &str, headers: FieldTable) -> BasicProperties {
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/x-protobuf".into())
            .with_message_id(message_id.into())
            .with_headers(headers)
    }

    async fn publish_one(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<lapin::PublisherConfirm, QueueError> {
        Ok(self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                // mandatory: an unroutable message (no queue bound) comes back instead of
                // vanishing, and we treat that as a failure.
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                payload,
                properties,
            )
            .await?)
    }

    /// Publishes every message, keeping all confirms in flight at once, and returns when the
    /// broker confirmed them all. Any nack fails the whole call: the caller keeps the messages
    /// (in the outbox) and tries again, and consumers drop the resulting duplicates.
    pub async fn publish_all(&self, messages: &[OutgoingMessage<'_>]) -> Result<(), QueueError> {
        let exchange = self.topology.jobs_exchange();
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let properties = Self::properties(message.message_id, message.headers.clone());
            let confirm = self
                .publish_one(
                    &exchange,
                    message.queue.as_str(),
                    message.payload,
                    properties,
                )
                .await?;
            confirms.push((message.queue, confirm));
        }
        for (queue, confirm) in confirms {
            check(confirm.await?, queue.as_str())?;
        }
        Ok(())
    }

    /// Puts a copy of a message in `queue`'s wait queue for `delay` (which must be one of the
    /// declared delays); it comes back to the work queue when the delay is over.
    pub async fn publish_delayed(
        &self,
        queue: QueueName,
        delay: Duration,
        message_id: &str,
        payload: &[u8],
        headers: FieldTable,
    ) -> Result<(), QueueError> {
        let wait = self.topology.wait_queue(queue, delay);
        // The default exchange routes by queue name.
        let confirm = self
            .publish_one("", &wait, payload, Self::properties(message_id, headers))
            .await?;
        check(confirm.await?, &wait)
    }

    /// Puts a copy of a message in `queue`'s dead-letter queue, with `reason` in its headers.
    pub async fn publish_dead(
        &self,
        queue: QueueName,
        message_id: &str,
        payload: &[u8],
        mut headers: FieldTable,
        reason: &str,
    ) -> Result<(), QueueError> {
        // Bounded: a reason is for a person to read, not a place for a whole response body.
        let reason: String = reason.chars().take(1000).collect();
        headers.insert(
            DEAD_REASON_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
        );
        let confirm = self
            .publish_one(
                &self.topology.dead_exchange(),
                queue.as_str(),
                payload,
                Self::properties(message_id, headers),
            )
            .await?;
        check(confirm.await?, &self.topology.dead_queue(queue))
    }

    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }
}

fn check(confirmation: Confirmation, queue: &str) -> Result<(), QueueError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        // Ack(Some(returned)): the broker confirmed but could not route it (mandatory).
        Confirmation::Ack(Some(_)) | Confirmation::Nack(_) | Confirmation::NotRequested => {
            Err(QueueError::Nacked(queue.to_owned()))
        }
    }
}
