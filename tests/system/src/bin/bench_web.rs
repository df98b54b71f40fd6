//! `just bench` (web part): the web app as a browser sees it, in headless Chromium
//! (`web/e2e/bench.mjs`): time to first byte of `/` and of the app's first API call next to the
//! browser's own `GET /healthz`, and the time until a running campaign's page shows its progress
//! next to the session page, each the median of cold loads in fresh browser contexts. Needs
//! `web/dist` and Chromium (`bash scripts/web.sh browser`, which `just bench` runs).

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::path::Path;

use serde_json::Value;
use system_tests::TestSystem;

#[tokio::main]
async fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    assert!(
        web.join("dist/index.html").exists(),
        "web/dist is missing: run `bash scripts/web.sh browser`"
    );
    let dist = web.join("dist").display().to_string();
    let mut system = TestSystem::spawn_with(&[("WEB_DIR", &dist)]).await;
    system.start_notification_worker(&[]).await;
    let tenant = system.tenant_with_admin("bench-web").await;
    let invite = system
        .invitation(&tenant, "ana@bench.example", "user")
        .await;
    // A campaign that keeps running through the whole measurement: 200 recipients, 2-3 s apart.
    let campaign = system
        .paced_campaign(&tenant, "bench-web-token", 200, 5511980000000, (2000, 3000))
        .await;

    let output = tokio::process::Command::new("node")
        .arg("e2e/bench.mjs")
        .current_dir(&web)
        .env("BASE_URL", &system.base_url)
        .env("USER_INVITE", &invite)
        .env("CAMPAIGN_PATH", format!("/campaigns/{campaign}"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    assert!(
        output.status.success(),
        "the browser run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: Value = serde_json::from_slice(&output.stdout).expect("JSON figures");
    let row = |name: &str, what: &str| {
        let f = &figures[name];
        println!(
            "  {what:<58} median {:>8.2} ms  p90 {:>8.2} ms  ({} runs)",
            f["medianMs"].as_f64().unwrap_or_default(),
            f["p90Ms"].as_f64().unwrap_or_default(),
            f["runs"]
        );
    };
    println!("web app in headless Chromium, cold loads in fresh contexts:");
    row("healthz", "baseline: TTFB of GET /healthz from the page");
    row("document", "TTFB of / (index.html)");
    row(
        "firstApiCall",
        "TTFB of the first API call (GET /api/auth/session)",
    );
    row("loginShown", "login form shown, since navigation");
    row("sessionShown", "baseline: signed-in session page shown");
    row("campaignProgressShown", "running campaign's progress shown");
    let ratios = &figures["ratios"];
    println!(
        "  ratios: / vs healthz {}x, first API call vs healthz {}x, campaign progress vs session page {}x",
        ratios["documentVsHealthz"],
        ratios["firstApiCallVsHealthz"],
        ratios["campaignProgressVsSession"]
    );
    system.stop().await;
}
