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

    // (what, content type, body, expected status, expected code, expected field)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Vec<u8>,
        StatusCode,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json_ct,
            b"{\"phone\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            "missing field",
            json_ct,
            b"{\"name\": \"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("phone"),
        ),
        (
            "wrong type",
            json_ct,
            b"{\"phone\": 5511999999999}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("phone"),
        ),
        (
            "unknown field",
            json_ct,
            b"{\"phone\": \"5511999999999\", \"nmae\": \"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("nmae"),
        ),
        (
            "bad phone",
            json_ct,
            b"{\"phone\": \"12ab\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("phone"),
        ),
        (
            "not JSON content type",
            Some("text/plain"),
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        (
            "oversized body",
            json_ct,
            format!("{{\"phone\": \"{}\"}}", "1".repeat(300 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (what, content_type, body, status, code, field) in cases {
        let (got, body) = raw(&system, &t.key, "/api/contacts", content_type, body).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["success"], false, "{what}");
        assert_eq!(body["code"], code, "{what}: {body}");
        assert_eq!(body["field"].as_str(), field, "{what}: {body}");
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

/// Rows in every table an API call can write, to show a refused call wrote nothing.
async fn row_counts(system: &TestSystem) -> Vec<(String, i64)> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let mut counts = Vec::new();
    for table in [
        "tenants",
        "accounts",
        "users",
        "api_keys",
        "inboxes",
        "contacts",
        "campaigns",
        "campaign_recipients",
        "jobs",
        "outbox",
    ] {
        let row = connection
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.push((table.to_owned(), row.try_get::<i64>("", "n").unwrap()));
    }
    connection.close().await.unwrap();
    counts
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_422_naming_the_field_and_broken_json_is_400() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("shapes").await;
    let root = system.admin_key.as_str();
    let key = t.key.as_str();
    let keys_path = format!("/api/users/{}/api-keys", t.user_id);
    let inbox_id = system.create_inbox(&t, "shape-token").await;
    let contact_id = system
        .create_contact(&t, "5511944440001", "Ana", json!({}))
        .await;
    let campaign = |extra: Value| {
        let mut body = json!({
            "name": "x", "inboxId": inbox_id, "template": "Hi", "contactIds": [contact_id],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string().into_bytes()
    };
    let before = row_counts(&system).await;

    // (what, key, path, body, expected field; None: 422 without a field)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, Option<&'a str>);
    let shape_errors: Vec<Case> = vec![
        (
            "role is a number",
            key,
            "/api/users",
            br#"{"email": "x@shapes.example", "role": 1}"#.to_vec(),
            Some("role"),
        ),
        (
            "role is not a role",
            key,
            "/api/users",
            br#"{"email": "x@shapes.example", "role": "boss"}"#.to_vec(),
            Some("role"),
        ),
        (
            "role is missing",
            key,
            "/api/users",
            br#"{"email": "x@shapes.example"}"#.to_vec(),
            Some("role"),
        ),
        (
            "tenantId is not an id",
            key,
            "/api/users",
            br#"{"email": "x@shapes.example", "role": "user", "tenantId": 7}"#.to_vec(),
            Some("tenantId"),
        ),
        (
            "plan is a boolean",
            root,
            "/api/admin/tenants",
            br#"{"name": "X", "slug": "xx", "plan": true}"#.to_vec(),
            Some("plan"),
        ),
        (
            "plan is an object",
            root,
            "/api/admin/tenants",
            br#"{"name": "X", "slug": "xx", "plan": {"pro": 1}}"#.to_vec(),
            Some("plan"),
        ),
        (
            "plan is unknown",
            root,
            "/api/admin/tenants",
            br#"{"name": "X", "slug": "xx", "plan": "platinum"}"#.to_vec(),
            Some("plan"),
        ),
        (
            "key name is a list",
            key,
            &keys_path,
            br#"{"name": ["a"]}"#.to_vec(),
            Some("name"),
        ),
        (
            "inbox token is null",
            key,
            "/api/inboxes",
            br#"{"name": "S", "token": null}"#.to_vec(),
            Some("token"),
        ),
        (
            "contact fields is a list",
            key,
            "/api/contacts",
            br#"{"phone": "5511944440002", "fields": []}"#.to_vec(),
            Some("fields"),
        ),
        (
            "negative delay",
            key,
            "/api/campaigns",
            campaign(json!({"delayMinMs": -1})),
            Some("delayMinMs"),
        ),
        (
            "delay too large for u32",
            key,
            "/api/campaigns",
            campaign(json!({"delayMaxMs": 1_u64 << 40})),
            Some("delayMaxMs"),
        ),
        (
            "contact id is not a UUID",
            key,
            "/api/campaigns",
            campaign(json!({"contactIds": [contact_id, "nope"]})),
            Some("contactIds"),
        ),
        (
            "inbox id is a number",
            key,
            "/api/campaigns",
            campaign(json!({"inboxId": 5})),
            Some("inboxId"),
        ),
        (
            "scheduledAt is not a date",
            key,
            "/api/campaigns",
            campaign(json!({"scheduledAt": "next tuesday"})),
            Some("scheduledAt"),
        ),
        (
            "the body is a list",
            key,
            "/api/contacts",
            b"[]".to_vec(),
            None,
        ),
        (
            "the body is a string",
            key,
            "/api/contacts",
            br#""5511944440002""#.to_vec(),
            None,
        ),
    ];
    for (what, key, path, body, field) in shape_errors {
        let (status, body) = raw(&system, key, path, Some("application/json"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["code"], "validation_failed", "{what}: {body}");
        assert_eq!(body["field"].as_str(), field, "{what}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        if let Some(field) = field {
            assert!(
                message.contains(field),
                "{what}: the message names it: {body}"
            );
        }
        assert!(
            !message.contains("struct "),
            "{what}: no Rust names: {body}"
        );
    }

    // Not JSON at all: 400 whatever the endpoint expects.
    let malformed: [&[u8]; 7] = [
        br#"{"email": "x@shapes.example", "role": }"#,
        br#"{"email": "x@shapes.example", "role": "user""#,
        br#"{"email": "x@shapes.example", "role": "user"} trailing"#,
        br#"{"email": 'single quotes'}"#,
        b"{\"email\": \"raw\x01control\"}",
        b"",
        b"nul",
    ];
    for body in malformed {
        let (status, answer) = raw(
            &system,
            &t.key,
            "/api/users",
            Some("application/json"),
            body.to_vec(),
        )
        .await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}: {answer}");
        assert_eq!(answer["code"], "malformed_json", "{shown}: {answer}");
    }
    assert_eq!(
        row_counts(&system).await,
        before,
        "no refused body wrote anything"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_nul_character_in_any_text_field_is_422_naming_it_and_writes_nothing() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("nul").await;
    let root = system.admin_key.as_str();
    let key = t.key.as_str();
    let inbox_id = system.create_inbox(&t, "nul-token").await;
    let contact_id = system
        .create_contact(&t, "5511933330001", "Ana", json!({}))
        .await;
    let before = row_counts(&system).await;
    let nul = "a\u{0}b";

    // (key, path, body, expected field)
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            root,
            "/api/admin/tenants".into(),
            json!({"name": nul, "slug": "nn"}),
            "name",
        ),
        (
            root,
            "/api/admin/tenants".into(),
            json!({"name": "N", "slug": nul}),
            "slug",
        ),
        (
            key,
            "/api/users".into(),
            json!({"email": format!("{nul}@nul.example"), "role": "user"}),
            "email",
        ),
        (
            key,
            "/api/users".into(),
            json!({"email": "u@nul.example", "name": nul, "role": "user"}),
            "name",
        ),
        (
            key,
            format!("/api/users/{}/api-keys", t.user_id),
            json!({"name": nul}),
            "name",
        ),
        (
            key,
            "/api/inboxes".into(),
            json!({"name": nul, "token": "x"}),
            "name",
        ),
        (
            key,
            "/api/inboxes".into(),
            json!({"name": "S", "token": nul}),
            "token",
        ),
        (
            key,
            "/api/inboxes".into(),
            json!({"name": "S", "token": "x", "wuzapiUrl": format!("{}/\u{0}", system.wuzapi.base_url())}),
            "wuzapiUrl",
        ),
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "55119\u{0}33330002"}),
            "phone",
        ),
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "5511933330002", "name": nul}),
            "name",
        ),
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "5511933330002", "fields": {"city": nul}}),
            "fields.city",
        ),
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "5511933330002", "fields": {"ok": "x", "deep": {"er": ["y", nul]}}}),
            "fields.deep.er[1]",
        ),
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "5511933330002", "fields": {nul: "Recife"}}),
            "fields.a\\u0000b",
        ),
        (
            key,
            "/api/campaigns".into(),
            json!({"name": nul, "inboxId": inbox_id, "template": "Hi", "contactIds": [contact_id]}),
            "name",
        ),
        (
            key,
            "/api/campaigns".into(),
            json!({"name": "C", "inboxId": inbox_id, "template": format!("Hi {nul}"), "contactIds": [contact_id]}),
            "template",
        ),
        // Also where the field is unknown or of the wrong type: the NUL is what is reported.
        (
            key,
            "/api/contacts".into(),
            json!({"phone": "5511933330002", "nmae": nul}),
            "nmae",
        ),
    ];
    for (key, path, body, field) in cases {
        let (status, answer) = system
            .call(Method::POST, &path, Some(key), Some(body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {answer}"
        );
        assert_eq!(
            answer["code"], "validation_failed",
            "{path} {body}: {answer}"
        );
        assert_eq!(answer["field"], field, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("NUL"),
            "{path} {body}: {answer}"
        );
    }
    // The text `\u0000` (a backslash and five characters) is ordinary text.
    let (status, answer) = system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&t.key),
            Some(json!({"phone": "5511933330003", "name": "\\u0000"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["data"]["name"], "\\u0000");
    let mut after = row_counts(&system).await;
    for (table, count) in &mut after {
        if table == "contacts" {
            *count -= 1;
        }
    }
    assert_eq!(after, before, "no refused body wrote anything");
    system.stop().await;
}

#[tokio::test]
async fn scheduled_at_must_be_from_now_to_a_year_ahead() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("sched").await;
    let inbox_id = system.create_inbox(&t, "sched-token").await;
    let contact_id = system
        .create_contact(&t, "5511922220001", "Ana", json!({}))
        .await;
    let schedule = |at: &str| {
        json!({
            "name": "Later", "inboxId": inbox_id, "template": "Hi",
            "contactIds": [contact_id], "scheduledAt": at,
        })
    };
    let now = chrono::Utc::now();
    let rfc3339 = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339();
    let a_minute_ago = rfc3339(now - chrono::TimeDelta::minutes(1));
    let in_366_days = rfc3339(now + chrono::TimeDelta::days(366));
    let before = row_counts(&system).await;

    // (scheduledAt, what the error says)
    let refused = [
        ("-100000-01-01T00:00:00Z", "past"),
        ("0000-01-01T00:00:00Z", "past"),
        ("+200000-01-01T00:00:00Z", "365 days"),
        ("9999-12-31T23:59:59Z", "365 days"),
        (a_minute_ago.as_str(), "past"),
        (in_366_days.as_str(), "365 days"),
    ];
    for (at, says) in refused {
        let (status, body) = system
            .call(
                Method::POST,
                "/api/campaigns",
                Some(&t.key),
                Some(schedule(at)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {body}");
        assert_eq!(body["field"], "scheduledAt", "{at}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{at}: {body}"
        );
    }
    // Beyond what a date can hold, or not a date: still a clear 4xx naming the field.
    for at in ["+999999999-01-01T00:00:00Z", "2025-13-01T00:00:00Z", ""] {
        let (status, body) = system
            .call(
                Method::POST,
                "/api/campaigns",
                Some(&t.key),
                Some(schedule(at)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {body}");
        assert_eq!(body["field"], "scheduledAt", "{at}: {body}");
    }
    assert_eq!(row_counts(&system).await, before, "nothing was written");

    // A moment ago (clock skew) starts now; within the year is scheduled.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&t.key),
            Some(schedule(&rfc3339(now - chrono::TimeDelta::seconds(1)))),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&t.key),
            Some(schedule(&rfc3339(now + chrono::TimeDelta::days(364)))),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["campaign"]["status"], "scheduled", "{body}");
    assert_eq!(body["data"]["job"]["state"], "delayed", "{body}");
    system.stop().await;
}
