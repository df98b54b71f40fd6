//! The web app end to end in headless Chromium: `web/e2e/app.e2e.mjs` (playwright-core driving
//! Debian's `chromium`) against a gateway serving the real build (`web/dist`), with the campaign,
//! import, report and notification workers and the fake WUZAPI server. The script signs people
//! in, adds a number, imports a CSV file, sends campaigns (one paused and resumed), waits for the
//! live notification and downloads a report; it screenshots and axe-scans every main page.
//! Screenshots and the measured figures stay in `target/tmp/e2e/` (`results.json`).
//!
//! `just test` installs what it needs first (`scripts/web.sh browser`): the build, the web app's
//! node modules and Chromium.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::{TestSystem, service_binary};
use tokio::io::AsyncWriteExt;

const WUZAPI_TOKEN: &str = "e2e-sales-token";
/// Every person's password in the script (`PASSWORD` in `web/e2e/app.e2e.mjs`).
const PASSWORD: &str = "correct horse battery staple 42";
/// The superadmin `TestSystem` creates.
const SUPERADMIN: &str = "root@example.com";

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// What the script needs, each missing piece named with the command that provides it.
fn prerequisites(web: &Path) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    for (path, missing) in [
        (
            web.join("dist/index.html"),
            "the web app's build (web/dist)",
        ),
        (
            web.join("node_modules/playwright-core/package.json"),
            "the web app's node modules",
        ),
        (PathBuf::from(&chromium), "Chromium"),
    ] {
        assert!(
            path.exists(),
            "{missing} is missing ({}): run `bash scripts/web.sh browser`, which `just test` runs",
            path.display()
        );
    }
}

/// Gives the platform's superadmin a password the way an operator does:
/// `gateway set-password --email ...`, the password on standard input.
async fn set_superadmin_password(system: &TestSystem) {
    let mut command = tokio::process::Command::new(service_binary("gateway"));
    command
        .args(["set-password", "--email", SUPERADMIN])
        .envs(system.worker_env(&[]))
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run gateway set-password");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().await.expect("set-password ends");
    assert!(output.status.success(), "set-password: {output:?}");
}

#[tokio::test]
async fn a_user_runs_campaigns_from_the_web_app_in_headless_chromium() {
    let web = web_dir();
    prerequisites(&web);
    let dist = web.join("dist").display().to_string();
    let mut system = TestSystem::spawn_with(&[("WEB_DIR", &dist)]).await;
    system.start_import_worker(&[]).await;
    system.start_report_worker(&[]).await;
    system.start_notification_worker(&[]).await;
    system.wuzapi.add_user(WUZAPI_TOKEN);
    let tenant = system.tenant_with_admin("e2e-web").await;
    let admin_invite = system
        .invitation(&tenant, "bia@e2e.example", "tenant_admin")
        .await;
    let user_invite = system.invitation(&tenant, "ana@e2e.example", "user").await;
    set_superadmin_password(&system).await;

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    // Screenshots of an earlier run must not pass for this run's.
    let _ = std::fs::remove_dir_all(&out);
    let run = tokio::process::Command::new("node")
        .arg("e2e/app.e2e.mjs")
        .current_dir(&web)
        .env("BASE_URL", &system.base_url)
        .env("ADMIN_INVITE", &admin_invite)
        .env("USER_INVITE", &user_invite)
        .env("USER_EMAIL", "ana@e2e.example")
        .env("WUZAPI_TOKEN", WUZAPI_TOKEN)
        .env("SUPERADMIN_EMAIL", SUPERADMIN)
        .env("OUT_DIR", &out)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the browser run ends within 10 minutes")
        .expect("run node");
    // The script's steps, and what failed when one did.
    let log = String::from_utf8_lossy(&output.stderr);
    println!("{log}");
    assert!(
        output.status.success(),
        "the browser run failed ({}); screenshots in {}:\n{log}",
        output.status,
        out.display()
    );

    // What the browser saw, besides the script's own checks.
    let results: Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
            .expect("results.json is JSON");
    for page in [
        "login",
        "invite",
        "admin-tenants",
        "admin-jobs",
        "admin-users",
        "inboxes",
        "imports",
        "contacts",
        "campaign-new",
        "campaign-completed",
        "notifications",
        "campaign-paused",
        "reports",
    ] {
        assert!(
            out.join(format!("screenshots/{page}.png")).exists(),
            "a screenshot of {page}"
        );
        assert_eq!(
            results["accessibility"][page],
            json!([]),
            "no serious accessibility violation on {page}"
        );
    }
    assert_eq!(system.wuzapi.sent_count(), 16, "two campaigns of eight");
    println!(
        "web e2e measurements: {}",
        serde_json::to_string_pretty(&results["measurements"]).unwrap()
    );
    system.stop().await;
}
