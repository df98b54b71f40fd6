//! `just bench` (third part): the gateway's request pipeline under load, measured with `wrk`.
//!
//! A warm authenticated, rate-limited, compressed `GET /api/branding` (a branding of about
//! 3 KB, asked for in Brotli) against `GET /healthz` on the same gateway in the same run, at 32
//! connections: requests per second and p50/p99 latency, and what one warm request costs in
//! Redis commands and Postgres transactions (counted by the servers over the whole run).

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use system_tests::TestSystem;
use testkit::redis_server::RedisServer;

const CONNECTIONS: u32 = 32;
const THREADS: u32 = 2;
const SECONDS: u32 = 10;

/// What `wrk` reported for one run.
struct Run {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Responses that were not 2xx or 3xx.
    failed: u64,
}

fn wrk(url: &str, headers: &[String]) -> Run {
    let mut command = Command::new("wrk");
    command.args([
        &format!("-t{THREADS}"),
        &format!("-c{CONNECTIONS}"),
        &format!("-d{SECONDS}s"),
        "--latency",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command
        .arg(url)
        .output()
        .expect("run wrk (`apt-get install wrk`; `just bench` installs it)");
    assert!(output.status.success(), "wrk failed: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let value = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let millis = |prefix: &str| -> f64 {
        let raw = value(prefix).unwrap_or_else(|| panic!("no `{prefix}` in wrk's output:\n{text}"));
        let (number, unit) =
            raw.split_at(raw.find(|c: char| c.is_alphabetic()).unwrap_or(raw.len()));
        let number: f64 = number.parse().expect("a latency");
        match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            other => panic!("unknown unit {other} in {raw}"),
        }
    };
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{text}"));
    Run {
        requests,
        per_second: value("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .expect("requests per second"),
        p50_ms: millis("50%"),
        p99_ms: millis("99%"),
        failed: value("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

/// Commands this Redis has run since it started, by command.
fn redis_commands(redis: &RedisServer) -> BTreeMap<String, u64> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let calls = rest
                .split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Transactions committed or rolled back in the test database (statistics lag about a second).
async fn pg_transactions(db: &db::DatabaseConnection, name: &str) -> i64 {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT (xact_commit + xact_rollback)::int8 AS n FROM pg_stat_database WHERE datname = $1",
            [name.into()],
        ))
        .await
        .expect("pg_stat_database")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

#[tokio::main]
async fn main() {
    // A Redis of its own, so its command counts are this gateway's alone.
    let redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .expect("start redis-server");
    let redis_port = redis.port.to_string();
    // The limiter decides every request but admits all of them; no background work competes.
    let system = TestSystem::spawn_gateway_only(&[
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", &redis_port),
        ("RATE_LIMIT_PRO", "1000000"),
        ("RATE_LIMIT_PRO_BURST", "1000000"),
        ("OUTBOX_RELAY", "false"),
        ("QUEUE_METRICS_INTERVAL_MS", "3600000"),
    ])
    .await;
    let tenant = system.tenant_with_admin("bench-http").await;
    let paragraph = "<p>Campaigns that reach every customer, on time, in their language.</p>";
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/branding",
            Some(&tenant.key),
            Some(json!({"appName": "Bench", "homeHtml": paragraph.repeat(40)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = format!("{}/api/branding", system.base_url);
    let check = system
        .http
        .get(&url)
        .bearer_auth(&tenant.key)
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("branding");
    assert_eq!(check.status(), StatusCode::OK);
    assert_eq!(check.headers()["content-encoding"], "br");
    assert!(check.headers().contains_key("x-ratelimit-remaining"));
    let identity_len = check
        .headers()
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_owned());

    let db_name = system
        .db
        .url
        .rsplit('/')
        .next()
        .expect("db name")
        .to_owned();
    let stats_db = db::connect(&system.db.url, 1).await.expect("connect");
    let headers = [
        format!("Authorization: Bearer {}", tenant.key),
        "Accept-Encoding: br".to_owned(),
    ];
    // Warm-up: principal and branding in process, the script loaded, connections open.
    wrk_short(&url, &headers);

    let pg_before = pg_transactions(&stats_db, &db_name).await;
    let redis_before = redis_commands(&redis);
    let branding = tokio::task::spawn_blocking({
        let url = url.clone();
        move || wrk(&url, &headers)
    })
    .await
    .expect("wrk");
    let redis_after = redis_commands(&redis);
    let pg_after = pg_transactions(&stats_db, &db_name).await;
    let health_url = format!("{}/healthz", system.base_url);
    let health = tokio::task::spawn_blocking(move || wrk(&health_url, &[]))
        .await
        .expect("wrk");
    assert_eq!(branding.failed, 0, "every branding GET succeeded");

    // The two statistics reads themselves are transactions too.
    let pg_per_request = (pg_after - pg_before - 1).max(0) as f64 / branding.requests as f64;
    // Commands run during the branding load, by command (less the INFO that read them).
    let mut redis_during: BTreeMap<String, u64> = redis_after
        .iter()
        .map(|(name, after)| {
            (
                name.clone(),
                after - redis_before.get(name).copied().unwrap_or(0),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    if let Some(info) = redis_during.get_mut("info") {
        *info = info.saturating_sub(1);
    }
    let redis_total: u64 = redis_during.values().sum();
    let redis_per_request = redis_total as f64 / branding.requests as f64;
    let by_command: Vec<String> = redis_during
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();

    println!();
    println!("## Gateway pipeline (wrk, {CONNECTIONS} connections, {SECONDS} s each)");
    println!();
    println!(
        "Authenticated, rate-limited, Brotli-compressed `GET /api/branding` ({} bytes compressed) against `GET /healthz` on the same gateway.",
        identity_len.unwrap_or_else(|| "?".into())
    );
    println!();
    println!("| figure | branding GET | `/healthz` | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| requests per second | {:.0} | {:.0} | {:.2} |",
        branding.per_second,
        health.per_second,
        branding.per_second / health.per_second
    );
    println!(
        "| p50 latency | {:.2} ms | {:.2} ms | {:.2} |",
        branding.p50_ms,
        health.p50_ms,
        branding.p50_ms / health.p50_ms
    );
    println!(
        "| p99 latency | {:.2} ms | {:.2} ms | {:.2} |",
        branding.p99_ms,
        health.p99_ms,
        branding.p99_ms / health.p99_ms
    );
    println!(
        "| Redis round trips per warm request (EVALSHA calls) | {:.3} | | |",
        redis_during.get("evalsha").copied().unwrap_or(0) as f64 / branding.requests as f64
    );
    println!(
        "| Redis commands per warm request, counting those the script runs | {redis_per_request:.3} ({redis_total} over {} requests: {}) | | |",
        branding.requests,
        by_command.join(", ")
    );
    println!(
        "| Postgres transactions per warm request | {pg_per_request:.4} ({} over the run) | | |",
        pg_after - pg_before
    );
    stats_db.close().await.expect("close");
    system.stop().await;
}

/// Two seconds of load, for warming up.
fn wrk_short(url: &str, headers: &[String]) {
    let mut command = Command::new("wrk");
    command.args(["-t1", "-c4", "-d2s"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let status = command.arg(url).output().expect("run wrk").status;
    assert!(status.success());
}
