//! `just bench` (fourth part): a contact import of 1,000,000 CSV rows end to end, next to a
//! plain `COPY` of the same file into a table of the same shape, in the same run.
//!
//! End to end: the upload through the gateway (streamed to storage), the queue, and
//! `worker-import` (its release binary, as its own process) reading, normalising every phone
//! with libphonenumber, deduping and upserting in batches, until the import shows `completed`.
//! The baseline: `psql`'s `\copy` of the same file into a plain table, the fastest
//! way rows get into PostgreSQL. Also the worker's peak RSS (`VmHWM`).

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use system_tests::TestSystem;

const ROWS: usize = 1_000_000;

fn csv_file(rows: usize) -> Vec<u8> {
    let mut csv = Vec::with_capacity(rows * 40);
    csv.extend_from_slice(b"phone,name,city\n");
    for i in 0..rows {
        writeln!(csv, "+5511{:09},Contact {i},Recife", 900_000_000 + i).expect("write");
    }
    csv
}

/// Peak resident memory of a process, from `/proc`.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() {
    let mut system = TestSystem::spawn_gateway_only(&[
        ("RATE_LIMIT_PRO", "100000"),
        ("IMPORT_MAX_BYTES", "1073741824"),
    ])
    .await;
    let tenant = system.tenant_with_admin("bench-import").await;
    let file = csv_file(ROWS);
    let path = system.storage_dir.path().join("baseline.csv");
    std::fs::write(&path, &file).expect("write the baseline file");

    // The baseline: COPY of the same rows into a table shaped like contacts' input.
    let started = Instant::now();
    let copy = std::process::Command::new("psql")
        .arg(&system.db.url)
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "CREATE TABLE copy_baseline (phone text, name text, city text)",
            "-c",
            &format!(
                "\\copy copy_baseline FROM '{}' WITH (FORMAT csv, HEADER true)",
                path.display()
            ),
        ])
        .status()
        .expect("run psql");
    assert!(copy.success(), "psql \\copy failed");
    let copy_seconds = started.elapsed().as_secs_f64();

    let worker = system.start_process("worker-import", &[("RUST_LOG", "warn")]);
    let started = Instant::now();
    let response = system
        .http
        .post(format!("{}/api/contacts/imports", system.base_url))
        .bearer_auth(&tenant.key)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answer: serde_json::Value = response.json().await.expect("json");
    let uploaded = started.elapsed().as_secs_f64();
    let id = answer["data"]["import"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let import = loop {
        let (_, answer) = system
            .call(
                Method::GET,
                &format!("/api/contacts/imports/{id}"),
                Some(&tenant.key),
                None,
            )
            .await;
        let status = answer["data"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status != "queued" && status != "running" {
            break answer["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let import_seconds = started.elapsed().as_secs_f64();
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["progress"]["imported"], ROWS, "{import}");
    let rss = peak_rss_kib(worker).map_or("unknown".to_owned(), |kib| {
        format!("{:.0} MB", kib as f64 / 1024.0)
    });

    let import_rate = ROWS as f64 / import_seconds;
    let copy_rate = ROWS as f64 / copy_seconds;
    println!();
    println!("## Contact import ({ROWS} CSV rows)");
    println!();
    println!("| figure | import end to end | plain `COPY` | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| rows per second | {import_rate:.0} | {copy_rate:.0} | {:.2} |",
        import_rate / copy_rate
    );
    println!("| seconds | {import_seconds:.1} (upload {uploaded:.1}) | {copy_seconds:.1} | |");
    println!("| worker peak RSS | {rss} | | |");
    system.stop().await;
}
