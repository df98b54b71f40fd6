//! The events the fake posts to a user's webhook, shaped like WUZAPI's (whatsmeow's events as
//! JSON under `event`), form-encoded as `jsonData=...` (WUZAPI's default) or as JSON, and
//! signed with `x-hmac-signature: hex(HMAC-SHA256(key, body))` when the user has a key.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

/// How the fake encodes the events it posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostFormat {
    /// `application/x-www-form-urlencoded` with the event in `jsonData` (WUZAPI's default).
    #[default]
    Form,
    /// `application/json`.
    Json,
}

/// When the fake reports a sent message delivered and read; `None` never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiptPlan {
    pub delivered_after: Option<Duration>,
    pub read_after: Option<Duration>,
}

/// One event the fake posted, and how the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedEvent {
    /// `ReadReceipt`, `Message`, `Disconnected`, ...
    pub kind: String,
    /// `Delivered` / `Read` for receipts.
    pub state: Option<String>,
    /// The receiver's HTTP status; `None` when it could not be reached.
    pub status: Option<u16>,
    pub url: String,
}

/// Where and how one user's events go.
#[derive(Debug, Clone)]
pub(super) struct Destination {
    pub url: String,
    pub hmac_key: Option<String>,
    pub format: PostFormat,
}

/// `ReadReceipt` for `ids` sent to `jid`: `state` is `Delivered` or `Read`.
pub(super) fn receipt(jid: &str, ids: &[String], state: &str, at: DateTime<Utc>) -> Value {
    json!({
        "type": "ReadReceipt",
        "state": state,
        "event": {
            "Chat": jid,
            "Sender": jid,
            "IsFromMe": false,
            "IsGroup": false,
            "MessageIDs": ids,
            "Timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "Type": if state == "Read" { "read" } else { "" },
        },
    })
}

/// `Message` from `from` (a number or JID) with `text`.
pub(super) fn message(from_jid: &str, id: &str, text: &str, at: DateTime<Utc>) -> Value {
    json!({
        "type": "Message",
        "event": {
            "Info": {
                "Chat": from_jid,
                "Sender": from_jid,
                "IsFromMe": false,
                "IsGroup": false,
                "ID": id,
                "Type": "text",
                "PushName": "",
                "Timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
            },
            "Message": { "conversation": text },
        },
    })
}

/// A session event (`Connected`, `Disconnected`, `LoggedOut`, `TemporaryBan`). whatsmeow's
/// session events carry no time of their own; the fake stamps the post with when it was sent
/// (`timestamp`, RFC 3339 to the millisecond, as a WUZAPI that stamps its posts would), so the
/// receiver's age window applies to them too.
pub(super) fn session(kind: &str, at: DateTime<Utc>) -> Value {
    json!({
        "type": kind,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "event": {},
    })
}

/// The body and content type WUZAPI would post `event` with.
pub fn encode(event: &Value, format: PostFormat) -> (Vec<u8>, &'static str) {
    let text = event.to_string();
    match format {
        PostFormat::Json => (text.into_bytes(), "application/json"),
        PostFormat::Form => {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("jsonData", &text)
                .finish();
            (body.into_bytes(), "application/x-www-form-urlencoded")
        }
    }
}

/// `hex(HMAC-SHA256(key, body))`, as WUZAPI's `x-hmac-signature`.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Posts `event` to `to` (5 s timeout, as WUZAPI's client) and says how it went.
pub(super) async fn post(http: &reqwest::Client, to: &Destination, event: &Value) -> PostedEvent {
    let (body, content_type) = encode(event, to.format);
    let mut request = http
        .post(&to.url)
        .header("content-type", content_type)
        .timeout(Duration::from_secs(5));
    if let Some(key) = &to.hmac_key {
        request = request.header("x-hmac-signature", signature(key, &body));
    }
    let status = match request.body(body).send().await {
        Ok(response) => Some(response.status().as_u16()),
        Err(e) => {
            tracing::debug!(error = %e, url = %to.url, "fake WUZAPI could not post an event");
            None
        }
    };
    PostedEvent {
        kind: event["type"].as_str().unwrap_or_default().to_owned(),
        state: event["state"].as_str().map(str::to_owned),
        status,
        url: to.url.clone(),
    }
}
