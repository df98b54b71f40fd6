//! Stripe per tenant: settings (secrets in, hints out), the signed webhook and the analytics it
//! feeds. Deliveries are signed here exactly as Stripe signs them (`stripe::signature::sign`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

const SECRET_KEY: &str = "sk_test_51HsecretKEYvalue0001";
const WEBHOOK_SECRET: &str = "whsec_tenantAsigningSecret0001";
const DAY: i64 = 86_400;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn settings_body(publishable_key: &str, secret_key: &str, webhook_secret: &str) -> Value {
    json!({
        "publishableKey": publishable_key,
        "secretKey": secret_key,
        "webhookSecret": webhook_secret,
    })
}

/// `PUT /api/stripe/settings` with `webhook_secret`; returns the answer's `data`.
async fn configure(system: &TestSystem, tenant: &TenantHandle, webhook_secret: &str) -> Value {
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/stripe/settings",
            Some(&tenant.key),
            Some(settings_body(
                "pk_test_publishable1",
                SECRET_KEY,
                webhook_secret,
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn get_settings(system: &TestSystem, base_url: &str, key: &str) -> (StatusCode, Value) {
    let response = system
        .http
        .get(format!("{base_url}/api/stripe/settings"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// The default-period analytics as `base_url` answers them.
async fn analytics(system: &TestSystem, base_url: &str, key: &str) -> Value {
    let response = system
        .http
        .get(format!("{base_url}/api/stripe/analytics"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON body");
    body["data"].clone()
}

/// Analytics without the period bounds, which move with the clock.
fn figures(analytics: &Value) -> Value {
    json!({
        "mrr": analytics["mrr"],
        "subscriptions": analytics["subscriptions"],
        "revenue": analytics["revenue"],
        "churn": analytics["churn"],
    })
}

/// POSTs `body` to `tenant_id`'s webhook on `base_url` with `signature` as `Stripe-Signature`.
async fn deliver(
    system: &TestSystem,
    base_url: &str,
    tenant_id: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = system
        .http
        .post(format!("{base_url}/api/webhooks/stripe/{tenant_id}"))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers `event` signed with `secret` now, as Stripe would; expects it accepted and returns
/// whether it was a duplicate.
async fn deliver_signed(
    system: &TestSystem,
    base_url: &str,
    tenant_id: &str,
    secret: &str,
    event: &Value,
) -> bool {
    let body = event.to_string();
    let signature = ::stripe::signature::sign(secret, now(), body.as_bytes());
    let (status, answer) = deliver(
        system,
        base_url,
        tenant_id,
        body.as_bytes(),
        Some(&signature),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["received"], true, "{answer}");
    answer["data"]["duplicate"]
        .as_bool()
        .expect("duplicate flag")
}

fn event(id: &str, event_type: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil", "type": event_type,
        "created": created, "livemode": false, "data": {"object": object},
    })
}

/// A subscription of one item (`unit_amount` × `quantity` per `interval_count` `interval`s).
struct Plan<'a> {
    id: &'a str,
    status: &'a str,
    unit_amount: i64,
    quantity: i64,
    currency: &'a str,
    interval: &'a str,
    interval_count: i64,
    created: i64,
    canceled_at: Option<i64>,
}

impl Plan<'_> {
    fn object(&self) -> Value {
        json!({
            "id": self.id, "object": "subscription", "customer": format!("cus_{}", self.id),
            "status": self.status, "created": self.created, "canceled_at": self.canceled_at,
            "currency": self.currency,
            "items": {"object": "list", "data": [{
                "id": format!("si_{}", self.id), "quantity": self.quantity,
                "current_period_end": now() + 20 * DAY,
                "price": {"id": "price_1", "unit_amount": self.unit_amount, "currency": self.currency,
                          "recurring": {"interval": self.interval, "interval_count": self.interval_count}},
            }]},
        })
    }
}

fn paid_invoice(
    id: &str,
    subscription: &str,
    amount_paid: i64,
    currency: &str,
    paid_at: i64,
) -> Value {
    json!({
        "id": id, "object": "invoice", "customer": "cus_x", "amount_paid": amount_paid,
        "currency": currency, "status": "paid", "status_transitions": {"paid_at": paid_at},
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}},
    })
}

/// Rows of a table for a tenant, read straight from the database.
async fn count_rows(system: &TestSystem, table: &str, tenant_id: &str) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let connection = db::connect(&system.db.url, 1).await.expect("connect");
    let tenant: uuid::Uuid = tenant_id.parse().expect("tenant id");
    let row = connection
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n FROM {table} WHERE tenant_id = $1"),
            [tenant.into()],
        ))
        .await
        .expect("count")
        .expect("one row");
    connection.close().await.expect("close");
    row.try_get::<i64>("", "n").expect("count")
}

