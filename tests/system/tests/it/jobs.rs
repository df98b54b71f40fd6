//! The job API and the owner's campaign controls, through the gateway, with a real worker.

use std::time::Duration;

use common::{JobState, QueueName};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::TestSystem;

async fn post(system: &TestSystem, key: &str, path: &str) -> (StatusCode, Value) {
    system.call(Method::POST, path, Some(key), None).await
}

/// Paused and resumed between two sends of a batch, the batch never sees the pause and goes on
/// with the campaign queued again: its end still completes the campaign (it stayed `queued`
/// with every message sent, found by the web app's end-to-end test).
#[tokio::test]
async fn a_campaign_paused_and_resumed_between_two_sends_still_completes() {
    let system = TestSystem::spawn().await;
    let owner = system.tenant_with_admin("blink").await;
    let campaign = system
        .paced_campaign(&owner, "blink-token", 4, 5511971000000, (400, 500))
        .await;
    // The batch is under way and waits out a pause of at least 400 ms before its next send.
    while system.wuzapi.sent_count() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for action in ["pause", "resume"] {
        let path = format!("/api/campaigns/{campaign}/{action}");
        let (status, body) = post(&system, &owner.key, &path).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let job = system.wait_for_campaign_job(&owner.key, &campaign).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["campaignStatus"], "completed", "{job}");
    assert_eq!(job["progress"]["sent"], 4, "{job}");
    assert_eq!(system.wuzapi.sent_count(), 4);
    system.stop().await;
}

