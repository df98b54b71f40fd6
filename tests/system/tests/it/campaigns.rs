use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

#[tokio::test]
async fn a_campaign_goes_from_rest_call_to_whatsapp_messages() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme").await;
    let inbox_id = system.create_inbox(&tenant, "acme-sales-token").await;
    let (_, inboxes) = system
        .call(
            Method::GET,
            "/api/inboxes?fields=id,name,wuzapiUrl,tokenHint",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(inboxes["data"][0]["tokenHint"], "…oken");
    assert!(
        !inboxes.to_string().contains("acme-sales-token"),
        "the token is never returned"
    );
    let contacts = vec![
        system
            .create_contact(
                &tenant,
                "+55 11 99999-0001",
                "Ana",
                json!({"city": "Recife"}),
            )
            .await,
        system
            .create_contact(&tenant, "5511999990002", "Bruno", json!({"city": "Natal"}))
            .await,
        system
            .create_contact(
                &tenant,
                "+1 (415) 555-0103",
                "Carla",
                json!({"city": "Oakland"}),
            )
            .await,
    ];

    let created = system
        .create_campaign(
            &tenant,
            &inbox_id,
            "Hello {{name}} from {{city}}!",
            &contacts,
        )
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap();
    assert_eq!(created["campaign"]["total"], 3);
    assert_eq!(created["campaign"]["status"], "queued");
    assert!(
        ["waiting", "active", "completed"].contains(&created["job"]["state"].as_str().unwrap())
    );

    let status = system.wait_for_campaign_job(&tenant.key, campaign_id).await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["campaignStatus"], "completed");
    assert_eq!(status["attempts"], 1);
    assert_eq!(
        status["progress"],
        json!({"sent": 3, "failed": 0, "uncertain": 0, "pending": 0, "sending": 0,
               "cancelled": 0, "skipped": 0, "total": 3, "percent": 100, "delivered": 0, "read": 0,
               "replied": 0, "rates": {"delivered": 0.0, "read": 0.0, "replied": 0.0}})
    );

    let mut received: Vec<(String, String, String, String)> = system
        .wuzapi
        .sent_messages()
        .into_iter()
        .map(|m| (m.token, m.phone, m.body, m.id))
        .collect();
    received.sort();
    let campaign_uuid: common::CampaignId = campaign_id.parse().unwrap();
    let expected_id = |phone: &str| db::campaigns::message_id(campaign_uuid, phone);
    assert_eq!(
        received,
        vec![
            (
                "acme-sales-token".to_owned(),
                "14155550103".to_owned(),
                "Hello Carla from Oakland!".to_owned(),
                expected_id("14155550103"),
            ),
            (
                "acme-sales-token".to_owned(),
                "5511999990001".to_owned(),
                "Hello Ana from Recife!".to_owned(),
                expected_id("5511999990001"),
            ),
            (
                "acme-sales-token".to_owned(),
                "5511999990002".to_owned(),
                "Hello Bruno from Natal!".to_owned(),
                expected_id("5511999990002"),
            ),
        ]
    );
    system.stop().await;
}

