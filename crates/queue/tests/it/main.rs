//! The queue crate against the real RabbitMQ, each test under its own random prefix (deleted
//! afterwards, also when the test panics).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{QueueName, QueueType};
use lapin::types::FieldTable;
use queue::{Broker, Delivery, Disposition, JobHandler, OutgoingMessage, QueueError, run_consumer};
use testkit::TestQueues;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

const RETRY: Duration = Duration::from_millis(300);

async fn broker(queue_type: QueueType) -> (Broker, TestQueues) {
    let queues = TestQueues::new(&[RETRY]);
    let broker = Broker::connect(&testkit::amqp_url(), &queues.prefix, queue_type)
        .await
        .expect("RabbitMQ answers");
    broker.declare(&QueueName::ALL).await.expect("declare");
    for queue in QueueName::ALL {
        broker
            .declare_wait(queue, &[RETRY])
            .await
            .expect("declare wait queues");
    }
    (broker, queues)
}

/// Ready messages in a queue, by name.
async fn count(broker: &Broker, name: String) -> u32 {
    broker
        .queue_counts(&name)
        .await
        .unwrap()
        .expect("queue exists")
        .0
}

fn message<'a>(queue: QueueName, id: &'a str, payload: &'a [u8]) -> OutgoingMessage<'a> {
    OutgoingMessage {
        queue,
        message_id: id,
        payload,
        headers: FieldTable::default(),
    }
}

/// Payload, redelivered flag, message id and when it was seen.
type Seen = (Vec<u8>, bool, Option<String>, Instant);

/// Records what it sees; asks for a retry on the first `retries` calls, dead-letters payload
/// `poison`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    retries: AtomicUsize,
    hold: Duration,
    finished: AtomicUsize,
}

impl JobHandler for Recorder {
    async fn handle(&self, delivery: Delivery) -> Disposition {
        self.seen.lock().await.push((
            delivery.payload.clone(),
            delivery.redelivered,
            delivery.message_id.clone(),
            Instant::now(),
        ));
        tokio::time::sleep(self.hold).await;
        if delivery.payload == b"poison" {
            return Disposition::DeadLetter {
                reason: "poison".into(),
            };
        }
        if self
            .retries
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Disposition::Retry {
                delay: RETRY,
                headers: delivery.headers,
            };
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
        Disposition::Ack
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

fn consume(
    broker: &Arc<Broker>,
    queue: QueueName,
    concurrency: u16,
    handler: &Arc<Recorder>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), QueueError>> {
    let (broker, handler, shutdown) = (broker.clone(), handler.clone(), shutdown.clone());
    tokio::spawn(async move { run_consumer(&broker, queue, concurrency, handler, shutdown).await })
}

#[tokio::test]
async fn confirmed_messages_are_consumed_once_and_acknowledged() {
    for queue_type in [QueueType::Quorum, QueueType::Classic] {
        let (broker, _queues) = broker(queue_type).await;
        let broker = Arc::new(broker);
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
        let consumer = consume(&broker, QueueName::Campaign, 2, &handler, &shutdown);
        wait_until(async || handler.finished.load(Ordering::SeqCst) == 2).await;
        shutdown.cancel();
        consumer.await.unwrap().unwrap();

        let mut seen: Vec<_> = handler
            .seen
            .lock()
            .await
            .iter()
            .map(|(p, r, id, _)| (p.clone(), *r, id.clone()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (b"one".to_vec(), false, Some("m-1".to_owned())),
                (b"two".to_vec(), false, Some("m-2".to_owned())),
            ],
            "{queue_type:?}"
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
    }
}

#[tokio::test]
async fn dead_letters_keep_their_reason_and_retries_wait_their_delay() {
    let (broker, _queues) = broker(QueueType::Quorum).await;
    let broker = Arc::new(broker);
    let publisher = broker.publisher().await.unwrap();
    publisher
        .publish_all(&[
            message(QueueName::Webhook, "bad", b"poison"),
            message(QueueName::Webhook, "flaky", b"flaky"),
        ])
        .await
        .unwrap();
    let handler = Arc::new(Recorder {
        retries: AtomicUsize::new(2),
        ..Default::default()
    });
    let shutdown = CancellationToken::new();
    let consumer = consume(&broker, QueueName::Webhook, 1, &handler, &shutdown);
    wait_until(async || handler.finished.load(Ordering::SeqCst) == 1).await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();

    let topology = broker.topology().clone();
    assert_eq!(
        count(&broker, topology.dead_queue(QueueName::Webhook)).await,
        1,
        "poison kept"
    );
    assert_eq!(
        count(&broker, topology.work_queue(QueueName::Webhook)).await,
        0
    );
    assert_eq!(
        count(&broker, topology.wait_queue(QueueName::Webhook, RETRY)).await,
        0
    );
    let seen = handler.seen.lock().await.clone();
    let flaky: Vec<Instant> = seen
        .iter()
        .filter(|(p, ..)| p == b"flaky")
        .map(|(.., at)| *at)
        .collect();
    assert_eq!(flaky.len(), 3, "two retries, then done");
    for pair in flaky.windows(2) {
        let waited = pair[1] - pair[0];
        assert!(
            waited >= RETRY && waited < RETRY * 3,
            "a retry came back after {waited:?}, configured {RETRY:?}"
        );
    }
    assert_eq!(
        seen.iter().filter(|(p, ..)| p == b"poison").count(),
        1,
        "not retried"
    );

    // The dead message carries its reason, and can be removed selectively.
    let removed = broker
        .remove_dead(QueueName::Webhook, |headers| {
            queue::headers::text(headers, queue::DEAD_REASON_HEADER).as_deref() == Some("poison")
        })
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        count(&broker, topology.dead_queue(QueueName::Webhook)).await,
        0
    );
}

#[tokio::test]
async fn shutdown_waits_for_jobs_in_flight() {
    let (broker, _queues) = broker(QueueType::Quorum).await;
    let broker = Arc::new(broker);
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
    let consumer = consume(&broker, QueueName::Report, 3, &handler, &shutdown);
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
}

#[tokio::test]
async fn an_unroutable_message_is_an_error_not_a_silent_loss() {
    let queues = TestQueues::new(&[]);
    let broker = Broker::connect(&testkit::amqp_url(), &queues.prefix, QueueType::Quorum)
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
}

#[tokio::test]
async fn a_queue_declared_with_other_arguments_is_refused_not_silently_reused() {
    let (broker, queues) = broker(QueueType::Classic).await;
    drop(broker);
    let quorum = Broker::connect(&testkit::amqp_url(), &queues.prefix, QueueType::Quorum)
        .await
        .unwrap();
    let err = quorum
        .declare(&[QueueName::Campaign])
        .await
        .expect_err("type differs");
    assert!(err.to_string().contains("PRECONDITION_FAILED"), "{err}");
}
