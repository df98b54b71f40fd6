//! The real client against the fake server over real HTTP.

// Tests read top to bottom as a story (set up, act, check), so they are exempt from the
// workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use wuzapi::{
    FakeConfig, FakeWuzapi, NumberCheck, SendText, SentMessage, SessionStatus, WuzapiClient,
    WuzapiError,
};

const TOKEN: &str = "inbox-token";

fn spawn_fake() -> FakeWuzapi {
    spawn_fake_with(FakeConfig::default())
}

fn spawn_fake_with(config: FakeConfig) -> FakeWuzapi {
    FakeWuzapi::start_with("127.0.0.1:0", config).expect("fake WUZAPI starts")
}

fn client() -> WuzapiClient {
    WuzapiClient::with_defaults().expect("http client builds")
}

/// Raw request for what the typed client cannot express; returns status and JSON body.
async fn raw(
    fake: &FakeWuzapi,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", fake.base_url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("request reaches the fake");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body is readable");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, json)
}

#[tokio::test]
async fn send_with_given_id_is_recorded_exactly() {
    let fake = spawn_fake_with(FakeConfig {
        accept_any_token: false,
        ..FakeConfig::default()
    });
    fake.add_user(TOKEN);
    let before = Utc::now().timestamp();

    let req = SendText::new("+5511999990001", "Olá Maria!").with_id("3EB0ABCDEF0123456789");
    let outcome = client()
        .send_text(&fake.base_url(), TOKEN, &req)
        .await
        .unwrap();

    assert_eq!(outcome.id, "3EB0ABCDEF0123456789");
    // The fake answers the new shape: unix seconds.
    let at = outcome.timestamp.expect("timestamp parsed").timestamp();
    assert!(
        (before..=Utc::now().timestamp()).contains(&at),
        "timestamp {at} not now"
    );

    let sent = fake.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0],
        SentMessage {
            token: TOKEN.into(),
            phone: "+5511999990001".into(),
            jid: "5511999990001@s.whatsapp.net".into(),
            body: "Olá Maria!".into(),
            id: "3EB0ABCDEF0123456789".into(),
            at: sent[0].at,
        }
    );
    assert_eq!(sent[0].at.timestamp(), at);
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn send_without_id_gets_a_whatsmeow_style_id_and_groups_keep_their_jid() {
    let fake = spawn_fake();
    // Trailing slash on the base URL must not matter.
    let base = format!("{}/", fake.base_url());
    let outcome = client()
        .send_text(
            &base,
            TOKEN,
            &SendText::new("120363000000000001@g.us", "team update"),
        )
        .await
        .unwrap();

    assert!(
        outcome.id.starts_with("3EB0") && outcome.id.len() == 20,
        "id {}",
        outcome.id
    );
    assert!(
        outcome.id[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    );
    let sent = fake.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, outcome.id);
    assert_eq!(sent[0].jid, "120363000000000001@g.us");
}

#[tokio::test]
async fn wire_format_matches_the_protocol() {
    let fake = spawn_fake();
    // Lower-case field names and the lower-case header are accepted; answer is the envelope.
    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/chat/send/text",
        &[("token", TOKEN)],
        Some(r#"{"phone":"5511999990002","body":"hi","id":"ABC"}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["Details"], "Sent");
    assert_eq!(body["data"]["Id"], "ABC");
    assert!(body["data"]["Timestamp"].is_i64());

    // Token in the query string works too.
    let path = format!("/session/status?token={TOKEN}");
    let (status, body) = raw(&fake, reqwest::Method::GET, &path, &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["connected"], true);
    assert_eq!(body["data"]["loggedIn"], true);

    // No token at all.
    let (status, body) = raw(&fake, reqwest::Method::GET, "/session/status", &[], None).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"code":401,"error":"Unauthorized","success":false})
        )
    );
}

