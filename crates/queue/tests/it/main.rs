//! The queue crate against the real RabbitMQ, each test under its own random prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::QueueName;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use queue::{
    Broker, Delivery, HandlerError, JobHandler, OutgoingMessage, QueueError, run_consumer,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| common::config::DEFAULT_AMQP_URL.to_owned())
}

async fn broker() -> Broker {
    let broker = Broker::connect(&amqp_url(), &testkit::random_queue_prefix())
        .await
        .expect("RabbitMQ answers");
    broker.declare(&QueueName::ALL).await.expect("declare");
    broker
}

/// Messages in a queue, by name (work or dead queue).
async fn count(broker: &Broker, name: String) -> u32 {
    let channel = broker.channel().await.unwrap();
    let queue = channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    queue.message_count()
}

fn message<'a>(queue: QueueName, id: &'a str, payload: &'a [u8]) -> OutgoingMessage<'a> {
    OutgoingMessage {
        queue,
        message_id: id,
        payload,
        headers: FieldTable::default(),
    }
}

/// Payload, redelivered flag and message id of one delivery.
type Seen = (Vec<u8>, bool, Option<String>);

/// Records what it sees; fails the first `transient_failures` calls transiently, and fails
/// permanently on payload `poison`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    transient_failures: AtomicUsize,
    hold: Duration,
    finished: AtomicUsize,
}

impl JobHandler for Recorder {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        self.seen.lock().await.push((
            delivery.payload.clone(),
            delivery.redelivered,
            delivery.message_id.clone(),
        ));
        tokio::time::sleep(self.hold).await;
        if delivery.payload == b"poison" {
            return Err(HandlerError::Permanent("poison".into()));
        }
        if self
            .transient_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(HandlerError::Transient("dependency down".into()));
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn wait_until(mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 10 s");
}

#[tokio::test]
async fn confirmed_messages_are_consumed_once_and_acknowledged() {
    let broker = Arc::new(broker().await);
    let publisher = broker.publisher().await.unwrap();
    publisher
        .publish_all(&[
            message(QueueName::Campaign, "m-1", b"one"),
            message(QueueName::Campaign, "m-2", b"two"),
            message(QueueName::Import, "m-3", b"three"),
        ])
        .await
        .expect("confirmed");
    assert_eq!(broker.depth(QueueName::Campaign).await.unwrap(), 2);
    assert_eq!(broker.depth(QueueName::Import).await.unwrap(), 1);

    let handler = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (broker, handler, shutdown) = (broker.clone(), handler.clone(), shutdown.clone());
        async move { run_consumer(&broker, QueueName::Campaign, 2, handler, shutdown).await }
    });
    wait_until(async || handler.finished.load(Ordering::SeqCst) == 2).await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();

    let mut seen = handler.seen.lock().await.clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (b"one".to_vec(), false, Some("m-1".to_owned())),
            (b"two".to_vec(), false, Some("m-2".to_owned())),
        ]
    );
    assert_eq!(
        broker.depth(QueueName::Campaign).await.unwrap(),
        0,
        "acknowledged"
    );
    assert_eq!(
        broker.depth(QueueName::Import).await.unwrap(),
        1,
        "other queues untouched"
    );
    broker.delete_topology().await.unwrap();
}

#[tokio::test]
async fn permanent_errors_dead_letter_and_transient_ones_come_back() {
    let broker = Arc::new(broker().await);
    let publisher = broker.publisher().await.unwrap();
    publisher
        .publish_all(&[
            message(QueueName::Webhook, "bad", b"poison"),
            message(QueueName::Webhook, "flaky", b"flaky"),
        ])
        .await
        .unwrap();
    let handler = Arc::new(Recorder {
        transient_failures: AtomicUsize::new(1),
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (broker, handler, shutdown) = (broker.clone(), handler.clone(), shutdown.clone());
        async move { run_consumer(&broker, QueueName::Webhook, 1, handler, shutdown).await }
    });
    wait_until(async || handler.finished.load(Ordering::SeqCst) == 1).await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();

    let topology = broker.topology().clone();
    assert_eq!(
        count(&broker, topology.dead_queue(QueueName::Webhook)).await,
        1,
        "poison kept for replay"
    );
    assert_eq!(
        count(&broker, topology.work_queue(QueueName::Webhook)).await,
        0
    );
    let seen = handler.seen.lock().await.clone();
    let flaky: Vec<bool> = seen
        .iter()
        .filter(|(p, _, _)| p == b"flaky")
        .map(|(_, redelivered, _)| *redelivered)
        .collect();
    let poison = seen.iter().filter(|(p, _, _)| p == b"poison").count();
    // The transient failure in the first call was requeued; the broker marks its second delivery.
    assert_eq!(flaky.len(), 2);
    assert!(flaky.contains(&true), "{flaky:?}");
    assert_eq!(poison, 1, "a permanent failure is not retried");
    broker.delete_topology().await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_jobs_in_flight() {
    let broker = Arc::new(broker().await);
    let publisher = broker.publisher().await.unwrap();
    publisher
        .publish_all(&[message(QueueName::Report, "slow", b"slow")])
        .await
        .unwrap();
    let handler = Arc::new(Recorder {
        hold: Duration::from_millis(500),
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (broker, handler, shutdown) = (broker.clone(), handler.clone(), shutdown.clone());
        async move { run_consumer(&broker, QueueName::Report, 3, handler, shutdown).await }
    });
    wait_until(async || !handler.seen.lock().await.is_empty()).await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(
        handler.finished.load(Ordering::SeqCst),
        1,
        "the job in flight finished before the consumer returned"
    );
    assert_eq!(
        broker.depth(QueueName::Report).await.unwrap(),
        0,
        "and was acknowledged"
    );
    broker.delete_topology().await.unwrap();
}

#[tokio::test]
async fn an_unroutable_message_is_an_error_not_a_silent_loss() {
    let broker = Broker::connect(&amqp_url(), &testkit::random_queue_prefix())
        .await
        .unwrap();
    // Only the import queue exists: a campaign message has nowhere to go.
    broker.declare(&[QueueName::Import]).await.unwrap();
    let publisher = broker.publisher().await.unwrap();
    let err = publisher
        .publish_all(&[message(QueueName::Campaign, "lost?", b"x")])
        .await
        .expect_err("unroutable");
    assert!(
        matches!(err, QueueError::Nacked(ref q) if q == "campaign"),
        "{err}"
    );
    broker.delete_topology().await.unwrap();
}