#[tokio::test]
async fn invalid_numbers_fail_alone_and_a_disconnected_number_pauses_the_campaign() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("mixed").await;
    let inbox_id = system.create_inbox(&tenant, "mixed-token-1").await;
    let good = system
        .create_contact(&tenant, "5511988880001", "Good", json!({"city": "Rio"}))
        .await;
    let bad = system
        .create_contact(&tenant, "5511988880002", "Bad", json!({"city": "Rio"}))
        .await;
    system
        .wuzapi
        .set_invalid_numbers(["5511988880002".to_owned()]);

    let created = system
        .create_campaign(&tenant, &inbox_id, "{Hi|Hello} {{name}}", &[good, bad])
        .await;
    let status = system
        .wait_for_campaign_job(&tenant.key, created["campaign"]["id"].as_str().unwrap())
        .await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["progress"]["sent"], 1);
    assert_eq!(status["progress"]["failed"], 1);
    let sent = system.wuzapi.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].phone, "5511988880001");
    let campaign_id = created["campaign"]["id"].as_str().unwrap();
    let (status, recipients) = system
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}/recipients?fields=phone,status,error"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recipients}");
    let outcomes: Vec<(String, String, Value)> = recipients["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["phone"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["error"].clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("5511988880001".to_owned(), "sent".to_owned(), Value::Null),
            (
                "5511988880002".to_owned(),
                "failed".to_owned(),
                json!("the number is not on WhatsApp")
            ),
        ]
    );
    assert!(
        ["Hi Good", "Hello Good"].contains(&sent[0].body.as_str()),
        "{}",
        sent[0].body
    );

    // The same number, now logged out: the campaign pauses instead of failing every recipient.
    let inbox_2 = system.create_inbox(&tenant, "mixed-token-2").await;
    system.wuzapi.disconnect("mixed-token-2");
    let third = system
        .create_contact(&tenant, "5511988880003", "Third", json!({"city": "Rio"}))
        .await;
    let created = system
        .create_campaign(&tenant, &inbox_2, "Hi {{name}}", &[third])
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap();
    let status = system.wait_for_campaign_job(&tenant.key, campaign_id).await;
    // The job waits (delayed, no attempt used) until its owner resumes the campaign.
    assert_eq!(status["state"], "delayed", "{status}");
    assert_eq!(status["attempts"], 0, "{status}");
    assert_eq!(status["campaignStatus"], "paused", "{status}");
    assert!(
        status["statusReason"]
            .as_str()
            .unwrap()
            .contains("disconnected"),
        "{status}"
    );
    assert_eq!(
        status["progress"]["pending"], 1,
        "the recipient is kept for a resume"
    );
    assert_eq!(
        system.wuzapi.sent_messages().len(),
        1,
        "nothing more was sent"
    );
    system.stop().await;
}

#[tokio::test]
async fn transient_wuzapi_failures_are_retried() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("flaky").await;
    let inbox_id = system.create_inbox(&tenant, "flaky-token").await;
    let only = system
        .create_contact(&tenant, "5511977770001", "Dora", json!({"city": "Rio"}))
        .await;
    system.wuzapi.fail_next_sends(2, 503);
    let created = system
        .create_campaign(&tenant, &inbox_id, "Hi {{name}}", &[only])
        .await;
    let status = system
        .wait_for_campaign_job(&tenant.key, created["campaign"]["id"].as_str().unwrap())
        .await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["progress"]["sent"], 1);
    let sent = system.wuzapi.sent_messages();
    assert_eq!(sent.len(), 1, "exactly one message despite the retries");
    assert_eq!(sent[0].body, "Hi Dora");
    system.stop().await;
}

#[tokio::test]
async fn a_campaign_may_name_more_contacts_than_postgres_has_bind_parameters() {
    const CONTACTS: usize = 70_000;
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("bulk").await;
    let inbox_id = system.create_inbox(&tenant, "bulk-token").await;
    // The number is offline, so the worker pauses at once instead of sending 70 000 messages.
    system.wuzapi.disconnect("bulk-token");

    let ids = system
        .insert_contacts(&tenant, CONTACTS, 5511900000000)
        .await;
    assert_eq!(ids.len(), CONTACTS);

    let created = system
        .create_campaign(&tenant, &inbox_id, "Hi {{name}}", &ids)
        .await;
    assert_eq!(created["campaign"]["total"], CONTACTS);
    let status = system
        .wait_for_campaign_job(&tenant.key, created["campaign"]["id"].as_str().unwrap())
        .await;
    assert_eq!(status["campaignStatus"], "paused", "{status}");
    assert_eq!(status["progress"]["total"], CONTACTS);
    assert_eq!(status["progress"]["pending"], CONTACTS);
    assert!(system.wuzapi.sent_messages().is_empty());
    system.stop().await;
}
