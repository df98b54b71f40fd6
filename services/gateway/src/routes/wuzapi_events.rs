//! The endpoint WUZAPI servers post each inbox's events to: checked, recorded once, answered at
//! once; worker-inbound applies them through the `inbound` queue.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, post, web};
use common::ErrorCode;
use common::jobs::kind::InboundDrain;
use db::inbound::{InboundKind, NewInboundEvent, Recorded};
use db::inboxes::{HookTarget, HookToken};
use db::jobs::Enqueue;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ApiResult, Envelope, ok};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(receive);
}

/// The path WUZAPI is told to post an inbox's events to.
pub fn hook_path(token: &HookToken) -> String {
    format!("/api/webhooks/wuzapi/{}", token.expose())
}

#[derive(Serialize, utoipa::ToSchema)]
struct EventReceipt {
    /// Recorded now, to be applied shortly.
    recorded: bool,
    /// The same event was recorded before (a repeated post) and changes nothing.
    duplicate: bool,
    /// An event type the manager does not use (presence, history sync, ...): not recorded.
    ignored: bool,
}

/// Receives one event of an inbox's WhatsApp number (called by WUZAPI).
///
/// No API key: the unguessable path, and the `x-hmac-signature` header when the inbox's WUZAPI
/// signs (`hex(HMAC-SHA256(key, body))`), authenticate the post. The body is WUZAPI's
/// `{"type", "event", ...}`, form-encoded in `jsonData` (WUZAPI's default) or as JSON. Receipts,
/// messages and session changes are recorded once each (a repeat answers `duplicate`) and
/// applied by a worker within moments; other event types are acknowledged and dropped. An event
/// dated (its `timestamp`, `event.Info.Timestamp` or `event.Timestamp`) further than
/// `INBOUND_MAX_AGE_SECONDS` from now is refused 422 and not recorded, so a captured post cannot
/// be replayed later.
#[utoipa::path(
    tag = "inboxes",
    params(
        ("hook_token" = String, Path, description = "The inbox's event path token (64 hex digits)"),
        ("x-hmac-signature" = Option<String>, Header, description = "Hex HMAC-SHA256 of the body under the inbox's key; required when the inbox signs"),
    ),
    request_body(content = Object, content_type = "application/json", description = "A WUZAPI event: `{\"type\": \"ReadReceipt\", \"state\": \"Delivered\", \"event\": {...}}`; also accepted form-encoded as `jsonData=...`"),
    responses(
        (status = 200, description = "Recorded, a repeat, or an event type the manager ignores", body = Envelope<EventReceipt>),
        (status = 422, description = "Not an event, or one whose own time is outside `INBOUND_MAX_AGE_SECONDS` of now (`field` names the timestamp): a possible replay, not recorded", body = common::ErrorBody),
    ),
    security(()),
)]
#[post("/webhooks/wuzapi/{hook_token}")]
pub async fn receive(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> ApiResult {
    // A path of another shape never reaches the database.
    let target = match HookToken::parse(&path) {
        Some(token) => db::inboxes::hook_target(db::PlatformScope::new(&state.db), &token).await?,
        None => None,
    };
    let Some(target) = target else {
        count_received("unknown", "unknown_inbox");
        return Err(ApiError::not_found("inbox"));
    };
    check_signature(&state, &target, &request, &body)?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let event = match decode(content_type, &body) {
        Ok(event) => event,
        Err(e) => {
            count_received("unknown", "malformed");
            return Err(e);
        }
    };
    let Some((kind, dedupe_key)) = classify(&event) else {
        count_received(event["type"].as_str().unwrap_or("unknown"), "ignored");
        return Ok(ok(EventReceipt {
            recorded: false,
            duplicate: false,
            ignored: true,
        }));
    };
    // A signed post cannot be altered, but it can be posted again: one whose own timestamp is
    // outside the window is refused, and one inside it is recognised by its body (which holds
    // the timestamp) as a repeat.
    let now = chrono::Utc::now();
    if let Err(error) = check_age(&event, now, state.config.security.inbound_max_age) {
        count_received(kind.as_str(), "stale");
        tracing::info!(inbox = %target.inbox_id, kind = kind.as_str(), "WUZAPI event refused: outside the accepted window");
        return Err(error);
    }
    // PostgreSQL's jsonb cannot hold the NUL character.
    if let Some(path) = common::text::nul_path(&event) {
        count_received(kind.as_str(), "malformed");
        return Err(ApiError::validation(
            &path,
            format!(
                "`{path}`: the event holds the NUL character (\\u0000), which cannot be stored"
            ),
        ));
    }
    let recorded = record(
        &state,
        &target,
        NewInboundEvent {
            kind,
            dedupe_key: &dedupe_key,
            payload: &event,
        },
    )
    .await?;
    count_received(
        kind.as_str(),
        if recorded.recorded {
            "accepted"
        } else {
            "duplicate"
        },
    );
    Ok(ok(EventReceipt {
        recorded: recorded.recorded,
        duplicate: !recorded.recorded,
        ignored: false,
    }))
}

/// Counts a post by its event type and what became of it.
fn count_received(kind: &str, outcome: &'static str) {
    metrics::counter!("inbound_events_received_total", "type" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// When the inbox's WUZAPI signs, refuses a post whose `x-hmac-signature` does not match.
fn check_signature(
    state: &AppState,
    target: &HookTarget,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(key) = &target.hmac_key else {
        return Ok(());
    };
    let key = state.token_cipher.decrypt(key.ciphertext()).map_err(|e| {
        ApiError::internal(format!(
            "inbox {}: its event key cannot be decrypted: {e}",
            target.inbox_id
        ))
    })?;
    let given = request
        .headers()
        .get("x-hmac-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(reason) = verify_signature(secrecy::ExposeSecret::expose_secret(&key), given, body) {
        count_received("unknown", "bad_signature");
        tracing::info!(inbox = %target.inbox_id, reason, "WUZAPI event refused");
        return Err(ApiError::new(ErrorCode::InvalidSignature, reason));
    }
    Ok(())
}

/// Records the event once, and the inbox's drain job when one is needed, in one
/// transaction; the relay is woken when a job was queued.
async fn record(
    state: &AppState,
    target: &HookTarget,
    event: NewInboundEvent<'_>,
) -> Result<Recorded, ApiError> {
    let txn = sea_orm::TransactionTrait::begin(&state.db)
        .await
        .map_err(db::DbError::from)?;
    let scope = db::TenantScope::for_signed_callback(&txn, target.tenant_id);
    let recorded = db::inbound::record(scope, target.inbox_id, event).await?;
    if recorded.drain_needed {
        db::jobs::enqueue::<InboundDrain>(
            scope,
            target.inbox_id,
            &(),
            Enqueue {
                max_attempts: Some(state.config.inbound_attempts),
                run_at: None,
                trace_context: telemetry::current_traceparent(),
            },
        )
        .await?;
    }
    txn.commit().await.map_err(db::DbError::from)?;
    if recorded.drain_needed {
        state.relay_waker.wake();
    }
    Ok(recorded)
}

/// Checks `x-hmac-signature` (hex, either case) against the raw body.
fn verify_signature(key: &str, given: Option<&str>, body: &[u8]) -> Result<(), &'static str> {
    let given =
        given.ok_or("the x-hmac-signature header is missing; this inbox's posts must be signed")?;
    let given = hex::decode(given.trim()).map_err(|_| "x-hmac-signature is not hex")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| "x-hmac-signature does not match the body")
}

/// The event in a post: the `jsonData` field of a form, or a JSON body.
fn decode(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let malformed = |message: String| ApiError::new(ErrorCode::MalformedJson, message);
    let is_form = content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    let event: Value = if is_form {
        let json = url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "jsonData")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| malformed("the form has no `jsonData` field".into()))?;
        serde_json::from_str(&json)
            .map_err(|e| malformed(format!("`jsonData` is not JSON: {e}")))?
    } else {
        serde_json::from_slice(body).map_err(|e| malformed(format!("the body is not JSON: {e}")))?
    };
    if !event.is_object() || !event["type"].is_string() {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "an event is an object with a `type` (e.g. `ReadReceipt`, `Message`)",
        ));
    }
    Ok(event)
}