#[tokio::test]
async fn disconnected_number_is_not_transient_and_reconnect_recovers() {
    let fake = spawn_fake();
    let client = client();
    fake.disconnect(TOKEN);

    let err = client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511999990003", "hi"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WuzapiError::Disconnected {
            message: "No session".into()
        }
    );
    assert!(err.is_disconnected());
    assert!(!err.is_transient());

    let status_err = client
        .session_status(&fake.base_url(), TOKEN)
        .await
        .unwrap_err();
    assert!(status_err.is_disconnected());
    let check_err = client
        .check_numbers(&fake.base_url(), TOKEN, &["5511999990003".to_owned()])
        .await
        .unwrap_err();
    assert!(check_err.is_disconnected());
    assert!(fake.sent_messages().is_empty());

    fake.connect(TOKEN);
    client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511999990003", "hi"),
        )
        .await
        .unwrap();
    assert_eq!(fake.sent_messages().len(), 1);
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn no_session_is_checked_before_the_payload() {
    let fake = spawn_fake();
    fake.disconnect(TOKEN);
    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/chat/send/text",
        &[("Token", TOKEN)],
        Some("{not json"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            500,
            json!({"code":500,"error":"No session","success":false})
        )
    );
}

#[tokio::test]
async fn injected_5xx_is_transient_and_runs_out() {
    let fake = spawn_fake();
    let client = client();
    fake.fail_next_sends(2, 503);
    let req = SendText::new("5511999990004", "retry me").with_id("3EB0RETRY");

    for _ in 0..2 {
        let err = client
            .send_text(&fake.base_url(), TOKEN, &req)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            WuzapiError::Server {
                status: 503,
                message: "Internal Server Error".into()
            }
        );
        assert!(err.is_transient());
        assert!(!err.is_disconnected());
    }
    let outcome = client
        .send_text(&fake.base_url(), TOKEN, &req)
        .await
        .unwrap();
    assert_eq!(outcome.id, "3EB0RETRY");
    assert_eq!(
        fake.sent_messages().len(),
        1,
        "failed attempts are not recorded"
    );
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn invalid_numbers_are_reported_and_rejected() {
    let fake = spawn_fake();
    let client = client();
    fake.set_invalid_numbers(["+55 11 90000-0000"]);
    let phones = vec!["5511999990005".to_owned(), "+5511900000000".to_owned()];

    let checks = client
        .check_numbers(&fake.base_url(), TOKEN, &phones)
        .await
        .unwrap();
    // The fake answers in reverse order: results must be matched on `query`.
    assert_eq!(
        checks,
        vec![
            NumberCheck {
                query: "+5511900000000".into(),
                is_in_whatsapp: false,
                jid: "5511900000000@s.whatsapp.net".into(),
                verified_name: None,
            },
            NumberCheck {
                query: "5511999990005".into(),
                is_in_whatsapp: true,
                jid: "5511999990005@s.whatsapp.net".into(),
                verified_name: None,
            },
        ]
    );

    let err = client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511900000000", "hi"),
        )
        .await
        .unwrap_err();
    let WuzapiError::Rejected { message } = &err else {
        panic!("expected Rejected, got {err:?}")
    };
    assert!(message.starts_with("Error sending message: "), "{message}");
    assert!(!err.is_transient());
    assert!(!err.is_disconnected());
    assert!(fake.sent_messages().is_empty());
}

#[tokio::test]
async fn empty_number_list_needs_no_request_and_the_server_refuses_it() {
    let fake = spawn_fake();
    let checks = client()
        .check_numbers(&fake.base_url(), TOKEN, &[])
        .await
        .unwrap();
    assert!(checks.is_empty());
    assert_eq!(fake.request_count(), 0);

    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/user/check",
        &[("Token", TOKEN)],
        Some(r#"{"Phone":[]}"#),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"code":400,"error":"Missing Phone in Payload","success":false})
        )
    );
}

#[tokio::test]
async fn bad_payloads_are_invalid_requests() {
    let fake = spawn_fake();
    let client = client();

    let err = client
        .send_text(&fake.base_url(), TOKEN, &SendText::new("5511999990006", ""))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WuzapiError::InvalidRequest {
            status: 400,
            message: "Missing Body in Payload".into()
        }
    );
    assert!(!err.is_transient());

    let err = client
        .send_text(&fake.base_url(), TOKEN, &SendText::new("", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WuzapiError::InvalidRequest {
            status: 400,
            message: "Missing Phone in Payload".into()
        }
    );

    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/chat/send/text",
        &[("Token", TOKEN)],
        Some("{\"Phone\":"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"code":400,"error":"Could not decode Payload","success":false})
        )
    );
    assert!(fake.sent_messages().is_empty());
}

