//! One trace from the API request to WhatsApp: the gateway and the campaign worker run as their
//! own processes, export OTLP to a collector the test starts, and the trace crosses the outbox
//! and RabbitMQ in the message's `traceparent` header.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use system_tests::TestSystem;
use testkit::otlp::{OtlpReceiver, ReceivedSpan};

/// Polls the collector until `done` holds for what it received (20 s at most).
async fn spans_until(
    collector: &OtlpReceiver,
    what: &str,
    done: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let spans = collector.spans();
        if done(&spans) {
            return spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 20 s the collector has no {what}; it has: {:#?}",
            spans
                .iter()
                .map(|s| (&s.service, &s.name, &s.trace_id))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_campaign_request_and_the_sends_it_causes_are_one_trace() {
    let collector = OtlpReceiver::start().expect("start the OTLP collector");
    let system = TestSystem::spawn_processes(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    let tenant = system.tenant_with_admin("traced").await;
    let inbox = system.create_inbox(&tenant, "traced-token").await;
    let mut contacts = Vec::new();
    for (index, name) in ["Ana", "Bruno", "Carla"].iter().enumerate() {
        let phone = format!("551199000000{index}");
        let contact = system
            .create_contact(&tenant, &phone, name, serde_json::json!({}))
            .await;
        contacts.push(contact);
    }
    let created = system
        .create_campaign(&tenant, &inbox, "Hi {{name}}", &contacts)
        .await;
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_owned();
    let job = system
        .wait_for_campaign_job(&tenant.key, &campaign_id)
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(system.wuzapi.sent_messages().len(), 3);

    // A span is exported when it ends: the job's run ends after its sends, maybe in a later
    // export than theirs.
    let spans = spans_until(&collector, "request, job run and three sends", |spans| {
        let Some(request) = spans
            .iter()
            .find(|s| s.service == "gateway" && s.name == "POST /api/campaigns")
        else {
            return false;
        };
        let in_trace = |name: &str| {
            spans
                .iter()
                .filter(|s| s.trace_id == request.trace_id && s.name == name)
                .count()
        };
        in_trace("wuzapi.send") == 3 && in_trace("campaign job") >= 1
    })
    .await;

    // The request span is the root: this client sent no trace context.
    let request = spans
        .iter()
        .find(|s| s.service == "gateway" && s.name == "POST /api/campaigns")
        .unwrap();
    assert!(request.parent_span_id.is_empty(), "{request:?}");
    assert_eq!(request.attributes["http.route"], "/api/campaigns");
    assert_eq!(request.attributes["http.status_code"], "202");
    let trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id == request.trace_id)
        .collect();

    // The worker's run of the job, in the worker process, is a child of the request.
    let job_spans: Vec<&&ReceivedSpan> = trace
        .iter()
        .filter(|s| s.service == "worker-campaign" && s.name == "campaign job")
        .collect();
    assert!(
        !job_spans.is_empty(),
        "no job span in the trace: {trace:#?}"
    );
    for job in &job_spans {
        assert_eq!(job.parent_span_id, request.span_id, "{job:?}");
        assert_eq!(
            job.attributes["job_id"],
            created["job"]["id"].as_str().unwrap()
        );
    }

    // Each WhatsApp send is a child of a run of the job, and says what it sent.
    let sends: Vec<&&ReceivedSpan> = trace.iter().filter(|s| s.name == "wuzapi.send").collect();
    assert_eq!(sends.len(), 3, "{trace:#?}");
    let mut message_ids: Vec<&str> = Vec::new();
    for send in &sends {
        assert_eq!(send.service, "worker-campaign");
        assert!(
            job_spans
                .iter()
                .any(|job| job.span_id == send.parent_span_id),
            "a send outside the job's runs: {send:?}"
        );
        assert_eq!(send.attributes["http.response.status_code"], "200");
        assert_eq!(send.attributes["url.path"], "/chat/send/text");
        message_ids.push(&send.attributes["wuzapi.message_id"]);
    }
    message_ids.sort_unstable();
    message_ids.dedup();
    assert_eq!(message_ids.len(), 3, "one send per recipient");

    // A caller's own trace context is continued, not replaced.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = system
        .http
        .get(format!("{}/api/campaigns/{campaign_id}", system.base_url))
        .bearer_auth(&tenant.key)
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let spans = spans_until(&collector, "span in the caller's trace", |spans| {
        spans.iter().any(|s| s.trace_id == caller_trace)
    })
    .await;
    let continued = spans.iter().find(|s| s.trace_id == caller_trace).unwrap();
    assert_eq!(continued.parent_span_id, caller_span);
    assert_eq!(continued.name, "GET /api/campaigns/{campaign_id}");

    // Probes are not traced: a scrape every few seconds would bury real requests.
    let (status, _) = system.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    system.stop().await;
    assert!(
        !collector
            .spans()
            .iter()
            .any(|s| s.name.contains("/healthz") || s.name.contains("/readyz")),
        "probe requests were traced"
    );
}
