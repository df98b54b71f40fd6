//! The OpenAPI document: served as generated, with its reference page; every documented
//! operation is routed (and, through `TestSystem::call`, every route a test reaches is
//! documented and answers as documented); and a property-based fuzzer (schemathesis) finds no
//! 5xx and no answer that contradicts the document.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TestSystem, contract};

#[tokio::test]
async fn the_gateway_serves_the_generated_document_and_its_reference_page() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let served: Value = system
        .http
        .get(format!("{}/api/openapi.json", system.base_url))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("JSON");
    assert_eq!(&served, contract::document(), "served as generated");
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(
        served["components"]["securitySchemes"]["apiKey"]["scheme"],
        "bearer"
    );

    let page = system
        .http
        .get(format!("{}/api/docs/", system.base_url))
        .send()
        .await
        .expect("reference page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // The page is served from the binary and points at the document, nothing remote.
    let initializer = system
        .http
        .get(format!(
            "{}/api/docs/swagger-initializer.js",
            system.base_url
        ))
        .send()
        .await
        .expect("initializer")
        .text()
        .await
        .expect("js");
    assert!(initializer.contains("/api/openapi.json"), "{initializer}");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let response = system
            .http
            .get(format!("{}/api/docs/{asset}", system.base_url))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    assert!(!html.contains("https://"), "no remote asset: {html}");
    system.stop().await;
}

/// Every operation in the document reaches a handler: without credentials it is refused (401)
/// or, if public, answered by the handler, never by the catch-all `404 no such endpoint`.
/// The opposite direction is `contract::check` on every answer of every system test.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    // Every operation is called without credentials, from one address: more than the
    // anonymous budget allows.
    let system = TestSystem::spawn_gateway_only(&[
        ("ANON_RATE_LIMIT", "100000"),
        ("ANON_RATE_LIMIT_BURST", "100000"),
        ("HOOK_RATE_LIMIT_BURST", "100000"),
    ])
    .await;
    let document = contract::document();
    let mut operations = 0;
    for (template, item) in document["paths"].as_object().expect("paths") {
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            // `call` checks the answer against the document; a route missing from the router
            // would answer the catch-all 404, which is only allowed for undocumented paths.
            let (status, answer) = system.call(method.clone(), &path, None, body).await;
            assert_ne!(
                answer["error"], "no such endpoint",
                "{method} {template} is documented but not routed"
            );
            let public = operation["security"] == json!([{}]);
            if !public {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {template} answers without credentials: {answer}"
                );
            }
        }
    }
    assert!(operations >= 50, "only {operations} operations documented");
    system.stop().await;
}

/// The fuzzer: schemathesis generates valid and invalid requests from the served document for
/// every operation (as a tenant admin, then as the superadmin) and checks that none answers
/// 5xx and every answer fits the document (status, content type, body schema). A fixed seed
/// keeps the suite reproducible; `just fuzz` runs it longer with a fresh seed.
#[tokio::test]
async fn the_fuzzer_finds_no_server_error_and_no_answer_contradicting_the_document() {
    let system = TestSystem::spawn_with(&[
        // The fuzzer's hundreds of requests a minute are not what this test is about.
        ("RATE_LIMIT_PRO", "100000"),
        ("RATE_LIMIT_PRO_BURST", "100000"),
        // Nor are its requests with broken credentials and to public endpoints.
        ("ANON_RATE_LIMIT", "100000"),
        ("ANON_RATE_LIMIT_BURST", "100000"),
        ("HOOK_RATE_LIMIT_BURST", "100000"),
    ])
    .await;
    let tenant = system.tenant_with_admin("fuzzed").await;
    let token = "fuzz-inbox-token";
    system.create_inbox(&tenant, token).await;
    system
        .create_contact(&tenant, "5511999990001", "Ana", json!({"city": "Recife"}))
        .await;
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "12".to_owned());
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "20261126".to_owned());
    for (who, key) in [
        ("tenant admin", &tenant.key),
        ("superadmin", &system.admin_key),
    ] {
        let output = tokio::time::timeout(
            Duration::from_secs(600),
            tokio::process::Command::new("python3")
                .args([
                    "-m",
                    "schemathesis.cli",
                    "run",
                    &format!("{}/api/openapi.json", system.base_url),
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--max-examples",
                    &examples,
                    "--seed",
                    &seed,
                    "--workers",
                    "2",
                    "--request-timeout",
                    "10",
                    "--header",
                    &format!("Authorization: Bearer {key}"),
                    "--suppress-health-check",
                    "all",
                    // A live stream answers forever (by design): every request to it would
                    // hit the request timeout. Its bad input is tested in notifications.rs.
                    "--exclude-path",
                    "/api/notifications/stream",
                    "--no-color",
                ])
                // Its example database and reports go to the build's scratch space.
                .current_dir(env!("CARGO_TARGET_TMPDIR"))
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("schemathesis finishes within 10 minutes")
        .expect("run python3");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // The summary (operations and test cases run), shown with `--no-capture`.
        let lines: Vec<&str> = report.lines().collect();
        println!(
            "schemathesis as {who}:\n{}",
            lines[lines.len().saturating_sub(25)..].join("\n")
        );
        assert!(
            !report.contains("No module named schemathesis"),
            "schemathesis is missing; `just test` installs it (python3 -m pip install -r tests/system/fuzz/requirements.txt)"
        );
        assert!(
            output.status.success(),
            "schemathesis as {who} found failures:\n{report}"
        );
    }
    system.stop().await;
}