#[tokio::test]
async fn stripe_settings_round_trip_with_hints_only_and_reach_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("stripe-acme").await;
    let second = system.start_gateway(&[]).await;

    let (status, body) = get_settings(&system, &system.base_url, &acme.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");

    let stored = configure(&system, &acme, WEBHOOK_SECRET).await;
    let expected = json!({
        "publishableKey": "pk_test_publishable1",
        "secretKeyHint": "…0001",
        "webhookSecretHint": "…0001",
        "webhookUrl": format!("/api/webhooks/stripe/{}", acme.tenant_id),
        "updatedAt": stored["updatedAt"],
    });
    assert_eq!(stored, expected);
    // Fills the cache on the first gateway.
    let (status, read) = get_settings(&system, &system.base_url, &acme.key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["data"], expected);

    // A replacement is seen at once, through either gateway.
    let (status, body) = system
        .call(
            Method::PUT,
            "/api/stripe/settings",
            Some(&acme.key),
            Some(settings_body(
                "pk_test_publishable2",
                "rk_test_restrictedKEY0002",
                "whsec_rotatedSecret0002",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base_url in [&system.base_url, &second] {
        let (status, read) = get_settings(&system, base_url, &acme.key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["data"]["publishableKey"], "pk_test_publishable2");
        assert_eq!(read["data"]["secretKeyHint"], "…0002");
        assert_eq!(read["data"]["webhookSecretHint"], "…0002");
        let text = read.to_string();
        for secret in [
            SECRET_KEY,
            WEBHOOK_SECRET,
            "rk_test_restrictedKEY0002",
            "whsec_rotatedSecret0002",
        ] {
            assert!(!text.contains(secret), "a raw secret in {text}");
        }
    }
    assert!(!body.to_string().contains("whsec_rotatedSecret0002"));

    // Removed: gone on both gateways, and a second removal finds nothing.
    let (status, body) = system
        .call(
            Method::DELETE,
            "/api/stripe/settings",
            Some(&acme.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for base_url in [&system.base_url, &second] {
        let (status, _) = get_settings(&system, base_url, &acme.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, body) = system
        .call(
            Method::DELETE,
            "/api/stripe/settings",
            Some(&acme.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    system.stop().await;
}

#[tokio::test]
async fn stripe_endpoints_are_for_tenant_admins_and_check_their_input() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("stripe-checks").await;
    let plain = system
        .plain_user(&acme, "agent@stripe-plain.example")
        .await
        .key;

    let good = settings_body("pk_live_abc", "sk_live_abc", "whsec_abc");
    for (method, path, body) in [
        (Method::PUT, "/api/stripe/settings", Some(good.clone())),
        (Method::GET, "/api/stripe/settings", None),
        (Method::DELETE, "/api/stripe/settings", None),
        (Method::GET, "/api/stripe/analytics", None),
    ] {
        for key in [&plain, &system.admin_key] {
            let (status, answer) = system
                .call(method.clone(), path, Some(key), body.clone())
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_eq!(answer["code"], "forbidden");
        }
    }
    let (status, _) = system
        .call(Method::GET, "/api/stripe/settings", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let secret = "sk_live_dontEchoMe";
    for (body, field) in [
        (
            settings_body("sk_live_abc", secret, "whsec_abc"),
            "publishableKey",
        ),
        (
            settings_body("pk_abc", secret, "whsec_abc"),
            "publishableKey",
        ),
        (
            settings_body("pk_live_", secret, "whsec_abc"),
            "publishableKey",
        ),
        (settings_body("  ", secret, "whsec_abc"), "publishableKey"),
        (
            settings_body("pk_live_abc", "pk_live_dontEchoMe", "whsec_abc"),
            "secretKey",
        ),
        (
            settings_body("pk_live_abc", "sk_live_has space", "whsec_abc"),
            "secretKey",
        ),
        (
            settings_body("pk_test_abc", secret, "whsec_abc"),
            "secretKey",
        ),
        (
            settings_body("pk_live_abc", secret, "wh_dontEchoMe"),
            "webhookSecret",
        ),
        (
            settings_body("pk_live_abc", secret, &format!("whsec_{}", "a".repeat(300))),
            "webhookSecret",
        ),
        (
            json!({"publishableKey": "pk_live_abc", "secretKey": secret}),
            "webhookSecret",
        ),
        (
            json!({"publishableKey": "pk_live_abc", "secretKey": secret, "webhookSecret": "whsec_a", "extra": 1}),
            "extra",
        ),
        (
            json!({"publishableKey": 5, "secretKey": secret, "webhookSecret": "whsec_a"}),
            "publishableKey",
        ),
    ] {
        let (status, answer) = system
            .call(
                Method::PUT,
                "/api/stripe/settings",
                Some(&acme.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["code"], "validation_failed");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(!answer.to_string().contains("dontEchoMe"), "{answer}");
    }
    let (status, _) = get_settings(&system, &system.base_url, &acme.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    for (query, field) in [
        ("from=yesterday", Some("from")),
        ("to=2026-13-01T00:00:00Z", Some("to")),
        (
            "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Some("from"),
        ),
        (
            "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Some("from"),
        ),
        ("since=2026-01-01T00:00:00Z", None),
    ] {
        let (status, answer) = system
            .call(
                Method::GET,
                &format!("/api/stripe/analytics?{query}"),
                Some(&acme.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        assert_eq!(answer["code"], "invalid_parameter", "{query}");
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{query}: {answer}");
        }
    }
    system.stop().await;
}

#[tokio::test]
async fn signed_stripe_events_feed_mrr_counts_revenue_and_churn_on_every_gateway() {
    let mut system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("stripe-events").await;
    let second = system.start_gateway(&[]).await;
    configure(&system, &acme, WEBHOOK_SECRET).await;
    let base = system.base_url.clone();
    let tenant = acme.tenant_id.clone();
    let started = now() - 60 * DAY;

    let yearly = Plan {
        id: "sub_yearly",
        status: "active",
        unit_amount: 120_000,
        quantity: 1,
        currency: "usd",
        interval: "year",
        interval_count: 1,
        created: started,
        canceled_at: None,
    };
    let monthly = Plan {
        id: "sub_monthly",
        status: "active",
        unit_amount: 2_500,
        quantity: 2,
        currency: "usd",
        interval: "month",
        interval_count: 1,
        created: started,
        canceled_at: None,
    };
    let fortnightly = Plan {
        id: "sub_fortnightly",
        status: "past_due",
        unit_amount: 1_200,
        quantity: 1,
        currency: "eur",
        interval: "week",
        interval_count: 2,
        created: now() - DAY,
        canceled_at: None,
    };
    let trial = Plan {
        id: "sub_trial",
        status: "trialing",
        unit_amount: 9_900,
        quantity: 1,
        currency: "usd",
        interval: "month",
        interval_count: 1,
        created: now() - DAY,
        canceled_at: None,
    };
    for (n, plan) in [&yearly, &monthly, &fortnightly, &trial]
        .into_iter()
        .enumerate()
    {
        let created = event(
            &format!("evt_created_{n}"),
            "customer.subscription.created",
            started + n as i64,
            plan.object(),
        );
        assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &created).await);
    }
    for (id, subscription, amount, currency) in [
        ("in_yearly", "sub_yearly", 120_000, "usd"),
        ("in_monthly", "sub_monthly", 5_000, "usd"),
        ("in_fortnightly", "sub_fortnightly", 1_200, "eur"),
    ] {
        let paid = event(
            &format!("evt_{id}"),
            "invoice.paid",
            now(),
            paid_invoice(id, subscription, amount, currency, now() - 3600),
        );
        assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &paid).await);
    }
    // A failed payment is recorded as an open invoice: no revenue.
    let failed = json!({"id": "in_failed", "object": "invoice", "customer": "cus_x", "amount_paid": 0,
                        "currency": "usd", "status": "open", "subscription": "sub_monthly"});
    let failed = event("evt_failed", "invoice.payment_failed", now(), failed);
    assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &failed).await);
    // An invoice paid before the period counts in no revenue of the default period.
    let old = event(
        "evt_old_invoice",
        "invoice.paid",
        now(),
        paid_invoice("in_old", "sub_yearly", 777, "usd", now() - 40 * DAY),
    );
    assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &old).await);
    // Types without analytics are stored and acknowledged.
    let checkout = json!({"id": "cs_1", "object": "checkout.session", "customer": "cus_sub_monthly",
                          "subscription": "sub_monthly", "mode": "subscription", "payment_status": "paid",
                          "amount_total": 5000, "currency": "usd"});
    let checkout = event(
        "evt_checkout",
        "checkout.session.completed",
        now(),
        checkout,
    );
    assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &checkout).await);
    let other = event(
        "evt_customer",
        "customer.created",
        now(),
        json!({"id": "cus_new", "object": "customer"}),
    );
    assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &other).await);
    assert_eq!(count_rows(&system, "stripe_events", &tenant).await, 11);
    assert_eq!(
        count_rows(&system, "stripe_checkout_sessions", &tenant).await,
        1
    );

    // MRR: 120000/12 + 2500×2 in usd; 1200 per two weeks = 1200×52/12/2 in eur. Trials and
    // the unpaid invoice count for nothing.
    let before = analytics(&system, &base, &acme.key).await;
    assert_eq!(
        figures(&before),
        json!({
            "mrr": {"eur": 2_600, "usd": 15_000},
            "subscriptions": {"active": 2, "trialing": 1, "pastDue": 1, "canceled": 0},
            "revenue": {"eur": 1_200, "usd": 125_000},
            "churn": {"canceled": 0, "activeAtStart": 2, "rate": 0.0},
        })
    );
    let span = chrono::DateTime::parse_from_rfc3339(before["to"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(before["from"].as_str().unwrap()).unwrap();
    assert_eq!(span.num_days(), 30, "the default period");
    assert_eq!(
        figures(&analytics(&system, &second, &acme.key).await),
        figures(&before)
    );

    // The monthly plan is canceled; the event arrives through the second gateway and both see it.
    let canceled = Plan {
        status: "canceled",
        canceled_at: Some(now()),
        ..monthly
    };
    let deleted = event(
        "evt_deleted",
        "customer.subscription.deleted",
        now(),
        canceled.object(),
    );
    assert!(!deliver_signed(&system, &second, &tenant, WEBHOOK_SECRET, &deleted).await);
    let expected = json!({
        "mrr": {"eur": 2_600, "usd": 10_000},
        "subscriptions": {"active": 1, "trialing": 1, "pastDue": 1, "canceled": 1},
        "revenue": {"eur": 1_200, "usd": 125_000},
        "churn": {"canceled": 1, "activeAtStart": 2, "rate": 0.5},
    });
    for base_url in [&base, &second] {
        assert_eq!(
            figures(&analytics(&system, base_url, &acme.key).await),
            expected
        );
    }

    // An older update delivered late does not bring the subscription back.
    let late = event(
        "evt_late_update",
        "customer.subscription.updated",
        started + 100,
        monthly_again(started),
    );
    assert!(!deliver_signed(&system, &base, &tenant, WEBHOOK_SECRET, &late).await);
    assert_eq!(
        figures(&analytics(&system, &base, &acme.key).await),
        expected
    );

    // An explicit period is computed directly: the old invoice is in it, and no subscription
    // had started at its start.
    let from = chrono::DateTime::from_timestamp(now() - 90 * DAY, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, body) = system
        .call(
            Method::GET,
            &format!("/api/stripe/analytics?from={from}"),
            Some(&acme.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["revenue"],
        json!({"eur": 1_200, "usd": 125_777})
    );
    assert_eq!(
        body["data"]["churn"],
        json!({"canceled": 1, "activeAtStart": 0, "rate": null})
    );
    system.stop().await;
}

/// `sub_monthly` as it was before its cancellation: active.
fn monthly_again(started: i64) -> Value {
    Plan {
        id: "sub_monthly",
        status: "active",
        unit_amount: 2_500,
        quantity: 2,
        currency: "usd",
        interval: "month",
        interval_count: 1,
        created: started,
        canceled_at: None,
    }
    .object()
}

#[tokio::test]
async fn a_redelivered_stripe_event_is_recorded_once() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("stripe-replay").await;
    configure(&system, &acme, WEBHOOK_SECRET).await;
    let base = system.base_url.clone();
    let paid = event(
        "evt_once",
        "invoice.paid",
        now(),
        paid_invoice("in_once", "sub_1", 4_200, "usd", now() - 60),
    );
    assert!(!deliver_signed(&system, &base, &acme.tenant_id, WEBHOOK_SECRET, &paid).await);
    let after_first = analytics(&system, &base, &acme.key).await;
    assert_eq!(after_first["revenue"], json!({"usd": 4_200}));

    // Stripe retries with the same event id (and a fresh signature): acknowledged, not applied.
    assert!(deliver_signed(&system, &base, &acme.tenant_id, WEBHOOK_SECRET, &paid).await);
    // Even a body that differs under the same id changes nothing.
    let altered = event(
        "evt_once",
        "invoice.paid",
        now() + 1,
        paid_invoice("in_once", "sub_1", 9_999, "usd", now()),
    );
    assert!(deliver_signed(&system, &base, &acme.tenant_id, WEBHOOK_SECRET, &altered).await);
    assert_eq!(
        count_rows(&system, "stripe_events", &acme.tenant_id).await,
        1
    );
    assert_eq!(
        count_rows(&system, "stripe_invoices", &acme.tenant_id).await,
        1
    );
    assert_eq!(
        figures(&analytics(&system, &base, &acme.key).await),
        figures(&after_first)
    );

    // A correctly signed event holding `\u0000` (which jsonb cannot store) is refused, 422
    // naming where, and records nothing.
    let with_nul = event(
        "evt_nul",
        "invoice.paid",
        now(),
        paid_invoice("in_nul\u{0}", "sub_1", 1_000, "usd", now()),
    )
    .to_string();
    let signature = ::stripe::signature::sign(WEBHOOK_SECRET, now(), with_nul.as_bytes());
    let (status, answer) = deliver(
        &system,
        &base,
        &acme.tenant_id,
        with_nul.as_bytes(),
        Some(&signature),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "validation_failed", "{answer}");
    assert_eq!(answer["field"], "data.object.id", "{answer}");
    assert_eq!(
        count_rows(&system, "stripe_events", &acme.tenant_id).await,
        1
    );
    system.stop().await;
}

#[tokio::test]
async fn badly_signed_stripe_deliveries_are_refused_and_record_nothing() {
    let system = TestSystem::spawn().await;
    let acme = system.tenant_with_admin("stripe-badsig").await;
    let unconfigured = system.tenant_with_admin("stripe-nosettings").await;
    configure(&system, &acme, WEBHOOK_SECRET).await;
    let base = system.base_url.clone();
    let before = analytics(&system, &base, &acme.key).await;

    let plan = Plan {
        id: "sub_forged",
        status: "active",
        unit_amount: 1_000,
        quantity: 1,
        currency: "usd",
        interval: "month",
        interval_count: 1,
        created: now() - 60 * DAY,
        canceled_at: None,
    };
    let body = event(
        "evt_forged",
        "customer.subscription.created",
        now(),
        plan.object(),
    )
    .to_string();
    // The amount cut after signing.
    let tampered = body.replace("\"unit_amount\":1000", "\"unit_amount\":1");
    assert_ne!(tampered, body);
    let tampered = tampered.into_bytes();
    let body = body.as_bytes();
    let valid = ::stripe::signature::sign(WEBHOOK_SECRET, now(), body);
    let v0_only = valid.replace("v1=", "v0=");
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        (
            "wrong secret",
            body.to_vec(),
            Some(::stripe::signature::sign("whsec_guessed", now(), body)),
        ),
        ("missing header", body.to_vec(), None),
        (
            "stale",
            body.to_vec(),
            Some(::stripe::signature::sign(WEBHOOK_SECRET, now() - 301, body)),
        ),
        (
            "future",
            body.to_vec(),
            Some(::stripe::signature::sign(WEBHOOK_SECRET, now() + 600, body)),
        ),
        ("tampered body", tampered, Some(valid.clone())),
        ("malformed", body.to_vec(), Some("v1=deadbeef".to_owned())),
        ("v0 only", body.to_vec(), Some(v0_only)),
    ];
    for (case, payload, signature) in cases {
        let (status, answer) = deliver(
            &system,
            &base,
            &acme.tenant_id,
            &payload,
            signature.as_deref(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {answer}");
        assert_eq!(answer["code"], "invalid_signature", "{case}");
        assert!(
            !answer.to_string().contains(WEBHOOK_SECRET),
            "{case}: {answer}"
        );
    }
    // A tenant without settings cannot verify anything; an unknown tenant is not found.
    let (status, answer) =
        deliver(&system, &base, &unconfigured.tenant_id, body, Some(&valid)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_signature");
    let (status, answer) = deliver(
        &system,
        &base,
        &uuid::Uuid::now_v7().to_string(),
        body,
        Some(&valid),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["code"], "not_found");
    let (status, answer) = deliver(&system, &base, "not-a-tenant", body, Some(&valid)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_parameter");

    for tenant in [&acme, &unconfigured] {
        assert_eq!(
            count_rows(&system, "stripe_events", &tenant.tenant_id).await,
            0
        );
        assert_eq!(
            count_rows(&system, "stripe_subscriptions", &tenant.tenant_id).await,
            0
        );
    }
    assert_eq!(
        figures(&analytics(&system, &base, &acme.key).await),
        figures(&before)
    );

    // The same delivery, correctly signed, is accepted.
    let (status, answer) = deliver(&system, &base, &acme.tenant_id, body, Some(&valid)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        figures(&analytics(&system, &base, &acme.key).await)["mrr"],
        json!({"usd": 1_000})
    );
    system.stop().await;
}

#[tokio::test]
async fn one_tenant_never_sees_or_signs_into_another_tenants_stripe() {
    let system = TestSystem::spawn().await;
    let a = system.tenant_with_admin("stripe-tenant-a").await;
    let b = system.tenant_with_admin("stripe-tenant-b").await;
    configure(&system, &a, WEBHOOK_SECRET).await;
    let base = system.base_url.clone();
    let plan = Plan {
        id: "sub_a",
        status: "active",
        unit_amount: 3_000,
        quantity: 1,
        currency: "usd",
        interval: "month",
        interval_count: 1,
        created: now() - DAY,
        canceled_at: None,
    };
    let created = event(
        "evt_a",
        "customer.subscription.created",
        now(),
        plan.object(),
    );
    assert!(!deliver_signed(&system, &base, &a.tenant_id, WEBHOOK_SECRET, &created).await);

    // B sees neither A's settings nor A's figures.
    let (status, body) = get_settings(&system, &base, &b.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let empty = json!({
        "mrr": {},
        "subscriptions": {"active": 0, "trialing": 0, "pastDue": 0, "canceled": 0},
        "revenue": {},
        "churn": {"canceled": 0, "activeAtStart": 0, "rate": null},
    });
    assert_eq!(figures(&analytics(&system, &base, &b.key).await), empty);
    let (status, body) = system
        .call(Method::DELETE, "/api/stripe/settings", Some(&b.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // B has its own secret; A's secret cannot sign events into B.
    let b_secret = "whsec_tenantBsigningSecret0002";
    configure(&system, &b, b_secret).await;
    let body = event(
        "evt_into_b",
        "customer.subscription.created",
        now(),
        plan.object(),
    )
    .to_string();
    let signed_by_a = ::stripe::signature::sign(WEBHOOK_SECRET, now(), body.as_bytes());
    let (status, answer) = deliver(
        &system,
        &base,
        &b.tenant_id,
        body.as_bytes(),
        Some(&signed_by_a),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_signature");
    assert_eq!(count_rows(&system, "stripe_events", &b.tenant_id).await, 0);
    assert_eq!(figures(&analytics(&system, &base, &b.key).await), empty);

    // The same Stripe ids in B's own account are B's rows, apart from A's.
    assert!(!deliver_signed(&system, &base, &b.tenant_id, b_secret, &created).await);
    let (_, a_settings) = get_settings(&system, &base, &a.key).await;
    assert_eq!(a_settings["data"]["webhookSecretHint"], "…0001");
    assert_eq!(
        a_settings["data"]["webhookUrl"],
        format!("/api/webhooks/stripe/{}", a.tenant_id)
    );
    assert_eq!(
        figures(&analytics(&system, &base, &a.key).await)["mrr"],
        json!({"usd": 3_000})
    );
    assert_eq!(
        figures(&analytics(&system, &base, &b.key).await)["mrr"],
        json!({"usd": 3_000})
    );

    // B removing its settings leaves A's in place.
    let (status, _) = system
        .call(Method::DELETE, "/api/stripe/settings", Some(&b.key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_settings(&system, &base, &a.key).await;
    assert_eq!(status, StatusCode::OK);
    system.stop().await;
}
