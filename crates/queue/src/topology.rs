//! Exchange and queue names, and their declarations. Every option is spelled out: a queue
//! re-declared with different arguments is an error in RabbitMQ, so they must never drift.

use common::QueueName;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind, Queue};

/// Names of one deployment's exchanges and queues, all under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where every job is published, routed by queue name.
    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// Where rejected messages go.
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn work_queue(&self, queue: QueueName) -> String {
        format!("{}.{}", self.prefix, queue.as_str())
    }

    pub fn dead_queue(&self, queue: QueueName) -> String {
        format!("{}.{}.dead", self.prefix, queue.as_str())
    }

    pub(crate) async fn declare(
        &self,
        channel: &Channel,
        queues: &[QueueName],
    ) -> Result<(), lapin::Error> {
        // Durable exchanges survive a broker restart; auto_delete off so they exist with no queue.
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for exchange in [self.jobs_exchange(), self.dead_exchange()] {
            channel
                .exchange_declare(
                    exchange.into(),
                    ExchangeKind::Direct,
                    durable,
                    FieldTable::default(),
                )
                .await?;
        }
        for &queue in queues {
            let dead = self.dead_queue(queue);
            channel
                .queue_declare(
                    dead.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    dead.into(),
                    self.dead_exchange().into(),
                    queue.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            self.declare_queue(channel, queue).await?;
            channel
                .queue_bind(
                    self.work_queue(queue).into(),
                    self.jobs_exchange().into(),
                    queue.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Declares (or checks) one work queue and returns its counts.
    pub(crate) async fn declare_queue(
        &self,
        channel: &Channel,
        queue: QueueName,
    ) -> Result<Queue, lapin::Error> {
        let mut arguments = FieldTable::default();
        // A rejected message (bad payload, or out of attempts) is kept in the dead queue.
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead_exchange().into()),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.as_str().into()),
        );
        channel
            .queue_declare(
                self.work_queue(queue).into(),
                // durable: the queue survives a broker restart (with the persistent messages).
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
    }
}
