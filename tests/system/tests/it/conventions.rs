//! The API's HTTP conventions: role requirements (401/403 before a handler runs), cursor paging
//! with an opaque, signed cursor, and minimal fields with `?fields=`, on every list.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

async fn get(system: &TestSystem, path: &str, key: &str) -> (StatusCode, Value) {
    system.call(Method::GET, path, Some(key), None).await
}

/// The keys of a list item, sorted.
fn keys(item: &Value) -> Vec<&str> {
    item.as_object()
        .unwrap_or_else(|| panic!("not an object: {item}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {page}"))
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A 400 `invalid_parameter` that blames `parameter` by name.
fn assert_refused(status: StatusCode, body: &Value, parameter: &str, what: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(body["code"], "invalid_parameter", "{what}: {body}");
    assert_eq!(body["field"], parameter, "{what}: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("`{parameter}`")),
        "{what}: {body}"
    );
}

/// `POST` as `key`, expecting 201; returns `data.id`.
async fn create(system: &TestSystem, key: &str, path: &str, body: Value) -> String {
    let (status, answer) = system.call(Method::POST, path, Some(key), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {answer}");
    answer["data"]["id"].as_str().expect("id").to_owned()
}

/// Every page of `path` (which has no query yet) at `limit` per page.
async fn all_pages(system: &TestSystem, path: &str, key: &str, limit: u32) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, page) = get(system, &url, key).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

#[tokio::test]
async fn a_list_pages_by_keyset_with_an_opaque_cursor_and_refuses_bad_paging() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("paging-a").await;
    let b = system.tenant_with_admin("paging-b").await;
    let inserted: BTreeSet<String> = system
        .insert_contacts(&a, 120, 5511960000000)
        .await
        .into_iter()
        .collect();
    system.insert_contacts(&b, 3, 5511961000000).await;

    // 50 + 50 + 20, in id order across pages, every contact once, `null` after the last.
    let pages = all_pages(&system, "/api/contacts", &a.key, 50).await;
    let sizes: Vec<usize> = pages.iter().map(|p| ids(p).len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(pages[2]["nextCursor"], Value::Null);
    assert!(pages[0]["nextCursor"].is_string() && pages[1]["nextCursor"].is_string());
    let seen: Vec<String> = pages.iter().flat_map(ids).collect();
    let mut ordered = seen.clone();
    ordered.sort();
    assert_eq!(seen, ordered, "keyset order: ids ascend across pages");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), inserted);
    assert_eq!(seen.len(), inserted.len(), "no contact twice");
    // The default limit is 50.
    let (_, page) = get(&system, "/api/contacts", &a.key).await;
    assert_eq!(ids(&page).len(), 50);

    for limit in ["0", "501", "abc", "-1", ""] {
        let (status, body) = get(&system, &format!("/api/contacts?limit={limit}"), &a.key).await;
        assert_refused(status, &body, "limit", &format!("limit={limit}"));
    }

    let cursor = pages[0]["nextCursor"].as_str().unwrap().to_owned();
    assert!(
        !cursor.contains(&ids(&pages[0])[49]),
        "the cursor is opaque, not the last id: {cursor}"
    );
    let mut refused: Vec<(String, String)> = vec![
        // The cursor is 44 base64url characters; these are of that shape, or not even that.
        ("a made-up cursor".into(), "A".repeat(44)),
        (
            "a made-up cursor of the current format".into(),
            format!("AQ{}", "A".repeat(42)),
        ),
        ("the last id itself".into(), ids(&pages[0])[49].clone()),
        (
            "a truncated cursor".into(),
            cursor[..cursor.len() - 4].to_owned(),
        ),
        (
            "a cursor with a character added".into(),
            format!("{cursor}A"),
        ),
    ];
    // The character at 4k of base64 holds the top six bits of byte 3k and nothing else, so
    // replacing it changes exactly one byte: the version (byte 0), the id (3, 9) or the tag
    // (18, 24, 30).
    for at in [0, 4, 12, 24, 32, 40] {
        let mut altered: Vec<char> = cursor.chars().collect();
        altered[at] = if altered[at] == 'Q' { 'R' } else { 'Q' };
        refused.push((
            format!("the cursor with byte {} changed", at / 4 * 3),
            altered.into_iter().collect(),
        ));
    }
    for (what, bad) in &refused {
        let (status, body) = get(&system, &format!("/api/contacts?cursor={bad}"), &a.key).await;
        assert_refused(status, &body, "cursor", what);
    }
    // The unaltered cursor still works.
    let (status, page) = get(
        &system,
        &format!("/api/contacts?limit=50&cursor={cursor}"),
        &a.key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), ids(&pages[1]));

    // Another tenant cannot use A's cursor, even on the same list.
    let (status, body) = get(&system, &format!("/api/contacts?cursor={cursor}"), &b.key).await;
    assert_refused(status, &body, "cursor", "another tenant's cursor");

    // Nor does a cursor of one list open another list.
    system.create_inbox(&a, "paging-one").await;
    system.create_inbox(&a, "paging-two").await;
    let (_, inboxes) = get(&system, "/api/inboxes?limit=1", &a.key).await;
    let inbox_cursor = inboxes["nextCursor"].as_str().expect("inbox cursor");
    let (status, body) = get(
        &system,
        &format!("/api/contacts?cursor={inbox_cursor}"),
        &a.key,
    )
    .await;
    assert_refused(status, &body, "cursor", "an inbox cursor on contacts");
    let (status, body) = get(&system, &format!("/api/inboxes?cursor={cursor}"), &a.key).await;
    assert_refused(status, &body, "cursor", "a contact cursor on inboxes");

    // A list that belongs to an object: one campaign's cursor is refused on another's.
    let inbox = system.create_inbox(&a, "paging-campaigns").await;
    let contacts: Vec<String> = ids(&pages[0])[..2].to_vec();
    let first = system.create_campaign(&a, &inbox, "Hi", &contacts).await;
    let second = system.create_campaign(&a, &inbox, "Hi", &contacts).await;
    let recipients = |campaign: &Value| {
        format!(
            "/api/campaigns/{}/recipients",
            campaign["campaign"]["id"].as_str().unwrap()
        )
    };
    let (_, page) = get(&system, &format!("{}?limit=1", recipients(&first)), &a.key).await;
    let recipient_cursor = page["nextCursor"].as_str().expect("recipient cursor");
    let (status, body) = get(
        &system,
        &format!("{}?cursor={recipient_cursor}", recipients(&second)),
        &a.key,
    )
    .await;
    assert_refused(
        status,
        &body,
        "cursor",
        "another campaign's recipient cursor",
    );
    let (status, page) = get(
        &system,
        &format!("{}?cursor={recipient_cursor}", recipients(&first)),
        &a.key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page).len(), 1);
    system.stop().await;
}

