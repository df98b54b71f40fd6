//! `just bench`: throughput of the running system, each figure next to a ceiling measured in the
//! same run on the same machine (which is shared and noisy, so the ratios are what to compare).
//!
//! 1. Ceilings: the broker's raw rate (persistent messages with publisher confirms, published
//!    and consumed at once through a quorum queue) and bare `POST /chat/send/text` calls to the
//!    same fake WUZAPI from as many concurrent clients as there are inboxes.
//! 2. The whole pipeline with zero delays: gateway -> outbox -> RabbitMQ -> `worker-campaign`
//!    processes -> fake WUZAPI, many campaigns on many inboxes, with 1, 2 and 4 worker
//!    processes: messages per second, and job pick-up latency (job created -> first attempt).
//! 3. Authenticated API reads: `GET /api/contacts?limit=50` under concurrent load, against
//!    `GET /healthz` on the same gateway.
//!
//! The worker processes are the release `worker-campaign` binary next to this one
//! (`just bench` builds both).

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions};
use lapin::types::FieldTable;
use reqwest::{Method, StatusCode};
use serde_json::json;
use system_tests::{TenantHandle, TestSystem};
use wuzapi::{SendText, WuzapiClient};

const CAMPAIGNS: usize = 16;
const RECIPIENTS_PER_CAMPAIGN: usize = 2_000;
const BROKER_MESSAGES: usize = 20_000;
const HTTP_CLIENTS: usize = 32;
const LOAD_SECONDS: u64 = 5;

#[tokio::main]
async fn main() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let tenant = system.tenant_with_admin("bench").await;

    println!(
        "# WUZAPI Manager benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| scenario | figure | ceiling / baseline | ratio |");
    println!("|---|---|---|---|");

    let broker = broker_rate().await;
    println!(
        "| RabbitMQ alone: publish (persistent, confirms) + consume, quorum queue, {BROKER_MESSAGES} messages | {broker:.0} msg/s | | |"
    );
    let sequential = bare_sends_per_second(&system, 1).await;
    println!(
        "| bare sends to the fake WUZAPI, one client, one after another | {sequential:.0} msg/s | | |"
    );
    let bare = bare_sends_per_second(&system, CAMPAIGNS).await;
    println!(
        "| bare sends to the fake WUZAPI, {CAMPAIGNS} concurrent clients | {bare:.0} msg/s | | |"
    );

    let mut first_phone = 5511800000000_i64;
    for workers in [1, 2, 4] {
        let run = pipeline(&system, &tenant, workers, first_phone).await;
        first_phone += (CAMPAIGNS * RECIPIENTS_PER_CAMPAIGN) as i64;
        println!(
            "| pipeline, {workers} worker process(es), {CAMPAIGNS} campaigns x {RECIPIENTS_PER_CAMPAIGN} recipients on {CAMPAIGNS} inboxes, no delay | {:.0} msg/s | {bare:.0} concurrent / {sequential:.0} sequential bare sends/s; {broker:.0} broker msg/s | {:.2} / {:.2}; {:.2} |",
            run.rate,
            run.rate / bare,
            run.rate / sequential,
            run.rate / broker
        );
        println!(
            "| job pick-up latency, {workers} worker(s) (created -> first attempt) | p50 {:.0} ms, p99 {:.0} ms | | |",
            run.pickup_p50_ms, run.pickup_p99_ms
        );
    }

    let health = requests_per_second(&system, "/healthz", None).await;
    let contacts = requests_per_second(&system, "/api/contacts?limit=50", Some(&tenant.key)).await;
    println!(
        "| GET /api/contacts?limit=50, {HTTP_CLIENTS} clients | {contacts:.0} req/s | {health:.0} req/s (/healthz) | {:.2} |",
        contacts / health
    );
    system.stop().await;
}