/// Where WUZAPI's events say when they happened, in the order they are looked at: a stamp on
/// the post itself, a message's `Info.Timestamp`, a receipt's (and most whatsmeow events')
/// `Timestamp`.
const TIME_FIELDS: [&[&str]; 4] = [
    &["timestamp"],
    &["Timestamp"],
    &["event", "Info", "Timestamp"],
    &["event", "Timestamp"],
];

/// When the event happened by its own clock, and the field that said so; `None` when it does
/// not say (whatsmeow's session events carry no time) or says nothing usable (Go's zero time).
fn event_time(event: &Value) -> Option<(chrono::DateTime<chrono::Utc>, String)> {
    TIME_FIELDS.iter().find_map(|path| {
        let value = path.iter().try_fold(event, |value, key| value.get(*key))?;
        let at = match value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&chrono::Utc))
                .ok()
                .or_else(|| text.parse::<i64>().ok().and_then(from_unix)),
            Value::Number(number) => number.as_i64().and_then(from_unix),
            _ => None,
        }?;
        (at.timestamp() > 0).then(|| (at, path.join(".")))
    })
}

/// Unix seconds, or milliseconds when the number is too large to be seconds of this era.
fn from_unix(value: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    if value > 100_000_000_000 {
        chrono::DateTime::from_timestamp_millis(value)
    } else {
        chrono::DateTime::from_timestamp(value, 0)
    }
}

