//! `just bench`: throughput of the running system, each figure next to a baseline measured in the
//! same run on the same machine (which is shared and noisy, so the ratios are what to compare).
//!
//! 1. Campaign sending: recipients per second from job start to finish, against the same number
//!    of bare `POST /chat/send/text` calls from one client to the same fake WUZAPI (what the
//!    worker does, minus the database, rendering and bookkeeping).
//! 2. Authenticated API reads: `GET /api/contacts?limit=50` per second under concurrent load,
//!    against `GET /healthz` on the same gateway (the cost of auth, query and serialisation).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use system_tests::TestSystem;
use wuzapi::{SendText, WuzapiClient};

const RECIPIENTS: usize = 2_000;
const CONCURRENCY: usize = 32;
const LOAD_SECONDS: u64 = 5;

#[tokio::main]
async fn main() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("bench").await;

    println!(
        "# WUZAPI Manager benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| scenario | figure | baseline | ratio |");
    println!("|---|---|---|---|");

    // 1. Campaign sending against bare client sends.
    let baseline = raw_sends_per_second(&system).await;
    let campaign = campaign_sends_per_second(&system, &tenant).await;
    println!(
        "| campaign send, {RECIPIENTS} recipients, no delay | {campaign:.0} msg/s | {baseline:.0} bare sends/s | {:.2} |",
        campaign / baseline
    );

    // 2. Authenticated reads against the health endpoint.
    let health = requests_per_second(&system, "/healthz", None).await;
    let contacts = requests_per_second(&system, "/api/contacts?limit=50", Some(&tenant.key)).await;
    println!(
        "| GET /api/contacts?limit=50, {CONCURRENCY} clients | {contacts:.0} req/s | {health:.0} req/s (/healthz) | {:.2} |",
        contacts / health
    );
    system.stop().await;
}

async fn raw_sends_per_second(system: &TestSystem) -> f64 {
    let client = WuzapiClient::with_defaults().expect("client");
    let base = system.wuzapi.base_url();
    let started = Instant::now();
    for i in 0..RECIPIENTS {
        let request =
            SendText::new(format!("55119{i:08}"), "Hi").with_id(format!("3EB0BENCH{i:08}"));
        client
            .send_text(&base, "baseline-token", &request)
            .await
            .expect("send");
    }
    let rate = RECIPIENTS as f64 / started.elapsed().as_secs_f64();
    system.wuzapi.reset();
    rate
}

async fn campaign_sends_per_second(
    system: &TestSystem,
    tenant: &system_tests::TenantHandle,
) -> f64 {
    let ids = system
        .insert_contacts(tenant, RECIPIENTS, 5511800000000)
        .await;
    let inbox_id = system.create_inbox(tenant, "bench-token").await;
    let (status, created) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(json!({
                "name": "bench",
                "inboxId": inbox_id,
                "template": "{Hi|Hello} {{name}}!",
                "contactIds": ids,
                "delayMinMs": 0,
                "delayMaxMs": 0,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let campaign_id = created["data"]["campaign"]["id"]
        .as_str()
        .expect("campaign id");
    let job = system.wait_for_campaign_job(&tenant.key, campaign_id).await;
    assert_eq!(job["progress"]["sent"], RECIPIENTS, "{job}");
    let seconds = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(job[field].as_str().expect("timestamp"))
            .expect("rfc3339")
            .timestamp_micros() as f64
            / 1e6
    };
    RECIPIENTS as f64 / (seconds("finishedAt") - seconds("startedAt"))
}

async fn requests_per_second(system: &TestSystem, path: &str, key: Option<&str>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let url = format!("{}{path}", system.base_url);
    let mut clients = Vec::new();
    for _ in 0..CONCURRENCY {
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
