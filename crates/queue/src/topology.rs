//! Exchanges and queues, and their declarations.
//!
//! For a prefix `P` (`QUEUE_PREFIX`; random per test) and each of the six queues `Q`:
//!
//! ```text
//!   publisher ──► P.jobs (direct) ──Q──► P.Q ──► worker-Q
//!                   ▲                     │  ack: done
//!                   │                     │  retry after d: copy to P.Q.wait.<d>, ack
//!                   │ dead-letter on TTL  │  dead-letter: copy to P.dead with the reason, ack
//!               P.Q.wait.<d> (TTL d) ◄────┘
//!                                          P.dead (direct) ──Q──► P.Q.dead  (kept for replay)
//! ```
//!
//! - `P.Q` is the work queue. A worker takes at most `WORKER_Q_CONCURRENCY` unacknowledged
//!   messages from it (prefetch) and acknowledges each after the job's state is in Postgres.
//! - `P.Q.wait.<ms>` holds a message for exactly `<ms>` (a per-queue TTL), then dead-letters it
//!   back to `P.jobs` with routing key `Q`: delayed retries without a delayed-message plugin
//!   (RabbitMQ 3.10 on Debian ships none). One wait queue per configured delay, because a TTL
//!   per queue expires messages in order while a TTL per message would block behind the head.
//! - `P.Q.dead` keeps messages that can never succeed (undecodable, unknown job, out of
//!   attempts), each with an `x-dead-reason` header, until an operator replays or drops them.
//!
//! Queues are quorum queues by default (`QUEUE_TYPE=quorum`): replicated Raft logs that keep
//! their messages when a node of a three-node cluster is lost, which is what RabbitMQ
//! recommends for data that must not be lost. On one node (development, tests) they behave the
//! same. `QUEUE_TYPE=classic` declares classic durable queues instead. Dead-lettering out of a
//! quorum queue uses the `at-least-once` strategy, so a message expiring from a wait queue is
//! only removed once the work queue has it.
//!
//! Every argument is spelled out here and nowhere else: a queue re-declared with different
//! arguments is refused by RabbitMQ (`PRECONDITION_FAILED`), so they must never drift.

use std::time::Duration;

use common::QueueName;
pub use common::QueueType;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// A message redelivered this often (its consumers kept dying on it) is dead-lettered by the
/// broker itself: a backstop, since workers count attempts in Postgres first.
const DELIVERY_LIMIT: i64 = 20;

/// Names and arguments of one deployment's exchanges and queues, all under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    queue_type: QueueType,
}

impl Topology {
    pub fn new(prefix: &str, queue_type: QueueType) -> Self {
        Self {
            prefix: prefix.to_owned(),
            queue_type,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    /// Where every job is published, routed by queue name.
    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// Where dead messages go, routed by queue name.
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn work_queue(&self, queue: QueueName) -> String {
        format!("{}.{}", self.prefix, queue.as_str())
    }

    pub fn dead_queue(&self, queue: QueueName) -> String {
        format!("{}.{}.dead", self.prefix, queue.as_str())
    }

    pub fn wait_queue(&self, queue: QueueName, delay: Duration) -> String {
        format!(
            "{}.{}.wait.{}",
            self.prefix,
            queue.as_str(),
            delay.as_millis()
        )
    }

    fn typed(&self, mut arguments: FieldTable) -> FieldTable {
        if self.queue_type == QueueType::Quorum {
            arguments.insert("x-queue-type".into(), long_string("quorum"));
        }
        arguments
    }

    /// Dead-lettering arguments: where expired or rejected messages go. For quorum queues the
    /// at-least-once strategy (which needs `reject-publish` overflow) keeps a message until
    /// its target queue confirmed it.
    fn dead_lettering(&self, exchange: String, routing_key: &str) -> FieldTable {
        let mut arguments = FieldTable::default();
        arguments.insert("x-dead-letter-exchange".into(), long_string(&exchange));
        arguments.insert("x-dead-letter-routing-key".into(), long_string(routing_key));
        if self.queue_type == QueueType::Quorum {
            arguments.insert(
                "x-dead-letter-strategy".into(),
                long_string("at-least-once"),
            );
            arguments.insert("x-overflow".into(), long_string("reject-publish"));
        }
        arguments
    }

    fn work_arguments(&self, queue: QueueName) -> FieldTable {
        let mut arguments = self.dead_lettering(self.dead_exchange(), queue.as_str());
        if self.queue_type == QueueType::Quorum {
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
        }
        self.typed(arguments)
    }

    fn wait_arguments(&self, queue: QueueName, delay: Duration) -> FieldTable {
        let mut arguments = self.dead_lettering(self.jobs_exchange(), queue.as_str());
        arguments.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(delay.as_millis() as i64),
        );
        self.typed(arguments)
    }

    /// Declares the exchanges, and the work and dead-letter queues of `queues`. Idempotent.
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
            declare_durable(channel, &dead, self.typed(FieldTable::default())).await?;
            bind(channel, &dead, &self.dead_exchange(), queue).await?;
            let work = self.work_queue(queue);
            declare_durable(channel, &work, self.work_arguments(queue)).await?;
            bind(channel, &work, &self.jobs_exchange(), queue).await?;
        }
        Ok(())
    }

    /// Declares one wait queue per delay for `queue`. Idempotent.
    pub(crate) async fn declare_wait(
        &self,
        channel: &Channel,
        queue: QueueName,
        delays: &[Duration],
    ) -> Result<(), lapin::Error> {
        for &delay in delays {
            declare_durable(
                channel,
                &self.wait_queue(queue, delay),
                self.wait_arguments(queue, delay),
            )
            .await?;
        }
        Ok(())
    }
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

async fn declare_durable(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(
            name.into(),
            // durable: the queue (and its persistent messages) survives a broker restart.
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    Ok(())
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing: QueueName,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}
