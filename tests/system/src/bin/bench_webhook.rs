//! `just bench` (fifth part): webhook deliveries per second from recorded events to a local
//! receiver, next to a baseline in the same run.
//!
//! First the events are recorded with `app::events::emit` (in transactions of 500, as the
//! campaign and import workers record theirs), each fanned out to one delivery job and
//! published by the outbox relay, with no webhook worker running (timed on its own). Then
//! `worker-webhook` (its release binary, as its own process) is started and consumes the
//! backlog: each delivery signed and POSTed to a receiver on 127.0.0.1, until the receiver
//! has them all, timed from the worker's start. The baseline: the same number of signed POSTs
//! of the same payload sent straight from a reqwest loop with the same concurrency to the same
//! receiver.

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::TransactionTrait;
use serde_json::json;
use system_tests::TestSystem;
use system_tests::receiver::Receiver;

const EVENTS: usize = 5_000;
const PER_TRANSACTION: usize = 500;
const CONCURRENCY: usize = 20;

#[tokio::main]
async fn main() {
    let mut system = TestSystem::spawn_gateway_only(&[
        ("RATE_LIMIT_PRO", "100000"),
        ("WEBHOOK_ALLOW_PRIVATE", "true"),
    ])
    .await;
    let tenant = system.tenant_with_admin("bench-webhook").await;
    let receiver = Receiver::start(2);
    let (status, created) = system
        .call(
            Method::POST,
            "/api/webhooks/endpoints",
            Some(&tenant.key),
            Some(json!({"url": receiver.url, "eventTypes": ["campaign.completed"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["data"]["secret"].as_str().unwrap().to_owned();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let data = json!({"campaignId": uuid::Uuid::now_v7(), "name": "Launch", "total": 1000, "sent": 1000, "failed": 0});

    // The baseline: signed POSTs straight from a client loop.
    let client = reqwest::Client::new();
    let body = serde_json::to_vec(&json!({"type": "campaign.completed", "timestamp": chrono::Utc::now().to_rfc3339(), "data": data})).unwrap();
    let (key, body) = (Arc::new(key), Arc::new(body));
    let started = Instant::now();
    futures_util::stream::iter(0..EVENTS)
        .map(|i| {
            let (client, key, body, url) = (
                client.clone(),
                key.clone(),
                body.clone(),
                receiver.url.clone(),
            );
            async move {
                let id = format!("baseline_{i}");
                let timestamp = chrono::Utc::now().timestamp();
                let signature = worker_webhook::sign(&key, &id, timestamp, &body);
                let answer = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.to_vec())
                    .send()
                    .await
                    .expect("baseline POST");
                assert!(answer.status().is_success());
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let baseline = started.elapsed();
    assert_eq!(receiver.count(), EVENTS);

    let db = db::connect(&system.db.url, 2).await.expect("connect");
    let tenant_id: common::TenantId = tenant.tenant_id.parse().unwrap();
    let started = Instant::now();
    for _ in 0..EVENTS / PER_TRANSACTION {
        let txn = db.begin().await.unwrap();
        for _ in 0..PER_TRANSACTION {
            app::events::emit(
                db::TenantScope::for_test(&txn, tenant_id),
                db::events::NewEvent {
                    kind: common::EventKind::CampaignCompleted,
                    subject_id: None,
                    user_id: None,
                    data: data.clone(),
                },
            )
            .await
            .unwrap();
        }
        txn.commit().await.unwrap();
    }
    let recorded = started.elapsed();
    // Every delivery job published before the worker starts: the backlog it is timed on.
    let deadline = Instant::now() + Duration::from_secs(120);
    while outbox_rows(&db).await > 0 {
        assert!(Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await.ok();

    let concurrency = CONCURRENCY.to_string();
    let started = Instant::now();
    system.start_process(
        "worker-webhook",
        &[
            ("RUST_LOG", "warn"),
            ("WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WORKER_WEBHOOK_CONCURRENCY", &concurrency),
            ("DATABASE_MAX_CONNECTIONS", "30"),
        ],
    );
    receiver
        .wait_for(2 * EVENTS, Duration::from_secs(600))
        .await;
    let end_to_end = started.elapsed();

    let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "webhook deliveries: {EVENTS} events to a receiver on 127.0.0.1, concurrency {CONCURRENCY}"
    );
    println!(
        "  baseline (signed POSTs from a reqwest loop):   {:>8.0} deliveries/s ({:.2} s)",
        rate(baseline),
        baseline.as_secs_f64()
    );
    println!(
        "  recording (emit: event, notification job, delivery and its job, outbox rows): {:>8.0} events/s ({:.2} s)",
        rate(recorded),
        recorded.as_secs_f64()
    );
    println!(
        "  delivering the backlog (queue -> worker-webhook -> receiver, from the worker's start): {:>8.0} deliveries/s ({:.2} s)",
        rate(end_to_end),
        end_to_end.as_secs_f64()
    );
    println!(
        "  ratio delivering / baseline: {:.2}",
        rate(end_to_end) / rate(baseline)
    );
    system.stop().await;
}

/// Outbox rows not yet published.
async fn outbox_rows(db: &db::DatabaseConnection) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM outbox",
        ))
        .await
        .expect("count outbox rows")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}