#[tokio::test]
async fn unknown_token_is_unauthorized_when_not_accepted() {
    let fake = spawn_fake_with(FakeConfig {
        accept_any_token: false,
        ..FakeConfig::default()
    });
    let client = client();

    let err = client
        .send_text(
            &fake.base_url(),
            "stranger",
            &SendText::new("5511999990007", "hi"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WuzapiError::Disconnected {
            message: "Unauthorized".into()
        }
    );
    assert!(!err.is_transient());

    fake.add_user("stranger");
    client
        .send_text(
            &fake.base_url(),
            "stranger",
            &SendText::new("5511999990007", "hi"),
        )
        .await
        .unwrap();
    assert_eq!(fake.sent_messages().len(), 1);
}

#[tokio::test]
async fn session_lifecycle_over_http() {
    let fake = spawn_fake();
    let client = client();
    let base = fake.base_url();
    let auth = [("Token", TOKEN)];

    assert_eq!(
        client.session_status(&base, TOKEN).await.unwrap(),
        SessionStatus {
            connected: true,
            logged_in: true,
            jid: None
        }
    );

    let (status, _) = raw(&fake, reqwest::Method::POST, "/session/logout", &auth, None).await;
    assert_eq!(status, 200);
    assert!(
        client
            .session_status(&base, TOKEN)
            .await
            .unwrap_err()
            .is_disconnected()
    );

    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/session/connect",
        &auth,
        Some("{}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        client.session_status(&base, TOKEN).await.unwrap(),
        SessionStatus {
            connected: true,
            logged_in: false,
            jid: None
        }
    );
    // Connected but not paired: still no usable session for sending.
    let err = client
        .send_text(&base, TOKEN, &SendText::new("5511999990008", "hi"))
        .await
        .unwrap_err();
    assert!(err.is_disconnected());

    let (status, body) = raw(&fake, reqwest::Method::GET, "/session/qr", &auth, None).await;
    assert_eq!(status, 200);
    let qr = body["data"]["QRCode"].as_str().expect("QRCode string");
    assert!(qr.starts_with("data:image/png;base64,"));
    assert!(client.session_status(&base, TOKEN).await.unwrap().logged_in);

    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/session/disconnect",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        client
            .session_status(&base, TOKEN)
            .await
            .unwrap_err()
            .is_disconnected()
    );
}