/// Refuses (422, naming the timestamp's field) an event whose own time is more than `max_age`
/// before `now`, or as far after it (a clock that far ahead would make a captured post
/// replayable for as long). An event without a time passes: repeats of it are recognised by
/// its body for `INBOUND_RETENTION_HOURS` (see [`classify`]).
fn check_age(
    event: &Value,
    now: chrono::DateTime<chrono::Utc>,
    max_age: chrono::Duration,
) -> Result<(), ApiError> {
    let Some((at, field)) = event_time(event) else {
        return Ok(());
    };
    let off = now - at;
    if off > max_age || -off > max_age {
        let (amount, direction) = if off > chrono::Duration::zero() {
            (off, "old")
        } else {
            (-off, "ahead of this server's clock")
        };
        return Err(ApiError::validation(
            &field,
            format!(
                "`{field}` ({}) is {} s {direction}: events are accepted within {} s of their \
                 time (INBOUND_MAX_AGE_SECONDS), so a captured post cannot be replayed; nothing \
                 was recorded",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                amount.num_seconds(),
                max_age.num_seconds(),
            ),
        ));
    }
    Ok(())
}

/// Session events a number's health depends on.
const SESSION_EVENTS: &[&str] = &[
    "Connected",
    "Disconnected",
    "LoggedOut",
    "TemporaryBan",
    "ConnectFailure",
    "ClientOutdated",
    "StreamReplaced",
    "KeepAliveTimeout",
];

