use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

async fn inbox(system: &TestSystem, tenant: &TenantHandle, token: &str) -> String {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&tenant.key),
            Some(json!({"name": "Sales", "token": token})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["tokenHint"],
        format!("…{}", &token[token.len() - 4..])
    );
    assert!(
        !body.to_string().contains(token),
        "the token is never returned: {body}"
    );
    body["data"]["id"].as_str().unwrap().to_owned()
}

async fn contact(
    system: &TestSystem,
    tenant: &TenantHandle,
    phone: &str,
    name: &str,
    city: &str,
) -> String {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&tenant.key),
            Some(json!({"phone": phone, "name": name, "fields": {"city": city}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

async fn campaign(
    system: &TestSystem,
    tenant: &TenantHandle,
    inbox_id: &str,
    template: &str,
    contacts: &[String],
) -> Value {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(json!({
                "name": "Launch",
                "inboxId": inbox_id,
                "template": template,
                "contactIds": contacts,
                "delayMinMs": 0,
                "delayMaxMs": 5,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_campaign_goes_from_rest_call_to_whatsapp_messages() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme").await;
    let inbox_id = inbox(&system, &tenant, "acme-sales-token").await;
    let contacts = vec![
        contact(&system, &tenant, "+55 11 99999-0001", "Ana", "Recife").await,
        contact(&system, &tenant, "5511999990002", "Bruno", "Natal").await,
        contact(&system, &tenant, "+1 (415) 555-0103", "Carla", "Oakland").await,
    ];

    let created = campaign(
        &system,
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
        json!({"sent": 3, "failed": 0, "pending": 0, "total": 3, "percent": 100})
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
    let inbox_id = inbox(&system, &tenant, "mixed-token-1").await;
    let good = contact(&system, &tenant, "5511988880001", "Good", "Rio").await;
    let bad = contact(&system, &tenant, "5511988880002", "Bad", "Rio").await;
    system
        .wuzapi
        .set_invalid_numbers(["5511988880002".to_owned()]);

    let created = campaign(
        &system,
        &tenant,
        &inbox_id,
        "{Hi|Hello} {{name}}",
        &[good, bad],
    )
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
            &format!("/api/campaigns/{campaign_id}/recipients"),
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
    let inbox_2 = inbox(&system, &tenant, "mixed-token-2").await;
    system.wuzapi.disconnect("mixed-token-2");
    let third = contact(&system, &tenant, "5511988880003", "Third", "Rio").await;
    let created = campaign(&system, &tenant, &inbox_2, "Hi {{name}}", &[third]).await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap();
    let status = system.wait_for_campaign_job(&tenant.key, campaign_id).await;
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(status["campaignStatus"], "paused", "{status}");
    assert!(
        status["error"].as_str().unwrap().contains("disconnected"),
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
    let inbox_id = inbox(&system, &tenant, "flaky-token").await;
    let only = contact(&system, &tenant, "5511977770001", "Dora", "Rio").await;
    system.wuzapi.fail_next_sends(2, 503);
    let created = campaign(&system, &tenant, &inbox_id, "Hi {{name}}", &[only]).await;
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
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    const CONTACTS: usize = 70_000;
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("bulk").await;
    let inbox_id = inbox(&system, &tenant, "bulk-token").await;
    // The number is offline, so the worker pauses at once instead of sending 70 000 messages.
    system.wuzapi.disconnect("bulk-token");

    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let tenant_uuid: uuid::Uuid = tenant.tenant_id.parse().unwrap();
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO contacts (id, tenant_id, account_id, phone, name)
             SELECT gen_random_uuid(), $1, (SELECT id FROM accounts WHERE tenant_id = $1),
                    (5511900000000 + g)::text, 'C' || g
               FROM generate_series(1, $2) AS g",
            [tenant_uuid.into(), (CONTACTS as i32).into()],
        ))
        .await
        .unwrap();
    let rows = connection
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM contacts WHERE tenant_id = $1",
            [tenant_uuid.into()],
        ))
        .await
        .unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<uuid::Uuid>("", "id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), CONTACTS);

    let created = campaign(&system, &tenant, &inbox_id, "Hi {{name}}", &ids).await;
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
