//! An account's roles, agents, teams and inbox list (`/api/accounts/{accountId}/...`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

/// A tenant, its admin, and a plain user of the tenant's default account.
struct Account {
    admin: TenantHandle,
    account_id: String,
    user_id: String,
    user_key: String,
}

async fn account_with_user(system: &TestSystem, slug: &str) -> Account {
    let admin = system.tenant_with_admin(slug).await;
    let (status, user) = system
        .call(
            Method::POST,
            "/api/users",
            Some(&admin.key),
            Some(json!({"email": format!("agent@{slug}.example"), "name": "Ana", "role": "user"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["data"]["id"].as_str().unwrap().to_owned();
    let account_id = user["data"]["accountId"].as_str().unwrap().to_owned();
    let (status, key) = system
        .call(
            Method::POST,
            &format!("/api/users/{user_id}/api-keys"),
            Some(&admin.key),
            Some(json!({"name": "tests"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    Account {
        admin,
        account_id,
        user_id,
        user_key: key["data"]["key"].as_str().unwrap().to_owned(),
    }
}

/// A second account of `tenant_id` with one user, written straight to the database (the API
/// creates no accounts). Returns the account id and the user id.
async fn second_account_with_user(system: &TestSystem, tenant_id: &str) -> (String, String) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let tenant_id: uuid::Uuid = tenant_id.parse().unwrap();
    let account_id = uuid::Uuid::now_v7();
    let user_id = uuid::Uuid::now_v7();
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO accounts (id, tenant_id, name) VALUES ($1, $2, 'Second')",
            [account_id.into(), tenant_id.into()],
        ))
        .await
        .unwrap();
    connection
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO users (id, tenant_id, account_id, email, role)
             VALUES ($1, $2, $3, 'elsewhere@example.com', 'user')",
            [user_id.into(), tenant_id.into(), account_id.into()],
        ))
        .await
        .unwrap();
    connection.close().await.unwrap();
    (account_id.to_string(), user_id.to_string())
}

/// A request to the gateway at `base` (another replica of the system).
async fn call_at(
    system: &TestSystem,
    base: &str,
    method: Method,
    path: &str,
    key: &str,
) -> (StatusCode, Value) {
    let response = system
        .http
        .request(method, format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_role(system: &TestSystem, a: &Account, name: &str, permissions: Value) -> String {
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/accounts/{}/roles", a.account_id),
            Some(&a.admin.key),
            Some(json!({"name": name, "permissions": permissions})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

async fn assign(system: &TestSystem, a: &Account, user_id: &str, role_id: &str) -> Value {
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/{}/agents/{user_id}", a.account_id),
            Some(&a.admin.key),
            Some(json!({"roleId": role_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn create_team(system: &TestSystem, a: &Account, name: &str) -> String {
    let (status, body) = system
        .call(
            Method::POST,
            &format!("/api/accounts/{}/teams", a.account_id),
            Some(&a.admin.key),
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

/// Reads `path` on both gateways and returns both `data`s.
async fn read_both(system: &TestSystem, second: &str, path: &str, key: &str) -> [Value; 2] {
    let (status, first) = system.call(Method::GET, path, Some(key), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {first}");
    let (status, other) = call_at(system, second, Method::GET, path, key).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path} on the second gateway: {other}"
    );
    [first["data"].clone(), other["data"].clone()]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn roles_are_validated_and_unique_per_account() {
    let system = TestSystem::spawn().await;
    let a = account_with_user(&system, "roles").await;
    let roles = format!("/api/accounts/{}/roles", a.account_id);

    let (status, body) = system
        .call(
            Method::POST,
            &roles,
            Some(&a.admin.key),
            Some(json!({"name": " Support ", "permissions": ["inboxes.read", "campaigns.read", "inboxes.read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["name"], "Support");
    assert_eq!(
        body["data"]["permissions"],
        json!(["campaigns.read", "inboxes.read"]),
        "sorted, without duplicates"
    );
    assert_eq!(body["data"]["accountId"], a.account_id.as_str());
    let role_id = body["data"]["id"].as_str().unwrap().to_owned();

    for (payload, field, says) in [
        (
            json!({"name": "X", "permissions": ["campaigns.read", "campaigns.delete"]}),
            "permissions",
            "campaigns.delete",
        ),
        (json!({"name": "X", "permissions": [7]}), "permissions", ""),
        (json!({"name": "X"}), "permissions", "required"),
        (json!({"name": "  ", "permissions": []}), "name", "empty"),
        (
            json!({"name": "n".repeat(61), "permissions": []}),
            "name",
            "60",
        ),
        (
            json!({"name": "X", "permissions": [], "admin": true}),
            "admin",
            "",
        ),
    ] {
        let (status, body) = system
            .call(
                Method::POST,
                &roles,
                Some(&a.admin.key),
                Some(payload.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payload}: {body}"
        );
        assert_eq!(body["code"], "validation_failed", "{payload}: {body}");
        assert_eq!(body["field"], field, "{payload}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
    // 60 characters is the limit, not past it.
    create_role(&system, &a, &"n".repeat(60), json!([])).await;

    // Names are unique per account, whatever their case.
    let (status, body) = system
        .call(
            Method::POST,
            &roles,
            Some(&a.admin.key),
            Some(json!({"name": "support", "permissions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");

    // Update replaces name and permissions; renaming onto another role's name conflicts.
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("{roles}/{role_id}"),
            Some(&a.admin.key),
            Some(json!({"name": "Helpdesk", "permissions": ["team.manage"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["permissions"], json!(["team.manage"]));
    let (status, _) = system
        .call(
            Method::PUT,
            &format!("{roles}/{role_id}"),
            Some(&a.admin.key),
            Some(json!({"name": "n".repeat(60), "permissions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let missing = uuid::Uuid::now_v7();
    for method in [Method::PUT, Method::DELETE] {
        let (status, body) = system
            .call(
                method.clone(),
                &format!("{roles}/{missing}"),
                Some(&a.admin.key),
                (method == Method::PUT).then(|| json!({"name": "Y", "permissions": []})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {body}");
    }
    let (status, body) = system
        .call(
            Method::GET,
            "/api/accounts/nonsense/roles",
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_parameter");

    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("{roles}/{role_id}"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = system
        .call(
            Method::GET,
            "/api/accounts/current/roles",
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(names(&list["data"]), ["n".repeat(60)]);
    system.stop().await;
}

#[tokio::test]
async fn agents_hold_roles_and_teams_hold_agents() {
    let system = TestSystem::spawn().await;
    let a = account_with_user(&system, "agents").await;
    let base = format!("/api/accounts/{}", a.account_id);
    let support = create_role(&system, &a, "Support", json!(["contacts.read"])).await;

    let agent = assign(&system, &a, &a.user_id, &support).await;
    assert_eq!(agent["userId"], a.user_id.as_str());
    assert_eq!(agent["name"], "Ana");
    assert_eq!(
        agent["role"],
        json!({"id": support, "name": "Support", "permissions": ["contacts.read"]})
    );
    let (_, agents) = system
        .call(
            Method::GET,
            &format!("{base}/agents"),
            Some(&a.user_key),
            None,
        )
        .await;
    assert_eq!(agents["data"].as_array().unwrap().len(), 1);
    assert_eq!(agents["data"][0]["role"]["name"], "Support");

    // Unknown role, unknown user, a user of another account, a bad body.
    let (_, elsewhere) = second_account_with_user(&system, &a.admin.tenant_id).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    for (user, body, status, field) in [
        (&a.user_id, json!({"roleId": nobody}), 422, Some("roleId")),
        (&nobody, json!({"roleId": support}), 404, None),
        (&elsewhere, json!({"roleId": support}), 422, Some("userId")),
        (&a.user_id, json!({"roleId": "x"}), 422, Some("roleId")),
        (&a.user_id, json!({}), 422, Some("roleId")),
    ] {
        let (got, answer) = system
            .call(
                Method::PUT,
                &format!("{base}/agents/{user}"),
                Some(&a.admin.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{body}: {answer}");
        }
    }

    // Teams: the admin is no agent yet, so it cannot be a member.
    let team = create_team(&system, &a, "Night shift").await;
    let members = format!("{base}/teams/{team}/members");
    let (status, body) = system
        .call(
            Method::PUT,
            &members,
            Some(&a.admin.key),
            Some(json!({"userIds": [a.user_id, a.admin.user_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "userIds");
    assert!(body["error"].as_str().unwrap().contains(&a.admin.user_id));
    assign(&system, &a, &a.admin.user_id, &support).await;
    let (status, body) = system
        .call(
            Method::PUT,
            &members,
            Some(&a.admin.key),
            Some(json!({"userIds": [a.user_id, a.admin.user_id, a.user_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["members"].as_array().unwrap().len(), 2);
    // Replacing, not adding.
    let (_, body) = system
        .call(
            Method::PUT,
            &members,
            Some(&a.admin.key),
            Some(json!({"userIds": [a.admin.user_id]})),
        )
        .await;
    assert_eq!(
        body["data"]["members"],
        json!([{"userId": a.admin.user_id, "email": "admin@agents.example", "name": ""}])
    );
    let (status, _) = system
        .call(
            Method::PUT,
            &format!("{base}/teams/{}/members", uuid::Uuid::now_v7()),
            Some(&a.admin.key),
            Some(json!({"userIds": []})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Team names: validated, unique per account, renamable.
    let (status, body) = system
        .call(
            Method::POST,
            &format!("{base}/teams"),
            Some(&a.admin.key),
            Some(json!({"name": "night SHIFT"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("{base}/teams/{team}"),
            Some(&a.admin.key),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "name");
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("{base}/teams/{team}"),
            Some(&a.admin.key),
            Some(json!({"name": "Day shift"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["members"].as_array().unwrap().len(), 1);

    // A role agents hold cannot be deleted; once nobody holds it, it can.
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("{base}/roles/{support}"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");
    let other = create_role(&system, &a, "Other", json!([])).await;
    assign(&system, &a, &a.user_id, &other).await;
    // Removing an agent takes it out of its teams too.
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("{base}/agents/{}", a.admin.user_id),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("{base}/agents/{}", a.admin.user_id),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer an agent");
    let (_, teams) = system
        .call(
            Method::GET,
            &format!("{base}/teams?fields=name,members"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(teams["data"][0]["members"], json!([]));
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("{base}/roles/{support}"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("{base}/teams/{team}"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, teams) = system
        .call(
            Method::GET,
            &format!("{base}/teams"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(teams["data"], json!([]));
    system.stop().await;
}

#[tokio::test]
async fn users_of_the_account_read_and_only_tenant_admins_write() {
    let system = TestSystem::spawn().await;
    let a = account_with_user(&system, "readers").await;
    let role = create_role(&system, &a, "Support", json!([])).await;
    let team = create_team(&system, &a, "Team").await;
    for account in ["current", a.account_id.as_str()] {
        for list in ["agents", "teams", "roles", "inboxes"] {
            let path = format!("/api/accounts/{account}/{list}");
            let (status, body) = system
                .call(Method::GET, &path, Some(&a.user_key), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            assert!(body["data"].is_array(), "{path}: {body}");
        }
    }
    let base = format!("/api/accounts/{}", a.account_id);
    for (method, path, body) in [
        (
            Method::POST,
            format!("{base}/roles"),
            json!({"name": "R", "permissions": []}),
        ),
        (
            Method::PUT,
            format!("{base}/roles/{role}"),
            json!({"name": "R", "permissions": []}),
        ),
        (Method::DELETE, format!("{base}/roles/{role}"), Value::Null),
        (
            Method::PUT,
            format!("{base}/agents/{}", a.user_id),
            json!({"roleId": role}),
        ),
        (
            Method::DELETE,
            format!("{base}/agents/{}", a.user_id),
            Value::Null,
        ),
        (Method::POST, format!("{base}/teams"), json!({"name": "T"})),
        (
            Method::PUT,
            format!("{base}/teams/{team}"),
            json!({"name": "T"}),
        ),
        (Method::DELETE, format!("{base}/teams/{team}"), Value::Null),
        (
            Method::PUT,
            format!("{base}/teams/{team}/members"),
            json!({"userIds": []}),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = system
            .call(method.clone(), &path, Some(&a.user_key), body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "forbidden");
    }

    // Another account of the same tenant: its tenant admin reads it, a user of this one not.
    let (second, _) = second_account_with_user(&system, &a.admin.tenant_id).await;
    let path = format!("/api/accounts/{second}/roles");
    let (status, _) = system
        .call(Method::GET, &path, Some(&a.admin.key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = system
        .call(Method::GET, &path, Some(&a.user_key), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Superadmins belong to no tenant and use tenant keys for tenant data.
    let (status, _) = system
        .call(
            Method::GET,
            &format!("{base}/roles"),
            Some(&system.admin_key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    system.stop().await;
}

#[tokio::test]
async fn another_tenant_gets_404_for_every_endpoint_of_an_account() {
    let system = TestSystem::spawn().await;
    let a = account_with_user(&system, "tenant-a").await;
    let b = account_with_user(&system, "tenant-b").await;
    let role = create_role(&system, &a, "Support", json!(["campaigns.read"])).await;
    assign(&system, &a, &a.user_id, &role).await;
    let team = create_team(&system, &a, "Team").await;
    let base = format!("/api/accounts/{}", a.account_id);
    let requests = [
        (Method::GET, format!("{base}/agents"), Value::Null),
        (Method::GET, format!("{base}/teams"), Value::Null),
        (Method::GET, format!("{base}/roles"), Value::Null),
        (Method::GET, format!("{base}/inboxes"), Value::Null),
        (
            Method::POST,
            format!("{base}/roles"),
            json!({"name": "R", "permissions": []}),
        ),
        (
            Method::PUT,
            format!("{base}/roles/{role}"),
            json!({"name": "R", "permissions": []}),
        ),
        (Method::DELETE, format!("{base}/roles/{role}"), Value::Null),
        (
            Method::PUT,
            format!("{base}/agents/{}", a.user_id),
            json!({"roleId": role}),
        ),
        (
            Method::DELETE,
            format!("{base}/agents/{}", a.user_id),
            Value::Null,
        ),
        (Method::POST, format!("{base}/teams"), json!({"name": "T"})),
        (
            Method::PUT,
            format!("{base}/teams/{team}"),
            json!({"name": "T"}),
        ),
        (Method::DELETE, format!("{base}/teams/{team}"), Value::Null),
        (
            Method::PUT,
            format!("{base}/teams/{team}/members"),
            json!({"userIds": [a.user_id]}),
        ),
    ];
    for key in [&b.admin.key, &b.user_key] {
        for (method, path, body) in &requests {
            let body = (!body.is_null()).then(|| body.clone());
            let (status, answer) = system.call(method.clone(), path, Some(key), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
            assert_eq!(answer["code"], "not_found");
        }
    }
    // B cannot make A's user an agent of B's own account, nor use A's role there.
    let b_role = create_role(&system, &b, "B role", json!([])).await;
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/current/agents/{}", a.user_id),
            Some(&b.admin.key),
            Some(json!({"roleId": b_role})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/accounts/current/agents/{}", b.user_id),
            Some(&b.admin.key),
            Some(json!({"roleId": role})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "roleId");

    // A's data is untouched.
    let (_, agents) = system
        .call(
            Method::GET,
            &format!("{base}/agents"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(agents["data"][0]["role"]["name"], "Support");
    let (_, roles) = system
        .call(
            Method::GET,
            &format!("{base}/roles"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(names(&roles["data"]), ["Support"]);
    let (_, teams) = system
        .call(
            Method::GET,
            &format!("{base}/teams"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(names(&teams["data"]), ["Team"]);
    system.stop().await;
}

#[tokio::test]
async fn role_writes_reach_the_cached_roles_and_agents_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let a = account_with_user(&system, "cache-roles").await;
    let roles = format!("/api/accounts/{}/roles", a.account_id);
    let agents = format!("/api/accounts/{}/agents", a.account_id);
    let support = create_role(&system, &a, "Support", json!(["contacts.read"])).await;
    assign(&system, &a, &a.user_id, &support).await;

    // Fill both caches, write, read again on both gateways.
    let [first, other] = read_both(&system, &second, &roles, &a.user_key).await;
    assert_eq!(
        (names(&first), names(&other)),
        (vec!["Support"], vec!["Support"])
    );
    read_both(&system, &second, &agents, &a.user_key).await;
    create_role(&system, &a, "Sales", json!([])).await;
    for list in read_both(&system, &second, &roles, &a.user_key).await {
        assert_eq!(names(&list), ["Support", "Sales"]);
    }

    // Changing a role changes what its agents show.
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("{roles}/{support}"),
            Some(&a.admin.key),
            Some(json!({"name": "Helpdesk", "permissions": ["contacts.write"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for list in read_both(&system, &second, &roles, &a.user_key).await {
        assert_eq!(names(&list), ["Helpdesk", "Sales"]);
    }
    for list in read_both(&system, &second, &agents, &a.user_key).await {
        assert_eq!(
            list[0]["role"],
            json!({"id": support, "name": "Helpdesk", "permissions": ["contacts.write"]})
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn agent_assignments_reach_the_cached_agents_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let a = account_with_user(&system, "cache-agents").await;
    let agents = format!("/api/accounts/{}/agents", a.account_id);
    let support = create_role(&system, &a, "Support", json!([])).await;
    let sales = create_role(&system, &a, "Sales", json!([])).await;

    for list in read_both(&system, &second, &agents, &a.user_key).await {
        assert_eq!(list, json!([]));
    }
    assign(&system, &a, &a.user_id, &support).await;
    for list in read_both(&system, &second, &agents, &a.user_key).await {
        assert_eq!(list[0]["role"]["name"], "Support");
    }
    assign(&system, &a, &a.user_id, &sales).await;
    for list in read_both(&system, &second, &agents, &a.user_key).await {
        assert_eq!(list[0]["role"]["name"], "Sales");
    }
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("{agents}/{}", a.user_id),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for list in read_both(&system, &second, &agents, &a.user_key).await {
        assert_eq!(list, json!([]));
    }
    system.stop().await;
}

#[tokio::test]
async fn team_writes_reach_the_cached_teams_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let a = account_with_user(&system, "cache-teams").await;
    let teams = format!("/api/accounts/{}/teams", a.account_id);
    // Members are not among a team's default fields.
    let teams_with_members = format!("{teams}?fields=name,members");
    let role = create_role(&system, &a, "Support", json!([])).await;
    assign(&system, &a, &a.user_id, &role).await;

    for list in read_both(&system, &second, &teams, &a.user_key).await {
        assert_eq!(list, json!([]));
    }
    let team = create_team(&system, &a, "Night shift").await;
    for list in read_both(&system, &second, &teams, &a.user_key).await {
        assert_eq!(names(&list), ["Night shift"]);
    }
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("{teams}/{team}/members"),
            Some(&a.admin.key),
            Some(json!({"userIds": [a.user_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for list in read_both(&system, &second, &teams_with_members, &a.user_key).await {
        assert_eq!(list[0]["members"][0]["userId"], a.user_id.as_str());
    }
    let (status, _) = system
        .call(
            Method::PUT,
            &format!("{teams}/{team}"),
            Some(&a.admin.key),
            Some(json!({"name": "Day shift"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for list in read_both(&system, &second, &teams, &a.user_key).await {
        assert_eq!(names(&list), ["Day shift"]);
    }
    // Removing the agent removes its memberships, which the team list shows.
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("/api/accounts/{}/agents/{}", a.account_id, a.user_id),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for list in read_both(&system, &second, &teams_with_members, &a.user_key).await {
        assert_eq!(list[0]["members"], json!([]));
    }
    let (status, _) = system
        .call(
            Method::DELETE,
            &format!("{teams}/{team}"),
            Some(&a.admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for list in read_both(&system, &second, &teams, &a.user_key).await {
        assert_eq!(list, json!([]));
    }
    system.stop().await;
}

#[tokio::test]
async fn a_new_inbox_reaches_the_cached_inbox_list_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let a = account_with_user(&system, "cache-inboxes").await;
    let inboxes = format!("/api/accounts/{}/inboxes?fields=id,accountId", a.account_id);

    for list in read_both(&system, &second, &inboxes, &a.user_key).await {
        assert_eq!(list, json!([]));
    }
    let inbox_id = system.create_inbox(&a.admin, "secret-token-123").await;
    for list in read_both(&system, &second, &inboxes, &a.user_key).await {
        assert_eq!(list[0]["id"], inbox_id.as_str());
        assert_eq!(list[0]["accountId"], a.account_id.as_str());
        assert!(!list.to_string().contains("secret-token-123"), "{list}");
    }
    system.stop().await;
}
