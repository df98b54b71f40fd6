use reqwest::{Method, StatusCode};
use system_tests::TestSystem;

#[tokio::test]
async fn probes_and_metrics_answer() {
    let system = TestSystem::spawn().await;
    let (status, body) = system.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The relay connects in the background; readiness follows within a few seconds.
    let mut ready = None;
    for _ in 0..50 {
        let (status, body) = system.call(Method::GET, "/readyz", None, None).await;
        if status == StatusCode::OK {
            ready = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ready = ready.expect("gateway becomes ready");
    assert_eq!(ready["checks"]["postgres"], true);
    assert_eq!(ready["checks"]["redis"], true);
    assert_eq!(ready["checks"]["rabbitmq"], true);

    let (status, _) = system.call(Method::GET, "/api/contacts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
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
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{")
                && l.contains("path=\"/api/contacts\"")
                && l.contains("status=\"401\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("process_resident_memory_bytes"),
        "{metrics}"
    );

    let worker = system
        .http
        .get(format!("{}/healthz", system.worker_url))
        .send()
        .await
        .unwrap();
    assert_eq!(worker.status(), StatusCode::OK);
    let worker_metrics = system
        .http
        .get(format!("{}/metrics", system.worker_url))
        .send()
        .await
        .unwrap();
    assert_eq!(worker_metrics.status(), StatusCode::OK);
    system.stop().await;
}

#[test]
fn a_bad_setting_names_its_variable() {
    let env = common::config::Env::from_pairs([("PORT", "eighty")]);
    let err = gateway::config::GatewayConfig::from_env(&env)
        .err()
        .expect("refused");
    assert_eq!(err.var, "PORT");
    let env = common::config::Env::from_pairs([("SECRETS_KEY", "short")]);
    let err = gateway::config::GatewayConfig::from_env(&env)
        .err()
        .expect("refused");
    assert_eq!(err.var, "SECRETS_KEY");
    // Without a key, neither service starts, unless development mode is explicit.
    let unset = common::config::Env::from_pairs([]);
    let err = gateway::config::GatewayConfig::from_env(&unset)
        .err()
        .expect("refused");
    assert_eq!(err.var, "SECRETS_KEY");
    let err = worker_campaign::config::from_env(&unset)
        .err()
        .expect("refused");
    assert_eq!(err.var, "SECRETS_KEY");
    let env = common::config::Env::from_pairs([
        ("WORKER_CAMPAIGN_CONCURRENCY", "-1"),
        ("DEV_MODE", "true"),
    ]);
    let err = worker_campaign::config::from_env(&env)
        .err()
        .expect("refused");
    assert_eq!(err.var, "WORKER_CAMPAIGN_CONCURRENCY");
}

#[tokio::test]
async fn the_gateway_starts_and_serves_without_redis_and_says_so_in_readyz() {
    // A port nothing listens on: Redis "down" for this gateway only.
    let system = TestSystem::spawn_with(&[("REDIS_PORT", "1")]).await;
    let tenant = system.tenant_with_admin("no-redis").await;
    let (status, body) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&tenant.key),
            Some(serde_json::json!({"phone": "5511933330001"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, ready) = system.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["checks"]["redis"], false);
    assert_eq!(ready["checks"]["postgres"], true);
    system.stop().await;
}
