//! The daily message quota counts messages sent today plus those reserved by campaigns not yet
//! sent, so cancelling a campaign gives its unsent recipients back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

#[tokio::test]
async fn cancelling_a_campaign_releases_its_reserved_messages() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let admin = system.tenant_with_admin("daily").await;
    let call = async |method: Method, path: String, body: Value| {
        system
            .call(method, &path, Some(&admin.key), Some(body))
            .await
    };
    let (status, plan) = call(
        Method::POST,
        "/api/plans".into(),
        json!({"name": "Two a day", "quotas": {"messages_per_day": 2}, "features": ["bulk_campaigns"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let (status, body) = call(
        Method::PUT,
        format!("/api/users/{}/subscription", admin.user_id),
        json!({"planId": plan["data"]["id"], "status": "active"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let inbox = system.create_inbox(&admin, "daily-token").await;
    let mut contacts = Vec::new();
    for i in 0..2 {
        let phone = format!("55119730000{i:02}");
        contacts.push(system.create_contact(&admin, &phone, "C", json!({})).await);
    }
    // Scheduled for tomorrow: nothing is sent today, but both messages are reserved.
    let tomorrow = chrono::Utc::now() + chrono::TimeDelta::hours(20);
    let campaign = |contact_ids: &[String]| {
        json!({
            "name": "Later", "inboxId": inbox, "template": "Hi",
            "contactIds": contact_ids, "scheduledAt": tomorrow,
        })
    };
    let (status, first) = call(Method::POST, "/api/campaigns".into(), campaign(&contacts)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, refused) = call(
        Method::POST,
        "/api/campaigns".into(),
        campaign(&contacts[..1]),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["code"], "quota_exceeded");

    let first_id = first["data"]["campaign"]["id"].as_str().unwrap();
    let (status, body) = call(
        Method::POST,
        format!("/api/campaigns/{first_id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        Method::POST,
        "/api/campaigns".into(),
        campaign(&contacts[..1]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the cancelled campaign's messages are free again: {body}"
    );
    system.stop().await;
}
