//! Real worker processes killed with SIGKILL at random points of a campaign, then restarted:
//! nothing is lost and nobody is messaged twice.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{CampaignStatus, RecipientStatus};
use rand::Rng;

use crate::Fixture;

/// A worker process, killed when dropped (also when the test fails half-way).
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `worker-campaign` as its own process with the test's settings.
fn spawn_worker(f: &Fixture) -> WorkerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker-campaign"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in f.env_pairs(&[("JOB_LEASE_SECONDS", "2")]) {
        command.env(key, value);
    }
    WorkerProcess(command.spawn().expect("start worker-campaign"))
}

/// SIGKILL: the worker gets no chance to finish anything.
fn kill(worker: &mut WorkerProcess) {
    worker.0.kill().expect("SIGKILL");
    worker.0.wait().expect("reaped");
}

#[tokio::test]
async fn sigkilled_workers_lose_nothing_and_message_nobody_twice() {
    let f = Fixture::new().await;
    // Each send takes a while, so a kill often lands while a call is under way.
    f.fake.set_latency(Duration::from_millis(15));
    let tenant = f.tenant("crashy").await;
    let (campaign, job) = f.campaign(tenant, 1000, 5511990000000, (0, 0)).await;

    let mut rng = rand::rng();
    let mut worker = spawn_worker(&f);
    let mut kills = 0;
    let started = Instant::now();
    while kills < 4 && f.campaign_row(tenant, campaign).await.status != CampaignStatus::Completed {
        if started.elapsed() > Duration::from_secs(120) {
            let job = f.job_row(job).await;
            let campaign = f.campaign_row(tenant, campaign).await;
            panic!(
                "no progress after {kills} kills: {} received; job {job:?}; campaign {campaign:?}",
                f.received("crashy-token").len()
            );
        }
        let before = f.received("crashy-token").len();
        tokio::time::sleep(Duration::from_millis(rng.random_range(600..2000))).await;
        if f.received("crashy-token").len() == before {
            continue; // still taking over the dead worker's lease
        }
        kill(&mut worker);
        kills += 1;
        eprintln!(
            "killed a worker after {} messages",
            f.received("crashy-token").len()
        );
        worker = spawn_worker(&f);
    }
    let done = f
        .wait_status(
            tenant,
            campaign,
            CampaignStatus::Completed,
            Duration::from_secs(180),
        )
        .await;
    kill(&mut worker);

    let received: HashMap<String, usize> = f.received("crashy-token");
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messaged twice: {twice:?}");
    let recipients = f.recipients(campaign).await;
    let mut by_status: HashMap<RecipientStatus, usize> = HashMap::new();
    for r in &recipients {
        *by_status.entry(r.status).or_default() += 1;
    }
    assert_eq!(recipients.len(), 1000);
    for status in [RecipientStatus::Pending, RecipientStatus::Sending] {
        assert!(!by_status.contains_key(&status), "{by_status:?}");
    }
    // Every `sent` recipient received its message; an `uncertain` one may or may not have.
    for r in recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Sent)
    {
        assert_eq!(
            received.get(&r.phone),
            Some(&1),
            "sent but not received: {}",
            r.phone
        );
    }
    let progress = db::campaigns::progress(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap();
    assert_eq!(
        progress.uncertain as usize,
        by_status
            .get(&RecipientStatus::Uncertain)
            .copied()
            .unwrap_or(0)
    );
    eprintln!(
        "after {kills} kills: {by_status:?}, {} messages received, finished at {:?}",
        received.len(),
        done.finished_at
    );
}
