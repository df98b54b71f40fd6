//! `just bench` (fifth part): a campaign delivery report of 1,000,000 recipients end to end,
//! next to `psql`'s `\copy` of the same rows and columns to a CSV file, in the same run.
//!
//! End to end: `POST /api/reports` through the gateway, the queue, and `worker-report` (its
//! release binary, as its own process) reading keyset pages of 5,000 recipients, encoding them
//! and streaming the file into storage, until the report shows `ready`; then the same as JSON.
//! The baseline: `\copy (SELECT <the report's columns> ... ORDER BY id) TO <file> CSV HEADER`,
//! PostgreSQL writing the rows itself. Also the worker's peak RSS (`VmHWM` from `/proc`), the
//! goal being under 64 MB for 1,000,000 rows.

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use system_tests::TestSystem;

const ROWS: i64 = 1_000_000;

/// Peak resident memory of a process, from `/proc`.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Asks for the campaign's delivery report in `format` and waits until it is ready; returns
/// the seconds it took and the report.
async fn report(
    system: &TestSystem,
    key: &str,
    campaign_id: &str,
    format: &str,
) -> (f64, serde_json::Value) {
    let started = Instant::now();
    let (status, answer) = system
        .call(
            Method::POST,
            "/api/reports",
            Some(key),
            Some(json!({"kind": "campaign_delivery", "format": format, "campaignId": campaign_id})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["data"]["report"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    loop {
        let (_, answer) = system
            .call(Method::GET, &format!("/api/reports/{id}"), Some(key), None)
            .await;
        let status = answer["data"]["status"].as_str().unwrap_or_default();
        if status != "queued" && status != "running" {
            return (started.elapsed().as_secs_f64(), answer["data"].clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let mut system = TestSystem::spawn_gateway_only(&[("RATE_LIMIT_PRO", "100000")]).await;
    let tenant = system.tenant_with_admin("bench-report").await;
    let inbox_id = system.create_inbox(&tenant, "bench-report-token").await;
    let contact = system
        .create_contact(&tenant, "5511900000000", "Contact 0", json!({}))
        .await;
    let created = system
        .create_campaign(&tenant, &inbox_id, "Hi {{name}}", &[contact])
        .await;
    let campaign_id = created["campaign"]["id"]
        .as_str()
        .expect("campaign id")
        .to_owned();

    // The other 999,999 recipients straight in SQL, as a finished send would leave them: most
    // sent, every 20th failed with its error.
    let seeded = Instant::now();
    let connection = db::connect(&system.db.url, 1).await.expect("connect");
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO campaign_recipients
                 (id, campaign_id, tenant_id, phone, variables, status, message_id, error,
                  attempts, sent_at)
             SELECT gen_random_uuid(), $1, $2, (5511900000000 + g)::text,
                    jsonb_build_object('name', 'Contact ' || g),
                    CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'sent' END,
                    'BENCH' || lpad(g::text, 16, '0'),
                    CASE WHEN g % 20 = 0 THEN 'the number is not on WhatsApp' END,
                    1, CASE WHEN g % 20 = 0 THEN NULL ELSE now() END
               FROM generate_series(1, $3 - 1) AS g",
            [
                campaign_id.parse::<uuid::Uuid>().expect("uuid").into(),
                tenant.tenant_id.parse::<uuid::Uuid>().expect("uuid").into(),
                ROWS.into(),
            ],
        ))
        .await
        .expect("seed recipients");
    connection
        .execute_unprepared("ANALYZE campaign_recipients")
        .await
        .expect("analyze");
    connection.close().await.expect("close");
    let seed_seconds = seeded.elapsed().as_secs_f64();

    // The baseline: PostgreSQL writing the same columns of the same rows as CSV.
    let path = system.storage_dir.path().join("baseline.csv");
    let started = Instant::now();
    let copy = std::process::Command::new("psql")
        .arg(&system.db.url)
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!(
                "\\copy (SELECT phone, coalesce(variables->>'name', '') AS name, status, attempts, \
                 sent_at, error, message_id FROM campaign_recipients \
                 WHERE campaign_id = '{campaign_id}' ORDER BY id) TO '{}' WITH (FORMAT csv, HEADER true)",
                path.display()
            ),
        ])
        .status()
        .expect("run psql");
    assert!(copy.success(), "psql \\copy failed");
    let copy_seconds = started.elapsed().as_secs_f64();
    let copy_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());

    let worker = system.start_process("worker-report", &[("RUST_LOG", "warn")]);
    let (csv_seconds, csv) = report(&system, &tenant.key, &campaign_id, "csv").await;
    assert_eq!(csv["status"], "ready", "{csv}");
    assert_eq!(csv["rows"], ROWS, "{csv}");
    let csv_rss = peak_rss_kib(worker);
    let (json_seconds, json_report) = report(&system, &tenant.key, &campaign_id, "json").await;
    assert_eq!(json_report["status"], "ready", "{json_report}");
    assert_eq!(json_report["rows"], ROWS, "{json_report}");
    let rss = peak_rss_kib(worker);
    let mb = |kib: Option<u64>| {
        kib.map_or("unknown".to_owned(), |k| {
            format!("{:.1} MB", k as f64 / 1024.0)
        })
    };

    let rate = |seconds: f64| ROWS as f64 / seconds;
    println!();
    println!("## Campaign delivery report ({ROWS} recipients; seeded in {seed_seconds:.1} s)");
    println!();
    println!("| figure | report end to end | `\\copy ... TO` CSV file | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| CSV rows per second | {:.0} | {:.0} | {:.2} |",
        rate(csv_seconds),
        rate(copy_seconds),
        rate(csv_seconds) / rate(copy_seconds)
    );
    println!("| CSV seconds | {csv_seconds:.2} | {copy_seconds:.2} | |");
    println!("| CSV bytes | {} | {copy_bytes} | |", csv["bytes"]);
    println!(
        "| JSON rows per second | {:.0} ({json_seconds:.2} s, {} bytes) | | |",
        rate(json_seconds),
        json_report["bytes"]
    );
    println!(
        "| worker peak RSS | {} after the CSV, {} after both | | |",
        mb(csv_rss),
        mb(rss)
    );
    system.stop().await;
}
