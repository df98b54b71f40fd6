//! Notifications end to end: an event (a campaign completing) becomes an in-app notification
//! for its creator, written by `worker-notification`, counted unread until read, streamed live
//! to the creator's streams on either of two gateways (through Redis) and resumed from the
//! database with `Last-Event-ID`, and pushed to the creator's browsers, encrypted and VAPID
//! signed, as the fake push service checks. Gone subscriptions are removed, failed pushes
//! retried without pushing twice, and every endpoint is per user and per tenant.

use std::time::Duration;

use common::{JobState, QueueName};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use system_tests::fake_push::FakePushService;
use system_tests::{TenantHandle, TestSystem};
use tokio::sync::mpsc;

/// Test settings: `http://` endpoints for the fake push service, which listens on loopback
/// (a private address, on any port: `WEB_PUSH_ALLOW_PRIVATE`), quick retries.
const GATEWAY_ENV: &[(&str, &str)] = &[
    ("WEB_PUSH_ALLOW_HTTP", "true"),
    ("WEB_PUSH_ALLOW_PRIVATE", "true"),
];
const WORKER_ENV: &[(&str, &str)] = &[
    ("WORKER_NOTIFICATION_BACKOFF_MS", "200"),
    ("WORKER_NOTIFICATION_ATTEMPTS", "3"),
    ("WEB_PUSH_ALLOW_PRIVATE", "true"),
];

/// One server-sent event: its `id:`, `event:` and `data:` lines.
#[derive(Debug, Default, Clone)]
struct Sse {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

/// Opens `GET /api/notifications/stream` on `base_url` and forwards each event (comments
/// too, as `event` `comment`) until the stream ends.
async fn open_stream(
    system: &TestSystem,
    base_url: &str,
    key: &str,
    last_event_id: Option<&str>,
) -> mpsc::UnboundedReceiver<Sse> {
    let mut request = system
        .http
        .get(format!("{base_url}/api/notifications/stream"))
        .bearer_auth(key)
        .header("accept-encoding", "br, gzip");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.expect("open stream");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert!(
        response.headers().get("content-encoding").is_none(),
        "a stream is never compressed"
    );
    let (events, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = Sse::default();
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        event.event.get_or_insert_with(|| "comment".into());
                        event.data.push_str(comment.trim());
                    } else if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.to_owned());
                    } else if let Some(kind) = line.strip_prefix("event: ") {
                        event.event = Some(kind.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data.push_str(data);
                    }
                }
                if events.send(event).is_err() {
                    return;
                }
            }
        }
    });
    received
}

/// The next `notification` event of a stream (skipping comments), within 30 s.
async fn next_notification(stream: &mut mpsc::UnboundedReceiver<Sse>) -> Sse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, stream.recv())
            .await
            .expect("a notification on the stream within 30 s")
            .expect("the stream is open");
        if event.event.as_deref() == Some("notification") {
            return event;
        }
    }
}