#[tokio::test]
async fn admin_users_need_the_admin_token_and_a_session() {
    let fake = spawn_fake_with(FakeConfig {
        accept_any_token: false,
        admin_token: "s3cret".into(),
        ..FakeConfig::default()
    });
    let create = r#"{"name":"Shop","token":"shop-token","webhook":"","events":"Message,ReadReceipt","expiration":0}"#;

    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/admin/users",
        &[("Authorization", "admin")],
        Some(create),
    )
    .await;
    assert_eq!(status, 401);

    let admin = [("Authorization", "s3cret")];
    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/admin/users",
        &admin,
        Some(create),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["success"], true);
    let id = body["data"]["id"].as_str().expect("hex id").to_owned();
    assert!(!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()));

    let (status, body) = raw(
        &fake,
        reqwest::Method::POST,
        "/admin/users",
        &admin,
        Some(create),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["success"], false);

    let (status, body) = raw(&fake, reqwest::Method::GET, "/admin/users", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["token"], "shop-token");
    assert_eq!(body["data"][0]["events"], "Message,ReadReceipt");

    // A new user has no WhatsApp session until it connects and pairs.
    let err = client()
        .send_text(
            &fake.base_url(),
            "shop-token",
            &SendText::new("5511999990009", "hi"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WuzapiError::Disconnected {
            message: "No session".into()
        }
    );

    let path = format!("/admin/users/{id}");
    let (status, _) = raw(&fake, reqwest::Method::DELETE, &path, &admin, None).await;
    assert_eq!(status, 200);
    let (_, body) = raw(&fake, reqwest::Method::GET, "/admin/users", &admin, None).await;
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn slow_server_times_out_as_transient_but_may_have_sent() {
    let fake = spawn_fake();
    fake.set_latency(Duration::from_millis(500));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let client = WuzapiClient::new(http);

    let started = std::time::Instant::now();
    let err = client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511999990010", "slow").with_id("3EB0SLOW"),
        )
        .await
        .unwrap_err();
    assert_eq!(err, WuzapiError::Timeout);
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_millis(450));
    assert_eq!(fake.sent_messages()[0].id, "3EB0SLOW");
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let fake = spawn_fake();
    let base = fake.base_url();
    fake.stop().await;

    let err = client()
        .send_text(&base, TOKEN, &SendText::new("5511999990011", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, WuzapiError::Transport(_)), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn unusable_token_is_a_config_error() {
    let fake = spawn_fake();
    let err = client()
        .send_text(
            &fake.base_url(),
            "bad\ntoken",
            &SendText::new("5511999990012", "hi"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WuzapiError::Config(_)), "{err:?}");
    assert_eq!(fake.request_count(), 0);
}

#[tokio::test]
async fn fake_controls_over_http() {
    let fake = spawn_fake();
    let client = client();
    let faults =
        r#"{"fail_next_sends":{"count":1,"status":502},"invalid_numbers":["5511900000001"]}"#;
    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/_fake/faults",
        &[],
        Some(faults),
    )
    .await;
    assert_eq!(status, 204);

    let err = client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511999990013", "hi"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, WuzapiError::Server { status: 502, .. }),
        "{err:?}"
    );
    client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511999990013", "hi").with_id("K1"),
        )
        .await
        .unwrap();
    let err = client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511900000001", "hi"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WuzapiError::Rejected { .. }), "{err:?}");

    let (status, body) = raw(&fake, reqwest::Method::GET, "/_fake/messages", &[], None).await;
    assert_eq!(status, 200);
    let messages: Vec<SentMessage> = serde_json::from_value(body).expect("messages decode");
    assert_eq!(messages, fake.sent_messages());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, "K1");

    let (_, stats) = raw(&fake, reqwest::Method::GET, "/_fake/stats", &[], None).await;
    assert_eq!(stats, json!({"requests": 3, "sent": 1}));

    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/_fake/faults",
        &[],
        Some(r#"{"disconnect":["other-token"]}"#),
    )
    .await;
    assert_eq!(status, 204);
    let err = client
        .send_text(
            &fake.base_url(),
            "other-token",
            &SendText::new("5511999990013", "hi"),
        )
        .await
        .unwrap_err();
    assert!(err.is_disconnected());

    let (status, _) = raw(&fake, reqwest::Method::POST, "/_fake/reset", &[], None).await;
    assert_eq!(status, 204);
    assert!(fake.sent_messages().is_empty());
    assert_eq!(fake.request_count(), 0);
    client
        .send_text(
            &fake.base_url(),
            TOKEN,
            &SendText::new("5511900000001", "valid again"),
        )
        .await
        .unwrap();

    let (status, _) = raw(
        &fake,
        reqwest::Method::POST,
        "/_fake/faults",
        &[],
        Some(r#"{"nonsense":1}"#),
    )
    .await;
    assert_eq!(status, 400);
}

