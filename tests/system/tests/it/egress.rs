//! Every outbound request to an address a tenant chose goes through the egress guard (issue 23,
//! item 1). Web Push: an endpoint on a loopback, private, link-local, unique-local, metadata,
//! CGNAT, IPv4-mapped or NAT64 address, or on a port other than 443, is refused when a browser
//! subscribes; a subscription that got past that check (written straight into the database) is
//! refused again by `worker-notification` when connecting, and the job's error, which the
//! tenant reads in `/api/jobs/dead`, says so in generic words.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use system_tests::fake_push::FakePushService;
use system_tests::{TenantHandle, TestSystem, eventually};

/// A TCP listener on 127.0.0.1 that counts the connections it accepts (and drops them).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, connections)
}

async fn subscriptions(system: &TestSystem, tenant: &TenantHandle) -> Value {
    let (status, body) = system
        .call(
            Method::GET,
            "/api/push/subscriptions",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn push_endpoints_on_private_addresses_are_refused_and_never_connected_to() {
    // No WEB_PUSH_ALLOW_PRIVATE: the production settings.
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("egress-push").await;
    let push = FakePushService::start();
    let browser = push.browser("b");
    let keys = json!({"p256dh": browser.p256dh, "auth": browser.auth});
    let (port, connections) = counting_listener().await;

    let before = subscriptions(&system, &tenant).await;
    for endpoint in [
        "https://127.0.0.1/push/x".to_owned(),
        format!("https://127.0.0.1:{port}/push/x"),
        "https://localhost/push/x".to_owned(),
        "https://[::1]/push/x".to_owned(),
        "https://10.1.2.3/push/x".to_owned(),
        "https://192.168.0.10/push/x".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://100.64.0.1/push/x".to_owned(),
        "https://[fd00::1]/push/x".to_owned(),
        "https://[fe80::1]/push/x".to_owned(),
        "https://[::ffff:127.0.0.1]/push/x".to_owned(),
        "https://[64:ff9b::a01:203]/push/x".to_owned(),
        // A public-looking host on a port other than 443.
        "https://push.example.net:8443/push/x".to_owned(),
    ] {
        let (status, answer) = system
            .call(
                Method::POST,
                "/api/push/subscriptions",
                Some(&tenant.key),
                Some(json!({"endpoint": endpoint, "keys": keys})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{endpoint}: {answer}"
        );
        assert_eq!(answer["code"], "validation_failed", "{endpoint}: {answer}");
        assert_eq!(answer["field"], "endpoint", "{endpoint}: {answer}");
    }
    assert_eq!(
        subscriptions(&system, &tenant).await,
        before,
        "nothing stored"
    );

    // Past the check: rows written straight into the database, aimed at a listener on this
    // machine, by IP and by a name that resolves to loopback. The port is allowed, so only
    // the address check stands between the worker and the listener.
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let scope = db::TenantScope::for_test(&connection, tenant.tenant_id.parse().unwrap());
    for endpoint in [
        format!("https://127.0.0.1:{port}/push/ip"),
        format!("https://localhost:{port}/push/name"),
    ] {
        db::notifications::subscribe(
            scope,
            db::notifications::NewPushSubscription {
                user_id: tenant.user_id.parse().unwrap(),
                endpoint,
                p256dh: browser.p256dh.clone(),
                auth: browser.auth.clone(),
            },
        )
        .await
        .unwrap();
    }
    let port_text = port.to_string();
    system
        .start_notification_worker(&[
            // The attempts notification jobs are written with (`db::events`): the worker
            // declares a wait queue for each of their retries.
            ("WORKER_NOTIFICATION_BACKOFF_MS", "100"),
            ("WORKER_NOTIFICATION_ATTEMPTS", "5"),
            ("WEB_PUSH_ALLOWED_PORTS", &port_text),
        ])
        .await;
    let txn = connection.begin().await.unwrap();
    app::events::emit(
        db::TenantScope::for_test(&txn, tenant.tenant_id.parse().unwrap()),
        db::events::NewEvent {
            kind: common::EventKind::ImportCompleted,
            subject_id: None,
            user_id: Some(tenant.user_id.parse().unwrap()),
            data: json!({"fileName": "leads.csv", "progress": {"imported": 1}}),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    connection.close().await.unwrap();

    // Retried, then dead-lettered: the pushes can never be sent.
    let dead = eventually(
        "the notification job dead-lettered",
        Duration::from_secs(60),
        async || {
            let (status, body) = system
                .call(
                    Method::GET,
                    "/api/jobs/dead?queue=notification",
                    Some(&tenant.key),
                    None,
                )
                .await;
            match body["data"].as_array().and_then(|jobs| jobs.first()) {
                Some(job) if status == StatusCode::OK => Ok(job.clone()),
                _ => Err(format!("{status}: {body}")),
            }
        },
    )
    .await;
    assert_eq!(dead["attempts"], dead["maxAttempts"], "{dead}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "never connected");

    // What the tenant reads: the kind of refusal, not the address, the port or the HTTP
    // client's error text.
    let error = dead["error"].as_str().unwrap();
    assert!(error.contains("2 push(es) failed"), "{error}");
    assert_eq!(
        error
            .matches("refused: a loopback address is not allowed")
            .count(),
        2,
        "{error}"
    );
    for leak in [
        port_text.as_str(),
        "127.0.0.1",
        "localhost",
        "connect",
        "error sending",
    ] {
        assert!(!error.contains(leak), "`{leak}` in {error}");
    }
    // The in-app notification was written all the same.
    let (_, notifications) = system
        .call(Method::GET, "/api/notifications", Some(&tenant.key), None)
        .await;
    assert_eq!(
        notifications["data"].as_array().unwrap().len(),
        1,
        "{notifications}"
    );
    push.stop().await;
    system.stop().await;
}

#[tokio::test]
async fn an_inbox_server_resolving_privately_is_refused_unless_the_operator_allows_it() {
    // `localhost` is listed, but as a name: it must resolve to public addresses unless
    // WUZAPI_ALLOW_PRIVATE trusts the listed names.
    let allowed = [("WUZAPI_ALLOWED_HOSTS", "localhost")];
    let mut system = TestSystem::spawn_with(&allowed).await;
    let tenant = system.tenant_with_admin("egress-wuzapi").await;
    let url = format!("http://localhost:{}", system.wuzapi.port());
    let (http, key) = (system.http.clone(), tenant.key.clone());
    let create = |base: String| {
        let (http, key, url) = (http.clone(), key.clone(), url.clone());
        async move {
            let response = http
                .post(format!("{base}/api/inboxes"))
                .bearer_auth(key)
                .json(&json!({"name": "Local", "token": "local-token", "wuzapiUrl": url}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = create(system.base_url.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "wuzapiUrl", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("loopback"),
        "{body}"
    );
    let (_, listed) = system
        .call(Method::GET, "/api/inboxes", Some(&tenant.key), None)
        .await;
    assert_eq!(listed["data"], json!([]), "nothing stored");

    // The operator trusts its listed names: the same URL is an inbox, set up on WUZAPI.
    let trusting = system
        .start_gateway(&[allowed[0], ("WUZAPI_ALLOW_PRIVATE", "true")])
        .await;
    let (status, body) = create(trusting).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = system
        .settled_inbox_events(&tenant, body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(events["configured"], true, "{events}");

    // The gateway that does not trust it refuses to connect to it at all: the reconnect
    // answers the generic reason, and WUZAPI saw no request from it.
    let requests = system.wuzapi.request_count();
    let (status, body) = system
        .call(
            Method::POST,
            &format!(
                "/api/inboxes/{}/connect",
                body["data"]["id"].as_str().unwrap()
            ),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["events"]["error"], "the WUZAPI server's address is not allowed",
        "{body}"
    );
    assert_eq!(system.wuzapi.request_count(), requests);
    system.stop().await;
}
