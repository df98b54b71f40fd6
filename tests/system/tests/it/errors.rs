use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

async fn raw(
    system: &TestSystem,
    key: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = system
        .http
        .post(format!("{}{path}", system.base_url))
        .bearer_auth(key)
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("strict").await;
    let json_ct = Some("application/json");

    // (what, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json_ct,
            b"{\"phone\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "missing field",
            json_ct,
            b"{\"name\": \"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "wrong type",
            json_ct,
            b"{\"phone\": 5511999999999}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "unknown field",
            json_ct,
            b"{\"phone\": \"5511999999999\", \"nmae\": \"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "bad phone",
            json_ct,
            b"{\"phone\": \"12ab\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "not JSON content type",
            Some("text/plain"),
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "oversized body",
            json_ct,
            format!("{{\"phone\": \"{}\"}}", "1".repeat(300 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let (got, body) = raw(&system, &t.key, "/api/contacts", content_type, body).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["success"], false, "{what}");
        assert_eq!(body["code"], code, "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
    }
    let (_, contacts) = system
        .call(Method::GET, "/api/contacts", Some(&t.key), None)
        .await;
    assert_eq!(contacts["data"], json!([]), "no bad request wrote anything");

    let (status, body) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&t.key),
            Some(json!({"phone": "5511999999999", "name": "ok"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&t.key),
            Some(json!({"phone": "+55 11 99999-9999"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");

    // Campaign validation: the template is parsed before anything is written.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&t.key),
            Some(json!({"name": "x", "inboxId": uuid::Uuid::nil(), "template": "Hi {{name", "contactIds": [uuid::Uuid::nil()]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "template");

    let (status, body) = system
        .call(Method::GET, "/api/campaigns/not-a-uuid", Some(&t.key), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_parameter");
    let (status, body) = system
        .call(Method::GET, "/api/contacts?limit=0", Some(&t.key), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = system
        .call(Method::GET, "/api/nowhere", Some(&t.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");
    system.stop().await;
}

#[tokio::test]
async fn authentication_and_roles_are_enforced() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("roles").await;
    let (status, body) = system.call(Method::GET, "/api/contacts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "unauthenticated");
    let (status, _) = system
        .call(Method::GET, "/api/contacts", Some("wzm_not-a-key"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Tenant admins cannot create tenants; users cannot create users.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/admin/tenants",
            Some(&t.key),
            Some(json!({"name": "x", "slug": "xx"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, user) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&t.key),
            Some(json!({"email": "u@roles.example", "role": "user"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["data"]["id"].as_str().unwrap();
    let (_, key) = system
        .call(
            Method::POST,
            &format!("/api/users/{user_id}/api-keys"),
            Some(&t.key),
            Some(json!({})),
        )
        .await;
    let user_key = key["data"]["key"].as_str().unwrap();
    let (status, _) = system
        .call(
            Method::POST,
            "/api/users",
            Some(user_key),
            Some(json!({"email": "v@roles.example", "role": "user"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&t.key),
            Some(json!({"email": "root2@x.example", "role": "superadmin"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Keys are stored hashed: the raw key appears nowhere in the database.
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    use sea_orm::{EntityTrait, PaginatorTrait};
    let keys = db::entity::api_key::Entity::find()
        .all(&connection)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.key_hash.len() == 32 && !user_key.contains(&hex_of(&k.key_hash)))
    );
    assert!(
        db::entity::api_key::Entity::find()
            .count(&connection)
            .await
            .unwrap()
            >= 3
    );
    system.stop().await;
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
