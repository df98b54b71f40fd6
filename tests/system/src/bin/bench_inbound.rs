//! `just bench` (sixth part): inbound WUZAPI events per second, accepted by the gateway and
//! applied through the `inbound` queue, next to `GET /healthz` on the same gateway in the
//! same run.
//!
//! A campaign's 10,000 recipients are marked sent; then each gets a delivery and a read
//! receipt, posted as a new WUZAPI server posts them (JSON, `x-hmac-signature` with the inbox's
//! key) from a client loop at the same concurrency as the `/healthz` baseline: 20,000 posts,
//! each verified, recorded once and answered. With no worker running, they wait as a backlog;
//! then `worker-inbound` (its release binary, as its own process) is started and timed until
//! every event is applied (recipients delivered and read).

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use system_tests::TestSystem;
use wuzapi::fake::PostFormat;

const RECIPIENTS: usize = 10_000;
const CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    // The gateway's production pool size (the tests' is 4).
    let mut system = TestSystem::spawn_gateway_only(&[
        ("RATE_LIMIT_PRO", "1000000"),
        ("DATABASE_MAX_CONNECTIONS", "10"),
    ])
    .await;
    let tenant = system.tenant_with_admin("bench-inbound").await;
    let inbox = system.create_inbox(&tenant, "bench-inbound-token").await;
    let (hook, _, signs) = system.wuzapi.webhook_of("bench-inbound-token").unwrap();
    assert!(signs, "the inbox signs its events");
    let key = system.wuzapi.hmac_key_of("bench-inbound-token").unwrap();
    let contacts = system
        .insert_contacts(&tenant, RECIPIENTS, 5511900000000)
        .await;
    let (status, created) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(json!({"name": "Bench", "inboxId": inbox, "template": "Hi",
                        "contactIds": contacts, "delayMinMs": 0, "delayMaxMs": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let campaign: uuid::Uuid = created["data"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // As if worker-campaign had sent them all (no worker runs: the bench is about events).
    let db = db::connect(&system.db.url, 2).await.expect("connect");
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE campaign_recipients SET status = 'sent', sent_at = now() - interval '1 minute'
          WHERE campaign_id = $1",
        [campaign.into()],
    ))
    .await
    .unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT message_id FROM campaign_recipients WHERE campaign_id = $1",
            [campaign.into()],
        ))
        .await
        .unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "message_id").unwrap())
        .collect();

    let client = reqwest::Client::new();
    let events = ids.len() * 2;

    // The baseline: as many GET /healthz at the same concurrency.
    let healthz = format!("{}/healthz", system.base_url);
    let started = Instant::now();
    futures_util::stream::iter(0..events)
        .map(|_| {
            let (client, url) = (client.clone(), healthz.clone());
            async move {
                let answer = client.get(url).send().await.expect("GET /healthz");
                assert!(answer.status().is_success());
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let baseline = started.elapsed();

    // Signed receipts, delivered then read, as WUZAPI posts them.
    let bodies: Vec<(Vec<u8>, String)> = ids
        .iter()
        .flat_map(|id| ["Delivered", "Read"].map(|state| (id, state)))
        .map(|(id, state)| {
            let event = json!({"type": "ReadReceipt", "state": state, "event": {
                "MessageIDs": [id], "Chat": "5511900000000@s.whatsapp.net",
                "Timestamp": chrono::Utc::now().to_rfc3339()}});
            let (body, _) = wuzapi::fake::encode(&event, PostFormat::Json);
            let signature = wuzapi::fake::signature(&key, &body);
            (body, signature)
        })
        .collect();
    let hook = Arc::new(hook);
    let started = Instant::now();
    futures_util::stream::iter(bodies)
        .map(|(body, signature)| {
            let (client, url) = (client.clone(), hook.clone());
            async move {
                let answer = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("x-hmac-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .expect("POST an event");
                assert_eq!(answer.status(), StatusCode::OK);
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let accepted = started.elapsed();
    assert_eq!(
        pending(&db).await as usize,
        events,
        "each post recorded once"
    );

    let started = Instant::now();
    system.start_process(
        "worker-inbound",
        &[("RUST_LOG", "warn"), ("DATABASE_MAX_CONNECTIONS", "10")],
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while pending(&db).await > 0 {
        assert!(Instant::now() < deadline, "the events were never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let applied = started.elapsed();
    let read = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(read_at) AS n FROM campaign_recipients WHERE campaign_id = $1",
            [campaign.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(read as usize, ids.len(), "every recipient read");
    db.close().await.ok();

    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!(
        "inbound events: {events} signed receipts of {} recipients, concurrency {CONCURRENCY}",
        ids.len()
    );
    println!(
        "  baseline GET /healthz:                         {:>8.0} requests/s ({:.2} s)",
        rate(baseline),
        baseline.as_secs_f64()
    );
    println!(
        "  accepted (verified, recorded, answered):       {:>8.0} events/s ({:.2} s)",
        rate(accepted),
        accepted.as_secs_f64()
    );
    println!(
        "  applied (queue -> worker-inbound, from its start): {:>8.0} events/s ({:.2} s)",
        rate(applied),
        applied.as_secs_f64()
    );
    println!(
        "  ratio accepted / healthz: {:.2}; applied / healthz: {:.2}",
        rate(accepted) / rate(baseline),
        rate(applied) / rate(baseline)
    );
    system.stop().await;
}

/// Events recorded and not yet applied.
async fn pending(db: &db::DatabaseConnection) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM inbound_events WHERE processed_at IS NULL",
    ))
    .await
    .expect("count pending events")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("a count")
}
