//! Webhooks end to end: endpoints through the API, events fanned out to signed deliveries,
//! `worker-webhook` sending them to a receiver started here (on 127.0.0.1, so the tests allow
//! private targets where they deliver), verified with the official `standardwebhooks` crate.

use std::time::Duration;

use common::{JobState, QueueName};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::receiver::{Receiver, Reply};
use system_tests::{TenantHandle, TestSystem};

const ALLOW: (&str, &str) = ("WEBHOOK_ALLOW_PRIVATE", "true");

/// A system whose gateway and webhook worker allow private targets, retrying after
/// `schedule`.
async fn system_delivering(schedule: &str, extra: &[(&str, &str)]) -> TestSystem {
    let mut system = TestSystem::spawn_with(&[ALLOW]).await;
    let mut env = vec![ALLOW, ("WEBHOOK_RETRY_SCHEDULE", schedule)];
    env.extend_from_slice(extra);
    system.start_webhook_worker(&env).await;
    system
}

/// Creates an endpoint; returns its id and secret.
async fn endpoint(
    system: &TestSystem,
    tenant: &TenantHandle,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/webhooks/endpoints",
            Some(&tenant.key),
            Some(json!({"url": url, "eventTypes": types, "description": "tests"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (
        body["data"]["endpoint"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

/// Runs a one-recipient campaign to completion (events `campaign.started` and
/// `campaign.completed`).
async fn complete_campaign(system: &TestSystem, tenant: &TenantHandle, token: &str) -> String {
    let inbox = system.create_inbox(tenant, token).await;
    let phone = format!("+55 11 9{:04}-{:04}", rand::random::<u16>() % 10000, 1);
    let contact = system
        .create_contact(tenant, &phone, "Ana", json!({}))
        .await;
    let created = system
        .create_campaign(tenant, &inbox, "Hello", &[contact])
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();
    let job = system
        .wait_for_campaign_job(&tenant.key, &campaign_id)
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    campaign_id
}

async fn deliveries(system: &TestSystem, tenant: &TenantHandle, endpoint_id: &str) -> Vec<Value> {
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/webhooks/endpoints/{endpoint_id}/deliveries?fields=id,eventType,status,attempts,lastStatus,lastError"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn delivery(system: &TestSystem, tenant: &TenantHandle, id: &str) -> (StatusCode, Value) {
    system
        .call(
            Method::GET,
            &format!("/api/webhooks/deliveries/{id}"),
            Some(&tenant.key),
            None,
        )
        .await
}

/// Polls a delivery until it is no longer pending (or its attempts reach `attempts`).
async fn settled(system: &TestSystem, tenant: &TenantHandle, id: &str, attempts: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = delivery(system, tenant, id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let data = &body["data"];
        if data["delivery"]["status"] != "pending"
            && data["delivery"]["attempts"].as_i64() >= Some(attempts)
        {
            return data.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery still pending after 30 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one delivery of an endpoint, once it exists.
async fn only_delivery(system: &TestSystem, tenant: &TenantHandle, endpoint_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = deliveries(system, tenant, endpoint_id).await;
        if let Some(first) = found.first() {
            assert_eq!(found.len(), 1, "{found:?}");
            return first.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verifies(secret: &str, received: &system_tests::receiver::Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&received.body, &received.http_headers())
        .is_ok()
}

#[tokio::test]
async fn a_completed_campaign_is_delivered_signed_and_unsubscribed_kinds_are_not() {
    let system = system_delivering("200ms,400ms", &[]).await;
    let tenant = system.tenant_with_admin("hooks").await;
    let receiver = Receiver::start(1);
    let quiet = Receiver::start(1);
    let (endpoint_id, secret) = endpoint(
        &system,
        &tenant,
        &format!("{}/in", receiver.url),
        &["campaign.completed"],
    )
    .await;
    let (quiet_id, _) = endpoint(&system, &tenant, &quiet.url, &["import.completed"]).await;

    let campaign_id = complete_campaign(&system, &tenant, "hooks-token").await;
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    let delivery_row = only_delivery(&system, &tenant, &endpoint_id).await;
    let detail = settled(&system, &tenant, delivery_row["id"].as_str().unwrap(), 1).await;

    let got = &received[0];
    assert_eq!(got.path, "/in");
    assert!(verifies(&secret, got), "the official library verifies it");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("webhook-id"), delivery_row["id"].as_str());
    let payload = got.json();
    assert_eq!(payload["type"], "campaign.completed");
    assert_eq!(
        payload["data"]["campaignId"],
        campaign_id.as_str(),
        "{payload}"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(payload["timestamp"].as_str().unwrap()).is_ok(),
        "{payload}"
    );
    let signature = got.header("webhook-signature").unwrap();
    assert!(
        signature.starts_with("v1,") && !signature.contains(' '),
        "{signature}"
    );
    // Another secret does not verify it.
    let other = format!("whsec_{}", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=");
    assert!(!verifies(&other, got));

    assert_eq!(detail["delivery"]["status"], "delivered");
    assert_eq!(detail["delivery"]["eventType"], "campaign.completed");
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{detail}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["statusCode"], 200);
    assert_eq!(attempts[0]["responseExcerpt"], "ok");

    // campaign.started was recorded too, and delivered to no one; the import endpoint got
    // nothing: once every webhook job has finished, nothing more is on its way.
    system
        .wait_for_jobs_settled(
            QueueName::Webhook,
            &[JobState::Waiting, JobState::Active, JobState::Delayed],
        )
        .await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(quiet.count(), 0);
    assert!(deliveries(&system, &tenant, &quiet_id).await.is_empty());
    system.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_on_the_schedule_then_success_is_logged() {
    let system = system_delivering("200ms,400ms", &[("WEBHOOK_RESPONSE_EXCERPT_BYTES", "8")]).await;
    let tenant = system.tenant_with_admin("retries").await;
    let receiver = Receiver::start(1);
    receiver.reply_next([Reply::Body(500, "x".repeat(5000)), Reply::Status(503)]);
    let (endpoint_id, secret) =
        endpoint(&system, &tenant, &receiver.url, &["campaign.completed"]).await;
    complete_campaign(&system, &tenant, "retries-token").await;
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    let id = only_delivery(&system, &tenant, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = settled(&system, &tenant, &id, 3).await;

    // The same delivery each time, each attempt signed afresh.
    for got in &received {
        assert_eq!(got.header("webhook-id"), Some(id.as_str()));
        assert!(verifies(&secret, got));
    }
    // Retries wait at least the schedule's delays (200 ms, then 400 ms).
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(190), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(390), "{gaps:?}");

    assert_eq!(detail["delivery"]["status"], "delivered");
    assert_eq!(detail["delivery"]["attempts"], 3);
    let attempts = detail["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(200)]);
    // The excerpt is bounded (WEBHOOK_RESPONSE_EXCERPT_BYTES = 8).
    assert_eq!(attempts[0]["responseExcerpt"], "xxxxxxxx");
    assert_eq!(attempts[0]["error"], "answered 500");
    assert!(attempts[2]["error"].is_null());
    system.stop().await;
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_and_after_it_only_the_new_one() {
    let system = system_delivering("200ms", &[]).await;
    let tenant = system.tenant_with_admin("rotation").await;
    let receiver = Receiver::start(1);
    let (endpoint_id, old) =
        endpoint(&system, &tenant, &receiver.url, &["campaign.completed"]).await;
    complete_campaign(&system, &tenant, "rotation-token").await;
    receiver.wait_for(1, Duration::from_secs(20)).await;
    let id = only_delivery(&system, &tenant, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    settled(&system, &tenant, &id, 1).await;

    let (status, rotated) = system
        .call(
            Method::POST,
            &format!("/api/webhooks/endpoints/{endpoint_id}/rotate-secret"),
            Some(&tenant.key),
            Some(json!({"overlapSeconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["data"]["endpoint"]["previousSecretExpiresAt"].is_string());

    let replay = |n: usize| {
        let (system, tenant, id, receiver) = (&system, &tenant, &id, &receiver);
        async move {
            let (status, body) = system
                .call(
                    Method::POST,
                    &format!("/api/webhooks/deliveries/{id}/replay"),
                    Some(&tenant.key),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            let got = receiver.wait_for(n, Duration::from_secs(20)).await;
            settled(system, tenant, id, n as i64).await;
            got[n - 1].clone()
        }
    };
    let during = replay(2).await;
    assert_eq!(
        during
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(verifies(&new, &during), "the new secret verifies");
    assert!(
        verifies(&old, &during),
        "the old one too, during the overlap"
    );
    assert_eq!(during.header("webhook-id"), Some(id.as_str()));

    // The hour passes: the stored end of the overlap is stepped to now (the worker compares it
    // with the database's clock) instead of the test sleeping through it.
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let stepped = connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE webhook_endpoints SET previous_expires_at = now() WHERE id = $1",
            [uuid::Uuid::parse_str(&endpoint_id).unwrap().into()],
        ))
        .await
        .unwrap();
    assert_eq!(stepped.rows_affected(), 1);
    let after = replay(3).await;
    assert!(verifies(&new, &after));
    assert!(!verifies(&old, &after), "the old secret no longer signs");
    let (_, detail) = delivery(&system, &tenant, &id).await;
    assert_eq!(detail["data"]["attempts"].as_array().unwrap().len(), 3);
    system.stop().await;
}

#[tokio::test]
async fn an_endpoint_failing_long_enough_is_disabled_and_its_owner_notified() {
    let system = system_delivering("200ms,400ms,1s", &[("WEBHOOK_DISABLE_AFTER", "1s")]).await;
    let tenant = system.tenant_with_admin("disable").await;
    let receiver = Receiver::start(1);
    receiver.reply_always(Reply::Status(500));
    let (endpoint_id, _) = endpoint(&system, &tenant, &receiver.url, &["campaign.completed"]).await;
    complete_campaign(&system, &tenant, "disable-token").await;
    let id = only_delivery(&system, &tenant, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = settled(&system, &tenant, &id, 1).await;
    assert_eq!(detail["delivery"]["status"], "failed", "{detail}");
    // 0 s, 0.2 s, 0.6 s: still under a second of failing; 1.6 s: disabled.
    assert_eq!(detail["delivery"]["attempts"], 4, "{detail}");
    let (_, endpoint) = system
        .call(
            Method::GET,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(endpoint["data"]["enabled"], false, "{endpoint}");
    let reason = endpoint["data"]["disabledReason"].as_str().unwrap();
    assert!(reason.contains("every delivery failed since"), "{reason}");

    // The event, for the endpoint's creator, with its notification job.
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = db::connect(&system.db.url, 1).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT e.user_id, e.data, (SELECT count(*) FROM jobs j
                 WHERE j.queue = 'notification' AND j.subject_id = e.id) AS jobs
               FROM events e WHERE e.kind = 'webhook.endpoint_disabled'",
            [],
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let user: uuid::Uuid = rows[0].try_get("", "user_id").unwrap();
    assert_eq!(user.to_string(), tenant.user_id);
    let data: Value = rows[0].try_get("", "data").unwrap();
    assert_eq!(data["endpointId"], endpoint_id.as_str());
    assert_eq!(rows[0].try_get::<i64>("", "jobs").unwrap(), 1);
    db.close().await.unwrap();
    assert_eq!(receiver.count(), 4);

    // A disabled endpoint cannot be replayed until enabled again.
    let (status, _) = system
        .call(
            Method::POST,
            &format!("/api/webhooks/deliveries/{id}/replay"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, enabled) = system
        .call(
            Method::PATCH,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            Some(&tenant.key),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert!(enabled["data"]["failingSince"].is_null());
    assert!(enabled["data"]["disabledReason"].is_null());
    receiver.reply_always(Reply::Status(204));
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let (status, replayed) = system
        .call(
            Method::POST,
            &format!("/api/webhooks/endpoints/{endpoint_id}/replay"),
            Some(&tenant.key),
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(replayed["data"], json!({"replayed": 1, "more": false}));
    let detail = settled(&system, &tenant, &id, 5).await;
    assert_eq!(detail["delivery"]["status"], "delivered", "{detail}");
    assert_eq!(detail["attempts"][4]["statusCode"], 204);
    system.stop().await;
}

#[tokio::test]
async fn private_targets_are_refused_at_creation_and_again_at_delivery() {
    // The gateway refuses private targets; a second one allows them.
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("ssrf").await;
    for url in [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/",
        "http://[fd00:ec2::254]/",
        "ftp://files.example.com/",
        "https://user:pw@hooks.example.com/",
        "not a url",
    ] {
        let (status, body) = system
            .call(
                Method::POST,
                "/api/webhooks/endpoints",
                Some(&tenant.key),
                Some(json!({"url": url, "eventTypes": ["campaign.completed"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["field"], "url", "{url}: {body}");
    }
    let (_, list) = system
        .call(
            Method::GET,
            "/api/webhooks/endpoints",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(list["data"], json!([]));

    // Created while allowed, delivered by a worker that is not: refused without a connection,
    // and final (no retry).
    let allowing = system.start_gateway(&[ALLOW]).await;
    let receiver = Receiver::start(1);
    let mut request = system
        .http
        .post(format!("{allowing}/api/webhooks/endpoints"));
    request = request
        .bearer_auth(&tenant.key)
        .json(&json!({"url": receiver.url, "eventTypes": ["campaign.completed"]}));
    let created: Value = request.send().await.unwrap().json().await.unwrap();
    let endpoint_id = created["data"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    system
        .start_webhook_worker(&[("WEBHOOK_RETRY_SCHEDULE", "200ms")])
        .await;
    complete_campaign(&system, &tenant, "ssrf-token").await;
    let id = only_delivery(&system, &tenant, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = settled(&system, &tenant, &id, 1).await;
    assert_eq!(detail["delivery"]["status"], "failed", "{detail}");
    assert_eq!(
        detail["delivery"]["attempts"], 1,
        "a refusal is final: {detail}"
    );
    let error = detail["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("loopback") && error.contains("not allowed"),
        "{error}"
    );
    assert!(detail["attempts"][0]["statusCode"].is_null());
    // No retry is left to reach it.
    system
        .wait_for_jobs_settled(
            QueueName::Webhook,
            &[JobState::Waiting, JobState::Active, JobState::Delayed],
        )
        .await;
    assert_eq!(receiver.count(), 0, "nothing reached the receiver");
    system.stop().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let system = system_delivering("200ms", &[]).await;
    let tenant = system.tenant_with_admin("redirect").await;
    let target = Receiver::start(1);
    let redirecting = Receiver::start(1);
    redirecting.reply_always(Reply::Redirect(format!("{}/elsewhere", target.url)));
    let (endpoint_id, _) =
        endpoint(&system, &tenant, &redirecting.url, &["campaign.completed"]).await;
    complete_campaign(&system, &tenant, "redirect-token").await;
    let id = only_delivery(&system, &tenant, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = settled(&system, &tenant, &id, 2).await;
    assert_eq!(detail["delivery"]["status"], "failed", "{detail}");
    assert_eq!(detail["delivery"]["lastStatus"], 302);
    assert_eq!(redirecting.count(), 2);
    assert_eq!(target.count(), 0, "the redirect target is never hit");
    system.stop().await;
}

#[tokio::test]
async fn another_tenants_webhooks_are_not_found_bad_input_creates_nothing_and_the_feature_is_required()
 {
    let system = system_delivering("200ms", &[]).await;
    let owner = system.tenant_with_admin("owner").await;
    let other = system.tenant_with_admin("other").await;
    let receiver = Receiver::start(1);
    let (endpoint_id, _) = endpoint(&system, &owner, &receiver.url, &["campaign.completed"]).await;
    complete_campaign(&system, &owner, "owner-token").await;
    let delivery_id = only_delivery(&system, &owner, &endpoint_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = settled(&system, &owner, &delivery_id, 1).await;
    let (_, endpoint_before) = system
        .call(
            Method::GET,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            Some(&owner.key),
            None,
        )
        .await;

    let since = json!({"since": "2020-01-01T00:00:00Z"});
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/webhooks/endpoints/{endpoint_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/webhooks/endpoints/{endpoint_id}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::DELETE,
            format!("/api/webhooks/endpoints/{endpoint_id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/webhooks/endpoints/{endpoint_id}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/webhooks/endpoints/{endpoint_id}/deliveries"),
            None,
        ),
        (
            Method::POST,
            format!("/api/webhooks/endpoints/{endpoint_id}/replay"),
            Some(since),
        ),
        (
            Method::GET,
            format!("/api/webhooks/deliveries/{delivery_id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/webhooks/deliveries/{delivery_id}/replay"),
            None,
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = system
            .call(method.clone(), &path, Some(&other.key), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, list) = system
        .call(
            Method::GET,
            "/api/webhooks/endpoints",
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(list["data"], json!([]));
    let (_, endpoint_after) = system
        .call(
            Method::GET,
            &format!("/api/webhooks/endpoints/{endpoint_id}"),
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(endpoint_after, endpoint_before, "nothing changed");
    let (_, after) = delivery(&system, &owner, &delivery_id).await;
    assert_eq!(after["data"], before, "nothing changed");
    assert_eq!(receiver.count(), 1);

    // Bad input: 4xx naming the field, nothing created.
    let url = receiver.url.clone();
    let bad = [
        (json!({"url": url, "eventTypes": []}), "eventTypes"),
        (
            json!({"url": url, "eventTypes": ["campaign.exploded"]}),
            "eventTypes",
        ),
        (json!({"url": url}), "eventTypes"),
        (json!({"eventTypes": ["campaign.completed"]}), "url"),
        (
            json!({"url": url, "eventTypes": ["campaign.completed"], "secret": "mine"}),
            "secret",
        ),
        (
            json!({"url": "gopher://x.example/", "eventTypes": ["campaign.completed"]}),
            "url",
        ),
        (
            json!({"url": url, "eventTypes": ["campaign.completed"], "description": "d".repeat(501)}),
            "description",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = system
            .call(
                Method::POST,
                "/api/webhooks/endpoints",
                Some(&other.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let (status, answer) = system
        .call(
            Method::POST,
            &format!("/api/webhooks/endpoints/{endpoint_id}/rotate-secret"),
            Some(&owner.key),
            Some(json!({"overlapSeconds": -1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, list) = system
        .call(
            Method::GET,
            "/api/webhooks/endpoints",
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(list["data"], json!([]));

    // Without the `webhooks` feature: 403.
    let (status, plan) = system
        .call(
            Method::POST,
            "/api/plans",
            Some(&other.key),
            Some(json!({"name": "No hooks", "features": ["reports"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let (status, subscribed) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", other.user_id),
            Some(&other.key),
            Some(json!({"planId": plan["data"]["id"], "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{subscribed}");
    let (status, answer) = system
        .call(
            Method::POST,
            "/api/webhooks/endpoints",
            Some(&other.key),
            Some(json!({"url": url, "eventTypes": ["campaign.completed"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["code"], "feature_not_enabled", "{answer}");
    let (status, _) = system
        .call(
            Method::GET,
            "/api/webhooks/endpoints",
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    system.stop().await;
}
