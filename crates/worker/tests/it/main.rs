//! The worker runtime against real Postgres and RabbitMQ, with a job type made for the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use common::config::Env;
use common::proto::JobRef;
use common::{ContactId, JobId, JobKind, JobState, Plan, QueueName, TenantId};
use db::DatabaseConnection;
use prost::Message;
use queue::Broker;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use worker::{Done, Job, JobContext, JobError, Worker, WorkerSettings};

/// A job type made for the tests: its parameter says how its run behaves.
struct Probe;

impl JobKind for Probe {
    const QUEUE: QueueName = QueueName::Webhook;
    const DEFAULT_ATTEMPTS: i32 = 3;
    type Subject = ContactId;
    /// `ok`, `transient`, `permanent` or `slow`.
    type Params = String;
}

/// The per-queue messages before `JobRef`: the job id, then the tenant (and the subject).
#[derive(Clone, PartialEq, prost::Message)]
struct OlderContract {
    #[prost(string, tag = "1")]
    job_id: String,
    #[prost(string, tag = "2")]
    tenant_id: String,
}

/// Records every run: when, and how many ran at once.
#[derive(Default, Clone)]
struct ProbeJob {
    runs: Arc<Mutex<Vec<(JobId, Instant, i32)>>>,
    /// The subject each run was handed.
    subjects: Arc<Mutex<Vec<ContactId>>>,
    running: Arc<AtomicI32>,
    most_at_once: Arc<AtomicI32>,
}

#[derive(Debug, thiserror::Error)]
#[error("the dependency is down")]
struct DependencyDown;

impl Job for ProbeJob {
    type Kind = Probe;

