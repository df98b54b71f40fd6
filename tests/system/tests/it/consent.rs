//! Consent end to end: a reply that is an opt-out keyword (posted by the fake WUZAPI, through
//! the gateway and the inbound queue) opts the number out of later campaigns and of the
//! pending recipients of scheduled and running ones; only an opt-in keyword brings it back.
//! Keywords are per tenant; opt-outs are listed, imported and exported, each tenant its own.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, eventually};

/// Polls `path` (a list) as `tenant` until `done` holds of its `data` (20 s at most).
async fn list_until(
    system: &TestSystem,
    tenant: &TenantHandle,
    path: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(path, Duration::from_secs(20), async || {
        let (status, body) = system
            .call(Method::GET, path, Some(&tenant.key), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["data"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            Ok(items)
        } else {
            Err(body.to_string())
        }
    })
    .await
}

const OPT_OUTS: &str = "/api/consent/opt-outs?fields=phone,message,inboxId,optedOutAt";

/// The campaign's recipients: phone, status and error.
async fn recipients(system: &TestSystem, tenant: &TenantHandle, campaign: &str) -> Vec<Value> {
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign}/recipients?fields=phone,status,error"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut rows = body["data"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["phone"].as_str().unwrap_or_default().to_owned());
    rows
}

/// `POST /api/campaigns` with extra fields; returns the campaign id.
async fn campaign(
    system: &TestSystem,
    tenant: &TenantHandle,
    inbox: &str,
    contacts: &[String],
    extra: Value,
) -> String {
    let mut body = json!({
        "name": "Consent", "inboxId": inbox, "template": "Hi", "contactIds": contacts,
        "delayMinMs": 0, "delayMaxMs": 5,
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let (status, answer) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&tenant.key),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["data"]["campaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The phones the fake WUZAPI got a message for, in order.
fn messaged(system: &TestSystem) -> Vec<String> {
    system
        .wuzapi
        .sent_messages()
        .into_iter()
        .map(|m| m.phone)
        .collect()
}

/// The kinds of the tenant's events, oldest first.
pub(crate) async fn event_kinds(
    system: &TestSystem,
    tenant: &TenantHandle,
) -> Vec<(String, Value)> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let rows = connection
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT kind, data FROM events WHERE tenant_id = $1 ORDER BY occurred_at, id",
            [tenant.tenant_id.parse::<uuid::Uuid>().unwrap().into()],
        ))
        .await
        .unwrap();
    connection.close().await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "kind").unwrap(),
                r.try_get::<Value>("", "data").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_opt_out_reply_stops_every_later_message_until_the_contact_opts_in() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    let a = system.tenant_with_admin("consent-a").await;
    let b = system.tenant_with_admin("consent-b").await;

    // Keywords: the defaults, then the tenant's own; a word that normalises to nothing is
    // refused and changes nothing.
    let (status, body) = system
        .call(Method::GET, "/api/consent/keywords", Some(&a.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["custom"], false);
    assert!(
        body["data"]["optOut"]
            .as_array()
            .unwrap()
            .contains(&json!("SAIR"))
    );
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/consent/keywords",
            Some(&a.key),
            Some(json!({"optOut": ["stop", " !! "], "optIn": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "optOut", "{body}");
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/consent/keywords",
            Some(&a.key),
            Some(json!({"optOut": ["Não quero", "stop"], "optIn": ["Voltar"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["optOut"], json!(["NAO QUERO", "STOP"]));
    assert_eq!(body["data"]["custom"], true);
    // B keeps the defaults.
    let (_, body) = system
        .call(Method::GET, "/api/consent/keywords", Some(&b.key), None)
        .await;
    assert_eq!(body["data"]["custom"], false, "{body}");

    let inbox = system.create_inbox(&a, "consent-a-token").await;
    let contacts = system.insert_contacts(&a, 3, 5511978000000).await;
    // A campaign scheduled for later: its recipients are pending when the opt-out arrives.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = campaign(
        &system,
        &a,
        &inbox,
        &contacts,
        json!({"scheduledAt": later}),
    )
    .await;

    // "Sair" is no longer a keyword of A: that reply opts nobody out.
    system
        .wuzapi
        .reply("consent-a-token", "+5511978000002", "Sair")
        .await
        .unwrap();
    let posted = system
        .wuzapi
        .reply("consent-a-token", "+5511978000001", "  não QUERO! ")
        .await
        .unwrap();
    assert_eq!(posted.status, Some(200), "{posted:?}");
    let opt_outs = list_until(&system, &a, OPT_OUTS, |items| !items.is_empty()).await;
    assert_eq!(opt_outs.len(), 1, "{opt_outs:?}");
    assert_eq!(opt_outs[0]["phone"], "5511978000001");
    assert_eq!(opt_outs[0]["message"], "  não QUERO! ");
    assert_eq!(opt_outs[0]["inboxId"], inbox.as_str());
    let rows = recipients(&system, &a, &scheduled).await;
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "skipped", "pending"], "{rows:?}");
    assert_eq!(rows[1]["error"], "the contact opted out");

    // A new campaign to all three messages two; the skipped one is done, not failed.
    let now = campaign(&system, &a, &inbox, &contacts, json!({})).await;
    let job = system.wait_for_campaign_job(&a.key, &now).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["progress"]["sent"], 2, "{job}");
    assert_eq!(job["progress"]["skipped"], 1, "{job}");
    assert_eq!(job["progress"]["failed"], 0, "{job}");
    assert_eq!(job["progress"]["percent"], 100, "{job}");
    let mut phones = messaged(&system);
    phones.sort();
    assert_eq!(phones, ["5511978000000", "5511978000002"]);

    // B sees none of A's opt-outs, and B's import of the same number changes nothing of A's.
    let (_, body) = system.call(Method::GET, OPT_OUTS, Some(&b.key), None).await;
    assert_eq!(body["data"], json!([]), "{body}");

    // Only the number itself opts back in; later campaigns reach it again.
    system
        .wuzapi
        .reply("consent-a-token", "+5511978000001", "voltar")
        .await
        .unwrap();
    list_until(&system, &a, OPT_OUTS, |items| items.is_empty()).await;
    let again = campaign(&system, &a, &inbox, &contacts[1..2], json!({})).await;
    let job = system.wait_for_campaign_job(&a.key, &again).await;
    assert_eq!(job["progress"]["sent"], 1, "{job}");
    assert_eq!(messaged(&system).len(), 3);
    // Recipients skipped before stay skipped.
    let rows = recipients(&system, &a, &scheduled).await;
    assert_eq!(rows[1]["status"], "skipped", "{rows:?}");

    // The opt-out and the opt-in reached the tenant's events (notifications, webhooks).
    let kinds = event_kinds(&system, &a).await;
    let consent: Vec<&(String, Value)> = kinds
        .iter()
        .filter(|(kind, _)| kind.starts_with("contact."))
        .collect();
    assert_eq!(consent.len(), 2, "{kinds:?}");
    assert_eq!(consent[0].0, "contact.opted_out");
    assert_eq!(consent[0].1["phone"], "5511978000001");
    assert_eq!(consent[0].1["message"], "  não QUERO! ");
    assert_eq!(consent[1].0, "contact.opted_in");
    assert!(event_kinds(&system, &b).await.is_empty());
    system.stop().await;
}

#[tokio::test]
async fn opt_outs_import_and_export_and_a_campaign_can_keep_to_those_who_wrote() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    system.start_report_worker(&[]).await;
    let a = system.tenant_with_admin("optouts-a").await;
    let b = system.tenant_with_admin("optouts-b").await;
    let inbox = system.create_inbox(&a, "optouts-a-token").await;
    let contacts = system.insert_contacts(&a, 4, 5511979000000).await;

    // One bad entry refuses the whole import, naming it.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/consent/opt-outs",
            Some(&a.key),
            Some(json!({"optOuts": [{"phone": "+55 11 97900-0000"}, {"phone": "12ab"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "optOuts[1].phone", "{body}");
    let (_, body) = system.call(Method::GET, OPT_OUTS, Some(&a.key), None).await;
    assert_eq!(body["data"], json!([]), "nothing was written: {body}");
    let (status, body) = system
        .call(
            Method::POST,
            "/api/consent/opt-outs",
            Some(&a.key),
            Some(json!({"optOuts": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let import = json!({"optOuts": [
        {"phone": "+55 11 97900-0000", "optedOutAt": "2026-01-02T03:04:05Z", "message": "paper form"},
        {"phone": "5511979000003"},
        {"phone": "+5511979000003"},
    ]});
    let (status, body) = system
        .call(
            Method::POST,
            "/api/consent/opt-outs",
            Some(&a.key),
            Some(import.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({"received": 2, "optedOut": 2, "alreadyOptedOut": 0, "recipientsSkipped": 0})
    );
    let (_, body) = system
        .call(
            Method::POST,
            "/api/consent/opt-outs",
            Some(&a.key),
            Some(import),
        )
        .await;
    assert_eq!(body["data"]["alreadyOptedOut"], 2, "{body}");
    // B's list stays empty; B importing the same number is B's own.
    let (_, body) = system.call(Method::GET, OPT_OUTS, Some(&b.key), None).await;
    assert_eq!(body["data"], json!([]));

    // Contact 1 wrote to the number; a campaign kept to those who wrote messages only it
    // (0 and 3 opted out, 2 never wrote).
    system
        .wuzapi
        .reply("optouts-a-token", "+5511979000001", "Hello, send me offers")
        .await
        .unwrap();
    eventually(
        "the reply's conversation",
        Duration::from_secs(20),
        async || {
            if has_conversations(&system, &a, &inbox, 1).await {
                Ok(())
            } else {
                Err("no conversation yet".to_owned())
            }
        },
    )
    .await;
    let wrote = campaign(
        &system,
        &a,
        &inbox,
        &contacts,
        json!({"audience": "wrote_before"}),
    )
    .await;
    let job = system.wait_for_campaign_job(&a.key, &wrote).await;
    assert_eq!(job["progress"]["sent"], 1, "{job}");
    assert_eq!(job["progress"]["skipped"], 3, "{job}");
    let rows = recipients(&system, &a, &wrote).await;
    assert_eq!(
        rows[2]["error"],
        "the contact has never written to this number"
    );
    assert_eq!(rows[0]["error"], "the contact opted out");
    assert_eq!(messaged(&system), ["5511979000001"]);
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/campaigns/{wrote}"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["audience"], "wrote_before");
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&a.key),
            Some(json!({"name": "x", "inboxId": inbox, "template": "Hi",
                        "contactIds": contacts, "audience": "friends"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The export holds A's opt-outs, and only A's.
    let id = crate::reports::start(&system, &a, json!({"kind": "opt_outs", "format": "csv"})).await;
    let mut rows = crate::reports::rows_of(&system, &a, &id, &[], &["inbox_id"], &[]).await;
    rows.sort_by_key(|r| r["phone"].as_str().unwrap_or_default().to_owned());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["phone"], "5511979000000");
    assert_eq!(rows[0]["message"], "paper form");
    assert_eq!(rows[0]["opted_out_at"], "2026-01-02T03:04:05.000Z");
    assert!(rows[0]["inbox_id"].is_null());
    let (status, body) = system
        .call(
            Method::POST,
            "/api/reports",
            Some(&a.key),
            Some(json!({"kind": "opt_outs", "format": "csv", "campaignId": wrote})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let id =
        crate::reports::start(&system, &b, json!({"kind": "opt_outs", "format": "json"})).await;
    let rows = crate::reports::rows_of(&system, &b, &id, &[], &[], &[]).await;
    assert!(rows.is_empty(), "{rows:?}");
    system.stop().await;
}

/// Whether `count` people wrote to the inbox (their messages were applied): read from the
/// database, as the API does not list conversations.
async fn has_conversations(
    system: &TestSystem,
    tenant: &TenantHandle,
    inbox: &str,
    count: i64,
) -> bool {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM inbox_conversations WHERE tenant_id = $1 AND inbox_id = $2",
            [
                tenant.tenant_id.parse::<uuid::Uuid>().unwrap().into(),
                inbox.parse::<uuid::Uuid>().unwrap().into(),
            ],
        ))
        .await
        .unwrap()
        .unwrap();
    connection.close().await.unwrap();
    row.try_get::<i64>("", "n").unwrap() == count
}
