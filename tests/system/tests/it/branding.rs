use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::fake_dns::FakeDns;
use system_tests::{TenantHandle, TestSystem};

/// A complete, valid branding for `PUT /api/branding`.
fn acme_branding() -> Value {
    json!({
        "appName": "Acme Campaigns",
        "logoUrl": "https://cdn.acme.example/logo.png",
        "primaryColor": "#112233",
        "secondaryColor": "#ABC",
        "supportEmail": "help@acme.example",
        "supportUrl": "https://acme.example/help",
        "homeHtml": "<p>Welcome to <b>Acme</b></p>",
        "customHost": "Login.Acme.Example",
    })
}

/// A request to the gateway at `base_url` (another replica than `system.base_url`).
async fn call_at(
    system: &TestSystem,
    base_url: &str,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = system.http.request(method, format!("{base_url}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get_branding(system: &TestSystem, base_url: &str, key: &str) -> Value {
    let (status, body) = call_at(
        system,
        base_url,
        Method::GET,
        "/api/branding",
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn public_branding(system: &TestSystem, base_url: &str, query: &str) -> Value {
    let (status, body) = call_at(
        system,
        base_url,
        Method::GET,
        &format!("/api/public/branding?{query}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["data"].clone()
}

async fn put_branding(system: &TestSystem, key: &str, branding: Value) -> (StatusCode, Value) {
    system
        .call(Method::PUT, "/api/branding", Some(key), Some(branding))
        .await
}

/// The branding in the database itself, past any cache, as the API shows it.
async fn stored_branding(system: &TestSystem, tenant: &TenantHandle) -> Value {
    let connection = db::connect(&system.db.url, 1).await.expect("connect");
    let tenant_id = tenant.tenant_id.parse().expect("tenant id");
    let branding = db::branding::find(db::TenantScope::for_test(&connection, tenant_id))
        .await
        .expect("read branding")
        .expect("tenant exists");
    connection.close().await.expect("close");
    serde_json::to_value(gateway::routes::branding::Branding::from(branding))
        .expect("branding as JSON")
}

/// A system whose gateways ask `dns` for custom hosts' TXT records.
async fn spawn_with_dns(dns: &FakeDns, extra: &[(&str, &str)]) -> TestSystem {
    let servers = dns.addr.to_string();
    let mut env = vec![("CUSTOM_HOST_DNS_SERVERS", servers.as_str())];
    env.extend_from_slice(extra);
    TestSystem::spawn_with(&env).await
}

/// Publishes the TXT record `GET /api/branding/custom-host` asks the tenant of `key` for, then
/// verifies; the answer of the verification.
async fn prove_custom_host(system: &TestSystem, dns: &FakeDns, key: &str) -> (StatusCode, Value) {
    let (status, claim) = system
        .call(Method::GET, "/api/branding/custom-host", Some(key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    let claim = &claim["data"];
    dns.set_txt(
        claim["txtRecord"].as_str().expect("record name"),
        &["v=unrelated", claim["txtValue"].as_str().expect("token")],
    );
    system
        .call(
            Method::POST,
            "/api/branding/custom-host/verify",
            Some(key),
            None,
        )
        .await
}

#[tokio::test]
async fn a_tenant_without_branding_gets_the_defaults() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("acme").await;
    let defaults = json!({
        "appName": "Tenant acme",
        "logoUrl": null,
        "primaryColor": null,
        "secondaryColor": null,
        "supportEmail": null,
        "supportUrl": null,
        "homeHtml": null,
        "customHost": null,
        "customHostVerified": false,
        "updatedAt": null,
    });
    assert_eq!(
        get_branding(&system, &system.base_url, &acme.key).await,
        defaults
    );
    assert_eq!(
        public_branding(&system, &system.base_url, "slug=acme").await,
        defaults
    );
    system.stop().await;
}

#[tokio::test]
async fn a_branding_write_is_seen_on_every_replica_and_by_the_public_endpoint() {
    let dns = FakeDns::start().await;
    let mut system = spawn_with_dns(&dns, &[]).await;
    let dns_servers = dns.addr.to_string();
    let second = system
        .start_gateway(&[("CUSTOM_HOST_DNS_SERVERS", dns_servers.as_str())])
        .await;
    let acme = system.tenant_with_admin("acme").await;
    let user_key = system.plain_user(&acme, "agent@plain.example").await.key;

    // Fill the cache on both replicas (the defaults, and the public view by slug).
    for base in [&system.base_url, &second] {
        assert_eq!(
            get_branding(&system, base, &acme.key).await["appName"],
            "Tenant acme"
        );
        assert_eq!(
            public_branding(&system, base, "slug=acme").await["appName"],
            "Tenant acme"
        );
    }

    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = body["data"].clone();
    assert_eq!(stored["appName"], "Acme Campaigns");
    assert_eq!(
        stored["secondaryColor"], "#abc",
        "colours are stored lower-case"
    );
    assert_eq!(stored["customHost"], "login.acme.example", "hosts too");
    assert_eq!(stored["customHostVerified"], false, "a new host is a claim");
    assert_eq!(stored["homeHtml"], "<p>Welcome to <b>Acme</b></p>");
    assert!(stored["updatedAt"].is_string(), "{stored}");
    let (status, body) = prove_custom_host(&system, &dns, &acme.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut stored = stored;
    stored["customHostVerified"] = json!(true);

    for base in [&system.base_url, &second] {
        assert_eq!(get_branding(&system, base, &acme.key).await, stored);
        assert_eq!(
            get_branding(&system, base, &user_key).await,
            stored,
            "any user of the tenant reads it"
        );
        assert_eq!(public_branding(&system, base, "slug=acme").await, stored);
        assert_eq!(
            public_branding(&system, base, "host=LOGIN.acme.example").await,
            stored
        );
    }

    // A second write replaces the whole branding: fields left out are cleared.
    let (status, body) = put_branding(
        &system,
        &acme.key,
        json!({"appName": "Acme 2", "customHost": "portal.acme.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["customHostVerified"], false,
        "another host, another claim"
    );
    let (status, body) = prove_custom_host(&system, &dns, &acme.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base in [&system.base_url, &second] {
        let branding = get_branding(&system, base, &acme.key).await;
        assert_eq!(branding["appName"], "Acme 2");
        assert_eq!(branding["logoUrl"], Value::Null);
        assert_eq!(branding["homeHtml"], Value::Null);
        assert_eq!(
            public_branding(&system, base, "host=portal.acme.example").await["appName"],
            "Acme 2"
        );
        let (status, body) = call_at(
            &system,
            base,
            Method::GET,
            "/api/public/branding?host=login.acme.example",
            None,
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the old host is released: {body}"
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn home_html_is_sanitised_on_write() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("acme").await;
    let mut branding = acme_branding();
    branding["homeHtml"] = json!(concat!(
        r#"<h1>Hello</h1><b>bold</b><script>alert('s')</script>"#,
        r#"<img src="https://cdn.acme.example/hero.png" onerror="alert('e')">"#,
        r#"<a href="javascript:alert('j')">trap</a>"#,
        r#"<a href="https://acme.example/pricing" onclick="alert('c')">pricing</a>"#,
    ));
    let (status, body) = put_branding(&system, &acme.key, branding).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let html = body["data"]["homeHtml"].as_str().expect("home html");
    for kept in [
        "<h1>Hello</h1>",
        "<b>bold</b>",
        r#"src="https://cdn.acme.example/hero.png""#,
        r#"href="https://acme.example/pricing""#,
        ">trap</a>",
        ">pricing</a>",
    ] {
        assert!(html.contains(kept), "`{kept}` kept in {html}");
    }
    for removed in ["<script", "onerror", "onclick", "javascript:", "alert"] {
        assert!(!html.contains(removed), "`{removed}` removed from {html}");
    }
    assert_eq!(
        get_branding(&system, &system.base_url, &acme.key).await["homeHtml"],
        html,
        "what is read is what was stored"
    );
    system.stop().await;
}

#[tokio::test]
async fn bad_branding_is_refused_with_its_field_and_changes_nothing() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("acme").await;
    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = stored_branding(&system, &acme).await;
    assert_eq!(before, body["data"]);

    let cases: Vec<(&str, Value)> = vec![
        ("primaryColor", json!("red")),
        ("primaryColor", json!("#12345")),
        ("secondaryColor", json!("#gggggg")),
        ("logoUrl", json!("javascript:alert(1)")),
        ("logoUrl", json!("data:image/png;base64,iVBORw0KGgo=")),
        ("logoUrl", json!("http://cdn.acme.example/logo.png")),
        (
            "logoUrl",
            json!(format!("https://cdn.acme.example/{}", "a".repeat(2048))),
        ),
        ("supportUrl", json!("ftp://acme.example/help")),
        ("appName", json!("A".repeat(101))),
        ("appName", json!("   ")),
        ("homeHtml", json!("x".repeat(100_001))),
        ("supportEmail", json!("not-an-email")),
        ("supportEmail", json!("Help <help@acme.example>")),
        ("customHost", json!("login.acme.example:8443")),
        ("customHost", json!("10.0.0.1")),
        ("tagline", json!("an unknown field")),
    ];
    for (field, value) in cases {
        let mut branding = acme_branding();
        branding["appName"] = json!("Changed");
        branding[field] = value;
        let (status, body) = put_branding(&system, &acme.key, branding).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["code"], "validation_failed", "{field}: {body}");
        assert_eq!(body["field"], field, "{body}");
    }
    // A missing required field.
    let mut branding = acme_branding();
    branding.as_object_mut().expect("object").remove("appName");
    let (status, body) = put_branding(&system, &acme.key, branding).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "appName");

    assert_eq!(stored_branding(&system, &acme).await, before);
    assert_eq!(
        get_branding(&system, &system.base_url, &acme.key).await,
        before
    );
    system.stop().await;
}

#[tokio::test]
async fn only_tenant_admins_may_change_branding() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("acme").await;
    let user_key = system.plain_user(&acme, "agent@plain.example").await.key;

    let (status, body) = put_branding(&system, &user_key, acme_branding()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    let (status, body) = system
        .call(Method::PUT, "/api/branding", None, Some(acme_branding()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = system.call(Method::GET, "/api/branding", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    assert_eq!(
        stored_branding(&system, &acme).await["updatedAt"],
        Value::Null
    );
    assert_eq!(
        get_branding(&system, &system.base_url, &user_key).await["appName"],
        "Tenant acme"
    );
    system.stop().await;
}

#[tokio::test]
async fn tenants_never_see_or_change_each_others_branding() {
    let dns = FakeDns::start().await;
    let mut system = spawn_with_dns(&dns, &[]).await;
    let second = system.start_gateway(&[]).await;
    let a = system.tenant_with_admin("tenant-a").await;
    let b = system.tenant_with_admin("tenant-b").await;

    let (status, body) = put_branding(&system, &a.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, proof) = prove_custom_host(&system, &dns, &a.key).await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let mut a_branding = body["data"].clone();
    a_branding["customHostVerified"] = json!(true);
    // Fill B's cache entry before B writes.
    assert_eq!(
        get_branding(&system, &second, &b.key).await["appName"],
        "Tenant tenant-b"
    );

    let (status, body) = put_branding(
        &system,
        &b.key,
        json!({"appName": "Bravo", "primaryColor": "#000", "customHost": "login.bravo.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // B cannot take A's verified custom host.
    let (status, body) = put_branding(
        &system,
        &b.key,
        json!({"appName": "Bravo", "customHost": "login.acme.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");
    assert_eq!(body["field"], "customHost");

    for base in [&system.base_url, &second] {
        let seen_by_a = get_branding(&system, base, &a.key).await;
        assert_eq!(seen_by_a, a_branding, "B's writes never reach A");
        let seen_by_b = get_branding(&system, base, &b.key).await;
        assert_eq!(seen_by_b["appName"], "Bravo");
        assert_eq!(seen_by_b["customHost"], "login.bravo.example");
        assert!(!seen_by_b.to_string().contains("Acme"), "{seen_by_b}");
        assert_eq!(
            public_branding(&system, base, "slug=tenant-a").await,
            a_branding
        );
        assert_eq!(
            public_branding(&system, base, "host=login.acme.example").await,
            a_branding
        );
        assert_eq!(
            public_branding(&system, base, "slug=tenant-b").await["appName"],
            "Bravo"
        );
    }
    assert_eq!(stored_branding(&system, &a).await, a_branding);
    system.stop().await;
}

#[tokio::test]
async fn public_branding_needs_one_known_slug_or_host() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("acme").await;
    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for (query, expected, code) in [
        ("slug=nobody", StatusCode::NOT_FOUND, "not_found"),
        (
            "host=login.nobody.example",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("", StatusCode::BAD_REQUEST, "invalid_parameter"),
        (
            "slug=acme&host=login.acme.example",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        ("slug=", StatusCode::BAD_REQUEST, "invalid_parameter"),
        (
            "host=not_a_host",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        ("tenant=acme", StatusCode::BAD_REQUEST, "invalid_parameter"),
    ] {
        let (status, body) = system
            .call(
                Method::GET,
                &format!("/api/public/branding?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, expected, "{query}: {body}");
        assert_eq!(body["code"], code, "{query}: {body}");
        assert!(!body.to_string().contains("Acme"), "{query}: {body}");
    }
    system.stop().await;
}

#[tokio::test]
async fn a_custom_host_serves_the_login_page_only_once_its_dns_record_proves_it() {
    let dns = FakeDns::start().await;
    let system = spawn_with_dns(
        &dns,
        &[
            ("PUBLIC_URL", "https://wuzapi.platform.example"),
            ("RESERVED_HOSTS", "app.platform.example,platform.example"),
        ],
    )
    .await;
    let acme = system.tenant_with_admin("acme").await;
    let squatter = system.tenant_with_admin("squatter").await;
    let user_key = system.plain_user(&acme, "agent@plain.example").await.key;

    // The platform's own hosts, and names under them, are nobody's to claim.
    let (status, body) = put_branding(&system, &acme.key, json!({"appName": "Acme"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = stored_branding(&system, &acme).await;
    for host in [
        "wuzapi.platform.example",
        "app.platform.example",
        "login.app.platform.example",
        "platform.example",
    ] {
        let (status, body) = put_branding(
            &system,
            &acme.key,
            json!({"appName": "Acme", "customHost": host}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{host}: {body}");
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["field"], "customHost");
        assert_eq!(stored_branding(&system, &acme).await, before, "{host}");
    }

    // No claim yet: nothing to show or verify.
    for (method, path) in [
        (Method::GET, "/api/branding/custom-host"),
        (Method::POST, "/api/branding/custom-host/verify"),
    ] {
        let (status, body) = system.call(method, path, Some(&acme.key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }

    // A squatter claims the host first: a claim blocks nobody and is served nowhere.
    let (status, body) = put_branding(
        &system,
        &squatter.key,
        json!({"appName": "Evil", "customHost": "login.acme.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "claims do not collide: {body}");
    assert_eq!(body["data"]["customHostVerified"], false);
    let (status, body) = system
        .call(
            Method::GET,
            "/api/public/branding?host=login.acme.example",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unverified: {body}");
    assert_eq!(
        public_branding(&system, &system.base_url, "slug=acme").await["customHost"],
        Value::Null,
        "the public page names no unverified host"
    );

    // The claim and its proof, for the tenant's admins only, each its own.
    let (status, claim) = system
        .call(
            Method::GET,
            "/api/branding/custom-host",
            Some(&acme.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    let claim = claim["data"].clone();
    assert_eq!(claim["host"], "login.acme.example");
    assert_eq!(claim["status"], "pending");
    assert_eq!(claim["txtRecord"], "_wuzapi-manager.login.acme.example");
    assert_eq!(claim["verifiedAt"], Value::Null);
    let token = claim["txtValue"].as_str().expect("token").to_owned();
    assert!(token.starts_with("wmv_") && token.len() == 36, "{token}");
    let (_, squatters) = system
        .call(
            Method::GET,
            "/api/branding/custom-host",
            Some(&squatter.key),
            None,
        )
        .await;
    assert_ne!(squatters["data"]["txtValue"], token, "a token per claim");
    for (method, path) in [
        (Method::GET, "/api/branding/custom-host"),
        (Method::POST, "/api/branding/custom-host/verify"),
    ] {
        let (status, body) = system.call(method, path, Some(&user_key), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }

    // Not verified while the record is missing or holds another value.
    for values in [&[][..], &["wmv_00000000000000000000000000000000"][..]] {
        dns.set_txt("_wuzapi-manager.login.acme.example", values);
        let (status, body) = system
            .call(
                Method::POST,
                "/api/branding/custom-host/verify",
                Some(&acme.key),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{values:?}: {body}"
        );
        assert_eq!(body["field"], "customHost");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("_wuzapi-manager.login.acme.example")),
            "{body}"
        );
        assert_eq!(
            stored_branding(&system, &acme).await["customHostVerified"],
            false
        );
    }

    // The record seen: the host is Acme's, and the login page is served on it.
    let (status, body) = prove_custom_host(&system, &dns, &acme.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "verified");
    assert!(body["data"]["verifiedAt"].is_string(), "{body}");
    let public = public_branding(&system, &system.base_url, "host=login.acme.example").await;
    assert_eq!(public["appName"], "Acme Campaigns");
    assert_eq!(public["customHostVerified"], true);

    // The squatter, even holding a valid record of its own, cannot take it now.
    let (status, body) = prove_custom_host(&system, &dns, &squatter.key).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["field"], "customHost");
    let (status, body) = put_branding(
        &system,
        &squatter.key,
        json!({"appName": "Evil", "customHost": "login.acme.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        public_branding(&system, &system.base_url, "host=login.acme.example").await["appName"],
        "Acme Campaigns"
    );

    // Writing the same host again keeps it verified; another host starts a new claim.
    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["customHostVerified"], true);
    system.stop().await;
}

#[tokio::test]
async fn a_dns_that_cannot_be_asked_is_a_503_and_verifies_nothing() {
    // A port nothing listens on: the look-up fails rather than finding no record.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free port")
        .to_string();
    let system = TestSystem::spawn_with(&[
        ("CUSTOM_HOST_DNS_SERVERS", closed.as_str()),
        ("CUSTOM_HOST_DNS_TIMEOUT_MS", "200"),
    ])
    .await;
    let acme = system.tenant_with_admin("acme").await;
    let (status, body) = put_branding(&system, &acme.key, acme_branding()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = system
        .call(
            Method::POST,
            "/api/branding/custom-host/verify",
            Some(&acme.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(
        stored_branding(&system, &acme).await["customHostVerified"],
        false
    );
    system.stop().await;
}
