//! Events WUZAPI posts about an inbox: receipts and replies reach the campaign's recipients
//! through the gateway and the inbound queue; bad posts are refused and change nothing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, eventually};
use wuzapi::fake::{PostFormat, ReceiptPlan};

/// Polls the campaign's status until `done` holds of its progress (20 s at most).
async fn progress_until(
    system: &TestSystem,
    tenant: &TenantHandle,
    campaign: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/jobs/campaign/{campaign}/status");
    eventually(
        "the campaign's progress",
        Duration::from_secs(20),
        async || {
            let (status, body) = system
                .call(Method::GET, &path, Some(&tenant.key), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let progress = body["data"]["progress"].clone();
            if done(&progress) {
                Ok(progress)
            } else {
                Err(progress.to_string())
            }
        },
    )
    .await
}

/// The campaign's recipients with their receipt times, by phone.
async fn recipients(system: &TestSystem, tenant: &TenantHandle, campaign: &str) -> Vec<Value> {
    let (status, body) = system
        .call(
            Method::GET,
            &format!(
                "/api/campaigns/{campaign}/recipients?fields=phone,status,messageId,deliveredAt,readAt,repliedAt"
            ),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn receipts_and_replies_reach_the_recipients_through_the_queue() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    let tenant = system.tenant_with_admin("receipts").await;

    // Creating the inbox tells WUZAPI where to post, signed with the inbox's key.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&tenant.key),
            Some(json!({"name": "Sales", "token": "receipts-token"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let inbox = body["data"]["id"].as_str().unwrap().to_owned();
    // Set up after the answer, which never says how WUZAPI took the token.
    assert_eq!(body["data"]["events"]["configured"], false, "{body}");
    let events = system.settled_inbox_events(&tenant, &inbox).await;
    assert_eq!(events["configured"], true, "{events}");
    assert_eq!(events["signed"], true, "{events}");
    let (webhook, events, signs) = system.wuzapi.webhook_of("receipts-token").unwrap();
    assert!(
        webhook.starts_with(&format!("{}/api/webhooks/wuzapi/", system.base_url)),
        "{webhook}"
    );
    assert!(
        events.contains("ReadReceipt") && events.contains("Message"),
        "{events}"
    );
    assert!(signs);

    system.wuzapi.set_receipts(ReceiptPlan {
        delivered_after: Some(Duration::from_millis(20)),
        read_after: Some(Duration::from_millis(200)),
    });
    let contacts = system.insert_contacts(&tenant, 3, 5511975000000).await;
    let created = system
        .create_campaign(&tenant, &inbox, "Hi", &contacts)
        .await;
    let campaign = created["campaign"]["id"].as_str().unwrap().to_owned();
    let job = system.wait_for_campaign_job(&tenant.key, &campaign).await;
    assert_eq!(job["state"], "completed", "{job}");

    let progress = progress_until(&system, &tenant, &campaign, |p| {
        p["delivered"] == 3 && p["read"] == 3
    })
    .await;
    assert_eq!(progress["sent"], 3, "{progress}");
    assert_eq!(progress["rates"]["read"], 1.0, "{progress}");
    assert_eq!(progress["replied"], 0, "{progress}");

    // A reply, posted as JSON this time, marks that recipient replied; the others stay.
    system.wuzapi.set_post_format(PostFormat::Json);
    let posted = system
        .wuzapi
        .reply("receipts-token", "+5511975000001", "Thanks!")
        .await
        .unwrap();
    assert_eq!(posted.status, Some(200), "{posted:?}");
    let progress = progress_until(&system, &tenant, &campaign, |p| p["replied"] == 1).await;
    assert!(
        (progress["rates"]["replied"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{progress}"
    );
    let rows = recipients(&system, &tenant, &campaign).await;
    for row in &rows {
        assert!(
            row["deliveredAt"].is_string() && row["readAt"].is_string(),
            "{row}"
        );
        assert_eq!(
            row["repliedAt"].is_string(),
            row["phone"] == "5511975000001",
            "{row}"
        );
    }
    // The delivery report says when each was delivered, read and replied to.
    system.start_report_worker(&[]).await;
    let report = crate::reports::start(
        &system,
        &tenant,
        json!({"kind": "campaign_delivery", "format": "json", "campaignId": campaign}),
    )
    .await;
    let nullable = ["sent_at", "error", "delivered_at", "read_at", "replied_at"];
    let lines =
        crate::reports::rows_of(&system, &tenant, &report, &["attempts"], &nullable, &[]).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|r| r["delivered_at"].is_string() && r["read_at"].is_string()),
        "{lines:?}"
    );
    let replied: Vec<&Value> = lines
        .iter()
        .filter(|r| r["replied_at"].is_string())
        .collect();
    assert_eq!(replied.len(), 1, "{lines:?}");
    assert_eq!(replied[0]["phone"], "5511975000001");

    // The milestones and the reply reached the tenant's events, each once.
    let events = crate::consent::event_kinds(&system, &tenant).await;
    let milestones: Vec<i64> = events
        .iter()
        .filter(|(kind, _)| kind == "campaign.delivery_milestone")
        .map(|(_, data)| data["milestone"].as_i64().unwrap())
        .collect();
    assert_eq!(milestones.last(), Some(&100), "{events:?}");
    assert!(milestones.windows(2).all(|w| w[0] < w[1]), "{events:?}");
    let replies: Vec<&Value> = events
        .iter()
        .filter(|(kind, _)| kind == "campaign.replied")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(replies.len(), 1, "{events:?}");
    assert_eq!(replies[0]["phone"], "5511975000001");
    assert_eq!(replies[0]["campaignId"], campaign.as_str());

    // Every post was taken (receipts are 2 per message, and the reply).
    let posted = system.wuzapi.posted_events();
    assert_eq!(posted.len(), 7, "{posted:?}");
    assert!(posted.iter().all(|p| p.status == Some(200)), "{posted:?}");

    // A repeated receipt is recognised and changes nothing.
    let message_id = rows[0]["messageId"].as_str().unwrap();
    let receipt = json!({"type": "ReadReceipt", "state": "Read", "event": {
        "MessageIDs": [message_id], "Sender": "5511975000000@s.whatsapp.net",
        "Timestamp": chrono::Utc::now().to_rfc3339()}});
    let first = system.wuzapi.post_event("receipts-token", &receipt).await;
    assert_eq!(first.unwrap().status, Some(200));
    let (status, body) = post_signed(&system, &webhook, "receipts-token", &receipt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["duplicate"], true, "{body}");
    let after = recipients(&system, &tenant, &campaign).await;
    assert_eq!(
        after[0]["readAt"], rows[0]["readAt"],
        "the earliest read time stays"
    );

    let metrics = system
        .http
        .get(format!("{}/metrics", system.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("inbound_events_received_total{type=\"receipt\",outcome=\"accepted\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("inbound_event_lag_seconds_bucket"),
        "{metrics}"
    );
    system.stop().await;
}

/// Waits until every recorded event is applied (20 s at most).
async fn wait_until_applied(system: &TestSystem) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = connection
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM inbound_events WHERE processed_at IS NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events left unapplied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    connection.close().await.unwrap();
}

/// Posts `event` to `url` as `token`'s WUZAPI would (JSON, signed with its key through the
/// fake), returning the gateway's answer.
async fn post_signed(
    system: &TestSystem,
    url: &str,
    token: &str,
    event: &Value,
) -> (StatusCode, Value) {
    let key = system.wuzapi.hmac_key_of(token).expect("a signing key");
    let (body, content_type) = wuzapi::fake::encode(event, PostFormat::Json);
    let signature = wuzapi::fake::signature(&key, &body);
    post_raw(system, url, content_type, Some(&signature), body).await
}

async fn post_raw(
    system: &TestSystem,
    url: &str,
    content_type: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = system
        .http
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-hmac-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn bad_posts_are_refused_and_no_tenant_reaches_another() {
    // Port 9 (discard) answers nothing: a WUZAPI server that is down.
    let mut system = TestSystem::spawn_with(&[("WUZAPI_ALLOWED_HOSTS", "127.0.0.1:9")]).await;
    system.start_inbound_worker(&[]).await;
    let a = system.tenant_with_admin("inbound-a").await;
    let b = system.tenant_with_admin("inbound-b").await;
    let inbox_a = system.create_inbox(&a, "inbound-a-token").await;
    system.create_inbox(&b, "inbound-b-token").await;
    let (url_a, _, _) = system.wuzapi.webhook_of("inbound-a-token").unwrap();
    let (url_b, _, _) = system.wuzapi.webhook_of("inbound-b-token").unwrap();
    let contacts = system.insert_contacts(&a, 1, 5511976000000).await;
    let created = system.create_campaign(&a, &inbox_a, "Hi", &contacts).await;
    let campaign = created["campaign"]["id"].as_str().unwrap().to_owned();
    system.wait_for_campaign_job(&a.key, &campaign).await;
    let message_id = recipients(&system, &a, &campaign).await[0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    let receipt =
        json!({"type": "ReadReceipt", "state": "Read", "event": {"MessageIDs": [message_id]}});
    let json_body = receipt.to_string().into_bytes();

    // Unknown inboxes, by shape or by value.
    let base = format!("{}/api/webhooks/wuzapi", system.base_url);
    for path in ["nope", &"a".repeat(64), &"A".repeat(64)] {
        let (status, body) = post_raw(
            &system,
            &format!("{base}/{path}"),
            "application/json",
            None,
            json_body.clone(),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::NOT_FOUND, &json!("not_found")),
            "{body}"
        );
    }
    // A signing inbox refuses a missing, malformed or forged signature.
    for signature in [None, Some("zz"), Some(&*"0".repeat(64))] {
        let (status, body) = post_raw(
            &system,
            &url_a,
            "application/json",
            signature,
            json_body.clone(),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_signature")),
            "{signature:?}: {body}"
        );
    }
    // Malformed bodies, correctly signed.
    let key = system.wuzapi.hmac_key_of("inbound-a-token").unwrap();
    for (content_type, body, code) in [
        ("application/json", "not json", "malformed_json"),
        (
            "application/x-www-form-urlencoded",
            "other=1",
            "malformed_json",
        ),
        ("application/json", r#"{"event": {}}"#, "validation_failed"),
    ] {
        let signature = wuzapi::fake::signature(&key, body.as_bytes());
        let (status, answer) = post_raw(
            &system,
            &url_a,
            content_type,
            Some(&signature),
            body.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(answer["code"], code, "{body}: {answer}");
        assert!(status.is_client_error(), "{status}");
    }
    // Event types the manager does not use are acknowledged and dropped.
    let (status, body) = post_signed(
        &system,
        &url_a,
        "inbound-a-token",
        &json!({"type": "ChatPresence", "event": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["ignored"], true, "{body}");

    // Tenant B's number reports A's message read: recorded for B, nothing of A changes.
    let (status, body) = post_signed(&system, &url_b, "inbound-b-token", &receipt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["recorded"], true, "{body}");
    let (status, _) = post_signed(
        &system,
        &url_a,
        "inbound-a-token",
        &json!({
        "type": "ReadReceipt", "state": "Delivered", "event": {"MessageIDs": [message_id]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    progress_until(&system, &a, &campaign, |p| p["delivered"] == 1).await;
    wait_until_applied(&system).await;
    let row = &recipients(&system, &a, &campaign).await[0];
    assert!(row["deliveredAt"].is_string(), "{row}");
    assert!(
        row["readAt"].is_null(),
        "B's receipt must not reach A's recipient: {row}"
    );

    // An older WUZAPI that cannot sign: the inbox says so, and its unsigned posts are taken.
    system.wuzapi.set_hmac_support(false);
    let (status, body) = system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&a.key),
            Some(json!({"name": "Old", "token": "old-server-token"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = system
        .settled_inbox_events(&a, body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(events["configured"], true, "{events}");
    assert_eq!(events["signed"], false, "{events}");
    let posted = system
        .wuzapi
        .post_session_event("old-server-token", "Disconnected")
        .await
        .unwrap();
    assert_eq!(posted.status, Some(200), "{posted:?}");

    // WUZAPI unreachable: the inbox is created, and says why its events are not set up; a
    // reconnect once it answers sets them up.
    system.wuzapi.set_hmac_support(true);
    let (status, body) = system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&a.key),
            Some(json!({"name": "Far", "token": "far-token", "wuzapiUrl": "http://127.0.0.1:9"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = system
        .settled_inbox_events(&a, body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(events["configured"], false, "{events}");
    // The kind of failure, not the HTTP client's words (which would map the network).
    assert_eq!(events["error"], "could not reach WUZAPI", "{events}");
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/inboxes/{inbox_a}/connect"),
            Some(&b.key),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's inbox: {body}"
    );
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/inboxes/{inbox_a}/connect"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["events"]["signed"], true, "{body}");
    // The old key no longer verifies: the reconnect gave the number a new one.
    assert_ne!(system.wuzapi.hmac_key_of("inbound-a-token").unwrap(), key);
    system.stop().await;
}