    async fn run(
        &self,
        ctx: JobContext,
        subject: ContactId,
        behaviour: String,
    ) -> Result<Done, JobError> {
        self.subjects.lock().await.push(subject);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.runs
            .lock()
            .await
            .push((ctx.job.id, Instant::now(), ctx.attempt()));
        let result = match behaviour.as_str() {
            "transient" => Err(JobError::transient(DependencyDown)),
            "permanent" => Err(JobError::permanent("this can never work")),
            "slow" => {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok(Done::Completed(Some(serde_json::json!({"slow": true}))))
            }
            _ => Ok(Done::Completed(None)),
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

struct Fixture {
    _database: testkit::TestDatabase,
    queues: testkit::TestQueues,
    db: DatabaseConnection,
    tenant: TenantId,
    job: ProbeJob,
    shutdown: CancellationToken,
    settings: WorkerSettings,
    worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The guide's back-off: retries after 2 s, then 4 s.
const BACKOFF: Duration = Duration::from_millis(2000);

async fn fixture(extra: &[(&str, &str)]) -> Fixture {
    let database = testkit::TestDatabase::create().await.unwrap();
    let queues = testkit::TestQueues::new(&[
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(4),
    ]);
    let db = db::connect(&database.url, 4).await.unwrap();
    let (tenant, _) = db::tenants::create_tenant(
        db::PlatformScope::new(&db),
        db::tenants::NewTenant {
            name: "probe".into(),
            slug: "probe".into(),
            plan: Plan::Free,
        },
    )
    .await
    .unwrap();
    let amqp = testkit::amqp_url();
    let backoff = BACKOFF.as_millis().to_string();
    let mut pairs = vec![
        ("DATABASE_URL", database.url.as_str()),
        ("AMQP_URL", amqp.as_str()),
        ("QUEUE_PREFIX", queues.prefix.as_str()),
        ("WORKER_HTTP_PORT", "0"),
        ("WORKER_WEBHOOK_BACKOFF_MS", backoff.as_str()),
        ("WORKER_HEARTBEAT_MS", "200"),
    ];
    pairs.extend_from_slice(extra);
    let settings = WorkerSettings::from_env(&Env::from_pairs(pairs), QueueName::Webhook).unwrap();
    Fixture {
        _database: database,
        queues,
        db,
        tenant: tenant.id,
        job: ProbeJob::default(),
        shutdown: CancellationToken::new(),
        settings,
        worker: None,
    }
}

impl Fixture {
    async fn start(&mut self) -> u16 {
        let worker = Worker::build(self.settings.clone(), self.db.clone(), self.job.clone())
            .await
            .unwrap();
        let port = worker.http_port();
        self.worker = Some(tokio::spawn(
            worker.run_until_stopped(self.shutdown.clone()),
        ));
        port
    }

    async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(worker) = self.worker.take() {
            tokio::time::timeout(Duration::from_secs(15), worker)
                .await
                .expect("stops within 15 s")
                .unwrap()
                .unwrap();
        }
    }

    /// A job with its outbox row (published by the worker's relay); returns it and its message.
    async fn enqueue(&self, behaviour: &str, max_attempts: i32) -> (JobId, JobRef) {
        let job = db::jobs::enqueue::<Probe>(
            db::TenantScope::for_test(&self.db, self.tenant),
            ContactId::new(),
            &behaviour.to_owned(),
            db::jobs::Enqueue {
                max_attempts: Some(max_attempts),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let message = JobRef {
            job_id: job.id.to_string(),
        };
        (job.id, message)
    }

    async fn job(&self, id: JobId) -> db::jobs::Job {
        db::jobs::find(db::PlatformScope::new(&self.db).into(), id)
            .await
            .unwrap()
    }

    async fn wait_for(&self, id: JobId, state: JobState) -> db::jobs::Job {
        for _ in 0..300 {
            let job = self.job(id).await;
            if job.state == state {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} never became {state}: {:?}", self.job(id).await);
    }

    async fn broker(&self) -> Broker {
        Broker::connect(
            &testkit::amqp_url(),
            &self.queues.prefix,
            common::QueueType::Quorum,
        )
        .await
        .unwrap()
    }

    async fn dead_messages(&self) -> u32 {
        let broker = self.broker().await;
        let name = broker.topology().dead_queue(QueueName::Webhook);
        let count = broker.queue_counts(&name).await.unwrap().map_or(0, |c| c.0);
        broker.close().await;
        count
    }
}

#[tokio::test]
async fn transient_failures_retry_after_the_configured_backoff_then_dead_letter() {
    let mut f = fixture(&[]).await;
    f.start().await;
    let (id, _) = f.enqueue("transient", 3).await;

    // While it waits for its retry the job says so, with the time of its next attempt.
    let delayed = f.wait_for(id, JobState::Delayed).await;
    assert_eq!(delayed.attempts, 1);
    assert_eq!(delayed.error.as_deref(), Some("the dependency is down"));
    let until_retry = (delayed.run_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(until_retry <= BACKOFF, "{until_retry:?}");

    let failed = f.wait_for(id, JobState::Failed).await;
    assert_eq!(failed.attempts, 3, "never more than max_attempts");
    assert!(failed.dead_lettered_at.is_some());
    let runs = f.job.runs.lock().await.clone();
    assert_eq!(runs.iter().map(|r| r.2).collect::<Vec<_>>(), [1, 2, 3]);
    // The real waits match the configured back-off (2 s, then 4 s) within 10%.
    for (i, pair) in runs.windows(2).enumerate() {
        let waited = pair[1].1 - pair[0].1;
        let configured = BACKOFF * 2u32.pow(i as u32);
        let off = waited.as_secs_f64() / configured.as_secs_f64();
        assert!(
            (0.9..=1.1).contains(&off),
            "retry {i}: waited {waited:?}, configured {configured:?}"
        );
    }
    assert_eq!(f.dead_messages().await, 1, "the message is kept for replay");

    // Replay: a new generation from attempt zero; the old dead message is dropped if it ever
    // comes back.
    db::jobs::replay(db::TenantScope::for_test(&f.db, f.tenant).into(), id)
        .await
        .unwrap();
    let replayed = f.job(id).await;
    assert_eq!((replayed.seq, replayed.attempts), (1, 0));
    for _ in 0..100 {
        if f.job.runs.lock().await.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs = f.job.runs.lock().await.clone();
    assert_eq!(runs.len(), 4, "the replay ran the job again");
    assert_eq!(runs[3].2, 1, "from its first attempt");
    f.stop().await;
}

#[tokio::test]
async fn permanent_errors_fail_at_once() {
    let mut f = fixture(&[]).await;
    f.start().await;
    let (id, _) = f.enqueue("permanent", 3).await;
    let failed = f.wait_for(id, JobState::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.error.as_deref(), Some("this can never work"));
    for _ in 0..50 {
        if f.dead_messages().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(f.dead_messages().await, 1);
    f.stop().await;
}

#[tokio::test]
async fn a_run_is_handed_its_rows_subject_and_a_row_its_type_cannot_read_fails_at_once() {
    let mut f = fixture(&[]).await;
    let (good, _) = f.enqueue("ok", 3).await;
    let subject = ContactId::from(f.job(good).await.subject_id.unwrap());
    // A row whose parameters are not its type's (a number where text is declared), as a row
    // written by hand or by a release with another declaration would be.
    let (bad, _) = f.enqueue("ok", 3).await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &f.db,
        &format!("UPDATE jobs SET params = '42' WHERE id = '{bad}'"),
    )
    .await
    .unwrap();
    f.start().await;
    f.wait_for(good, JobState::Completed).await;
    let failed = f.wait_for(bad, JobState::Failed).await;
    assert_eq!(failed.attempts, 1, "failed at once, not retried");
    let error = failed.error.unwrap();
    assert!(error.contains("parameters its type cannot read"), "{error}");
    assert_eq!(
        *f.job.subjects.lock().await,
        vec![subject],
        "only the good job ran"
    );
    f.stop().await;
}

#[tokio::test]
async fn malformed_and_stray_messages_are_dead_lettered_and_change_nothing() {
    let mut f = fixture(&[]).await;
    f.start().await;
    let (id, message) = f.enqueue("ok", 3).await;
    f.wait_for(id, JobState::Completed).await;
    let before = f.job(id).await;

    let broker = f.broker().await;
    let publisher = broker.publisher().await.unwrap();
    // The job's id in bytes the job row does not hold: the older contract's message, which
    // also named a tenant.
    let forged = OlderContract {
        job_id: message.job_id.clone(),
        tenant_id: TenantId::new().to_string(),
    }
    .encode_to_vec();
    let payloads: Vec<Vec<u8>> = vec![
        b"\xff\xff not protobuf".to_vec(),
        JobRef {
            job_id: "not-a-uuid".into(),
        }
        .encode_to_vec(),
        forged,
        JobRef {
            job_id: JobId::new().to_string(),
        }
        .encode_to_vec(),
    ];
    let messages: Vec<queue::OutgoingMessage> = payloads
        .iter()
        .map(|p| queue::OutgoingMessage {
            queue: QueueName::Webhook,
            message_id: "stray",
            payload: p,
            headers: Default::default(),
        })
        .collect();
    publisher.publish_all(&messages).await.unwrap();
    broker.close().await;
    for _ in 0..100 {
        if f.dead_messages().await == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        f.dead_messages().await,
        4,
        "each one dead-lettered, none crashed the worker"
    );
    assert_eq!(f.job(id).await, before, "the job row did not change");
    assert_eq!(f.job.runs.lock().await.len(), 1);
    f.stop().await;
}

#[tokio::test]
async fn a_second_delivery_waits_for_the_lease_and_the_job_runs_once() {
    let mut f = fixture(&[]).await;
    let port = f.start().await;
    let (id, message) = f.enqueue("slow", 3).await;
    // Running: the worker has declared and bound its queues (it does so as it starts, in its
    // own task), so the copy below is routable.
    f.wait_for(id, JobState::Active).await;
    // The same message again, as a relay that published twice would.
    let broker = f.broker().await;
    let payload = message.encode_to_vec();
    let mut headers = lapin::types::FieldTable::default();
    queue::headers::set_int(&mut headers, db::jobs::SEQ_HEADER, 0);
    broker
        .publisher()
        .await
        .unwrap()
        .publish_all(&[queue::OutgoingMessage {
            queue: QueueName::Webhook,
            message_id: &id.to_string(),
            payload: &payload,
            headers,
        }])
        .await
        .unwrap();
    broker.close().await;
    f.wait_for(id, JobState::Completed).await;
    // The duplicate was deferred while the lease was held; it comes back after the lease is
    // released, finds the job finished, and goes: both deliveries have been handled once the
    // runtime has counted the copy's deferral and its drop.
    for outcome in ["deferred", "duplicate"] {
        wait_for_outcome(port, outcome).await;
    }
    assert_eq!(f.job.runs.lock().await.len(), 1, "ran once");
    assert_eq!(f.job.most_at_once.load(Ordering::SeqCst), 1);
    assert_eq!(f.dead_messages().await, 0);
    f.stop().await;
}

#[tokio::test]
async fn a_dead_workers_lease_runs_out_and_another_worker_takes_the_job() {
    let mut f = fixture(&[("JOB_LEASE_SECONDS", "1")]).await;
    let (id, message) = f.enqueue("ok", 3).await;
    // A worker took the job and died without a word.
    let taken = db::jobs::start_attempt(
        &f.db,
        id,
        0,
        &message.encode_to_vec(),
        (common::LeaseToken::new(), common::WorkerId::new()),
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    assert!(matches!(taken, db::jobs::Attempt::Started(_)));
    f.start().await;
    let done = f.wait_for(id, JobState::Completed).await;
    assert_eq!(done.attempts, 2, "the dead worker's attempt counts");
    f.stop().await;
}

#[tokio::test]
async fn live_workers_report_heartbeats_and_leave_when_stopped() {
    let mut f = fixture(&[]).await;
    let port = f.start().await;
    let mut live = Vec::new();
    for _ in 0..50 {
        live = db::workers::live(&f.db).await.unwrap();
        if !live.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].queue, QueueName::Webhook);
    assert_eq!(live[0].pid, std::process::id() as i32);
    // The probes answer on the worker's own port.
    let ready = reqwest_get(port, "/readyz").await;
    assert!(ready.contains("\"postgres\":true"), "{ready}");
    let metrics = reqwest_get(port, "/metrics").await;
    assert!(
        metrics.contains("process_resident_memory_bytes"),
        "{metrics}"
    );
    f.stop().await;
    assert!(
        db::workers::live(&f.db).await.unwrap().is_empty(),
        "deregistered on stop"
    );
}

/// Waits until the worker's `/metrics` counts a delivery handled with `outcome`
/// (`queue_job_duration_seconds{outcome}`): the runtime has finished with that message.
async fn wait_for_outcome(port: u16, outcome: &str) {
    let label = format!("outcome=\"{outcome}\"");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = reqwest_get(port, "/metrics").await;
        let handled = metrics
            .lines()
            .any(|l| l.starts_with("queue_job_duration_seconds_count") && l.contains(&label));
        if handled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery handled with {label} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A bare HTTP GET (the runtime has no HTTP client of its own).
async fn reqwest_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..50 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut body = String::new();
            stream.read_to_string(&mut body).await.unwrap();
            if body.contains("\"rabbitmq\":true") || !path.contains("ready") {
                return body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never became ready");
}
