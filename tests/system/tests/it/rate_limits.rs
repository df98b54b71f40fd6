//! Per-tenant rate limits through the whole gateway: exact across gateway processes sharing one
//! Redis, per plan, changed with the plan at once, and still enforced (by each replica's share)
//! while Redis is down.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;
use testkit::redis_server::RedisServer;

/// 60 requests a minute (one a second), 20 at once, for the `pro` plan tenants are created on.
const PRO_60_BURST_20: [(&str, &str); 2] =
    [("RATE_LIMIT_PRO", "60"), ("RATE_LIMIT_PRO_BURST", "20")];

/// `n` authenticated `GET /api/me` fired at once, spread over `urls` in turn.
async fn fire(system: &TestSystem, urls: &[String], key: &str, n: usize) -> Vec<reqwest::Response> {
    let requests = (0..n).map(|i| {
        system
            .http
            .get(format!("{}/api/me", urls[i % urls.len()]))
            .bearer_auth(key)
            .send()
    });
    join_all(requests)
        .await
        .into_iter()
        .map(|r| r.expect("request"))
        .collect()
}

fn count(responses: &[reqwest::Response], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status() == status).count()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("text header")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateway_processes_together_admit_exactly_the_burst_under_the_plans_limit() {
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    let a = system.start_gateway_process(&PRO_60_BURST_20).await;
    let b = system.start_gateway_process(&PRO_60_BURST_20).await;
    let urls = [a, b];
    let tenant = system.tenant_with_admin("burst").await;
    let other = system.tenant_with_admin("bystander").await;

    // 40 at once over both replicas: exactly the burst passes, whichever replica each hit.
    let mut responses = fire(&system, &urls, &tenant.key, 40).await;
    assert_eq!(count(&responses, StatusCode::OK), 20);
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 20);

    let allowed = responses
        .iter()
        .find(|r| r.status() == StatusCode::OK)
        .expect("an admitted request");
    assert_eq!(header(allowed, "x-ratelimit-limit"), "60");
    assert_eq!(header(allowed, "ratelimit-policy"), "\"pro\";q=60;w=60");
    let remaining: u32 = header(allowed, "x-ratelimit-remaining").parse().unwrap();
    assert!(remaining < 20, "{remaining}");
    assert!(header(allowed, "ratelimit").starts_with(&format!("\"pro\";r={remaining};t=")));
    let reset: u64 = header(allowed, "x-ratelimit-reset").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now..=now + 25).contains(&reset),
        "reset {reset}, now {now}"
    );

    let index = responses
        .iter()
        .position(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    let refused = responses.swap_remove(index);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert_eq!(retry_after, 1, "one request comes back every second");
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    assert_eq!(
        refused.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"success": false, "error": "Rate limit exceeded", "retryAfter": retry_after})
    );

    // The refill at the plan's rate (one a second here, whichever replica is asked) is the
    // limiter's, stepped on a manual clock there:
    // `ratelimit::it replicas::the_bucket_refills_at_the_plans_rate_whichever_replica_is_asked`.
    // The policy header above shows this gateway hands it the pro plan's limit.

    // The other tenant's bucket is untouched.
    let theirs = fire(&system, &urls, &other.key, 1).await;
    assert_eq!(theirs[0].status(), StatusCode::OK);
    assert_eq!(header(&theirs[0], "x-ratelimit-remaining"), "19");

    // Superadmins carry no tenant and are not limited by one.
    let admin = fire(&system, &urls, &system.admin_key, 30).await;
    assert_eq!(count(&admin, StatusCode::OK), 30);
    assert!(admin[0].headers().get("x-ratelimit-limit").is_none());
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_change_takes_effect_within_a_second() {
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    let mut settings = PRO_60_BURST_20.to_vec();
    settings.extend([
        ("RATE_LIMIT_ENTERPRISE", "6000"),
        ("RATE_LIMIT_ENTERPRISE_BURST", "100"),
    ]);
    let url = system.start_gateway_process(&settings).await;
    let urls = [url];
    let tenant = system.tenant_with_admin("upgrade").await;
    let spent = fire(&system, &urls, &tenant.key, 25).await;
    assert_eq!(count(&spent, StatusCode::TOO_MANY_REQUESTS), 5);

    let (status, body) = system
        .call(
            Method::PATCH,
            &format!("/api/admin/tenants/{}", tenant.tenant_id),
            Some(&system.admin_key),
            Some(json!({"plan": "enterprise"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = Instant::now();
    loop {
        let response = fire(&system, &urls, &tenant.key, 1).await.remove(0);
        if response.status() == StatusCode::OK && header(&response, "x-ratelimit-limit") == "6000" {
            assert_eq!(
                header(&response, "ratelimit-policy"),
                "\"enterprise\";q=6000;w=60"
            );
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "still limited as pro after 1 s: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    system.stop().await;
}

/// The sum of every series of `name` on a service's `/metrics`.
async fn metric_sum(system: &TestSystem, url: &str, name: &str) -> f64 {
    let text = system
        .http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

const FALLBACKS: &str = "rate_limit_fallback_decisions_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_down_each_replica_limits_to_its_share_and_returns_to_redis_when_it_is_back() {
    let mut redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .expect("start redis-server");
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    let port = redis.port.to_string();
    let url = system
        .start_gateway_process(&[
            ("REDIS_HOST", "127.0.0.1"),
            ("REDIS_PORT", &port),
            // One token every 10 s: a burst that takes a few seconds on a loaded machine
            // still meets no refill (at 30 a minute, one came every 2 s and CI saw 11 of 12).
            ("RATE_LIMIT_PRO", "6"),
            ("RATE_LIMIT_PRO_BURST", "10"),
            ("RATE_LIMIT_FALLBACK_REPLICAS", "2"),
            // A stopped Redis refuses at once; a slow answer on a loaded machine must not
            // count as Redis being down (it would admit from the fallback's share).
            ("RATE_LIMIT_REDIS_TIMEOUT_MS", "1000"),
        ])
        .await;
    let urls = [url.clone()];
    let before = system.tenant_with_admin("before").await;
    let during = system.tenant_with_admin("during").await;
    let after = system.tenant_with_admin("after").await;

    let first = fire(&system, &urls, &before.key, 1).await;
    assert_eq!(first[0].status(), StatusCode::OK);
    assert_eq!(metric_sum(&system, &url, FALLBACKS).await, 0.0);

    // Redis goes away: the gateway keeps serving, and limits each tenant to this replica's
    // share of the plan (10 / 2 replicas).
    tokio::task::block_in_place(|| redis.stop());
    let responses = fire(&system, &urls, &during.key, 12).await;
    assert_eq!(count(&responses, StatusCode::OK), 5);
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 7);
    let counted = metric_sum(&system, &url, FALLBACKS).await;
    assert!(
        counted >= 12.0,
        "every fallback decision is counted: {counted}"
    );

    // Redis comes back: decisions return to it by themselves (the fallback count stops). Each
    // HTTP worker thread has its own Redis connection, and each reconnects on its own: a round
    // of concurrent requests (reaching every thread) must fall back nowhere, twice in a row.
    tokio::task::block_in_place(|| redis.restart());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut clean_rounds = 0;
    loop {
        let before_request = metric_sum(&system, &url, FALLBACKS).await;
        fire(&system, &urls, &before.key, 8).await;
        if metric_sum(&system, &url, FALLBACKS).await == before_request {
            clean_rounds += 1;
        } else {
            clean_rounds = 0;
        }
        if clean_rounds == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still falling back 20 s after Redis returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let responses = fire(&system, &urls, &after.key, 12).await;
    assert_eq!(
        count(&responses, StatusCode::OK),
        10,
        "the whole burst, from Redis"
    );
    system.stop().await;
}
