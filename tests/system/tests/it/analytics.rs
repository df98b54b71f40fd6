//! Delivery analytics: after a campaign with receipts, a reply, an opt-out and a failure, the
//! series of the campaign, its inbox and the tenant count each once, in the right bucket; the
//! top failure reason is named; another tenant sees none of it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};
use wuzapi::fake::ReceiptPlan;

async fn analytics(system: &TestSystem, tenant: &TenantHandle, query: &str) -> (StatusCode, Value) {
    system
        .call(
            Method::GET,
            &format!("/api/analytics{query}"),
            Some(&tenant.key),
            None,
        )
        .await
}

/// Sums a series' points.
fn summed(series: &Value) -> Value {
    let mut sums =
        json!({"sent": 0, "delivered": 0, "read": 0, "replied": 0, "failed": 0, "optedOut": 0});
    for point in series.as_array().unwrap() {
        for key in ["sent", "delivered", "read", "replied", "failed", "optedOut"] {
            sums[key] = json!(sums[key].as_i64().unwrap() + point[key].as_i64().unwrap());
        }
    }
    sums
}

#[tokio::test]
async fn a_campaigns_outcomes_are_charted_per_campaign_inbox_and_tenant() {
    let mut system = TestSystem::spawn().await;
    system.start_inbound_worker(&[]).await;
    let a = system.tenant_with_admin("analytics-a").await;
    let b = system.tenant_with_admin("analytics-b").await;
    let inbox = system.create_inbox(&a, "analytics-token").await;
    system.wuzapi.set_receipts(ReceiptPlan {
        delivered_after: Some(Duration::from_millis(20)),
        read_after: Some(Duration::from_millis(100)),
    });
    system.wuzapi.set_invalid_numbers(["5511984000003"]);
    let contacts = system.insert_contacts(&a, 4, 5511984000000).await;
    let created = system.create_campaign(&a, &inbox, "Hi", &contacts).await;
    let campaign = created["campaign"]["id"].as_str().unwrap().to_owned();
    let job = system.wait_for_campaign_job(&a.key, &campaign).await;
    assert_eq!(job["state"], "completed", "{job}");
    system
        .wuzapi
        .reply("analytics-token", "+5511984000001", "stop")
        .await
        .unwrap();

    let expected =
        json!({"sent": 3, "delivered": 3, "read": 3, "replied": 1, "failed": 1, "optedOut": 1});
    let query = format!("?campaignId={campaign}&interval=hour");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = analytics(&system, &a, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["data"]["totals"] == expected {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the totals never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let data = &body["data"];
    // Seven days of hours (the default range), empty ones included, summing to the totals.
    let series = &data["series"];
    assert!(
        (168..=169).contains(&series.as_array().unwrap().len()),
        "{series}"
    );
    assert_eq!(summed(series), expected);
    assert_eq!(data["timeZone"], "UTC");
    assert_eq!(
        data["topFailureReasons"],
        json!([{"reason": "the number is not on WhatsApp", "count": 1}])
    );

    // The inbox and the whole tenant, per day: the same figures.
    for query in [format!("?inboxId={inbox}"), String::new()] {
        let (status, body) = analytics(&system, &a, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["totals"], expected, "{query}: {body}");
        assert_eq!(body["data"]["interval"], "day");
    }

    // B: A's campaign and inbox are not found; its own figures are empty.
    for query in [
        format!("?campaignId={campaign}"),
        format!("?inboxId={inbox}"),
    ] {
        let (status, body) = analytics(&system, &b, &query).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (_, body) = analytics(&system, &b, "").await;
    assert_eq!(
        body["data"]["totals"],
        json!({"sent": 0, "delivered": 0, "read": 0, "replied": 0, "failed": 0, "optedOut": 0})
    );
    assert_eq!(body["data"]["topFailureReasons"], json!([]));

    // Bad parameters name themselves.
    for (query, field) in [
        ("?interval=week", "interval"),
        ("?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
        (
            "?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour",
            "from",
        ),
    ] {
        let (status, body) = analytics(&system, &a, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    system.stop().await;
}
