//! Captured WUZAPI posts cannot be replayed (issue 23, item 7): an event whose own time is
//! outside `INBOUND_MAX_AGE_SECONDS` is refused 422 and nothing is recorded; a repeat of a post
//! within it is recognised and changes nothing (a `LoggedOut` posted again does not pause the
//! number's campaigns again); hook tokens are stored as SHA-256 only; and no secret of a path
//! (hook token, invitation link) reaches the gateway's log.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, eventually};
use wuzapi::fake::PostFormat;

/// The URL the fake WUZAPI posts `token`'s events to, once the gateway told it.
async fn hook_url(system: &TestSystem, token: &str) -> String {
    eventually("the inbox's webhook", Duration::from_secs(20), async || {
        system
            .wuzapi
            .webhook_of(token)
            .map(|(url, _, _)| url)
            .filter(|url| !url.is_empty())
            .ok_or_else(|| "not configured yet".to_owned())
    })
    .await
}

/// Posts exactly `body` with `signature`, as a captured post would be replayed; the answer is
/// checked against the OpenAPI document.
async fn post_bytes(
    system: &TestSystem,
    url: &str,
    body: &[u8],
    signature: &str,
) -> (StatusCode, Value) {
    let response = system
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("x-hmac-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let path = path_of(url);
    if let Err(contradiction) = system_tests::contract::check(&Method::POST, &path, status, &text) {
        panic!("{contradiction}");
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The path of an absolute `http://host:port/path` URL.
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme[after_scheme.find('/').unwrap_or(after_scheme.len())..].to_owned()
}

/// `event` as `token`'s WUZAPI would post it: its body and signature.
fn signed(system: &TestSystem, token: &str, event: &Value) -> (Vec<u8>, String) {
    let key = system.wuzapi.hmac_key_of(token).expect("a signing key");
    let (body, _) = wuzapi::fake::encode(event, PostFormat::Json);
    let signature = wuzapi::fake::signature(&key, &body);
    (body, signature)
}

async fn count(system: &TestSystem, sql: &str) -> i64 {
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    connection.close().await.unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn campaign_status(system: &TestSystem, tenant: &TenantHandle, campaign: &str) -> Value {
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/jobs/campaign/{campaign}/status"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn campaign_until(
    system: &TestSystem,
    tenant: &TenantHandle,
    campaign: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually("the campaign state", Duration::from_secs(20), async || {
        let data = campaign_status(system, tenant, campaign).await;
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
async fn stale_and_replayed_wuzapi_posts_change_nothing() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    let tenant = system.tenant_with_admin("replays").await;
    let inbox = system.create_inbox(&tenant, "replay-token").await;
    let url = hook_url(&system, "replay-token").await;

    // The path's token is stored as its SHA-256 and nowhere in clear.
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(token.len(), 64, "{url}");
    assert_eq!(
        count(
            &system,
            &format!(
                "SELECT count(*) AS n FROM inboxes \
                  WHERE hook_token_hash = sha256(convert_to('{token}', 'UTF8'))"
            ),
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &system,
            &format!(
                "SELECT count(*) AS n FROM inboxes i WHERE row_to_json(i)::text LIKE '%{token}%'"
            ),
        )
        .await,
        0,
        "the clear token is not stored"
    );

    // A campaign that waits for its send window (two hours ahead), so it stays `running`.
    let hour = chrono::Timelike::hour(&chrono::Utc::now());
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/inboxes/{inbox}/pacing"),
            Some(&tenant.key),
            Some(json!({"window": {"days": days,
                "from": format!("{:02}:00", (hour + 2) % 24),
                "to": format!("{:02}:00", (hour + 3) % 24)}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contacts = system.insert_contacts(&tenant, 2, 5511984000000).await;
    let created = system
        .create_campaign(&tenant, &inbox, "Hi", &contacts)
        .await;
    let campaign = created["campaign"]["id"].as_str().unwrap().to_owned();
    campaign_until(&system, &tenant, &campaign, |s| {
        reason(s).contains("outside the number's send window")
    })
    .await;

    // Signed, authentic, but older than the window (or far ahead of the clock): 422 naming
    // the timestamp, nothing recorded, the campaign untouched.
    let events_before = count(&system, "SELECT count(*) AS n FROM inbound_events").await;
    for offset in [-600, 600] {
        let at = chrono::Utc::now() + chrono::Duration::seconds(offset);
        let event = json!({"type": "LoggedOut", "timestamp": at.to_rfc3339(),
            "event": {"OnConnect": false, "Reason": 401}});
        let (body, signature) = signed(&system, "replay-token", &event);
        let (status, answer) = post_bytes(&system, &url, &body, &signature).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["code"], "validation_failed", "{answer}");
        assert_eq!(answer["field"], "timestamp", "{answer}");
    }
    // A receipt dated by whatsmeow's own field is judged by it too.
    let old_receipt = json!({"type": "ReadReceipt", "state": "Read", "event": {
        "MessageIDs": ["3EB0OLD"], "Sender": "5511984000000@s.whatsapp.net",
        "Timestamp": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339()}});
    let (body, signature) = signed(&system, "replay-token", &old_receipt);
    let (status, answer) = post_bytes(&system, &url, &body, &signature).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "event.Timestamp", "{answer}");
    assert_eq!(
        count(&system, "SELECT count(*) AS n FROM inbound_events").await,
        events_before,
        "nothing recorded"
    );
    assert_ne!(
        campaign_status(&system, &tenant, &campaign).await["campaignStatus"],
        "paused"
    );

    // A fresh LoggedOut pauses the campaign once.
    let logged_out = json!({"type": "LoggedOut", "timestamp": chrono::Utc::now().to_rfc3339(),
        "event": {"OnConnect": false, "Reason": 401}});
    let (captured, signature) = signed(&system, "replay-token", &logged_out);
    let (status, answer) = post_bytes(&system, &url, &captured, &signature).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["recorded"], true, "{answer}");
    campaign_until(&system, &tenant, &campaign, |s| {
        s["campaignStatus"] == "paused"
    })
    .await;

    // Its owner resumes; the captured post replayed is a repeat and pauses nothing.
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/campaigns/{campaign}/resume"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    campaign_until(&system, &tenant, &campaign, |s| {
        s["campaignStatus"] != "paused"
    })
    .await;
    let recorded = count(&system, "SELECT count(*) AS n FROM inbound_events").await;
    let (status, answer) = post_bytes(&system, &url, &captured, &signature).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["duplicate"], true, "{answer}");
    assert_eq!(answer["data"]["recorded"], false, "{answer}");
    assert_eq!(
        count(&system, "SELECT count(*) AS n FROM inbound_events").await,
        recorded,
        "the repeat is not recorded, so there is nothing to apply"
    );
    assert_eq!(
        count(
            &system,
            "SELECT count(*) AS n FROM inbound_events WHERE processed_at IS NULL"
        )
        .await,
        0
    );
    assert_ne!(
        campaign_status(&system, &tenant, &campaign).await["campaignStatus"],
        "paused"
    );

    // The fake stamps its session events, so they pass the window.
    let posted = system
        .wuzapi
        .post_session_event("replay-token", "Connected")
        .await
        .unwrap();
    assert_eq!(posted.status, Some(200), "{posted:?}");

    // A reconnect gives the inbox a new path: the old one no longer answers.
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/inboxes/{inbox}/connect"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_url = hook_url(&system, "replay-token").await;
    assert_ne!(new_url, url);
    let (status, answer) = post_bytes(&system, &url, &captured, &signature).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    system.stop().await;
}

#[tokio::test]
async fn secrets_in_paths_never_reach_the_log() {
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("gateway.log");
    let gateway = system
        .start_gateway_process_logging_to(
            &[
                ("LOG_FORMAT", "json"),
                ("RUST_LOG", "info,gateway::access=debug"),
            ],
            &log,
        )
        .await;
    let tenant = system.tenant_with_admin("redacted").await;
    system.create_inbox(&tenant, "logged-token").await;
    let hook = hook_url(&system, "logged-token").await;
    let hook_token = hook.rsplit('/').next().unwrap().to_owned();
    // The fake posts to the in-process gateway; the same path on the logging one.
    let hook_path = path_of(&hook);
    let event =
        json!({"type": "Connected", "timestamp": chrono::Utc::now().to_rfc3339(), "event": {}});
    let (body, signature) = signed(&system, "logged-token", &event);
    let (status, answer) =
        post_bytes(&system, &format!("{gateway}{hook_path}"), &body, &signature).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A wrong token on the same path, and one in a query.
    let wrong = "f".repeat(64);
    let response = system
        .http
        .post(format!(
            "{gateway}/api/webhooks/wuzapi/{wrong}?token={wrong}"
        ))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // An invitation: its page's link, its preview and its acceptance.
    let invitation = system
        .invitation(&tenant, "invited@redacted.example", "user")
        .await;
    let page = system
        .http
        .get(format!("{gateway}/invite/{invitation}"))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success() || page.status() == StatusCode::NOT_FOUND);
    let preview = system
        .http
        .post(format!("{gateway}/api/auth/invitation"))
        .json(&json!({"token": invitation}))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let accepted = system
        .http
        .post(format!("{gateway}/api/auth/invitation/accept"))
        .json(&json!({"token": invitation, "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);

    // Each request's access line is written once it is answered.
    let text = eventually("the access log", Duration::from_secs(10), async || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("/api/auth/invitation/accept") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    assert!(!text.trim().is_empty());
    for secret in [&hook_token, &wrong, &invitation] {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} is in the log:\n{text}"
        );
    }
    // The log names the requests, with their secrets replaced.
    for redacted in [
        "/api/webhooks/wuzapi/[redacted]",
        "/api/webhooks/wuzapi/[redacted]?token=[redacted]",
        "/invite/[redacted]",
        "/api/auth/invitation",
    ] {
        assert!(
            text.contains(redacted),
            "{redacted} is not in the log:\n{text}"
        );
    }
    // Every line is JSON.
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }

    // Metrics label requests by route pattern, never by path.
    let metrics = system
        .http
        .get(format!("{gateway}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("path=\"/api/webhooks/wuzapi/{hook_token}\""),
        "{metrics}"
    );
    for secret in [&hook_token, &wrong, &invitation] {
        assert!(
            !metrics.contains(secret.as_str()),
            "{secret} in the metrics"
        );
    }
    system.stop().await;
}