/// What is kept of an event and what makes a repeat of it the same event; `None` for event
/// types the manager does not use. WUZAPI's events carry no id of their own: a receipt is its
/// state and message ids, a message its WhatsApp id, a session change its whole body (its time
/// included, when it has one). A repeat is recognised while the first is kept
/// (`INBOUND_RETENTION_HOURS`), longer than the age window: a captured `LoggedOut` posted again
/// is either a repeat or too old, and never pauses campaigns twice. (A session event without a
/// time that truly happens twice within the retention reads as a repeat; the campaign worker
/// still pauses on the sends that then fail for want of a session.)
fn classify(event: &Value) -> Option<(InboundKind, String)> {
    let kind = event["type"].as_str()?;
    let body = &event["event"];
    let digest = |parts: &[&str]| {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hex::encode(&hash.finalize()[..16])
    };
    match kind {
        "ReadReceipt" => {
            let mut ids: Vec<&str> = body["MessageIDs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            ids.sort_unstable();
            let state = event["state"]
                .as_str()
                .or_else(|| body["Type"].as_str())
                .unwrap_or_default();
            let sender = body["Sender"].as_str().unwrap_or_default();
            let mut parts = vec![state, sender];
            parts.extend(ids);
            Some((InboundKind::Receipt, format!("receipt:{}", digest(&parts))))
        }
        "Message" => {
            let key = match body["Info"]["ID"].as_str() {
                Some(id) if !id.is_empty() && id.len() <= 128 => format!("message:{id}"),
                _ => format!("message:{}", digest(&[&event.to_string()])),
            };
            Some((InboundKind::Message, key))
        }
        kind if SESSION_EVENTS.contains(&kind) => Some((
            InboundKind::Connection,
            format!("connection:{}", digest(&[&event.to_string()])),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn posts_decode_from_forms_and_json() {
        let event = json!({"type": "ReadReceipt", "state": "Read", "event": {"MessageIDs": ["A"]}});
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("jsonData", &event.to_string())
            .append_pair("userID", "1")
            .finish();
        let decoded = decode(
            "application/x-www-form-urlencoded; charset=utf-8",
            form.as_bytes(),
        )
        .unwrap();
        assert_eq!(decoded, event);
        assert_eq!(
            decode("application/json", event.to_string().as_bytes()).unwrap(),
            event
        );
        for (content_type, body) in [
            ("application/json", "not json"),
            ("application/json", "[1]"),
            ("application/json", r#"{"event": {}}"#),
            ("application/x-www-form-urlencoded", "other=1"),
            ("application/x-www-form-urlencoded", "jsonData=%7B"),
        ] {
            assert!(decode(content_type, body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn repeats_of_an_event_share_its_key() {
        let a = json!({"type": "ReadReceipt", "state": "Read", "event": {"MessageIDs": ["A", "B"], "Sender": "1@s.whatsapp.net"}});
        let b = json!({"type": "ReadReceipt", "state": "Read", "event": {"MessageIDs": ["B", "A"], "Sender": "1@s.whatsapp.net"}});
        let delivered = json!({"type": "ReadReceipt", "state": "Delivered", "event": {"MessageIDs": ["A", "B"], "Sender": "1@s.whatsapp.net"}});
        assert_eq!(classify(&a), classify(&b));
        assert_ne!(classify(&a), classify(&delivered));
        let message = json!({"type": "Message", "event": {"Info": {"ID": "3EB0X"}}});
        assert_eq!(
            classify(&message),
            Some((InboundKind::Message, "message:3EB0X".into()))
        );
        assert_eq!(
            classify(&json!({"type": "LoggedOut", "event": {}}))
                .unwrap()
                .0,
            InboundKind::Connection
        );
        assert_eq!(
            classify(&json!({"type": "ChatPresence", "event": {}})),
            None
        );
    }

    #[test]
    fn events_are_dated_by_their_own_time() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for (event, field) in [
            (
                json!({"type": "Message", "event": {"Info": {"Timestamp": "2026-12-07T07:00:00-03:00"}}}),
                "event.Info.Timestamp",
            ),
            (
                json!({"type": "ReadReceipt", "event": {"Timestamp": "2026-12-07T10:00:00Z"}}),
                "event.Timestamp",
            ),
            (
                json!({"type": "LoggedOut", "timestamp": at.timestamp(), "event": {}}),
                "timestamp",
            ),
            (
                json!({"type": "LoggedOut", "timestamp": at.timestamp_millis(), "event": {}}),
                "timestamp",
            ),
        ] {
            assert_eq!(event_time(&event), Some((at, field.to_owned())), "{event}");
        }
        for undated in [
            json!({"type": "LoggedOut", "event": {"Reason": 401}}),
            json!({"type": "ReadReceipt", "event": {"Timestamp": "0001-01-01T00:00:00Z"}}),
            json!({"type": "ReadReceipt", "event": {"Timestamp": "yesterday"}}),
        ] {
            assert_eq!(event_time(&undated), None, "{undated}");
        }
    }

    #[test]
    fn events_outside_the_window_are_refused() {
        let now = chrono::Utc::now();
        let window = chrono::Duration::seconds(300);
        let dated = |at: chrono::DateTime<chrono::Utc>| json!({"type": "LoggedOut", "event": {"Timestamp": at.to_rfc3339()}});
        assert!(check_age(&dated(now), now, window).is_ok());
        assert!(check_age(&dated(now - chrono::Duration::seconds(299)), now, window).is_ok());
        assert!(check_age(&dated(now + chrono::Duration::seconds(60)), now, window).is_ok());
        let old = check_age(&dated(now - chrono::Duration::seconds(301)), now, window);
        assert!(old.is_err());
        assert!(check_age(&dated(now + chrono::Duration::seconds(301)), now, window).is_err());
        assert!(check_age(&json!({"type": "LoggedOut", "event": {}}), now, window).is_ok());
    }

    #[test]
    fn a_session_event_repeats_with_its_body_whenever_it_comes() {
        let event = json!({"type": "LoggedOut", "event": {"Timestamp": "2026-12-07T10:00:00Z"}});
        let later = json!({"type": "LoggedOut", "event": {"Timestamp": "2026-12-07T10:00:01Z"}});
        assert_eq!(classify(&event), classify(&event.clone()));
        assert_ne!(classify(&event), classify(&later));
    }

    #[test]
    fn signatures_are_checked_against_the_raw_body() {
        let key = "k".repeat(32);
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(b"body");
        let good = hex::encode(mac.finalize().into_bytes());
        assert!(verify_signature(&key, Some(&good), b"body").is_ok());
        assert!(verify_signature(&key, Some(&good.to_uppercase()), b"body").is_ok());
        assert!(verify_signature(&key, Some(&good), b"other").is_err());
        assert!(verify_signature(&key, None, b"body").is_err());
        assert!(verify_signature(&key, Some("zz"), b"body").is_err());
    }
}
