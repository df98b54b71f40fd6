use reqwest::{Method, StatusCode};
use serde_json::json;
use system_tests::TestSystem;

#[tokio::test]
async fn one_tenant_never_sees_another_tenants_data() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("tenant-a").await;
    let b = system.tenant_with_admin("tenant-b").await;

    let inbox_id = system.create_inbox(&a, "a-token").await;
    let contact_id = system
        .create_contact(&a, "5511966660001", "A1", json!({}))
        .await;
    let created = system
        .create_campaign(&a, &inbox_id, "Hi", std::slice::from_ref(&contact_id))
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();

    // B asks for A's objects by id: 404, never the object.
    for path in [
        format!("/api/campaigns/{campaign_id}"),
        format!("/api/jobs/campaign/{campaign_id}/status"),
        format!("/api/campaigns/{campaign_id}/recipients"),
    ] {
        let (status, body) = system.call(Method::GET, &path, Some(&b.key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["code"], "not_found");
        assert!(!body.to_string().contains(&campaign_id));
    }
    // A sees its own.
    let (status, _) = system
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // B cannot use A's inbox or contacts in a campaign of its own.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&b.key),
            Some(json!({"name": "steal", "inboxId": inbox_id, "template": "Hi", "contactIds": [contact_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "inboxId");

    // Lists are scoped too.
    let (_, contacts) = system
        .call(Method::GET, "/api/contacts", Some(&b.key), None)
        .await;
    assert_eq!(contacts["data"], json!([]));
    let (_, inboxes) = system
        .call(Method::GET, "/api/inboxes", Some(&b.key), None)
        .await;
    assert_eq!(inboxes["data"], json!([]));

    // A tenant admin cannot mint keys for another tenant's users.
    let (status, _) = system
        .call(
            Method::POST,
            &format!("/api/users/{}/api-keys", a.user_id),
            Some(&b.key),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    system.stop().await;
}

#[tokio::test]
async fn contacts_page_with_a_cursor_and_select_fields() {
    let system = TestSystem::spawn().await;
    let t = system.tenant_with_admin("pager").await;
    for i in 0..5 {
        let (status, body) = system
            .call(
                Method::POST,
                "/api/contacts",
                Some(&t.key),
                Some(json!({"phone": format!("55119555500{i:02}"), "name": format!("C{i}")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, first) = system
        .call(Method::GET, "/api/contacts?limit=2", Some(&t.key), None)
        .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["data"][0]["name"], "C0");
    assert_eq!(
        first["data"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["id", "name", "phone"],
        "minimal fields by default"
    );
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = system
        .call(
            Method::GET,
            &format!("/api/contacts?limit=2&cursor={cursor}&fields=name"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(second["data"], json!([{"name": "C2"}, {"name": "C3"}]));
    let cursor = second["nextCursor"].as_str().unwrap();
    let (_, last) = system
        .call(
            Method::GET,
            &format!("/api/contacts?limit=2&cursor={cursor}"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["nextCursor"], json!(null));
    system.stop().await;
}

#[tokio::test]
async fn a_tenant_admin_cannot_create_users_in_another_tenant() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("tenant-a").await;
    let b = system.tenant_with_admin("tenant-b").await;

    let (status, body) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&a.key),
            Some(json!({"email": "mole@tenant-b.example", "role": "tenant_admin", "tenantId": b.tenant_id})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    // Naming a tenant that does not exist is the same refusal (no probing for tenant ids).
    let (status, body) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&a.key),
            Some(json!({"email": "mole@nowhere.example", "role": "user", "tenantId": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let connection = db::connect(&system.db.url, 1).await.unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let moles = db::entity::user::Entity::find()
        .filter(db::entity::user::Column::Email.starts_with("mole@"))
        .count(&connection)
        .await
        .unwrap();
    assert_eq!(moles, 0, "nothing was written");
    connection.close().await.unwrap();

    // Naming its own tenant is fine, and the user lands there.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&a.key),
            Some(json!({"email": "new@tenant-a.example", "role": "user", "tenantId": a.tenant_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["tenantId"], a.tenant_id.as_str());
    system.stop().await;
}