#[tokio::test]
async fn a_cached_list_pages_like_a_table() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("paging-cached").await;
    for name in ["One", "Two", "Three"] {
        create(
            &system,
            &t.key,
            "/api/accounts/current/roles",
            json!({"name": name, "permissions": []}),
        )
        .await;
    }
    let pages = all_pages(&system, "/api/accounts/current/roles", &t.key, 2).await;
    let names: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| {
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|role| role["name"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(names, [vec!["One", "Two"], vec!["Three"]]);
    // The account's teams are another list: the roles' cursor is refused there.
    let cursor = pages[0]["nextCursor"].as_str().unwrap();
    let (status, body) = get(
        &system,
        &format!("/api/accounts/current/teams?cursor={cursor}"),
        &t.key,
    )
    .await;
    assert_refused(status, &body, "cursor", "a role cursor on teams");
    system.stop().await;
}

#[tokio::test]
async fn every_list_shows_minimal_fields_by_default_and_picks_them_with_fields() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("fields").await;
    let inbox = system.create_inbox(&t, "fields-token").await;
    let contact = system
        .create_contact(&t, "5511962000001", "Ana", json!({"city": "Recife"}))
        .await;
    let campaign = system
        .create_campaign(&t, &inbox, "Hi", std::slice::from_ref(&contact))
        .await;
    let campaign_id = campaign["campaign"]["id"].as_str().unwrap();
    create(&system, &t.key, "/api/plans", json!({"name": "Starter"})).await;
    let role = create(
        &system,
        &t.key,
        "/api/accounts/current/roles",
        json!({"name": "Support", "permissions": ["contacts.read"]}),
    )
    .await;
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/current/agents/{}", t.user_id),
            Some(&t.key),
            Some(json!({"roleId": role})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    create(
        &system,
        &t.key,
        "/api/accounts/current/teams",
        json!({"name": "Night"}),
    )
    .await;
    // The worker registers itself with its first heartbeat.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(&system, "/api/jobs/workers/status", &system.admin_key)
        .await
        .1["data"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(tokio::time::Instant::now() < deadline, "no worker is live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let lists: [(String, &str, &[&str]); 9] = [
        (
            "/api/contacts".into(),
            t.key.as_str(),
            &["id", "name", "phone"],
        ),
        ("/api/inboxes".into(), t.key.as_str(), &["id", "name"]),
        (
            format!("/api/campaigns/{campaign_id}/recipients"),
            t.key.as_str(),
            &["id", "phone", "status"],
        ),
        ("/api/plans".into(), t.key.as_str(), &["id", "name"]),
        (
            "/api/accounts/current/roles".into(),
            t.key.as_str(),
            &["id", "name"],
        ),
        (
            "/api/accounts/current/agents".into(),
            t.key.as_str(),
            &["name", "role", "userId"],
        ),
        (
            "/api/accounts/current/teams".into(),
            t.key.as_str(),
            &["id", "name"],
        ),
        (
            "/api/accounts/current/inboxes".into(),
            t.key.as_str(),
            &["id", "name"],
        ),
        (
            "/api/jobs/workers/status".into(),
            system.admin_key.as_str(),
            &["host", "id", "queue"],
        ),
    ];
    for (path, key, defaults) in &lists {
        let (status, page) = get(&system, path, key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(keys(&page["data"][0]), *defaults, "{path}: {page}");
        assert!(page.get("nextCursor").is_some(), "{path}: {page}");
        // One field of the defaults, alone.
        let (status, page) = get(&system, &format!("{path}?fields={}", defaults[1]), key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(keys(&page["data"][0]), [defaults[1]], "{path}: {page}");
        let (status, body) =
            get(&system, &format!("{path}?fields={},nope", defaults[0]), key).await;
        assert_refused(status, &body, "fields", path);
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains("`nope`") && message.contains(defaults[0]),
            "names the culprit and the allowed fields: {message}"
        );
    }
    // The dead-letter list has no rows here; its fields are checked all the same.
    let (status, body) = get(&system, "/api/jobs/dead?fields=nope", &t.key).await;
    assert_refused(status, &body, "fields", "/api/jobs/dead");

    // Contacts: exactly the fields asked for, and every documented one on request.
    let (_, page) = get(&system, "/api/contacts?fields=id,phone", &t.key).await;
    assert_eq!(
        page["data"],
        json!([{"id": contact, "phone": "5511962000001"}])
    );
    let (_, page) = get(
        &system,
        "/api/contacts?fields=id,accountId,phone,name,fields,createdAt,updatedAt",
        &t.key,
    )
    .await;
    assert_eq!(page["data"][0]["fields"], json!({"city": "Recife"}));
    assert_eq!(keys(&page["data"][0]).len(), 7, "{page}");
    system.stop().await;
}

#[tokio::test]
async fn role_requirements_are_checked_before_any_handler() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("roles-typed").await;
    let user = system.plain_user(&t, "plain@example.com").await;
    let branding = json!({"appName": "Mine"});

    // No key: 401 on every endpoint that needs one.
    for path in [
        "/api/contacts",
        "/api/plans",
        "/api/jobs/workers/status",
        "/api/me",
    ] {
        let (status, body) = system.call(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["code"], "unauthenticated");
    }

    // A tenant user on tenant-admin endpoints.
    for (method, path, body) in [
        (Method::GET, "/api/plans", None),
        (Method::PUT, "/api/branding", Some(branding.clone())),
        (Method::GET, "/api/stripe/settings", None),
    ] {
        let (status, answer) = system.call(method, path, Some(&user.key), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["code"], "forbidden");
        assert_eq!(answer["error"], "only a tenant admin may do this", "{path}");
    }

    // A tenant admin on superadmin endpoints.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/admin/tenants",
            Some(json!({"name": "X", "slug": "x-tenant"})),
        ),
        (Method::GET, "/api/jobs/workers/status", None),
        (
            Method::POST,
            "/api/admin/cache/invalidate",
            Some(json!({"tenantId": t.tenant_id})),
        ),
    ] {
        let (status, answer) = system.call(method, path, Some(&t.key), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["error"], "only a superadmin may do this", "{path}");
    }

    // The superadmin on endpoints of a tenant's own data.
    for (method, path, body) in [
        (Method::GET, "/api/contacts", None),
        (Method::GET, "/api/branding", None),
        (Method::PUT, "/api/branding", Some(branding.clone())),
        (Method::GET, "/api/plans", None),
        (Method::GET, "/api/accounts/current/roles", None),
    ] {
        let (status, answer) = system
            .call(method, path, Some(&system.admin_key), body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(
            answer["error"],
            "superadmins belong to no tenant; use a tenant user's key for this endpoint",
            "{path}"
        );
    }

    // Endpoints that serve both see each caller's reach.
    for key in [&system.admin_key, &t.key, &user.key] {
        let (status, body) = get(&system, "/api/jobs/dead", key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = get(&system, "/api/me", key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    system.stop().await;
}

#[tokio::test]
async fn no_list_shows_another_tenants_rows() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("lists-a").await;
    let b = system.tenant_with_admin("lists-b").await;
    system.create_inbox(&a, "lists-a-token").await;
    system
        .create_contact(&a, "5511963000001", "Ana", json!({}))
        .await;
    create(&system, &a.key, "/api/plans", json!({"name": "Starter"})).await;
    let role = create(
        &system,
        &a.key,
        "/api/accounts/current/roles",
        json!({"name": "Support", "permissions": []}),
    )
    .await;
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/current/agents/{}", a.user_id),
            Some(&a.key),
            Some(json!({"roleId": role})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    create(
        &system,
        &a.key,
        "/api/accounts/current/teams",
        json!({"name": "Night"}),
    )
    .await;

    for path in [
        "/api/contacts",
        "/api/inboxes",
        "/api/plans",
        "/api/accounts/current/roles",
        "/api/accounts/current/agents",
        "/api/accounts/current/teams",
        "/api/accounts/current/inboxes",
        "/api/jobs/dead",
    ] {
        let (status, mine) = get(&system, path, &a.key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {mine}");
        if path != "/api/jobs/dead" {
            assert_eq!(mine["data"].as_array().unwrap().len(), 1, "{path}: {mine}");
        }
        let (status, theirs) = get(&system, path, &b.key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {theirs}");
        assert_eq!(theirs["data"], json!([]), "{path}");
        assert_eq!(theirs["nextCursor"], Value::Null, "{path}");
    }
    system.stop().await;
}

/// The lists read with hand-written SQL (`db::tenant_page_by_id`: invitations, opt-outs,
/// imports, reports) page like the others: every item once, in id order, across pages of two,
/// and none of another tenant's.
#[tokio::test]
async fn hand_written_lists_page_by_keyset_within_the_tenant() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("keyset-a").await;
    let b = system.tenant_with_admin("keyset-b").await;
    for (tenant, n) in [(&a, 5), (&b, 1)] {
        for i in 0..n {
            system
                .invitation(tenant, &format!("user{i}@example.com"), "user")
                .await;
            let csv = format!("phone\n+5511962{i:06}\n");
            let response = system
                .http
                .post(format!("{}/api/contacts/imports", system.base_url))
                .bearer_auth(&tenant.key)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .expect("upload");
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let (status, body) = system
                .call(
                    Method::POST,
                    "/api/reports",
                    Some(&tenant.key),
                    Some(json!({"kind": "contacts", "format": "csv"})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        let opt_outs: Vec<Value> = (0..n)
            .map(|i| json!({"phone": format!("+5511963{i:06}")}))
            .collect();
        let (status, body) = system
            .call(
                Method::POST,
                "/api/consent/opt-outs",
                Some(&tenant.key),
                Some(json!({"optOuts": opt_outs})),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    for path in [
        "/api/invitations",
        "/api/consent/opt-outs",
        "/api/contacts/imports",
        "/api/reports",
    ] {
        let ids: Vec<String> = all_pages(&system, path, &a.key, 2)
            .await
            .iter()
            .flat_map(|page| page["data"].as_array().expect("data").clone())
            .map(|item| item["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(ids.len(), 5, "{path}: {ids:?}");
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "{path}: each once, in id order");
        let theirs = all_pages(&system, path, &b.key, 2).await;
        let theirs: Vec<&Value> = theirs
            .iter()
            .flat_map(|page| page["data"].as_array().expect("data"))
            .collect();
        assert_eq!(theirs.len(), 1, "{path}: {theirs:?}");
        assert!(!ids.contains(&theirs[0]["id"].as_str().unwrap().to_owned()));
    }
    system.stop().await;
}
