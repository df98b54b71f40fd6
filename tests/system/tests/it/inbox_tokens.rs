//! A shared WUZAPI server's user tokens cannot be probed or taken twice (issue 23, item 9): a
//! (server, token) pair is one inbox across all tenants (409 `conflict`, whoever holds it, and
//! nothing stored), and creating an inbox answers the same whether WUZAPI knows the token or
//! not; how the setup went shows only afterwards, on the inbox that was created.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};
use wuzapi::{FakeConfig, FakeWuzapi};

async fn create(
    system: &TestSystem,
    tenant: &TenantHandle,
    token: &str,
    url: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"name": "Sales", "token": token});
    if let Some(url) = url {
        body["wuzapiUrl"] = json!(url);
    }
    system
        .call(Method::POST, "/api/inboxes", Some(&tenant.key), Some(body))
        .await
}

async fn inboxes(system: &TestSystem, tenant: &TenantHandle) -> Value {
    let (status, body) = system
        .call(
            Method::GET,
            "/api/inboxes?fields=id,name,wuzapiUrl,tokenHint",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_wuzapi_token_is_one_inbox_across_tenants() {
    let other_server = "http://127.0.0.1:9";
    let system = TestSystem::spawn_with(&[("WUZAPI_ALLOWED_HOSTS", "127.0.0.1:9")]).await;
    let a = system.tenant_with_admin("tokens-a").await;
    let b = system.tenant_with_admin("tokens-b").await;
    let first = system.create_inbox(&a, "shared-token").await;

    let a_before = inboxes(&system, &a).await;
    let b_before = inboxes(&system, &b).await;
    // Another tenant, the same tenant again, and the same server written differently.
    let default = system.wuzapi.base_url();
    let spelled_otherwise = format!("{}/", default.replacen("http", "HTTP", 1));
    for (tenant, url) in [
        (&b, None),
        (&a, None),
        (&b, Some(default.as_str())),
        (&b, Some(spelled_otherwise.as_str())),
    ] {
        let (status, body) = create(&system, tenant, "shared-token", url).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "conflict", "{body}");
        let message = body["error"].as_str().unwrap();
        assert_eq!(
            message, "this WUZAPI token is already registered on this server",
            "whose it is is not said"
        );
        assert!(!message.contains(&first) && !message.contains("tokens-a"));
    }
    assert_eq!(inboxes(&system, &a).await, a_before, "nothing stored");
    assert_eq!(inboxes(&system, &b).await, b_before, "nothing stored");

    // The same token on another server is another number.
    let (status, body) = create(&system, &b, "shared-token", Some(other_server)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(inboxes(&system, &b).await.as_array().unwrap().len(), 1);
    system.stop().await;
}

/// What may differ between two creations whatever WUZAPI said: the inbox's own identity.
fn without_identity(mut answer: Value) -> Value {
    for field in ["id", "createdAt", "tokenHint"] {
        answer["data"]
            .as_object_mut()
            .unwrap()
            .remove(field)
            .expect(field);
    }
    answer
}

#[tokio::test]
async fn creating_an_inbox_answers_the_same_for_a_token_wuzapi_refuses() {
    // A WUZAPI server that knows one token and answers 401 for any other, as the real one does.
    let strict = FakeWuzapi::start_with(
        "127.0.0.1:0",
        FakeConfig {
            accept_any_token: false,
            ..FakeConfig::default()
        },
    )
    .unwrap();
    strict.add_user("known-token");
    let url = strict.base_url();
    let system = TestSystem::spawn_with(&[("WUZAPI_ALLOWED_HOSTS", "127.0.0.1")]).await;
    let tenant = system.tenant_with_admin("probe").await;

    let (known_status, known) = create(&system, &tenant, "known-token", Some(&url)).await;
    let (unknown_status, unknown) = create(&system, &tenant, "guessed-token", Some(&url)).await;
    assert_eq!(known_status, StatusCode::CREATED, "{known}");
    assert_eq!(unknown_status, known_status, "{unknown}");
    assert_eq!(
        without_identity(unknown.clone()),
        without_identity(known.clone())
    );
    assert_eq!(
        known["data"]["events"],
        json!({"configured": false, "signed": false, "configuredAt": null, "error": null})
    );

    // Afterwards, on the inboxes now created (and counted), the setup's outcome shows.
    let known_events = system
        .settled_inbox_events(&tenant, known["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(known_events["configured"], true, "{known_events}");
    let unknown_events = system
        .settled_inbox_events(&tenant, unknown["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(unknown_events["configured"], false, "{unknown_events}");
    assert_eq!(
        unknown_events["error"], "WUZAPI refused the token, or the number is not connected",
        "a generic reason, not WUZAPI's words: {unknown_events}"
    );
    strict.stop().await;
    system.stop().await;
}

/// Counts inboxes with and without a digest.
async fn digests(connection: &db::DatabaseConnection) -> (i64, i64) {
    use sea_orm::ConnectionTrait;
    let row = connection
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(token_digest) AS digested, count(*) - count(token_digest) AS undigested
               FROM inboxes",
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "digested").unwrap(),
        row.try_get("", "undigested").unwrap(),
    )
}

#[tokio::test]
async fn inboxes_from_before_digests_are_digested_when_a_gateway_starts() {
    use sea_orm::ConnectionTrait;
    let mut system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("older-a").await;
    let b = system.tenant_with_admin("older-b").await;
    let first = system.create_inbox(&a, "older-token").await;
    let second = system.create_inbox(&b, "other-token").await;
    system.create_inbox(&b, "solo-token").await;

    // As migration 19 left them: no digests, and (stored before uniqueness) two inboxes of
    // one pair.
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    connection
        .execute_unprepared(&format!(
            "UPDATE inboxes SET token_digest = NULL;
             UPDATE inboxes SET token_ciphertext =
                 (SELECT token_ciphertext FROM inboxes WHERE id = '{first}')
              WHERE id = '{second}'"
        ))
        .await
        .unwrap();
    assert_eq!(digests(&connection).await, (0, 3));

    // A gateway starting digests them; the second of the shared pair is left to the operator.
    system.start_gateway(&[]).await;
    assert_eq!(digests(&connection).await, (2, 1));
    connection.close().await.unwrap();
    // The digested pairs are taken.
    for (tenant, token) in [(&b, "older-token"), (&a, "solo-token")] {
        let (status, body) = create(&system, tenant, token, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{token}: {body}");
    }
    system.stop().await;
}
