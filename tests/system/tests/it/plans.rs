//! Subscription plans, subscriptions and overrides, and their enforcement on creation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

/// `POST /api/plans` as `admin`; returns the plan's id.
async fn create_plan(system: &TestSystem, admin: &TenantHandle, plan: Value) -> String {
    let (status, body) = system
        .call(Method::POST, "/api/plans", Some(&admin.key), Some(plan))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().expect("plan id").to_owned()
}

async fn subscribe(
    system: &TestSystem,
    admin: &TenantHandle,
    user: &TenantHandle,
    plan_id: &str,
    status: &str,
) {
    let (code, body) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", user.user_id),
            Some(&admin.key),
            Some(json!({"planId": plan_id, "status": status})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// `GET {base}{path}` with `key`; asserts 200 and returns `data`.
async fn read_at(system: &TestSystem, base: &str, path: &str, key: &str) -> Value {
    let response = system
        .http
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body: Value = response.json().await.expect("json");
    body["data"].clone()
}

/// Expects a refusal with `status` and `code` whose message contains `needle`.
fn assert_refused(got: (StatusCode, Value), status: StatusCode, code: &str, needle: &str) {
    let (got_status, body) = got;
    assert_eq!(got_status, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "`{message}` names `{needle}`");
}

async fn post_contact(
    system: &TestSystem,
    user: &TenantHandle,
    phone: &str,
) -> (StatusCode, Value) {
    system
        .call(
            Method::POST,
            "/api/contacts",
            Some(&user.key),
            Some(json!({"phone": phone})),
        )
        .await
}

async fn post_campaign(
    system: &TestSystem,
    user: &TenantHandle,
    inbox_id: &str,
    contact_ids: &[String],
) -> (StatusCode, Value) {
    system
        .call(
            Method::POST,
            "/api/campaigns",
            Some(&user.key),
            Some(json!({
                "name": "Launch",
                "inboxId": inbox_id,
                "template": "Hi",
                "contactIds": contact_ids,
                "delayMinMs": 0,
                "delayMaxMs": 5,
            })),
        )
        .await
}

#[tokio::test]
async fn plans_are_created_listed_replaced_and_deleted_with_validation() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("plans-crud").await;
    let user = system.plain_user(&admin, "plain@example.com").await;

    let (status, body) = system
        .call(
            Method::POST,
            "/api/plans",
            Some(&admin.key),
            Some(json!({"name": " Starter ", "quotas": {"max_inboxes": 3, "max_contacts": null}, "features": ["reports", "reports"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = &body["data"];
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    assert_eq!(plan["name"], "Starter");
    assert_eq!(
        plan["quotas"],
        json!({"max_inboxes": 3, "max_contacts": null, "max_campaigns": null, "messages_per_day": null})
    );
    assert_eq!(plan["features"], json!(["reports"]));
    assert_eq!(plan["subscribers"], 0);

    // Bad input: the field to blame and a message naming the culprit.
    let cases = [
        (
            json!({"name": "A", "quotas": {"max_inboxes": -1}}),
            "quotas.max_inboxes",
            "at least 0",
        ),
        (
            json!({"name": "A", "quotas": {"max_inboxes": 1.5}}),
            "quotas.max_inboxes",
            "whole number",
        ),
        (
            json!({"name": "A", "quotas": {"max_widgets": 1, "max_gadgets": 2}}),
            "quotas",
            "`max_gadgets`",
        ),
        (
            json!({"name": "A", "features": ["teleport", "reports"]}),
            "features",
            "`teleport`",
        ),
        (json!({"name": "  "}), "name", "must not be empty"),
        (json!({"name": "x".repeat(101)}), "name", "at most 100"),
        (json!({"quotas": {}}), "name", "required"),
        (json!({"name": "A", "quotas": [1]}), "quotas", "quotas"),
    ];
    for (body, field, needle) in cases {
        let (status, answer) = system
            .call(
                Method::POST,
                "/api/plans",
                Some(&admin.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["code"], "validation_failed", "{answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{answer}"
        );
    }
    // Names are unique per tenant, whatever their case.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/plans",
            Some(&admin.key),
            Some(json!({"name": "STARTER"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");

    // Users read their own subscription, never manage plans.
    for (method, path) in [
        (Method::GET, "/api/plans".to_owned()),
        (Method::GET, format!("/api/plans/{plan_id}")),
        (Method::DELETE, format!("/api/plans/{plan_id}")),
    ] {
        let (status, _) = system.call(method, &path, Some(&user.key), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    let pro_id = create_plan(&system, &admin, json!({"name": "Pro"})).await;
    let (_, list) = system
        .call(Method::GET, "/api/plans", Some(&admin.key), None)
        .await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Starter", "Pro"]);

    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/plans/{plan_id}"),
            Some(&admin.key),
            Some(json!({"name": "Starter 2", "quotas": {"max_campaigns": 0}, "features": ["bulk_campaigns"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["quotas"]["max_inboxes"], json!(null));
    assert_eq!(body["data"]["quotas"]["max_campaigns"], 0);
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/plans/{plan_id}"),
            Some(&admin.key),
            Some(json!({"name": "pro"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Subscriptions: bad status, bad or unknown plan, unknown user.
    let path = format!("/api/users/{}/subscription", user.user_id);
    let cases = [
        (json!({"planId": plan_id, "status": "paused"}), "status"),
        (
            json!({"planId": "not-a-uuid", "status": "active"}),
            "planId",
        ),
        (
            json!({"planId": uuid::Uuid::now_v7(), "status": "active"}),
            "planId",
        ),
        (json!({"status": "active"}), "planId"),
    ];
    for (body, field) in cases {
        let (status, answer) = system
            .call(Method::PUT, &path, Some(&admin.key), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    let (status, _) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", uuid::Uuid::now_v7()),
            Some(&admin.key),
            Some(json!({"planId": plan_id, "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = system
        .call(
            Method::PUT,
            &path,
            Some(&user.key),
            Some(json!({"planId": plan_id, "status": "active"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "users do not subscribe themselves"
    );

    // Overrides: unknown names, negative limits, non-boolean features.
    let overrides_path = format!("/api/users/{}/overrides", user.user_id);
    let cases = [
        (
            json!({"quotas": {"max_widgets": 1}}),
            "quotas",
            "`max_widgets`",
        ),
        (
            json!({"quotas": {"max_contacts": -5}}),
            "quotas.max_contacts",
            "at least 0",
        ),
        (
            json!({"features": {"teleport": true}}),
            "features",
            "`teleport`",
        ),
        (
            json!({"features": {"webhooks": "yes"}}),
            "features.webhooks",
            "true or false",
        ),
    ];
    for (body, field, needle) in cases {
        let (status, answer) = system
            .call(
                Method::PUT,
                &overrides_path,
                Some(&admin.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{answer}"
        );
    }

    // A plan with subscribers stays; one without goes.
    subscribe(&system, &admin, &user, &plan_id, "trialing").await;
    let (_, body) = system
        .call(
            Method::GET,
            &format!("/api/plans/{plan_id}"),
            Some(&admin.key),
            None,
        )
        .await;
    assert_eq!(body["data"]["subscribers"], 1);
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("/api/plans/{plan_id}"),
            Some(&admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("/api/plans/{pro_id}"),
            Some(&admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = system
        .call(
            Method::GET,
            &format!("/api/plans/{pro_id}"),
            Some(&admin.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    system.stop().await;
}

#[tokio::test]
async fn a_user_reads_its_own_subscription_quotas_with_usage_and_features() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("plans-me").await;
    let user = system.plain_user(&admin, "reader@example.com").await;
    let base = system.base_url.clone();

    // No subscription: the tenant has not adopted plans, so nothing is limited.
    assert_eq!(
        read_at(&system, &base, "/api/me/subscription", &user.key).await,
        json!(null)
    );
    let quotas = read_at(&system, &base, "/api/me/quotas", &user.key).await;
    assert_eq!(quotas["max_inboxes"], json!({"limit": null, "used": 0}));
    assert_eq!(
        quotas["messages_per_day"],
        json!({"limit": null, "used": 0})
    );
    assert_eq!(
        read_at(&system, &base, "/api/me/features", &user.key).await,
        json!({"bulk_campaigns": true, "webhooks": true, "reports": true, "api_access": true})
    );

    let plan_id = create_plan(
        &system,
        &admin,
        json!({"name": "Basic", "quotas": {"max_inboxes": 2, "max_contacts": 5}, "features": ["reports"]}),
    )
    .await;
    subscribe(&system, &admin, &user, &plan_id, "active").await;
    system.create_inbox(&user, "reader-token").await;
    system
        .create_contact(&user, "5511970000001", "A", json!({}))
        .await;
    system
        .create_contact(&user, "5511970000002", "B", json!({}))
        .await;

    let quotas = read_at(&system, &base, "/api/me/quotas", &user.key).await;
    assert_eq!(
        quotas,
        json!({
            "max_inboxes": {"limit": 2, "used": 1},
            "max_contacts": {"limit": 5, "used": 2},
            "max_campaigns": {"limit": null, "used": 0},
            "messages_per_day": {"limit": null, "used": 0},
        })
    );
    assert_eq!(
        read_at(&system, &base, "/api/me/features", &user.key).await,
        json!({"bulk_campaigns": false, "webhooks": false, "reports": true, "api_access": false})
    );
    let mine = read_at(&system, &base, "/api/me/subscription", &user.key).await;
    assert_eq!(mine["planId"], plan_id.as_str());
    assert_eq!(mine["planName"], "Basic");
    assert_eq!(mine["status"], "active");
    assert!(mine["startedAt"].is_string());
    let path = format!("/api/users/{}/subscription", user.user_id);
    assert_eq!(read_at(&system, &base, &path, &admin.key).await, mine);
    assert_eq!(read_at(&system, &base, &path, &user.key).await, mine);
    // Another plain user may not read it; the admin, who has none, reads null.
    let other = system.plain_user(&admin, "other@example.com").await;
    let (status, _) = system
        .call(Method::GET, &path, Some(&other.key), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin_path = format!("/api/users/{}/subscription", admin.user_id);
    assert_eq!(
        read_at(&system, &base, &admin_path, &admin.key).await,
        json!(null)
    );
    system.stop().await;
}

#[tokio::test]
async fn overrides_and_status_change_effective_limits_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let first = system.base_url.clone();
    let admin = system.tenant_with_admin("plans-overrides").await;
    let user = system.plain_user(&admin, "overridden@example.com").await;
    let plan_id = create_plan(
        &system,
        &admin,
        json!({"name": "Small", "quotas": {"max_inboxes": 1, "max_contacts": 1}}),
    )
    .await;
    subscribe(&system, &admin, &user, &plan_id, "active").await;

    // Fill both gateways' view (the shared cache) before the write.
    for base in [&first, &second] {
        let quotas = read_at(&system, base, "/api/me/quotas", &user.key).await;
        assert_eq!(quotas["max_inboxes"]["limit"], 1);
        let features = read_at(&system, base, "/api/me/features", &user.key).await;
        assert_eq!(features["bulk_campaigns"], false);
    }
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/overrides", user.user_id),
            Some(&admin.key),
            Some(json!({"quotas": {"max_inboxes": 4, "max_contacts": null}, "features": {"bulk_campaigns": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({"quotas": {"max_inboxes": 4, "max_contacts": null}, "features": {"bulk_campaigns": true}})
    );
    for base in [&first, &second] {
        let quotas = read_at(&system, base, "/api/me/quotas", &user.key).await;
        assert_eq!(quotas["max_inboxes"]["limit"], 4, "{base}");
        assert_eq!(quotas["max_contacts"]["limit"], json!(null), "{base}");
        assert_eq!(quotas["max_campaigns"]["limit"], json!(null), "{base}");
        let features = read_at(&system, base, "/api/me/features", &user.key).await;
        assert_eq!(features["bulk_campaigns"], true, "{base}");
    }
    system.create_inbox(&user, "first").await;
    system.create_inbox(&user, "second").await;

    // A canceled subscription may create nothing, overrides or not.
    subscribe(&system, &admin, &user, &plan_id, "canceled").await;
    for base in [&first, &second] {
        let quotas = read_at(&system, base, "/api/me/quotas", &user.key).await;
        assert_eq!(
            quotas["max_inboxes"],
            json!({"limit": 0, "used": 2}),
            "{base}"
        );
        let mine = read_at(&system, base, "/api/me/subscription", &user.key).await;
        assert_eq!(mine["status"], "canceled", "{base}");
    }
    assert_refused(
        post_contact(&system, &user, "5511970000009").await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `max_contacts` reached: 0 of 0 used",
    );
    system.stop().await;
}

#[tokio::test]
async fn each_quota_refuses_at_its_limit_and_a_plan_change_applies_at_once() {
    let mut system = TestSystem::spawn().await;
    let second = system.start_gateway(&[]).await;
    let admin = system.tenant_with_admin("plans-limits").await;
    let user = system.plain_user(&admin, "limited@example.com").await;
    let plan = json!({
        "name": "Tight",
        "quotas": {"max_inboxes": 1, "max_contacts": 3, "max_campaigns": 2, "messages_per_day": 3},
        "features": ["bulk_campaigns"],
    });
    let plan_id = create_plan(&system, &admin, plan.clone()).await;
    subscribe(&system, &admin, &user, &plan_id, "active").await;

    let inbox_id = system.create_inbox(&user, "limited-token").await;
    let (status, body) = system
        .call(
            Method::POST,
            "/api/inboxes",
            Some(&user.key),
            Some(json!({"name": "Two", "token": "t2"})),
        )
        .await;
    assert_refused(
        (status, body),
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `max_inboxes` reached: 1 of 1 used",
    );

    let mut contacts = Vec::new();
    for i in 0..3 {
        let phone = format!("551197100000{i}");
        contacts.push(system.create_contact(&user, &phone, "C", json!({})).await);
    }
    assert_refused(
        post_contact(&system, &user, "5511971000009").await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `max_contacts` reached: 3 of 3 used",
    );

    // messages_per_day 3: two recipients fit, two more do not, one does.
    let (status, body) = post_campaign(&system, &user, &inbox_id, &contacts[..2]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_refused(
        post_campaign(&system, &user, &inbox_id, &contacts[1..]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `messages_per_day` reached: 2 of 3 used today, and this campaign has 2 recipient(s)",
    );
    let (status, body) = post_campaign(&system, &user, &inbox_id, &contacts[2..]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // max_campaigns 2 is reached too; it is checked first.
    assert_refused(
        post_campaign(&system, &user, &inbox_id, &contacts[..1]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `max_campaigns` reached: 2 of 2 used",
    );

    // Read on both gateways, then raise the campaign limit: both see it, and creation does.
    for base in [&system.base_url, &second] {
        let quotas = read_at(&system, base, "/api/me/quotas", &user.key).await;
        assert_eq!(
            quotas["max_campaigns"],
            json!({"limit": 2, "used": 2}),
            "{base}"
        );
        assert_eq!(
            quotas["messages_per_day"],
            json!({"limit": 3, "used": 3}),
            "{base}"
        );
    }
    let mut raised = plan.clone();
    raised["quotas"]["max_campaigns"] = json!(5);
    raised["features"] = json!([]);
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/plans/{plan_id}"),
            Some(&admin.key),
            Some(raised),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base in [&system.base_url, &second] {
        let quotas = read_at(&system, base, "/api/me/quotas", &user.key).await;
        assert_eq!(quotas["max_campaigns"]["limit"], 5, "{base}");
        let features = read_at(&system, base, "/api/me/features", &user.key).await;
        assert_eq!(features["bulk_campaigns"], false, "{base}");
    }
    assert_refused(
        post_campaign(&system, &user, &inbox_id, &contacts[..1]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "quota `messages_per_day` reached: 3 of 3 used",
    );
    system.stop().await;
}

#[tokio::test]
async fn a_plan_without_bulk_campaigns_sends_to_one_recipient_only() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("plans-bulk").await;
    let user = system.plain_user(&admin, "single@example.com").await;
    let plan_id = create_plan(
        &system,
        &admin,
        json!({"name": "Solo", "features": ["reports"]}),
    )
    .await;
    subscribe(&system, &admin, &user, &plan_id, "active").await;
    let inbox_id = system.create_inbox(&user, "solo-token").await;
    let one = system
        .create_contact(&user, "5511972000001", "A", json!({}))
        .await;
    let two = system
        .create_contact(&user, "5511972000002", "B", json!({}))
        .await;

    assert_refused(
        post_campaign(&system, &user, &inbox_id, &[one.clone(), two]).await,
        StatusCode::FORBIDDEN,
        "feature_not_enabled",
        "feature `bulk_campaigns`",
    );
    let (status, body) = post_campaign(&system, &user, &inbox_id, &[one]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // The refused campaign was never written.
    let quotas = read_at(&system, &system.base_url, "/api/me/quotas", &user.key).await;
    assert_eq!(quotas["max_campaigns"]["used"], 1);
    assert_eq!(quotas["messages_per_day"]["used"], 1);
    system.stop().await;
}

#[tokio::test]
async fn concurrent_creations_stop_exactly_at_the_limit() {
    let system = TestSystem::spawn().await;
    let admin = system.tenant_with_admin("plans-race").await;
    let user = system.plain_user(&admin, "racer@example.com").await;
    let plan_id = create_plan(
        &system,
        &admin,
        json!({"name": "Ten", "quotas": {"max_contacts": 10}}),
    )
    .await;
    subscribe(&system, &admin, &user, &plan_id, "active").await;

    let attempts = (0..50).map(|i| {
        let phone = format!("55119730000{i:02}");
        let system = &system;
        let user = &user;
        async move { post_contact(system, user, &phone).await.0 }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((created, refused), (10, 40), "{statuses:?}");
    let (_, list) = system
        .call(
            Method::GET,
            "/api/contacts?limit=100",
            Some(&user.key),
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 10);
    system.stop().await;
}

#[tokio::test]
async fn one_tenant_never_reads_changes_or_uses_another_tenants_plans() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("plans-a").await;
    let b = system.tenant_with_admin("plans-b").await;
    let a_user = system.plain_user(&a, "a-user@example.com").await;
    let b_user = system.plain_user(&b, "b-user@example.com").await;
    let a_plan = create_plan(
        &system,
        &a,
        json!({"name": "Gold", "quotas": {"max_inboxes": 1}}),
    )
    .await;
    let b_plan = create_plan(&system, &b, json!({"name": "Gold"})).await;
    subscribe(&system, &a, &a_user, &a_plan, "active").await;

    let plan_path = format!("/api/plans/{a_plan}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"name": "Stolen"}))),
        (Method::DELETE, None),
    ] {
        let (status, answer) = system
            .call(method.clone(), &plan_path, Some(&b.key), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {answer}");
        assert_eq!(answer["code"], "not_found");
    }
    let (_, list) = system
        .call(Method::GET, "/api/plans", Some(&b.key), None)
        .await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b_plan.as_str()]);

    // B's user cannot be given A's plan; A's user cannot be touched by B.
    let (status, body) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", b_user.user_id),
            Some(&b.key),
            Some(json!({"planId": a_plan, "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "planId");
    let a_subscription = format!("/api/users/{}/subscription", a_user.user_id);
    let (status, _) = system
        .call(
            Method::PUT,
            &a_subscription,
            Some(&b.key),
            Some(json!({"planId": b_plan, "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = system
        .call(Method::GET, &a_subscription, Some(&b.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/overrides", a_user.user_id),
            Some(&b.key),
            Some(json!({"quotas": {"max_inboxes": null}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A's plan and A's user are as they were.
    let (_, plan) = system
        .call(Method::GET, &plan_path, Some(&a.key), None)
        .await;
    assert_eq!(plan["data"]["name"], "Gold");
    assert_eq!(plan["data"]["subscribers"], 1);
    let quotas = read_at(&system, &system.base_url, "/api/me/quotas", &a_user.key).await;
    assert_eq!(quotas["max_inboxes"]["limit"], 1);
    system.stop().await;
}
