//! What a tenant must not be able to make the platform do.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

async fn create_inbox(system: &TestSystem, t: &TenantHandle, url: &str) -> (StatusCode, Value) {
    system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&t.key),
            Some(json!({"name": "Mine", "token": "tok", "wuzapiUrl": url})),
        )
        .await
}

#[tokio::test]
async fn an_inbox_may_only_point_at_the_operators_wuzapi_servers() {
    // The gateway allows one extra WUZAPI server (which never gets a request in this test).
    let system = TestSystem::spawn_with(&[(
        "WUZAPI_ALLOWED_HOSTS",
        "wuzapi-2.internal:8080, wuzapi-3.internal",
    )])
    .await;
    let t = system.tenant_with_admin("ssrf").await;
    let fake = system.wuzapi.base_url();
    let fake_port = fake.rsplit(':').next().unwrap().to_owned();

    for url in [
        // Cloud metadata, by address and by name.
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
        "http://[::ffff:169.254.169.254]/".to_owned(),
        // The platform's own services on loopback (the default server's host, another port).
        "http://127.0.0.1:5432".to_owned(),
        "http://127.0.0.1:6379".to_owned(),
        "http://localhost:15672".to_owned(),
        "http://[::1]:5672".to_owned(),
        "http://0.0.0.0:3000".to_owned(),
        format!("http://localhost:{fake_port}"),
        // Anywhere else.
        "https://attacker.example".to_owned(),
        "http://wuzapi-2.internal:8081".to_owned(),
        "http://10.0.0.1:8080".to_owned(),
        // Not a plain http(s) base URL.
        "ftp://wuzapi-3.internal".to_owned(),
        "file:///etc/passwd".to_owned(),
        "http://admin:secret@wuzapi-3.internal".to_owned(),
        "http://wuzapi-3.internal/?next=http://169.254.169.254".to_owned(),
        "not a url".to_owned(),
        String::new(),
    ] {
        let (status, body) = create_inbox(&system, &t, &url).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["code"], "validation_failed", "{url}: {body}");
        assert_eq!(body["field"], "wuzapiUrl", "{url}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            !message.contains("wuzapi-2.internal") || url.contains("wuzapi-2.internal"),
            "the allow-list is never shown: {message}"
        );
    }
    let (_, inboxes) = system
        .call(Method::GET, "/api/inboxes", Some(&t.key), None)
        .await;
    assert_eq!(inboxes["data"], json!([]), "no refused inbox was written");

    // The default server (however it is written) and the allowed hosts are fine.
    for (url, stored) in [
        (format!("{fake}/"), fake.clone()),
        (
            format!("http://[::ffff:127.0.0.1]:{fake_port}"),
            format!("http://[::ffff:7f00:1]:{fake_port}"),
        ),
        (
            "http://WUZAPI-2.internal:8080/".to_owned(),
            "http://wuzapi-2.internal:8080".to_owned(),
        ),
        (
            "https://wuzapi-3.internal/base/".to_owned(),
            "https://wuzapi-3.internal/base".to_owned(),
        ),
    ] {
        let (status, body) = create_inbox(&system, &t, &url).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        assert_eq!(body["data"]["wuzapiUrl"], stored, "{url}: {body}");
    }
    // Without a URL the inbox uses the default server.
    let id = system.create_inbox(&t, "default-token").await;
    let (_, inboxes) = system
        .call(
            Method::GET,
            "/api/inboxes?fields=id,wuzapiUrl",
            Some(&t.key),
            None,
        )
        .await;
    let default = inboxes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap();
    assert_eq!(default["wuzapiUrl"], fake);
    system.stop().await;
}