/// Polls the caller's notifications until there are `count`; returns them (all fields).
async fn notifications(system: &TestSystem, key: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = system
            .call(
                Method::GET,
                "/api/notifications?fields=id,userId,eventId,kind,title,body,data,createdAt,readAt",
                Some(key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["data"].as_array().unwrap().clone();
        if items.len() >= count {
            assert_eq!(items.len(), count, "{page}");
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} notification(s) after 30 s: {page}",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn unread(system: &TestSystem, key: &str) -> i64 {
    let (status, body) = system
        .call(
            Method::GET,
            "/api/notifications/unread-count",
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["unread"].as_i64().unwrap()
}

async fn subscribe(system: &TestSystem, key: &str, body: Value) -> (StatusCode, Value) {
    system
        .call(
            Method::POST,
            "/api/push/subscriptions",
            Some(key),
            Some(body),
        )
        .await
}

/// Waits until `check` holds for what the fake push service received.
async fn pushes_until(
    push: &FakePushService,
    what: &str,
    check: impl Fn(&[system_tests::fake_push::ReceivedPush]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check(&push.received()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 30 s; received {:?}, refused {:?}",
            push.received(),
            push.refused()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_completed_campaign_reaches_its_creator_in_the_app_live_on_both_gateways_and_by_push() {
    let mut system = TestSystem::spawn_with(GATEWAY_ENV).await;
    // The second replica sends keep-alives often enough to be seen here.
    let second_gateway = system
        .start_gateway(&[GATEWAY_ENV, &[("NOTIFICATIONS_KEEPALIVE_MS", "200")]].concat())
        .await;
    system.start_notification_worker(WORKER_ENV).await;
    let push = FakePushService::start();
    let tenant = system.tenant_with_admin("notified").await;
    let colleague = system.plain_user(&tenant, "colleague@users.example").await;
    let other = system.tenant_with_admin("elsewhere").await;

    let browser = push.browser("laptop");
    let (status, registered) = subscribe(&system, &tenant.key, browser.subscription()).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    // The colleague's browser hears nothing of the admin's campaign.
    let colleague_browser = push.browser("colleague-phone");
    let (status, _) = subscribe(&system, &colleague.key, colleague_browser.subscription()).await;
    assert_eq!(status, StatusCode::CREATED);

    let base_url = system.base_url.clone();
    let mut on_first = open_stream(&system, &base_url, &tenant.key, None).await;
    let mut on_second = open_stream(&system, &second_gateway, &tenant.key, None).await;
    let mut colleague_stream = open_stream(&system, &second_gateway, &colleague.key, None).await;

    let inbox = system.create_inbox(&tenant, "notified-token").await;
    let contacts = vec![
        system
            .create_contact(&tenant, "5511999990001", "Ana", json!({}))
            .await,
        system
            .create_contact(&tenant, "5511999990002", "Bruno", json!({}))
            .await,
    ];
    let created = system
        .create_campaign(&tenant, &inbox, "Hi {{name}}", &contacts)
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();
    let job = system
        .wait_for_campaign_job(&tenant.key, &campaign_id)
        .await;
    assert_eq!(job["campaignStatus"], "completed", "{job}");

    // In the app: one notification, for the creator, with its text.
    let listed = notifications(&system, &tenant.key, 1).await;
    let notification = &listed[0];
    assert_eq!(notification["kind"], "campaign.completed");
    assert_eq!(notification["title"], "Campaign completed");
    assert_eq!(
        notification["body"],
        "Campaign “Launch” completed: 2 sent, 0 failed"
    );
    assert_eq!(notification["userId"], tenant.user_id.as_str());
    assert_eq!(
        notification["data"]["url"],
        format!("/api/campaigns/{campaign_id}")
    );
    assert!(notification["readAt"].is_null());
    let id = notification["id"].as_str().unwrap().to_owned();
    assert_eq!(unread(&system, &tenant.key).await, 1);

    // Live, on a stream held on either gateway.
    for stream in [&mut on_first, &mut on_second] {
        let event = next_notification(stream).await;
        assert_eq!(event.id.as_deref(), Some(id.as_str()));
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["body"], notification["body"]);
    }
    // Reconnecting after the fact: the database replays what came after Last-Event-ID.
    let mut resumed = open_stream(
        &system,
        &second_gateway,
        &tenant.key,
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(
        next_notification(&mut resumed).await.id.as_deref(),
        Some(id.as_str())
    );

    // By push: decrypted with the browser's keys, signed with the key browsers are given.
    pushes_until(&push, "the push", |received| !received.is_empty()).await;
    let received = push.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let pushed = &received[0];
    assert_eq!(pushed.browser, "laptop");
    assert_eq!(
        pushed.payload,
        json!({
            "title": "Campaign completed",
            "body": "Campaign “Launch” completed: 2 sent, 0 failed",
            "url": format!("/api/campaigns/{campaign_id}"),
            "kind": "campaign.completed",
            "notificationId": id,
        })
    );
    assert_eq!(pushed.ttl.as_deref(), Some("86400"));
    assert_eq!(pushed.urgency.as_deref(), Some("normal"));
    assert_eq!(pushed.subject, "mailto:dev@localhost");
    let (status, key) = system
        .call(Method::GET, "/api/push/vapid-public-key", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(key["data"]["publicKey"], pushed.vapid_key.as_str());
    assert!(push.refused().is_empty(), "{:?}", push.refused());
    let (_, subscriptions) = system
        .call(
            Method::GET,
            "/api/push/subscriptions",
            Some(&tenant.key),
            None,
        )
        .await;
    assert!(
        subscriptions["data"][0]["lastSuccessAt"].is_string(),
        "{subscriptions}"
    );

    // Nobody else sees it: not the colleague, not another tenant.
    for stranger in [&colleague, &other] {
        let (_, page) = system
            .call(Method::GET, "/api/notifications", Some(&stranger.key), None)
            .await;
        assert_eq!(page["data"], json!([]), "{page}");
        let (status, answer) = system
            .call(
                Method::POST,
                &format!("/api/notifications/{id}/read"),
                Some(&stranger.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(unread(&system, &stranger.key).await, 0);
    }
    assert_eq!(
        unread(&system, &tenant.key).await,
        1,
        "a stranger marked nothing"
    );
    let colleague_events: Vec<Sse> =
        std::iter::from_fn(|| colleague_stream.try_recv().ok()).collect();
    assert!(
        colleague_events
            .iter()
            .all(|e| e.event.as_deref() == Some("comment")),
        "{colleague_events:?}"
    );
    assert!(
        colleague_events.iter().any(|e| e.data == "keep-alive"),
        "an idle stream gets keep-alive comments: {colleague_events:?}"
    );

    // Reading it changes the count; the filter and read-all agree.
    let (status, read) = system
        .call(
            Method::POST,
            &format!("/api/notifications/{id}/read"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert!(read["data"]["readAt"].is_string());
    assert_eq!(unread(&system, &tenant.key).await, 0);
    let (_, unread_page) = system
        .call(
            Method::GET,
            "/api/notifications?unread=true",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(unread_page["data"], json!([]));
    let (status, all) = system
        .call(
            Method::POST,
            "/api/notifications/read-all",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["data"]["marked"], 0);

    // Bad input.
    for (path, field) in [
        ("/api/notifications?unread=maybe", None),
        ("/api/notifications?colour=red", None),
        ("/api/notifications?limit=0", Some("limit")),
        ("/api/notifications?cursor=forged", Some("cursor")),
    ] {
        let (status, answer) = system
            .call(Method::GET, path, Some(&tenant.key), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{path}: {answer}");
        }
    }
    let (status, _) = system
        .call(
            Method::POST,
            "/api/notifications/not-an-id/read",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let refused = system
        .http
        .get(format!("{}/api/notifications/stream", system.base_url))
        .bearer_auth(&tenant.key)
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let anonymous = system
        .http
        .get(format!("{}/api/notifications/stream", system.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    drop((on_first, on_second, colleague_stream, resumed));
    push.stop().await;
    system.stop().await;
}

/// Records an event for `user_id` as a worker would (in a transaction, with its job).
async fn emit(system: &TestSystem, tenant: &TenantHandle, kind: common::EventKind, data: Value) {
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let txn = connection.begin().await.unwrap();
    app::events::emit(
        db::TenantScope::for_test(&txn, tenant.tenant_id.parse().unwrap()),
        db::events::NewEvent {
            kind,
            subject_id: None,
            user_id: Some(tenant.user_id.parse().unwrap()),
            data,
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    connection.close().await.unwrap();
}

#[tokio::test]
async fn a_gone_subscription_is_removed_and_a_failed_push_is_retried_without_pushing_twice() {
    let mut system = TestSystem::spawn_with(GATEWAY_ENV).await;
    system.start_notification_worker(WORKER_ENV).await;
    let push = FakePushService::start();
    let tenant = system.tenant_with_admin("pushed").await;
    for name in ["steady", "flaky", "gone"] {
        let (status, body) =
            subscribe(&system, &tenant.key, push.browser(name).subscription()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    push.fail_next("flaky", 1);
    push.mark_gone("gone");

    emit(
        &system,
        &tenant,
        common::EventKind::ImportCompleted,
        json!({"fileName": "leads.csv", "progress": {"imported": 3, "updated": 0, "skipped": 1, "failed": 0}}),
    )
    .await;

    pushes_until(
        &push,
        "a push to the steady and the flaky browser",
        |received| {
            ["steady", "flaky"]
                .iter()
                .all(|b| received.iter().any(|p| p.browser == *b))
        },
    )
    .await;
    // The retry went to the flaky browser only.
    let (status, subscriptions) = system
        .call(
            Method::GET,
            "/api/push/subscriptions",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let endpoints: Vec<&str> = subscriptions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints.len(),
        2,
        "the gone one is removed: {subscriptions}"
    );
    assert!(endpoints.iter().all(|e| !e.ends_with("/push/gone")));
    let notifications = notifications(&system, &tenant.key, 1).await;
    assert_eq!(
        notifications[0]["body"],
        "Import of “leads.csv” finished: 3 imported, 0 updated, 1 skipped, 0 failed"
    );
    // Settled: every notification job has finished, and there was no second push to anyone.
    system
        .wait_for_jobs_settled(
            QueueName::Notification,
            &[JobState::Waiting, JobState::Active, JobState::Delayed],
        )
        .await;
    let received = push.received();
    for browser in ["steady", "flaky"] {
        assert_eq!(
            received.iter().filter(|p| p.browser == browser).count(),
            1,
            "{browser}: {received:?}"
        );
    }
    assert!(
        received
            .iter()
            .all(|p| p.payload["kind"] == "import.completed")
    );
    assert!(push.refused().is_empty(), "{:?}", push.refused());
    push.stop().await;
    system.stop().await;
}

#[tokio::test]
async fn push_subscriptions_are_checked_updated_and_kept_per_user() {
    // No WEB_PUSH_ALLOW_HTTP: endpoints must be https.
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("browsers").await;
    let colleague = system.plain_user(&tenant, "teammate@users.example").await;
    let other = system.tenant_with_admin("strangers").await;
    let push = FakePushService::start();
    let browser = push.browser("b");
    let endpoint = "https://push.example.net/send/abc123";
    let good =
        json!({"endpoint": endpoint, "keys": {"p256dh": browser.p256dh, "auth": browser.auth}});

    let off_curve = {
        use base64::Engine as _;
        let mut point = vec![4u8];
        point.extend([1u8; 64]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point)
    };
    let bad = [
        (
            json!({"endpoint": browser.endpoint, "keys": good["keys"]}),
            "endpoint",
        ),
        (
            json!({"endpoint": "ftp://push.example.net/x", "keys": good["keys"]}),
            "endpoint",
        ),
        (
            json!({"endpoint": "https://user:pw@push.example.net/x", "keys": good["keys"]}),
            "endpoint",
        ),
        (
            json!({"endpoint": "push.example.net/x", "keys": good["keys"]}),
            "endpoint",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": "not base64!", "auth": browser.auth}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": "BAAA", "auth": browser.auth}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": off_curve, "auth": browser.auth}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": browser.p256dh, "auth": "AAAA"}}),
            "keys.auth",
        ),
        (
            json!({"endpoint": endpoint, "keys": good["keys"], "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = subscribe(&system, &tenant.key, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let (_, none) = system
        .call(
            Method::GET,
            "/api/push/subscriptions",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(none["data"], json!([]), "bad input stored nothing");

    let (status, first) = subscribe(&system, &tenant.key, good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["data"]["id"].as_str().unwrap().to_owned();
    // The browser subscribing again with new keys: the same subscription, updated.
    let renewed = push.browser("b2");
    let (status, again) = subscribe(
        &system,
        &tenant.key,
        json!({"endpoint": endpoint, "keys": {"p256dh": renewed.p256dh, "auth": renewed.auth}, "expirationTime": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["data"]["id"], id.as_str());
    // Someone else's browser endpoint is not yours to take over.
    for stranger in [&colleague, &other] {
        let (status, answer) = subscribe(&system, &stranger.key, good.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        let (_, listed) = system
            .call(
                Method::GET,
                "/api/push/subscriptions",
                Some(&stranger.key),
                None,
            )
            .await;
        assert_eq!(listed["data"], json!([]));
        let (status, _) = system
            .call(
                Method::DELETE,
                &format!("/api/push/subscriptions/{id}"),
                Some(&stranger.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, listed) = system
        .call(
            Method::GET,
            "/api/push/subscriptions",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert!(
        !listed.to_string().contains(&renewed.auth),
        "keys are never shown"
    );
    let (status, _) = system
        .call(
            Method::DELETE,
            "/api/push/subscriptions/not-an-id",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, deleted) = system
        .call(
            Method::DELETE,
            &format!("/api/push/subscriptions/{id}"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("/api/push/subscriptions/{id}"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The key browsers subscribe with: public, the development key's in DEV_MODE.
    let (status, key) = system
        .call(Method::GET, "/api/push/vapid-public-key", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        key["data"]["publicKey"],
        common::push::VapidKey::parse(common::push::DEVELOPMENT_PRIVATE_KEY)
            .unwrap()
            .public_key_base64()
    );
    push.stop().await;
    system.stop().await;
}
