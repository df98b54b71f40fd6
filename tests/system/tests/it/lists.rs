//! The lists the web app reads: campaigns, contacts with a search, users, tenants. Each keeps
//! to the caller's tenant.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::TestSystem;

/// Every item of a list, following `nextCursor` with pages of `limit`.
async fn all_pages(system: &TestSystem, key: &str, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let joiner = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{joiner}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = system.call(Method::GET, &url, Some(key), None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        items.extend(body["data"].as_array().expect("a list").iter().cloned());
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn campaigns_are_listed_newest_first_and_narrowed_by_state_and_inbox() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("lists-a").await;
    let b = system.tenant_with_admin("lists-b").await;
    let inbox = system.create_inbox(&a, "a-token").await;
    let other_inbox = system.create_inbox(&a, "a-token-2").await;
    let contact = system
        .create_contact(&a, "5511955550001", "Ana", json!({}))
        .await;
    let mut created = Vec::new();
    for i in 0..5 {
        let inbox = if i == 4 { &other_inbox } else { &inbox };
        let data = system
            .create_campaign(&a, inbox, "Hi", std::slice::from_ref(&contact))
            .await;
        created.push(data["campaign"]["id"].as_str().unwrap().to_owned());
    }
    // Pages of two: all five, newest first, none twice.
    let listed = all_pages(&system, &a.key, "/api/campaigns", 2).await;
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids(&listed), newest_first);
    // The default fields.
    let first = listed[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["createdAt", "id", "name", "status", "total"]);

    // Narrowed to one inbox, and to a state.
    let of_other = all_pages(
        &system,
        &a.key,
        &format!("/api/campaigns?inboxId={other_inbox}&fields=id,inboxId"),
        10,
    )
    .await;
    assert_eq!(ids(&of_other), [created[4].clone()]);
    assert_eq!(of_other[0]["inboxId"], other_inbox.as_str());
    let (status, cancelled) = system
        .call(
            Method::POST,
            &format!("/api/campaigns/{}/cancel", created[0]),
            Some(&a.key),
            None,
        )
        .await;
    // It may have finished already (no worker delay); either way its state filters.
    let state = if status == StatusCode::OK {
        cancelled["data"]["status"].as_str().unwrap().to_owned()
    } else {
        assert_eq!(status, StatusCode::CONFLICT, "{cancelled}");
        let (_, body) = system
            .call(
                Method::GET,
                &format!("/api/campaigns/{}", created[0]),
                Some(&a.key),
                None,
            )
            .await;
        body["data"]["status"].as_str().unwrap().to_owned()
    };
    let in_state = all_pages(
        &system,
        &a.key,
        &format!("/api/campaigns?status={state}&fields=id,status"),
        10,
    )
    .await;
    assert!(ids(&in_state).contains(&created[0]));
    assert!(in_state.iter().all(|c| c["status"] == state.as_str()));

    // Another tenant sees none of them, and a cursor of A's list is refused to B.
    assert!(
        all_pages(&system, &b.key, "/api/campaigns", 10)
            .await
            .is_empty()
    );
    let (_, page) = system
        .call(Method::GET, "/api/campaigns?limit=1", Some(&a.key), None)
        .await;
    let cursor = page["nextCursor"].as_str().unwrap();
    let (status, refused) = system
        .call(
            Method::GET,
            &format!("/api/campaigns?cursor={cursor}"),
            Some(&b.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["field"], "cursor");

    // Bad filters: 400 naming the parameter.
    for query in ["status=sleeping", "inboxId=nope", "colour=red"] {
        let (status, body) = system
            .call(
                Method::GET,
                &format!("/api/campaigns?{query}"),
                Some(&a.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], "invalid_parameter", "{query}");
    }
    system.stop().await;
}

#[tokio::test]
async fn contacts_are_searched_by_name_or_phone_within_the_tenant() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("search-a").await;
    let b = system.tenant_with_admin("search-b").await;
    let ana = system
        .create_contact(&a, "+55 11 91234-0001", "Ana Souza", json!({}))
        .await;
    let bia = system
        .create_contact(&a, "+55 21 98888-0002", "Bia 100% Lima", json!({}))
        .await;
    let caio = system
        .create_contact(&a, "+55 31 97777-0003", "Caio_Reis", json!({}))
        .await;
    // B's contact matches every search below, and is never listed to A.
    system
        .create_contact(&b, "+55 11 91234-0009", "Ana 100% Caio_ B", json!({}))
        .await;

    let search = |q: &str| {
        let path = format!(
            "/api/contacts?q={}&fields=id,name",
            q.bytes()
                .map(|b| if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        let system = &system;
        let key = a.key.clone();
        async move { ids(&all_pages(system, &key, &path, 50).await) }
    };
    // Name, ignoring case; phone digits wherever they stand, with or without punctuation.
    assert_eq!(search("ana").await, [ana.as_str()]);
    assert_eq!(search("SOUZA").await, [ana.as_str()]);
    assert_eq!(search("91234").await, [ana.as_str()]);
    assert_eq!(search("(21) 98888").await, [bia.as_str()]);
    // LIKE's wildcards are plain characters.
    assert_eq!(search("100%").await, [bia.as_str()]);
    assert_eq!(search("o_").await, [caio.as_str()]);
    assert_eq!(search("%").await, [bia.as_str()]);
    assert!(search("nobody").await.is_empty());
    // Blank: everyone.
    assert_eq!(search("  ").await, [ana.clone(), bia.clone(), caio.clone()]);

    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/contacts?q={}", "x".repeat(101)),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "q");
    system.stop().await;
}

#[tokio::test]
async fn admins_list_their_users_and_the_superadmin_lists_tenants() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("people-a").await;
    let b = system.tenant_with_admin("people-b").await;
    let user_key = system.plain_user(&a, "user@people-a.example").await.key;

    // A's admin sees A's two users, never B's.
    let users = all_pages(
        &system,
        &a.key,
        "/api/users?fields=id,email,role,tenantId",
        1,
    )
    .await;
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["admin@people-a.example", "user@people-a.example"]);
    assert!(users.iter().all(|u| u["tenantId"] == a.tenant_id.as_str()));
    // Naming another tenant changes nothing for a tenant admin.
    let users = all_pages(
        &system,
        &a.key,
        &format!("/api/users?tenantId={}", b.tenant_id),
        10,
    )
    .await;
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .all(|u| u["email"].as_str().unwrap().ends_with("people-a.example"))
    );
    // A plain user may not list users, nor tenants.
    for path in ["/api/users", "/api/admin/tenants"] {
        let (status, body) = system.call(Method::GET, path, Some(&user_key), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = system
        .call(Method::GET, "/api/admin/tenants", Some(&a.key), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The superadmin: every tenant; one tenant's users by `tenantId`.
    let tenants = all_pages(&system, &system.admin_key, "/api/admin/tenants", 1).await;
    let slugs: Vec<&str> = tenants
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["people-a", "people-b"]);
    assert_eq!(tenants[0]["plan"], "pro");
    let of_b = all_pages(
        &system,
        &system.admin_key,
        &format!("/api/users?tenantId={}&fields=email", b.tenant_id),
        10,
    )
    .await;
    assert_eq!(of_b, [json!({"email": "admin@people-b.example"})]);
    system.stop().await;
}