/// Publishes `BROKER_MESSAGES` persistent messages with confirms while a consumer takes and
/// acknowledges them, through a quorum queue of its own; messages per second end to end.
async fn broker_rate() -> f64 {
    let queues = testkit::TestQueues::new(&[]);
    let connection = lapin::Connection::connect(&testkit::amqp_url(), Default::default())
        .await
        .expect("RabbitMQ");
    let channel = connection.create_channel().await.expect("channel");
    let name = format!("{}.campaign", queues.prefix);
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            name.as_str().into(),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .expect("declare");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    let consumer_channel = connection.create_channel().await.expect("channel");
    consumer_channel
        .basic_qos(200, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = consumer_channel
        .basic_consume(
            name.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut seen = 0;
        while seen < BROKER_MESSAGES {
            let delivery = consumer.next().await.expect("open").expect("delivery");
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
            seen += 1;
        }
    });
    let payload = vec![7u8; 80];
    let mut confirms = Vec::with_capacity(1000);
    for _ in 0..BROKER_MESSAGES {
        let confirm = channel
            .basic_publish(
                "".into(),
                name.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        confirms.push(confirm);
        // A window of confirms in flight, as the outbox relay keeps one per batch.
        if confirms.len() == 1000 {
            for confirm in confirms.drain(..) {
                confirm.await.expect("confirmed");
            }
        }
    }
    for confirm in confirms {
        confirm.await.expect("confirmed");
    }
    consuming.await.expect("consumer");
    let rate = BROKER_MESSAGES as f64 / started.elapsed().as_secs_f64();
    let _ = connection.close(200, "bye".into()).await;
    rate
}

/// The fake's ceiling: `clients` clients sending at once, as that many inboxes would.
async fn bare_sends_per_second(system: &TestSystem, clients: usize) -> f64 {
    let client = WuzapiClient::with_defaults().expect("client");
    let base = system.wuzapi.base_url();
    let per_client = 8000 / clients;
    let started = Instant::now();
    let mut senders = Vec::new();
    for c in 0..clients {
        let (client, base) = (client.clone(), base.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..per_client {
                let request = SendText::new(format!("55119{c:02}{i:06}"), "Hi")
                    .with_id(format!("3EB0BENCH{c:02}{i:06}"));
                client
                    .send_text(&base, &format!("baseline-{c}"), &request)
                    .await
                    .expect("send");
            }
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    let rate = (clients * per_client) as f64 / started.elapsed().as_secs_f64();
    system.wuzapi.reset();
    rate
}

struct PipelineRun {
    rate: f64,
    pickup_p50_ms: f64,
    pickup_p99_ms: f64,
}

/// Release `worker-campaign` processes, killed when dropped.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn pipeline(
    system: &TestSystem,
    tenant: &TenantHandle,
    workers: usize,
    first_phone: i64,
) -> PipelineRun {
    let binary = system_tests::service_binary("worker-campaign");
    let env = system.worker_env(&[("RUST_LOG", "error"), ("DATABASE_MAX_CONNECTIONS", "10")]);
    let mut processes = Workers(Vec::new());
    for _ in 0..workers {
        let mut command = Command::new(&binary);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        for (key, value) in &env {
            command.env(key, value);
        }
        processes
            .0
            .push(command.spawn().expect("start worker-campaign"));
    }
    // Wait until every worker consumes before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, live) = system
            .call(
                Method::GET,
                "/api/jobs/workers/status",
                Some(&system.admin_key),
                None,
            )
            .await;
        if live["data"].as_array().map_or(0, Vec::len) >= workers {
            break;
        }
        assert!(Instant::now() < deadline, "workers did not start: {live}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Contacts and inboxes first, so the clock measures sending only.
    let mut batches = Vec::new();
    for c in 0..CAMPAIGNS {
        let start = first_phone + (c * RECIPIENTS_PER_CAMPAIGN) as i64;
        let ids = system
            .insert_contacts(tenant, RECIPIENTS_PER_CAMPAIGN, start)
            .await;
        let inbox = system
            .create_inbox(tenant, &format!("bench-{workers}-{c}"))
            .await;
        batches.push((inbox, ids));
    }
    let started = Instant::now();
    let mut campaign_ids = Vec::new();
    for (inbox, ids) in &batches {
        let (status, created) = system
            .call(
                Method::POST,
                "/api/campaigns",
                Some(&tenant.key),
                Some(json!({
                    "name": "bench",
                    "inboxId": inbox,
                    "template": "{Hi|Hello} {{name}}!",
                    "contactIds": ids,
                    "delayMinMs": 0,
                    "delayMaxMs": 0,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{created}");
        campaign_ids.push(
            created["data"]["campaign"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // The clock stops when WUZAPI has every message: polling a job's status every 100 ms
    // would add up to a tenth of a second to a run of a few seconds.
    let total = CAMPAIGNS * RECIPIENTS_PER_CAMPAIGN;
    while system.wuzapi.sent_count() < total {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {total} messages after 120 s",
            system.wuzapi.sent_count()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut pickups = Vec::new();
    for id in &campaign_ids {
        let job = system.wait_for_campaign_job(&tenant.key, id).await;
        assert_eq!(job["progress"]["sent"], RECIPIENTS_PER_CAMPAIGN, "{job}");
        let at = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(job[field].as_str().expect("timestamp"))
                .expect("rfc3339")
        };
        pickups.push(
            (at("startedAt") - at("createdAt"))
                .num_microseconds()
                .unwrap() as f64
                / 1000.0,
        );
    }
    drop(processes);
    system.wuzapi.reset();
    pickups.sort_by(f64::total_cmp);
    let percentile = |p: f64| pickups[((pickups.len() - 1) as f64 * p).round() as usize];
    PipelineRun {
        rate: (CAMPAIGNS * RECIPIENTS_PER_CAMPAIGN) as f64 / elapsed,
        pickup_p50_ms: percentile(0.5),
        pickup_p99_ms: percentile(0.99),
    }
}

async fn requests_per_second(system: &TestSystem, path: &str, key: Option<&str>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let url = format!("{}{path}", system.base_url);
    let mut clients = Vec::new();
    for _ in 0..HTTP_CLIENTS {
        let (http, url, key, done) = (
            system.http.clone(),
            url.clone(),
            key.map(str::to_owned),
            done.clone(),
        );
        clients.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut request = http.get(&url);
                if let Some(key) = &key {
                    request = request.bearer_auth(key);
                }
                let response = request.send().await.expect("request");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.expect("body");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for client in clients {
        client.await.expect("client");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