/// A server on loopback that answers every request with `status`, `headers` (`Name: value\r\n`
/// lines) and `body`, like a proxy, another service or a compromised host behind an inbox URL.
fn canned_server(status: u16, headers: String, body: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            // Read the whole request first, so closing never resets the connection.
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let mut stream = reader.into_inner();
            let head = format!(
                "HTTP/1.1 {status} Whatever\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[tokio::test]
async fn answers_that_are_not_wuzapi_never_leak_their_body() {
    const SECRET: &str = "AKIA-SECRET-hunter2-do-not-show";
    let html = format!("<html><body>Welcome admin, your key is {SECRET}</body></html>");
    let other_json = format!(r#"{{"AccessKeyId":"{SECRET}","Code":"Success"}}"#);
    let error_json = format!(r#"{{"error":"{SECRET}","status":"fail"}}"#);
    let mut not_utf8 = vec![0xff, 0xfe, 0x00];
    not_utf8.extend_from_slice(SECRET.as_bytes());
    let cases: Vec<(u16, &str, Vec<u8>)> = vec![
        (200, "text/html", html.clone().into_bytes()),
        (200, "application/json", other_json.clone().into_bytes()),
        (200, "application/json", error_json.clone().into_bytes()),
        (200, "application/octet-stream", not_utf8.clone()),
        (302, "text/html", html.clone().into_bytes()),
        (401, "text/html", html.clone().into_bytes()),
        (404, "application/json", other_json.into_bytes()),
        (500, "application/json", error_json.into_bytes()),
        (502, "text/html", html.into_bytes()),
        (503, "application/octet-stream", not_utf8),
    ];
    let client = client();
    for (status, content_type, body) in cases {
        let base = canned_server(status, format!("Content-Type: {content_type}\r\n"), body);
        let send = client
            .send_text(&base, TOKEN, &SendText::new("5511999990020", "hi"))
            .await;
        let session = client.session_status(&base, TOKEN).await;
        let check = client
            .check_numbers(&base, TOKEN, &["5511999990020".to_owned()])
            .await;
        // A bare JSON object without `Users` reads as "no results"; never as anything it said.
        if let Ok(found) = &check {
            assert!(found.is_empty(), "{status} {content_type}: {found:?}");
        }
        let errors = [send.map(drop), session.map(drop), check.map(drop)]
            .into_iter()
            .filter_map(Result::err)
            .collect::<Vec<_>>();
        assert!(errors.len() >= 2, "{status} {content_type}: {errors:?}");
        for err in errors {
            let text = err.to_string();
            assert!(!text.contains("SECRET"), "{status} {content_type}: {text}");
            assert!(!text.contains("Welcome"), "{status} {content_type}: {text}");
            assert!(
                !text.contains("Whatever"),
                "{status} {content_type}: {text}"
            );
            // The classification still follows the status.
            match status {
                200 | 302 => assert!(matches!(err, WuzapiError::Decode(_)), "{err:?}"),
                401 => assert!(err.is_disconnected(), "{err:?}"),
                404 => assert!(
                    matches!(err, WuzapiError::InvalidRequest { status: 404, .. }),
                    "{err:?}"
                ),
                _ => assert!(err.is_transient(), "{status}: {err:?}"),
            }
            // Other than a 200 that parsed as JSON of the wrong shape ("send answer without
            // Id"), the text names the status.
            if !matches!(status, 200 | 401) {
                assert!(
                    text.contains(&status.to_string()),
                    "{status} {content_type}: the status is shown: {text}"
                );
            }
        }
    }

    // WUZAPI's own envelope message is still shown, cleaned and cut to 200 characters.
    let envelope = json!({
        "code": 500,
        "error": format!("No session\u{1b}[2J\n{}", "y".repeat(300)),
        "success": false,
    });
    let base = canned_server(
        500,
        "Content-Type: application/json\r\n".into(),
        envelope.to_string().into_bytes(),
    );
    let err = client
        .send_text(&base, TOKEN, &SendText::new("5511999990021", "hi"))
        .await
        .unwrap_err();
    let WuzapiError::Disconnected { message } = &err else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("No session[2Jyyy"), "{message}");
    assert_eq!(message.chars().count(), 200);
    assert!(err.to_string().contains("No session"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A redirect to a host the URL policy never checked (here: the fake itself) is an error.
    let fake = spawn_fake();
    let target = format!("{}/chat/send/text", fake.base_url());
    let base = canned_server(307, format!("Location: {target}\r\n"), Vec::new());
    let err = client()
        .send_text(&base, TOKEN, &SendText::new("5511999990022", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, WuzapiError::Decode(_)), "{err:?}");
    assert!(err.to_string().contains("307"), "{err}");
    assert!(fake.sent_messages().is_empty());
    assert_eq!(fake.request_count(), 0);
}
