//! Requests without a valid credential are limited per client address before they cost the
//! database anything (random bearer keys, random session cookies, public branding, Stripe
//! webhooks), each address on its own budget; live notification streams per user are bounded.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use system_tests::TestSystem;

/// A request from `address` (as the one trusted proxy of a `TRUST_PROXY_HOPS=1` gateway
/// reports it), checked against the OpenAPI document: status, `Retry-After`, body.
async fn from(
    system: &TestSystem,
    address: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, Option<u64>, Value) {
    let mut request = system
        .http
        .request(method.clone(), format!("{}{path}", system.base_url))
        // The client's own claim first, as a proxy would pass it on: never read.
        .header("x-forwarded-for", format!("198.18.0.1, {address}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let text = response.text().await.expect("body");
    if let Err(contradiction) = system_tests::contract::check(&method, path, status, &text) {
        panic!("{contradiction}");
    }
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// A request [`from`] makes: the client's address, method, path, headers and body.
type Probe<'a> = (
    &'a str,
    Method,
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<&'a str>,
);

fn random_key() -> String {
    format!("wzm_{}", uuid::Uuid::new_v4().simple())
}

fn assert_refused(status: StatusCode, retry_after: Option<u64>, body: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert!(
        retry_after.is_some_and(|seconds| seconds >= 1),
        "{retry_after:?}"
    );
}

/// `url` with its host and port replaced by `127.0.0.1:<port>`, and the host and port it had.
fn through_port(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    (
        format!("{scheme}://{user}127.0.0.1:{port}/{path}"),
        host.to_owned(),
    )
}

#[tokio::test]
async fn credential_less_requests_are_refused_per_address_before_the_database() {
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("anon-flood").await;
    // A gateway whose database link the test can cut: once it is cut, an answer that needed
    // the database would be 503, so a 429 proves the refusal asked it nothing.
    let (_, upstream) = through_port(&system.db.url, 0);
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let link = testkit::CuttableProxy::start(upstream).await.unwrap();
    let (proxied, _) = through_port(&system.db.url, link.port);
    system.base_url = system
        .start_gateway(&[
            ("DATABASE_URL", &proxied),
            ("OUTBOX_RELAY", "false"),
            ("TRUST_PROXY_HOPS", "1"),
            ("ANON_RATE_LIMIT", "1"),
            ("ANON_RATE_LIMIT_BURST", "5"),
            ("HOOK_RATE_LIMIT", "1"),
            ("HOOK_RATE_LIMIT_BURST", "3"),
        ])
        .await;

    let valid = format!("Bearer {}", tenant.key);
    // The valid key's first read on this gateway (from another address) caches it.
    let (status, _, body) = from(
        &system,
        "203.0.113.12",
        Method::GET,
        "/api/me",
        &[("authorization", &valid)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Random bearer keys: the budget's five, then 429.
    for _ in 0..5 {
        let key = format!("Bearer {}", random_key());
        let (status, _, body) = from(
            &system,
            "203.0.113.10",
            Method::GET,
            "/api/me",
            &[("authorization", &key)],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let key = format!("Bearer {}", random_key());
    let (status, retry_after, body) = from(
        &system,
        "203.0.113.10",
        Method::GET,
        "/api/me",
        &[("authorization", &key)],
        None,
    )
    .await;
    assert_refused(status, retry_after, &body);
    // A cached valid key costs nothing: it still works from the spent address.
    let (status, _, body) = from(
        &system,
        "203.0.113.10",
        Method::GET,
        "/api/me",
        &[("authorization", &valid)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another address has its own budget.
    let (status, _, body) = from(
        &system,
        "203.0.113.11",
        Method::GET,
        "/api/me",
        &[("authorization", &key)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Public branding: five answers, then 429.
    for _ in 0..5 {
        let (status, _, body) = from(
            &system,
            "203.0.113.20",
            Method::GET,
            "/api/public/branding?slug=anon-flood",
            &[],
            None,
        )
        .await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
    let (status, retry_after, body) = from(
        &system,
        "203.0.113.20",
        Method::GET,
        "/api/public/branding?slug=anon-flood",
        &[],
        None,
    )
    .await;
    assert_refused(status, retry_after, &body);

    // Stripe webhooks with forged signatures: the webhook budget's three, then 429.
    let stripe_path = format!("/api/webhooks/stripe/{}", tenant.tenant_id);
    let forged = [("stripe-signature", "t=1,v1=00")];
    for _ in 0..3 {
        let (status, _, body) = from(
            &system,
            "203.0.113.30",
            Method::POST,
            &stripe_path,
            &forged,
            Some("{}"),
        )
        .await;
        assert!(status.is_client_error(), "{status} {body}");
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
    let (status, retry_after, body) = from(
        &system,
        "203.0.113.30",
        Method::POST,
        &stripe_path,
        &forged,
        Some("{}"),
    )
    .await;
    assert_refused(status, retry_after, &body);

    // With the database unreachable, the spent addresses are still refused at once: the
    // refusals never reached it. A random session cookie is refused the same way.
    link.cut();
    let cookie = format!("wm_session={}", uuid::Uuid::new_v4().simple());
    let refused_paths: [Probe; 4] = [
        (
            "203.0.113.10",
            Method::GET,
            "/api/me",
            vec![("authorization", key.as_str())],
            None,
        ),
        (
            "203.0.113.10",
            Method::GET,
            "/api/me",
            vec![("cookie", cookie.as_str())],
            None,
        ),
        (
            "203.0.113.20",
            Method::GET,
            "/api/public/branding?slug=anon-flood",
            vec![],
            None,
        ),
        (
            "203.0.113.30",
            Method::POST,
            &stripe_path,
            forged.to_vec(),
            Some("{}"),
        ),
    ];
    for (address, method, path, headers, body) in refused_paths {
        let (status, retry_after, answer) =
            from(&system, address, method, path, &headers, body).await;
        assert_refused(status, retry_after, &answer);
    }
    link.restore();
    system.stop().await;
}

/// Opens the notification stream with `key`; the response is the open stream.
async fn open_stream(system: &TestSystem, key: &str) -> reqwest::Response {
    system
        .http
        .get(format!("{}/api/notifications/stream", system.base_url))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_notification_streams() {
    let system = TestSystem::spawn_with(&[
        ("NOTIFICATIONS_STREAMS_PER_USER", "2"),
        // Open streams show they are alive by their keep-alives.
        ("NOTIFICATIONS_KEEPALIVE_MS", "100"),
    ])
    .await;
    let tenant = system.tenant_with_admin("anon-streams").await;
    let mut first = open_stream(&system, &tenant.key).await;
    assert_eq!(first.status(), StatusCode::OK);
    // The stream is open once its first bytes arrive.
    first.chunk().await.unwrap().expect("the stream's greeting");
    let mut second = open_stream(&system, &tenant.key).await;
    assert_eq!(second.status(), StatusCode::OK);
    second
        .chunk()
        .await
        .unwrap()
        .expect("the stream's greeting");

    // A third takes the oldest one's place: the first ends, the others stay open.
    let mut third = open_stream(&system, &tenant.key).await;
    assert_eq!(third.status(), StatusCode::OK);
    third.chunk().await.unwrap().expect("the stream's greeting");
    // Keep-alives written before its end may still be in flight; then it ends.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match first.chunk().await {
                Ok(Some(chunk)) if chunk.starts_with(b": keep-alive") => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the oldest stream ends");
    assert!(
        matches!(ended, Ok(None)),
        "the oldest stream ends cleanly: {ended:?}"
    );
    for stream in [&mut second, &mut third] {
        let alive = stream.chunk().await.unwrap().expect("a keep-alive");
        assert!(alive.starts_with(b": keep-alive"), "{alive:?}");
    }
    drop((second, third));
    system.stop().await;
}

#[tokio::test]
async fn a_webhook_path_accepted_from_an_address_costs_its_budget_nothing_after() {
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("anon-hooks").await;
    let secret = "whsec_anonHooksSigningSecret0001";
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/stripe/settings",
            Some(&tenant.key),
            Some(serde_json::json!({
                "publishableKey": "pk_test_publishable1",
                "secretKey": "sk_test_51HsecretKEYvalue0001",
                "webhookSecret": secret,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    system.base_url = system
        .start_gateway(&[
            ("TRUST_PROXY_HOPS", "1"),
            ("HOOK_RATE_LIMIT", "1"),
            ("HOOK_RATE_LIMIT_BURST", "2"),
        ])
        .await;
    let path = format!("/api/webhooks/stripe/{}", tenant.tenant_id);

    // Stripe's address posts more signed events than the budget holds: after the first is
    // accepted, the path is known from there and costs nothing.
    for n in 0..5 {
        let event = serde_json::json!({
            "id": format!("evt_anon_{n}"), "object": "event", "api_version": "2025-03-31.basil",
            "type": "customer.created", "created": chrono::Utc::now().timestamp(),
            "livemode": false, "data": {"object": {"id": format!("cus_{n}"), "object": "customer"}},
        })
        .to_string();
        let signature =
            ::stripe::signature::sign(secret, chrono::Utc::now().timestamp(), event.as_bytes());
        let (status, _, body) = from(
            &system,
            "192.0.2.40",
            Method::POST,
            &path,
            &[("stripe-signature", &signature)],
            Some(&event),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Another address is not known there: its forged posts spend its own budget.
    for _ in 0..2 {
        let (status, _, body) = from(
            &system,
            "192.0.2.41",
            Method::POST,
            &path,
            &[("stripe-signature", "t=1,v1=00")],
            Some("{}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, retry_after, body) = from(
        &system,
        "192.0.2.41",
        Method::POST,
        &path,
        &[("stripe-signature", "t=1,v1=00")],
        Some("{}"),
    )
    .await;
    assert_refused(status, retry_after, &body);
    system.stop().await;
}
