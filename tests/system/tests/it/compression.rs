//! Compression and conditional GETs through the whole pipeline: a tenant's branding, large
//! enough to be compressed, comes back in Brotli or gzip as asked, identical once decoded, with
//! `Vary`, an ETag that answers 304, and the rate limit headers on every answer.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_compressed_as_asked_and_conditional_gets_answer_304() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let tenant = system.tenant_with_admin("squeezed").await;
    let paragraph = "<p>Campaigns that reach every customer, on time, in their language.</p>";
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/branding",
            Some(&tenant.key),
            Some(json!({"appName": "Squeezed", "homeHtml": paragraph.repeat(40)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let get = |encoding: &str| {
        system
            .http
            .get(format!("{}/api/branding", system.base_url))
            .bearer_auth(&tenant.key)
            .header("accept-encoding", encoding)
            .send()
    };
    let identity = get("identity").await.unwrap();
    assert_eq!(identity.status(), StatusCode::OK);
    assert!(identity.headers().get("content-encoding").is_none());
    let etag = identity.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"'),
        "a strong tag on the identity body: {etag}"
    );
    let plain: Value = identity.json().await.unwrap();
    assert!(serde_json::to_vec(&plain).unwrap().len() > 1024);

    for (asked, expected) in [
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip;q=0.9", "gzip"),
        ("gzip", "gzip"),
    ] {
        let response = get(asked).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["content-encoding"], expected, "for {asked}");
        assert!(
            headers["vary"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding")
        );
        assert!(headers.contains_key("x-ratelimit-limit"));
        let compressed = response.bytes().await.unwrap();
        let mut decoded = Vec::new();
        match expected {
            "br" => brotli::Decompressor::new(&compressed[..], 4096)
                .read_to_end(&mut decoded)
                .unwrap(),
            _ => flate2::read::GzDecoder::new(&compressed[..])
                .read_to_end(&mut decoded)
                .unwrap(),
        };
        assert!(compressed.len() < decoded.len());
        assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), plain);
        // The compressed representation's tag is the weak form of the identity one.
        assert_eq!(headers["etag"].to_str().unwrap(), format!("W/{etag}"));
    }

    // A cache that holds the body asks again with its tag (strong or weak): 304, no body.
    for tag in [etag.clone(), format!("W/{etag}")] {
        let response = system
            .http
            .get(format!("{}/api/branding", system.base_url))
            .bearer_auth(&tenant.key)
            .header("accept-encoding", "br")
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "for {tag}");
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        assert!(response.bytes().await.unwrap().is_empty());
    }

    // After a change the old tag no longer matches.
    let (status, _) = system
        .call(
            Method::PUT,
            "/api/branding",
            Some(&tenant.key),
            Some(json!({"appName": "Squeezed 2", "homeHtml": paragraph.repeat(40)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = system
        .http
        .get(format!("{}/api/branding", system.base_url))
        .bearer_auth(&tenant.key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Small answers are sent as they are.
    let response = system
        .http
        .get(format!("{}/api/me", system.base_url))
        .bearer_auth(&tenant.key)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    system.stop().await;
}