#[tokio::test]
async fn owners_pause_resume_and_cancel_their_campaigns_and_nobody_else_can() {
    let system = TestSystem::spawn().await;
    let owner = system.tenant_with_admin("owner").await;
    let other = system.tenant_with_admin("other").await;
    let campaign = system
        .paced_campaign(&owner, "owner-token", 12, 5511970000000, (150, 200))
        .await;

    for action in ["pause", "resume", "cancel", "resend-uncertain"] {
        let path = format!("/api/campaigns/{campaign}/{action}");
        let (status, body) = post(&system, &other.key, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
        assert!(!body.to_string().contains(&campaign));
    }

    let (status, body) = post(
        &system,
        &owner.key,
        &format!("/api/campaigns/{campaign}/pause"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "paused");
    assert_eq!(body["data"]["statusReason"], "paused by its owner");
    let job = system.wait_for_campaign_job(&owner.key, &campaign).await;
    assert_eq!(job["state"], "delayed", "{job}");
    let sent_while_paused = system.wuzapi.sent_messages().len();
    // The paused job rests: no campaign job is queued or running that could still send.
    system
        .wait_for_jobs_settled(QueueName::Campaign, &[JobState::Waiting, JobState::Active])
        .await;
    assert_eq!(system.wuzapi.sent_messages().len(), sent_while_paused);

    let (status, body) = post(
        &system,
        &owner.key,
        &format!("/api/campaigns/{campaign}/resume"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &system,
        &owner.key,
        &format!("/api/campaigns/{campaign}/resume"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only a paused campaign resumes: {body}"
    );
    assert_eq!(body["code"], "conflict");
    // Wait until it sends again, then cancel.
    while system.wuzapi.sent_messages().len() <= sent_while_paused {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = post(
        &system,
        &owner.key,
        &format!("/api/campaigns/{campaign}/cancel"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    let job = system.wait_for_campaign_job(&owner.key, &campaign).await;
    assert_eq!(job["state"], "completed", "{job}");
    let progress = &job["progress"];
    assert_eq!(
        progress["sent"].as_i64().unwrap() + progress["cancelled"].as_i64().unwrap(),
        12,
        "{progress}"
    );

    // Finished: nothing more to control, and nothing changes.
    for action in ["pause", "resume", "cancel"] {
        let (status, body) = post(
            &system,
            &owner.key,
            &format!("/api/campaigns/{campaign}/{action}"),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
    }
    let (_, recipients) = system
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign}/recipients?status=cancelled&limit=500"),
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(
        recipients["data"].as_array().unwrap().len() as i64,
        progress["cancelled"].as_i64().unwrap()
    );
    system.stop().await;
}

#[tokio::test]
async fn the_job_api_shows_queues_workers_and_dead_letters_and_replays_them() {
    let system = TestSystem::spawn().await;
    let owner = system.tenant_with_admin("dead-owner").await;
    let other = system.tenant_with_admin("dead-other").await;
    let campaign = system
        .paced_campaign(&owner, "dead-token", 3, 5511971000000, (0, 5))
        .await;
    let job = system.wait_for_campaign_job(&owner.key, &campaign).await;
    assert_eq!(job["state"], "completed", "{job}");
    let completed_job = job["jobId"].as_str().unwrap().to_owned();

    // A campaign whose inbox token cannot be read fails at once and is dead-lettered.
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let inbox = system.create_inbox(&owner, "garbled-token").await;
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE inboxes SET token_ciphertext = '\\x00'::bytea WHERE id = $1::uuid",
            [inbox.clone().into()],
        ))
        .await
        .unwrap();
    let contacts = system.insert_contacts(&owner, 2, 5511973000000).await;
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&owner.key),
            Some(json!({"name": "Broken", "inboxId": inbox, "template": "Hi", "contactIds": contacts})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let dead_campaign = body["data"]["campaign"]["id"].as_str().unwrap().to_owned();
    let dead_job = body["data"]["job"]["id"].as_str().unwrap().to_owned();
    let mut job = system
        .wait_for_campaign_job(&owner.key, &dead_campaign)
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    // The runtime marks the subject failed just after the job (`Job::on_failed`).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while job["campaignStatus"] != "failed" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        job = system
            .wait_for_campaign_job(&owner.key, &dead_campaign)
            .await;
    }
    assert_eq!(job["campaignStatus"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("token"), "{job}");

    // Listed for its owner and the superadmin, not for another tenant.
    let (status, dead) = system
        .call(Method::GET, "/api/jobs/dead", Some(&owner.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{dead}");
    let ids: Vec<&str> = dead["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [dead_job.as_str()]);
    let (_, dead) = system
        .call(Method::GET, "/api/jobs/dead", Some(&other.key), None)
        .await;
    assert_eq!(dead["data"], json!([]));
    let (_, dead) = system
        .call(
            Method::GET,
            "/api/jobs/dead?queue=campaign",
            Some(&system.admin_key),
            None,
        )
        .await;
    assert_eq!(dead["data"].as_array().unwrap().len(), 1);
    let (status, body) = system
        .call(
            Method::GET,
            "/api/jobs/dead?queue=nope",
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Queue statistics: scoped for a tenant, platform-wide with the broker for the superadmin.
    let (status, stats) = system
        .call(
            Method::GET,
            "/api/jobs/queues/stats",
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let campaign_queue = &stats["data"]["queues"][0];
    assert_eq!(campaign_queue["queue"], "campaign");
    assert_eq!(campaign_queue["completed"], 1, "{stats}");
    assert_eq!(campaign_queue["failed"], 1);
    assert_eq!(campaign_queue["deadLettered"], 1);
    assert!(
        campaign_queue.get("broker").is_none(),
        "the broker is platform-wide"
    );
    let (_, stats) = system
        .call(
            Method::GET,
            "/api/jobs/queues/stats",
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(
        stats["data"]["queues"][0]["completed"], 0,
        "another tenant's jobs are not counted"
    );
    // The job row says `failed` first; the copy reaches the dead-letter queue just after.
    let stats = superadmin_stats_once(&system, |stats| {
        stats["data"]["queues"][0]["broker"]["deadLetterQueue"] == 1
    })
    .await;
    let campaign_queue = &stats["data"]["queues"][0];
    assert_eq!(campaign_queue["consumers"], 1, "{stats}");
    assert_eq!(stats["data"]["brokerAvailable"], true);

    // Workers: the superadmin sees the live one; tenants may not look.
    let (status, workers) = system
        .call(
            Method::GET,
            "/api/jobs/workers/status?fields=queue,concurrency,pid",
            Some(&system.admin_key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{workers}");
    let worker = &workers["data"][0];
    assert_eq!(worker["queue"], "campaign");
    assert_eq!(worker["concurrency"], 5);
    assert_eq!(worker["pid"], std::process::id());
    let (status, _) = system
        .call(
            Method::GET,
            "/api/jobs/workers/status",
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Replay: not another tenant's, not a job that is not dead.
    let (status, _) = post(&system, &other.key, &format!("/api/jobs/{dead_job}/replay")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post(
        &system,
        &owner.key,
        &format!("/api/jobs/{completed_job}/replay"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not dead-lettered"),
        "{body}"
    );
    // Fix the inbox, replay: the campaign goes out, the dead message is gone.
    let cipher = db::secrets::SecretCipher::from_hex(db::secrets::DEVELOPMENT_KEY_HEX).unwrap();
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE inboxes SET token_ciphertext = $2 WHERE id = $1::uuid",
            [inbox.into(), cipher.encrypt("garbled-token").into()],
        ))
        .await
        .unwrap();
    let (status, body) = post(&system, &owner.key, &format!("/api/jobs/{dead_job}/replay")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job = system
        .wait_for_campaign_job(&owner.key, &dead_campaign)
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["campaignStatus"], "completed", "{job}");
    assert_eq!(job["progress"]["sent"], 2);
    superadmin_stats_once(&system, |stats| {
        stats["data"]["queues"][0]["broker"]["deadLetterQueue"] == 0
    })
    .await;
    let (status, body) = post(&system, &owner.key, "/api/jobs/dead/replay").await;
    assert_eq!(
        (status, &body["data"]["replayed"]),
        (StatusCode::OK, &json!(0)),
        "{body}"
    );

    // The gauges follow.
    let text = system
        .http
        .get(format!("{}/metrics", system.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("queue_jobs{queue=\"campaign\",state=\"completed\"}"),
        "{text}"
    );
    assert!(
        text.contains("queue_depth{queue=\"campaign\",kind=\"dead\"}"),
        "{text}"
    );
    system.stop().await;
}

/// Polls the superadmin's queue statistics until `done` holds of them (10 s at most): the
/// broker's counts follow the job rows by a few milliseconds.
async fn superadmin_stats_once(system: &TestSystem, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, stats) = system
            .call(
                Method::GET,
                "/api/jobs/queues/stats",
                Some(&system.admin_key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        if done(&stats) {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue statistics never got there: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_scheduled_campaign_starts_on_time() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("scheduled").await;
    let inbox = system.create_inbox(&tenant, "scheduled-token").await;
    let contacts = system.insert_contacts(&tenant, 2, 5511974000000).await;
    let at = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(json!({
                "name": "Later", "inboxId": inbox, "template": "Hi", "contactIds": contacts,
                "delayMinMs": 0, "delayMaxMs": 0, "scheduledAt": at,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["campaign"]["status"], "scheduled");
    assert_eq!(body["data"]["job"]["state"], "delayed");
    let campaign = body["data"]["campaign"]["id"].as_str().unwrap();
    let job = system.wait_for_campaign_job(&tenant.key, campaign).await;
    assert_eq!(job["state"], "completed", "{job}");
    let first = system
        .wuzapi
        .sent_messages()
        .into_iter()
        .map(|m| m.at)
        .min()
        .unwrap();
    let late = (first - at).num_milliseconds();
    assert!(
        (0..1000).contains(&late),
        "first message {late} ms after scheduledAt"
    );
    system.stop().await;
}
