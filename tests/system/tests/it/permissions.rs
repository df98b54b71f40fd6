//! Account permissions are enforced on every operation the OpenAPI document says needs one
//! (`x-permission`): walked with a role lacking it (403 `forbidden`, nothing written) and with a
//! role holding only it (past the check).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, eventually};

/// Every operation with `x-permission`: permission name -> (method, path) list.
fn operations_by_permission() -> BTreeMap<String, Vec<(Method, String)>> {
    let doc = gateway::openapi::document();
    let mut by_permission: BTreeMap<String, Vec<(Method, String)>> = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if let Some(permission) = operation["x-permission"].as_str() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                by_permission
                    .entry(permission.to_owned())
                    .or_default()
                    .push((method, path.clone()));
            }
        }
    }
    by_permission
}

/// `path` with each `{parameter}` replaced by a fresh id: the check comes before any lookup.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("closed parameter") + open;
        out.push_str(&uuid::Uuid::new_v4().to_string());
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A digest of every table's rows but the workers' heartbeats: equal digests, nothing written.
async fn database_digest(url: &str) -> String {
    let db = db::connect(url, 1).await.expect("connect");
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tablename FROM pg_tables
              WHERE schemaname = 'public' AND tablename <> 'workers' ORDER BY 1",
        ))
        .await
        .expect("tables");
    let mut digest = String::new();
    for row in tables {
        let table: String = row.try_get("", "tablename").expect("name");
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS d \
                     FROM \"{table}\" t"
                ),
            ))
            .await
            .expect("digest")
            .expect("a row");
        let table_digest: String = row.try_get("", "d").expect("digest");
        digest.push_str(&format!("{table}:{table_digest};"));
    }
    db.close().await.expect("close");
    digest
}

async fn create_role(
    system: &TestSystem,
    admin: &TenantHandle,
    name: &str,
    permissions: &[&str],
) -> String {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/accounts/current/roles",
            Some(&admin.key),
            Some(json!({"name": name, "permissions": permissions})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().expect("role id").to_owned()
}

async fn assign(system: &TestSystem, admin: &TenantHandle, user_id: &str, role_id: &str) {
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/current/agents/{user_id}"),
            Some(&admin.key),
            Some(json!({"roleId": role_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn call(system: &TestSystem, key: &str, method: &Method, path: &str) -> (StatusCode, Value) {
    let body = matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
    system
        .call(method.clone(), &concrete(path), Some(key), body)
        .await
}

#[tokio::test]
async fn every_operation_needing_a_permission_refuses_a_role_without_it_and_serves_one_with_it() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("acme").await;
    let agent = system.plain_user(&admin, "agent@acme.example").await;
    let (user_id, agent_key) = (agent.user_id, agent.key);

    let operations = operations_by_permission();
    let all: Vec<&str> = common::Permission::ALL.iter().map(|p| p.as_str()).collect();
    for expected in [
        "campaigns.read",
        "campaigns.write",
        "contacts.read",
        "contacts.write",
        "inboxes.read",
        "inboxes.write",
        "reports.read",
        "settings.manage",
    ] {
        assert!(
            operations.contains_key(expected),
            "no operation documents `{expected}`"
        );
    }
    // The areas whose every operation needs a permission.
    let doc = gateway::openapi::document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let guarded = [
            "/api/campaigns",
            "/api/contacts",
            "/api/reports",
            "/api/analytics",
            "/api/consent/opt-outs",
        ]
        .iter()
        .any(|prefix| path.starts_with(prefix))
            || (path.starts_with("/api/inboxes") && !path.contains("/events"));
        for (method, operation) in item.as_object().expect("path item") {
            if guarded {
                assert!(
                    operation["x-permission"].is_string(),
                    "{method} {path} documents no x-permission"
                );
            }
        }
    }

    for (permission, ops) in &operations {
        let others: Vec<&str> = all.iter().copied().filter(|p| p != permission).collect();
        let without = create_role(&system, &admin, &format!("without {permission}"), &others).await;
        let only = create_role(
            &system,
            &admin,
            &format!("only {permission}"),
            &[permission.as_str()],
        )
        .await;

        assign(&system, &admin, &user_id, &without).await;
        // Whatever the setup wrote has settled (the outbox relay marks what it published).
        let mut last = String::new();
        let before = eventually(
            "the database to settle",
            Duration::from_secs(10),
            async || {
                let now = database_digest(&system.db.url).await;
                if now == last {
                    Ok(now)
                } else {
                    last = now;
                    Err("still changing".into())
                }
            },
        )
        .await;
        for (method, path) in ops {
            let (status, body) = call(&system, &agent_key, method, path).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} without {permission}: {body}"
            );
            assert_eq!(body["code"], "forbidden", "{method} {path}: {body}");
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(permission.as_str())),
                "{method} {path}: {body}"
            );
        }
        assert_eq!(
            database_digest(&system.db.url).await,
            before,
            "a refused request wrote nothing ({permission})"
        );

        assign(&system, &admin, &user_id, &only).await;
        for (method, path) in ops {
            let (status, body) = call(&system, &agent_key, method, path).await;
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "{method} {path} with only {permission}: {status} {body}"
            );
        }
    }
    system.stop().await;
}

#[tokio::test]
async fn a_role_that_reads_campaigns_cannot_send_one_add_a_number_or_export_contacts() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("acme").await;
    let inbox = system.create_inbox(&admin, "acme-token").await;
    let contact = system
        .create_contact(&admin, "+5511999990001", "Ana", json!({}))
        .await;
    let reader = system.plain_user(&admin, "reader@acme.example").await;
    let (user_id, reader) = (reader.user_id, reader.key);

    // Before any role: a full member, as before roles existed.
    let (status, body) = system
        .call(Method::GET, "/api/inboxes", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let role = create_role(&system, &admin, "campaign reader", &["campaigns.read"]).await;
    assign(&system, &admin, &user_id, &role).await;
    let (status, body) = system
        .call(Method::GET, "/api/campaigns", Some(&reader), None)
        .await;
    assert_eq!(status, StatusCode::OK, "reads campaigns: {body}");
    for (method, path, body) in [
        (
            Method::POST,
            "/api/campaigns",
            json!({"name": "x", "inboxId": inbox, "template": "Hi", "contactIds": [contact]}),
        ),
        (
            Method::POST,
            "/api/inboxes",
            json!({"name": "x", "token": "other-token"}),
        ),
        (
            Method::POST,
            "/api/reports",
            json!({"kind": "contacts", "format": "csv"}),
        ),
        (Method::POST, "/api/jobs/dead/replay", json!({})),
    ] {
        let (status, answer) = system
            .call(method.clone(), path, Some(&reader), Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
    }
    // A report of what the role may read still needs `reports.read` for itself, and the export
    // of contacts needs `contacts.read` even with it.
    let role = create_role(
        &system,
        &admin,
        "reporter",
        &["campaigns.read", "reports.read"],
    )
    .await;
    assign(&system, &admin, &user_id, &role).await;
    let (status, answer) = system
        .call(
            Method::POST,
            "/api/reports",
            Some(&reader),
            Some(json!({"kind": "contacts", "format": "csv"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("contacts.read")),
        "{answer}"
    );

    // The admin holds everything, whatever the roles.
    let (status, body) = system
        .call(Method::GET, "/api/contacts", Some(&admin.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    system.stop().await;
}
