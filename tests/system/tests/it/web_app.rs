//! The gateway serves the web app's build at `/`: precompressed files, cache rules, the app's
//! routes falling back to its index, a strict Content-Security-Policy, and the API untouched.

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH,
};
use system_tests::TestSystem;

#[tokio::test]
async fn the_gateway_serves_the_web_apps_build_beside_the_api() {
    let build = tempfile::tempdir().unwrap();
    let root = build.path();
    std::fs::create_dir_all(root.join("assets")).unwrap();
    let index = "<!doctype html><html><head><script type=module src=/assets/index-4f3a.js></script></head><body><div id=root></div></body></html>";
    std::fs::write(root.join("index.html"), index).unwrap();
    let mut brotli = Vec::new();
    brotli::BrotliCompress(
        &mut index.as_bytes(),
        &mut brotli,
        &brotli::enc::BrotliEncoderParams::default(),
    )
    .unwrap();
    std::fs::write(root.join("index.html.br"), &brotli).unwrap();
    std::fs::write(root.join("assets/index-4f3a.js"), "export const x = 1;").unwrap();
    let dir = root.display().to_string();
    let system = TestSystem::spawn_with(&[("WEB_DIR", &dir)]).await;
    // Built without decompression: the test reads the codings as sent.
    let http = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        http.get(format!("{}{path}", system.base_url))
            .header(ACCEPT_ENCODING, accept)
            .send()
    };

    let page = get("/", "gzip, deflate, br").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers[CONTENT_ENCODING], "br");
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.bytes().await.unwrap().as_ref(), brotli.as_slice());

    // Revalidation: the same tag answers 304.
    let tag = headers[ETAG].clone();
    let again = http
        .get(format!("{}/", system.base_url))
        .header(ACCEPT_ENCODING, "br")
        .header(IF_NONE_MATCH, tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // An app route is the index; a hashed asset is cached for good.
    let route = get(
        "/campaigns/0190a1b2-0000-7000-8000-000000000000",
        "identity",
    )
    .await
    .unwrap();
    assert_eq!(route.status(), StatusCode::OK);
    assert_eq!(route.text().await.unwrap(), index);
    let asset = get("/assets/index-4f3a.js", "identity").await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        asset.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    // A missing asset and an unknown API path are 404 in the API's shape, not the page.
    for path in ["/assets/gone-0000.js", "/api/no-such-thing"] {
        let missing = get(path, "identity").await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }
    // The API itself is as before.
    let health = get("/healthz", "identity").await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    system.stop().await;
}
