use reqwest::{Method, StatusCode};
use serde_json::json;
use system_tests::TestSystem;

/// A port nothing listens on: RabbitMQ "down" for one gateway, without touching the real broker.
const UNREACHABLE_AMQP: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

#[tokio::test]
async fn jobs_wait_in_the_outbox_while_rabbitmq_is_unreachable() {
    // The worker publishes no outbox rows of its own here: only gateways do.
    let mut system = TestSystem::spawn_configured(
        &[("AMQP_URL", UNREACHABLE_AMQP)],
        &[("OUTBOX_RELAY", "false")],
    )
    .await;
    let tenant = system.tenant_with_admin("offline").await;
    let inbox_id = system.create_inbox(&tenant, "offline-token").await;
    let eva = system
        .create_contact(&tenant, "5511944440001", "Eva", json!({}))
        .await;
    // 202 although RabbitMQ is unreachable: the job waits in the outbox.
    let created = system
        .create_campaign(&tenant, &inbox_id, "Hi {{name}}", &[eva])
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();

    let (status, ready) = system.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["checks"]["rabbitmq"], false);

    // Nothing to wait out: once the relay has failed to reach the broker, the job is still
    // waiting, kept in the outbox.
    let connect_failures = r#"outbox_publish_errors_total{stage="connect"}"#;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while system.metric_at(&system.base_url, connect_failures).await < 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay tried to reach RabbitMQ within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, job) = system
        .call(
            Method::GET,
            &format!("/api/jobs/campaign/{campaign_id}/status"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(job["data"]["state"], "waiting", "{job}");
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    assert_eq!(
        db::outbox::pending_count(&connection).await.unwrap(),
        1,
        "the job is kept"
    );
    assert!(system.wuzapi.sent_messages().is_empty());

    // A gateway that reaches RabbitMQ (the broker is back) publishes what was kept.
    system.start_gateway(&[]).await;
    let job = system
        .wait_for_campaign_job(&tenant.key, &campaign_id)
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    // The run's events (started, completed) queued notification jobs of their own; the
    // reachable gateway's relay publishes them too, at its next poll.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while db::outbox::pending_count(&connection).await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox is published within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sent = system.wuzapi.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, "Hi Eva");
    system.stop().await;
}
