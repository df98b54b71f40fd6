//! Events are recorded once, in the transaction of the change they announce, each with the
//! notification job that tells people about it.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::TestSystem;

/// The tenant's events, oldest first: (kind, data), and how many notification jobs they have.
async fn events_of(system: &TestSystem, tenant_id: &str) -> (Vec<(String, Value)>, i64) {
    let db = db::connect(&system.db.url, 1).await.unwrap();
    let tenant = uuid::Uuid::parse_str(tenant_id).unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT kind, data FROM events WHERE tenant_id = $1 ORDER BY occurred_at, id",
            [tenant.into()],
        ))
        .await
        .unwrap();
    let events = rows
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "kind").unwrap(),
                r.try_get::<Value>("", "data").unwrap(),
            )
        })
        .collect();
    let jobs = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM jobs j JOIN events e ON e.id = j.subject_id
              WHERE j.queue = 'notification' AND j.tenant_id = $1 AND e.tenant_id = $1",
            [tenant.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    (events, jobs)
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn a_campaign_announces_its_start_its_pause_and_its_completion_once_each() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("announced").await;
    let other = system.tenant_with_admin("quiet").await;
    let inbox = system.create_inbox(&tenant, "announced-token").await;
    let mut contacts = Vec::new();
    for i in 0..3 {
        let phone = format!("55119740000{i:02}");
        contacts.push(
            system
                .create_contact(&tenant, &phone, "Ana", json!({}))
                .await,
        );
    }
    let created = system
        .create_campaign(&tenant, &inbox, "Hi {{name}}", &contacts)
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();
    let status = system
        .wait_for_campaign_job(&tenant.key, &campaign_id)
        .await;
    assert_eq!(status["state"], "completed", "{status}");

    let (events, jobs) = events_of(&system, &tenant.tenant_id).await;
    assert_eq!(
        kinds(&events),
        ["campaign.started", "campaign.completed"],
        "{events:?}"
    );
    assert_eq!(jobs, 2, "each event has its notification job");
    let (_, completed) = &events[1];
    assert_eq!(completed["campaignId"], campaign_id.as_str());
    assert_eq!(completed["name"], "Launch");
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["progress"]["sent"], 3);
    assert_eq!(completed["progress"]["total"], 3);

    // A second campaign, scheduled, paused by its owner before it starts: one pause, no start.
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(2);
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(json!({"name": "Later", "inboxId": inbox, "template": "Hi",
                        "contactIds": contacts, "scheduledAt": later})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let later_id = body["data"]["campaign"]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, body) = system
            .call(
                Method::POST,
                &format!("/api/campaigns/{later_id}/pause"),
                Some(&tenant.key),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (events, jobs) = events_of(&system, &tenant.tenant_id).await;
    assert_eq!(
        kinds(&events),
        ["campaign.started", "campaign.completed", "campaign.paused"],
        "pausing a paused campaign announces nothing"
    );
    assert_eq!(jobs, 3);
    assert_eq!(events[2].1["reason"], "paused by its owner");
    assert_eq!(events[2].1["campaignId"], later_id.as_str());

    let (events, jobs) = events_of(&system, &other.tenant_id).await;
    assert!(
        events.is_empty(),
        "another tenant hears nothing: {events:?}"
    );
    assert_eq!(jobs, 0);
    system.stop().await;
}

#[tokio::test]
async fn a_quota_announces_eighty_percent_and_its_limit_once() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let admin = system.tenant_with_admin("quota-events").await;
    let (status, plan) = system
        .call(
            Method::POST,
            "/api/plans",
            Some(&admin.key),
            Some(json!({"name": "Five contacts", "quotas": {"max_contacts": 5}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", admin.user_id),
            Some(&admin.key),
            Some(json!({"planId": plan["data"]["id"], "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut announced = Vec::new();
    for i in 0..5 {
        let phone = format!("55119750000{i:02}");
        system.create_contact(&admin, &phone, "C", json!({})).await;
        let (events, _) = events_of(&system, &admin.tenant_id).await;
        announced.push(kinds(&events).join(","));
    }
    assert_eq!(
        announced,
        ["", "", "", "quota.warning", "quota.warning,quota.reached"],
        "80% of 5 is the 4th contact, the limit the 5th"
    );
    let (status, body) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&admin.key),
            Some(json!({"phone": "5511975000099"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (events, jobs) = events_of(&system, &admin.tenant_id).await;
    assert_eq!(events.len(), 2, "a refused creation announces nothing");
    assert_eq!(jobs, 2);
    let (_, reached) = &events[1];
    assert_eq!(reached["quota"], "max_contacts");
    assert_eq!(reached["limit"], 5);
    assert_eq!(reached["used"], 5);
    assert_eq!(reached["percent"], 100);
    assert_eq!(reached["userId"], admin.user_id.as_str());
    assert_eq!(events[0].1["used"], 4);
    assert_eq!(events[0].1["percent"], 80);
    system.stop().await;
}
