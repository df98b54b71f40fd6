//! Pacing of a number beyond delays, end to end with short settings: the daily cap holds
//! (the campaign waits, saying why), the send window holds, "typing..." shows before each
//! message, the failure breaker pauses a campaign WhatsApp keeps refusing, and a logged-out
//! number pauses its campaigns. Bad settings are 422 and another tenant's inbox is 404.

use std::time::Duration;

use common::{JobState, QueueName};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, eventually};

async fn put_pacing(
    system: &TestSystem,
    tenant: &TenantHandle,
    inbox: &str,
    pacing: Value,
) -> (StatusCode, Value) {
    system
        .call(
            Method::PUT,
            &format!("/api/inboxes/{inbox}/pacing"),
            Some(&tenant.key),
            Some(pacing),
        )
        .await
}

/// Polls the campaign's job status until `done` holds of it (20 s at most).
async fn campaign_until(
    system: &TestSystem,
    tenant: &TenantHandle,
    campaign: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/jobs/campaign/{campaign}/status");
    eventually("the campaign state", Duration::from_secs(20), async || {
        let (status, body) = system
            .call(Method::GET, &path, Some(&tenant.key), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let data = body["data"].clone();
        if done(&data) {
            Ok(data)
        } else {
            Err(data.to_string())
        }
    })
    .await
}

fn reason(status: &Value) -> &str {
    status["statusReason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_daily_cap_holds_and_typing_shows_before_each_message() {
    let system = TestSystem::spawn_configured(
        &[],
        &[
            ("CAMPAIGN_TYPING_MS_PER_CHAR", "2"),
            ("CAMPAIGN_TYPING_MIN_MS", "40"),
            ("CAMPAIGN_TYPING_MAX_MS", "200"),
        ],
    )
    .await;
    let a = system.tenant_with_admin("pacing-a").await;
    let b = system.tenant_with_admin("pacing-b").await;
    let inbox = system.create_inbox(&a, "pacing-a-token").await;

    // Bad settings name their field and change nothing; B cannot touch A's inbox.
    for (pacing, field) in [
        (json!({"dailyCap": 0}), "dailyCap"),
        (json!({"warmup": {"start": 5}}), "warmup"),
        (
            json!({"window": {"days": [], "from": "09:00", "to": "18:00"}}),
            "window.days",
        ),
        (
            json!({"window": {"days": ["mon"], "from": "09:00", "to": "09:00"}}),
            "window.to",
        ),
    ] {
        let (status, body) = put_pacing(&system, &a, &inbox, pacing).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    let (status, _) = put_pacing(&system, &b, &inbox, json!({"dailyCap": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/inboxes/{inbox}/pacing"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["pacing"]["dailyCap"].is_null(), "{body}");
    assert_eq!(
        body["data"]["pacing"]["typing"], true,
        "typing is on by default"
    );

    // The tenant's time zone: an unknown one is refused.
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/tenants/current/time-zone",
            Some(&a.key),
            Some(json!({"timeZone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/tenants/current/time-zone",
            Some(&a.key),
            Some(json!({"timeZone": "America/Sao_Paulo"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = put_pacing(&system, &a, &inbox, json!({"dailyCap": 2})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["today"]["allowance"], 2, "{body}");
    assert_eq!(body["data"]["timeZone"], "America/Sao_Paulo");

    let contacts = system.insert_contacts(&a, 3, 5511981000000).await;
    let created = system
        .create_campaign(&a, &inbox, "Hello {{name}}, this is the offer", &contacts)
        .await;
    let campaign = created["campaign"]["id"].as_str().unwrap().to_owned();
    let status = campaign_until(&system, &a, &campaign, |s| {
        reason(s).contains("daily limit of 2 messages")
    })
    .await;
    assert_eq!(status["campaignStatus"], "running", "{status}");
    assert_eq!(status["progress"]["sent"], 2, "{status}");
    assert_eq!(status["progress"]["pending"], 1, "{status}");
    // The batch is over and the job waits for tomorrow's allowance: nothing more was sent.
    system
        .wait_for_jobs_settled(QueueName::Campaign, &[JobState::Waiting, JobState::Active])
        .await;
    assert_eq!(system.wuzapi.sent_count(), 2, "the cap holds");
    let (_, body) = system
        .call(
            Method::GET,
            &format!("/api/inboxes/{inbox}/pacing"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(body["data"]["today"]["sent"], 2, "{body}");

    // Before each message: "typing..." in that chat, for at least the minimum, then paused.
    let presence = system.wuzapi.presence_calls();
    let sent = system.wuzapi.sent_messages();
    assert_eq!(presence.len(), 4, "{presence:?}");
    for (message, calls) in sent.iter().zip(presence.chunks(2)) {
        let phone = message.phone.trim_start_matches('+');
        assert_eq!(calls[0].state, "composing", "{calls:?}");
        assert_eq!(calls[1].state, "paused", "{calls:?}");
        assert!(
            calls.iter().all(|c| c.phone == phone),
            "{calls:?} {message:?}"
        );
        let typing = calls[1].at - calls[0].at;
        assert!(typing.num_milliseconds() >= 40, "typed for {typing}");
        assert!(calls[1].at <= message.at, "{calls:?} {message:?}");
    }
    system.stop().await;
}

#[tokio::test]
async fn the_window_holds_the_breaker_opens_and_a_logged_out_number_pauses() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    let a = system.tenant_with_admin("window-a").await;

    // A window that opens in two hours (UTC, the default zone): nothing is sent now.
    let inbox = system.create_inbox(&a, "window-token").await;
    let hour = chrono::Timelike::hour(&chrono::Utc::now());
    let (from, to) = (
        format!("{:02}:00", (hour + 2) % 24),
        format!("{:02}:00", (hour + 3) % 24),
    );
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let (status, body) = put_pacing(
        &system,
        &a,
        &inbox,
        json!({"window": {"days": days, "from": from, "to": to}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contacts = system.insert_contacts(&a, 2, 5511982000000).await;
    let created = system.create_campaign(&a, &inbox, "Hi", &contacts).await;
    let waiting = created["campaign"]["id"].as_str().unwrap().to_owned();
    let status = campaign_until(&system, &a, &waiting, |s| {
        reason(s).contains("outside the number's send window")
    })
    .await;
    assert!(reason(&status).contains(&from), "{status}");
    // The batch is over and the job waits for the window: nothing was sent.
    system
        .wait_for_jobs_settled(QueueName::Campaign, &[JobState::Waiting, JobState::Active])
        .await;
    assert_eq!(system.wuzapi.sent_count(), 0, "the window holds");

    // The number logs out: its campaigns pause, saying so.
    let posted = system
        .wuzapi
        .post_session_event("window-token", "LoggedOut")
        .await
        .unwrap();
    assert_eq!(posted.status, Some(200), "{posted:?}");
    let status = campaign_until(&system, &a, &waiting, |s| s["campaignStatus"] == "paused").await;
    assert!(reason(&status).contains("logged out"), "{status}");

    // The breaker: more than 2 refused sends within a minute pause the campaign.
    let other = system.create_inbox(&a, "breaker-token").await;
    let (status, body) = put_pacing(
        &system,
        &a,
        &other,
        json!({"typing": false, "breaker": {"failures": 2, "windowSeconds": 60}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    system.wuzapi.reject_next_sends(100);
    let contacts = system.insert_contacts(&a, 20, 5511983000000).await;
    let created = system.create_campaign(&a, &other, "Hi", &contacts).await;
    let refused = created["campaign"]["id"].as_str().unwrap().to_owned();
    let status = campaign_until(&system, &a, &refused, |s| s["campaignStatus"] == "paused").await;
    assert!(reason(&status).contains("failure breaker"), "{status}");
    let failed = status["progress"]["failed"].as_i64().unwrap();
    assert!((3..20).contains(&failed), "{status}");
    assert!(
        status["progress"]["pending"].as_i64().unwrap() > 0,
        "{status}"
    );
    system.stop().await;
}
