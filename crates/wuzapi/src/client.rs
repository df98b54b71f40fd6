//! HTTP client for the WUZAPI REST API.
//!
//! One [`WuzapiClient`] serves every inbox: the base URL and the user token are passed on
//! each call, so a campaign worker keeps a single connection pool however many WhatsApp
//! numbers it sends through. Both deployed generations of WUZAPI are understood (see the
//! protocol notes in `wuzapi.md`): their response shapes differ for timestamps and session
//! status, and the parsers accept either.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header::HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::json_field;

/// Body of `POST /chat/send/text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendText {
    /// Digits (a leading `+` is fine) or a full JID such as `...@g.us`.
    #[serde(rename = "Phone")]
    pub phone: String,
    #[serde(rename = "Body")]
    pub body: String,
    /// WhatsApp message id to use. A deterministic id per campaign recipient lets a resend
    /// after a crash or a timeout be recognised as the same message.
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl SendText {
    pub fn new(phone: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            phone: phone.into(),
            body: body.into(),
            id: None,
        }
    }

    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// What WUZAPI answered for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// WhatsApp message id (the requested one when an `Id` was sent).
    pub id: String,
    /// When WhatsApp accepted the message; `None` when the server sent no usable timestamp.
    pub timestamp: Option<DateTime<Utc>>,
}

/// One result of `POST /user/check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCheck {
    /// The number exactly as it was asked for; results come back in any order.
    pub query: String,
    pub is_in_whatsapp: bool,
    /// JID WhatsApp knows the number by; may be empty when it is not on WhatsApp.
    pub jid: String,
    /// Business verified name, when there is one.
    pub verified_name: Option<String>,
}

/// Answer of `GET /session/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    /// The WUZAPI user has a live connection to WhatsApp.
    pub connected: bool,
    /// The connection is paired with a phone (QR code scanned).
    pub logged_in: bool,
    /// JID of the paired number, when the server reports it (new versions only).
    pub jid: Option<String>,
}

/// Why a WUZAPI call failed, in the terms a campaign needs to decide what to do next.
///
/// The classification follows what retrying can achieve:
/// - [`Disconnected`](Self::Disconnected): the number has no usable WhatsApp session. Retrying
///   cannot help until a person reconnects it, so the campaign pauses and tells its owner.
/// - [`InvalidRequest`](Self::InvalidRequest) and [`Rejected`](Self::Rejected): this request
///   will fail the same way every time (bad payload, WhatsApp refused this recipient), so only
///   this recipient fails and it is never retried.
/// - [`Server`](Self::Server), [`Timeout`](Self::Timeout), [`Transport`](Self::Transport):
///   the server or the network had a bad moment; the same request may well succeed later.
///   After a timeout the message may have been sent anyway, which is why resends carry the
///   same `Id`.
/// - [`Decode`](Self::Decode) and [`Config`](Self::Config): the server is not speaking the
///   protocol we expect, or the inbox settings are unusable; retrying unchanged is pointless.
///
/// Messages end up in a recipient's error text, which the tenant reads. So an error shows only
/// what WUZAPI itself said in its envelope (`{"code":500,"error":"No session","success":false}`),
/// without control characters and cut to [`MAX_MESSAGE_CHARS`]; any other answer (an HTML page,
/// another service's JSON, bytes that do not decode) is described by its HTTP status and a
/// generic reason, never by its body, which may come from a service the tenant must not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WuzapiError {
    /// `No session`, 401 `Unauthorized`, "logged out", "not connected".
    #[error("WhatsApp number is disconnected: {message}")]
    Disconnected { message: String },
    /// 4xx answers such as `Missing Body in Payload`.
    #[error("WUZAPI rejected the request ({status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// `Error sending message: <reason>`: WhatsApp refused this message.
    #[error("WhatsApp refused the message: {message}")]
    Rejected { message: String },
    /// Any other 5xx (and 408/429 from proxies in front of WUZAPI).
    #[error("WUZAPI server error ({status}): {message}")]
    Server { status: u16, message: String },
    /// No complete answer within the client's timeout.
    #[error("WUZAPI did not answer in time")]
    Timeout,
    /// Connection refused, reset, DNS failure and the like. The text is the HTTP client's
    /// detail, for the operator's logs (`{:?}`, [`detail`](Self::detail)); shown (`Display`),
    /// the error only says WUZAPI was unreachable: a tenant must not learn how connecting
    /// failed (a port scanner would).
    #[error("could not reach WUZAPI")]
    Transport(String),
    /// The server's address is one the egress guard refuses (a name that resolves to a
    /// private address the operator did not allow): nothing was sent. The detail is the
    /// operator's, as for [`Transport`](Self::Transport).
    #[error("the WUZAPI server's address is not allowed")]
    Refused(String),
    /// The server answered something that is not the WUZAPI protocol (the text says what kind
    /// of answer, never what it contained).
    #[error("unexpected WUZAPI response: {0}")]
    Decode(String),
    /// The base URL or token cannot be used to build a request.
    #[error("unusable WUZAPI settings: {0}")]
    Config(String),
}

impl WuzapiError {
    /// What a tenant may read of a failure outside a message's send (an inbox's event setup):
    /// the kind of failure and a status class, never the server's text or the client's.
    pub fn public_reason(&self) -> String {
        let class = |status: &u16| format!("{}xx", status / 100);
        match self {
            Self::Disconnected { .. } => {
                "WUZAPI refused the token, or the number is not connected".to_owned()
            }
            Self::InvalidRequest { status, .. } | Self::Server { status, .. } => {
                format!("WUZAPI answered {}", class(status))
            }
            Self::Rejected { .. } => "WhatsApp refused the request".to_owned(),
            Self::Timeout => "WUZAPI did not answer in time".to_owned(),
            Self::Transport(_) => "could not reach WUZAPI".to_owned(),
            Self::Refused(_) => "the WUZAPI server's address is not allowed".to_owned(),
            Self::Decode(_) => "WUZAPI's answer was not the WUZAPI protocol".to_owned(),
            Self::Config(_) => "the inbox's WUZAPI settings are unusable".to_owned(),
        }
    }

    /// What the operator's logs may say: the HTTP client's detail where `Display` hides it.
    pub fn detail(&self) -> String {
        match self {
            Self::Transport(detail) | Self::Refused(detail) => format!("{self}: {detail}"),
            other => other.to_string(),
        }
    }
}

impl WuzapiError {
    /// True when the same request may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Server { .. } | Self::Timeout | Self::Transport(_)
        )
    }

    /// True when the WhatsApp number needs a person to reconnect it.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected { .. })
    }

    /// A short name of the kind of failure, for metrics and span attributes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Disconnected { .. } => "disconnected",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Rejected { .. } => "rejected",
            Self::Server { .. } => "server",
            Self::Timeout => "timeout",
            Self::Transport(_) => "transport",
            Self::Refused(_) => "refused",
            Self::Decode(_) => "decode",
            Self::Config(_) => "config",
        }
    }
}

/// Client for WUZAPI servers, cheap to clone (it shares one `reqwest::Client`).
#[derive(Clone)]
pub struct WuzapiClient {
    http: reqwest::Client,
    /// Checks IP-literal hosts before sending ([`guarded`](Self::guarded)); names are checked
    /// by the client's resolver.
    guard: Option<egress::Guard>,
}

impl std::fmt::Debug for WuzapiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WuzapiClient")
            .field("guarded", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl WuzapiClient {
    /// WUZAPI gives up on a send after 60 s; waiting a little longer lets its own answer
    /// arrive instead of cutting it off.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(65);
    /// A WUZAPI server that does not accept a connection within this is down.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Largest answer read; WUZAPI's are a few kilobytes. A larger one is not WUZAPI.
    pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

    /// Over `http` as it is, without an egress guard (tests, tools).
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, guard: None }
    }

    /// The services' client: every connection goes through `guard` (`crates/egress`), so an
    /// inbox's server is reached only at addresses the guard allows (the operator's servers
    /// are trusted by it, see `common::wuzapi_url`), checked when connecting (no window for
    /// DNS rebinding), never through a proxy or a redirect. Timeouts as
    /// [`default_http`](Self::default_http).
    pub fn guarded(guard: egress::Guard) -> Result<Self, reqwest::Error> {
        let builder = reqwest::Client::builder()
            .timeout(Self::REQUEST_TIMEOUT)
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .user_agent(concat!("wuzapi-manager/", env!("CARGO_PKG_VERSION")));
        let http = egress::guarded(builder, &guard).build()?;
        Ok(Self {
            http,
            guard: Some(guard),
        })
    }

    /// [`guarded`](Self::guarded) with the system resolver, refusing non-public addresses
    /// except those of `trusted` hosts (the operator's: `WuzapiUrlPolicy::trusted_hosts`).
    pub fn trusting(trusted: Vec<String>) -> Result<Self, reqwest::Error> {
        let lookup = std::sync::Arc::new(egress::SystemLookup);
        Self::guarded(egress::Guard::new(false, lookup).trusting(trusted))
    }

    /// The egress guard of a [`guarded`](Self::guarded) client: what an inbox's server is
    /// checked with before it is stored.
    pub fn guard(&self) -> Option<&egress::Guard> {
        self.guard.as_ref()
    }

    /// A `reqwest::Client` with [`REQUEST_TIMEOUT`](Self::REQUEST_TIMEOUT) and
    /// [`CONNECT_TIMEOUT`](Self::CONNECT_TIMEOUT) that never follows redirects: WUZAPI does not
    /// redirect, and following one would reach a host the inbox URL policy never checked.
    pub fn default_http() -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(Self::REQUEST_TIMEOUT)
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wuzapi-manager/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// A client over [`default_http`](Self::default_http).
    pub fn with_defaults() -> Result<Self, reqwest::Error> {
        Self::default_http().map(Self::new)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST /chat/send/text`, in a `wuzapi.send` span.
    #[tracing::instrument(name = "wuzapi.send", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/chat/send/text", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty, wuzapi.message_id = req.id.as_deref()))]
    pub async fn send_text(
        &self,
        base_url: &str,
        token: &str,
        req: &SendText,
    ) -> Result<SendOutcome, WuzapiError> {
        let body = serde_json::to_value(req)
            .map_err(|e| WuzapiError::Config(format!("cannot encode message: {e}")))?;
        let data = self
            .call(Method::POST, base_url, "/chat/send/text", token, Some(body))
            .await?;
        parse_send_outcome(&data, req.id.as_deref())
    }

    /// `POST /chat/presence`: shows "typing..." in the chat with `phone` (`composing`) or
    /// stops it (`paused`).
    #[tracing::instrument(name = "wuzapi.presence", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/chat/presence", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty))]
    pub async fn chat_presence(
        &self,
        base_url: &str,
        token: &str,
        phone: &str,
        composing: bool,
    ) -> Result<(), WuzapiError> {
        let state = if composing { "composing" } else { "paused" };
        let body = json!({ "Phone": phone, "State": state });
        self.call(Method::POST, base_url, "/chat/presence", token, Some(body))
            .await
            .map(drop)
    }

    /// `POST /user/check`. Match the results on [`NumberCheck::query`]: WUZAPI does not keep
    /// the request order. An empty `phones` answers an empty list without a request.
    #[tracing::instrument(name = "wuzapi.check", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/user/check", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty, numbers = phones.len()))]
    pub async fn check_numbers(
        &self,
        base_url: &str,
        token: &str,
        phones: &[String],
    ) -> Result<Vec<NumberCheck>, WuzapiError> {
        if phones.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "Phone": phones });
        let data = self
            .call(Method::POST, base_url, "/user/check", token, Some(body))
            .await?;
        parse_number_checks(&data)
    }

    /// `GET /session/status`. A user without a session answers
    /// [`WuzapiError::Disconnected`] rather than `connected: false`.
    #[tracing::instrument(name = "wuzapi.session_status", skip_all, fields(otel.kind = "client", http.request.method = "GET", url.path = "/session/status", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty))]
    pub async fn session_status(
        &self,
        base_url: &str,
        token: &str,
    ) -> Result<SessionStatus, WuzapiError> {
        let data = self
            .call(Method::GET, base_url, "/session/status", token, None)
            .await?;
        parse_session_status(&data)
    }

    /// `POST /webhook`: WUZAPI posts this user's `events` to `url` from now on. Both
    /// generations' field names are sent (`webhookURL`, `webhook`), with `active` for the
    /// versions that can switch a webhook off; each ignores the fields it does not know.
    #[tracing::instrument(name = "wuzapi.set_webhook", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/webhook", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty))]
    pub async fn set_webhook(
        &self,
        base_url: &str,
        token: &str,
        url: &str,
        events: &[&str],
    ) -> Result<(), WuzapiError> {
        let body = json!({ "webhookURL": url, "webhook": url, "events": events, "active": true });
        self.call(Method::POST, base_url, "/webhook", token, Some(body))
            .await
            .map(drop)
    }

    /// `POST /session/hmac/config`: WUZAPI signs its posts with `key` from now on
    /// (`x-hmac-signature`). `Ok(false)` when the server predates signing (it answers 404):
    /// its posts then arrive unsigned.
    #[tracing::instrument(name = "wuzapi.set_hmac_key", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/session/hmac/config", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty))]
    pub async fn set_hmac_key(
        &self,
        base_url: &str,
        token: &str,
        key: &str,
    ) -> Result<bool, WuzapiError> {
        let body = json!({ "hmac_key": key });
        match self
            .call(
                Method::POST,
                base_url,
                "/session/hmac/config",
                token,
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(WuzapiError::InvalidRequest {
                status: 404 | 405, ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `POST /session/connect` subscribed to `events`, returning at once (`Immediate`). A
    /// session that is already connected is fine.
    #[tracing::instrument(name = "wuzapi.connect", skip_all, fields(otel.kind = "client", http.request.method = "POST", url.path = "/session/connect", http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty, error.type = tracing::field::Empty))]
    pub async fn connect(
        &self,
        base_url: &str,
        token: &str,
        events: &[&str],
    ) -> Result<(), WuzapiError> {
        let body = json!({ "Subscribe": events, "Immediate": true });
        match self
            .call(
                Method::POST,
                base_url,
                "/session/connect",
                token,
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(WuzapiError::Server { message, .. })
                if message.to_ascii_lowercase().contains("already connected") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One request in the caller's span, which records its status code and, on failure, an
    /// error status and type (never the body).
    async fn call(
        &self,
        method: Method,
        base_url: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, WuzapiError> {
        let result = self.request(method, base_url, path, token, body).await;
        if let Err(e) = &result {
            let span = tracing::Span::current();
            span.record("otel.status_code", "ERROR");
            span.record("error.type", e.kind());
        }
        result
    }

    async fn request(
        &self,
        method: Method,
        base_url: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, WuzapiError> {
        let mut token_header = HeaderValue::from_str(token)
            .map_err(|_| WuzapiError::Config("token is not a valid HTTP header value".into()))?;
        token_header.set_sensitive(true);
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        if let Some(guard) = &self.guard {
            // IP literals never reach the guarded resolver: check them here.
            let parsed = reqwest::Url::parse(&url)
                .map_err(|e| WuzapiError::Config(format!("the WUZAPI URL is not a URL: {e}")))?;
            guard
                .check_literal(&parsed)
                .map_err(|refused| WuzapiError::Refused(refused.to_string()))?;
        }

        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("Token", token_header);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > Self::MAX_RESPONSE_BYTES {
                return Err(WuzapiError::Decode(format!(
                    "HTTP {} with an answer larger than {} bytes",
                    status.as_u16(),
                    Self::MAX_RESPONSE_BYTES
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        tracing::debug!(%method, path, status = status.as_u16(), "wuzapi call");
        interpret(status, &bytes)
    }
}

/// Longest WUZAPI error message kept (in characters).
pub const MAX_MESSAGE_CHARS: usize = 200;

fn transport_error(err: reqwest::Error) -> WuzapiError {
    if let Some(refused) = egress::refusal_in(&err) {
        return WuzapiError::Refused(refused.to_string());
    }
    if err.is_timeout() {
        return WuzapiError::Timeout;
    }
    if err.is_builder() {
        return WuzapiError::Config(error_chain(&err));
    }
    WuzapiError::Transport(error_chain(&err))
}

/// reqwest's `Display` hides the cause ("error sending request"); the chain says what failed.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns one HTTP answer into the envelope's `data` or a classified error. Only WUZAPI's own
/// envelope error text can reach the error; other bodies are never quoted.
fn interpret(status: StatusCode, body: &[u8]) -> Result<Value, WuzapiError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let failure = json.as_ref().and_then(envelope_failure);
    if status.is_success() {
        let Some(json) = json else {
            return Err(WuzapiError::Decode(format!(
                "HTTP {} with a body that is not JSON",
                status.as_u16()
            )));
        };
        if let Some(failure) = failure {
            let code = json_field(&json, "code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c >= 400)
                .unwrap_or(500);
            return Err(classify(
                code,
                failure.unwrap_or_else(|| "request failed".to_owned()),
            ));
        }
        return Ok(match json {
            // Old admin answers are bare objects without the envelope.
            Value::Object(mut map) => match map.remove("data") {
                Some(data) => data,
                None => Value::Object(map),
            },
            other => other,
        });
    }
    let message = failure
        .flatten()
        .unwrap_or_else(|| generic_reason(status).to_owned());
    Err(classify(status.as_u16(), message))
}

/// `Some` when `json` is WUZAPI's error envelope (`"success": false`), holding its `error`
/// text cleaned up, or `None` inside when it has none.
fn envelope_failure(json: &Value) -> Option<Option<String>> {
    if json_field(json, "success").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    Some(
        json_field(json, "error")
            .and_then(Value::as_str)
            .map(clean_message)
            .filter(|m| !m.is_empty()),
    )
}

/// WUZAPI's message without control characters, trimmed and cut to [`MAX_MESSAGE_CHARS`].
fn clean_message(text: &str) -> String {
    let printable: String = text.chars().filter(|c| !c.is_control()).collect();
    printable.trim().chars().take(MAX_MESSAGE_CHARS).collect()
}

/// The standard reason phrase of `status`, never anything from the body.
fn generic_reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("no reason given")
}

/// Messages that mean the number has no usable WhatsApp session, whatever the status code.
const DISCONNECTED_MARKERS: [&str; 4] =
    ["no session", "logged out", "not logged in", "not connected"];
/// Reasons inside "Error sending message: ..." that are WhatsApp being slow, not refusing.
const TRANSIENT_SEND_MARKERS: [&str; 3] = ["timed out", "timeout", "deadline exceeded"];

fn classify(status: u16, message: String) -> WuzapiError {
    let lower = message.to_lowercase();
    if status == 401 || DISCONNECTED_MARKERS.iter().any(|m| lower.contains(m)) {
        return WuzapiError::Disconnected { message };
    }
    if status >= 500 {
        let refused = lower.starts_with("error sending message")
            && !TRANSIENT_SEND_MARKERS.iter().any(|m| lower.contains(m));
        return if refused {
            WuzapiError::Rejected { message }
        } else {
            WuzapiError::Server { status, message }
        };
    }
    match status {
        408 | 429 => WuzapiError::Server { status, message },
        400..=499 => WuzapiError::InvalidRequest { status, message },
        _ => WuzapiError::Decode(format!("unexpected HTTP status {status}: {message}")),
    }
}

fn parse_send_outcome(
    data: &Value,
    requested_id: Option<&str>,
) -> Result<SendOutcome, WuzapiError> {
    let id = non_empty_str(data, "Id")
        .or(requested_id.filter(|id| !id.is_empty()))
        .ok_or_else(|| WuzapiError::Decode("send answer without Id".into()))?;
    let timestamp = json_field(data, "Timestamp").and_then(parse_timestamp);
    Ok(SendOutcome {
        id: id.to_owned(),
        timestamp,
    })
}

/// Old servers send Go's RFC 3339 time, new ones unix seconds. A timestamp that cannot be
/// read is dropped rather than failing a message WhatsApp has already accepted.
fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => {
            let text = text.trim();
            if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                return Some(at.with_timezone(&Utc)).filter(|at| at.timestamp() > 0);
            }
            text.parse::<i64>().ok().and_then(from_unix)
        }
        Value::Number(number) => match number.as_i64() {
            Some(secs) => from_unix(secs),
            None => number.as_f64().and_then(|secs| {
                // Truncation is intended: sub-millisecond precision is noise here.
                #[allow(clippy::cast_possible_truncation)]
                let millis = (secs * 1000.0) as i64;
                DateTime::from_timestamp_millis(millis)
            }),
        },
        _ => None,
    }
}

/// Unix seconds; values too large to be seconds in this era are taken as milliseconds.
fn from_unix(value: i64) -> Option<DateTime<Utc>> {
    if value <= 0 {
        return None;
    }
    if value >= 100_000_000_000 {
        DateTime::from_timestamp_millis(value)
    } else {
        DateTime::from_timestamp(value, 0)
    }
}

fn parse_number_checks(data: &Value) -> Result<Vec<NumberCheck>, WuzapiError> {
    let users = match json_field(data, "Users") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(users)) => users,
        Some(_) => return Err(WuzapiError::Decode("Users is not a list".into())),
    };
    users
        .iter()
        .map(|user| {
            let query = json_field(user, "Query")
                .and_then(Value::as_str)
                .ok_or_else(|| WuzapiError::Decode("check result without Query".into()))?;
            let is_in_whatsapp = json_field(user, "IsInWhatsapp")
                .and_then(Value::as_bool)
                .ok_or_else(|| WuzapiError::Decode("check result without IsInWhatsapp".into()))?;
            Ok(NumberCheck {
                query: query.to_owned(),
                is_in_whatsapp,
                jid: non_empty_str(user, "JID").unwrap_or_default().to_owned(),
                verified_name: non_empty_str(user, "VerifiedName").map(str::to_owned),
            })
        })
        .collect()
}

/// Field names are matched case-insensitively, which covers both the old
/// `Connected`/`LoggedIn` and the new `connected`/`loggedIn` shapes.
fn parse_session_status(data: &Value) -> Result<SessionStatus, WuzapiError> {
    let flag = |key: &str| {
        json_field(data, key)
            .and_then(Value::as_bool)
            .ok_or_else(|| WuzapiError::Decode(format!("session status without {key}")))
    };
    Ok(SessionStatus {
        connected: flag("connected")?,
        logged_in: flag("loggedIn")?,
        jid: non_empty_str(data, "jid").map(str::to_owned),
    })
}

fn non_empty_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    json_field(value, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Value {
        interpret(StatusCode::OK, body.as_bytes()).expect("success envelope")
    }

    fn err(status: u16, body: &str) -> WuzapiError {
        interpret(
            StatusCode::from_u16(status).expect("valid status"),
            body.as_bytes(),
        )
        .expect_err("error answer")
    }

    #[test]
    fn send_text_serialises_with_wuzapi_field_names() {
        let plain = serde_json::to_value(SendText::new("5511999999999", "hi")).unwrap();
        assert_eq!(plain, json!({"Phone": "5511999999999", "Body": "hi"}));
        let with_id = serde_json::to_value(SendText::new("1", "b").with_id("X1")).unwrap();
        assert_eq!(with_id, json!({"Phone": "1", "Body": "b", "Id": "X1"}));
    }

    #[test]
    fn old_rfc3339_timestamp_is_parsed() {
        let data = ok(
            r#"{"code":200,"data":{"Details":"Sent","Id":"3EB0AA","Timestamp":"2024-05-01T12:30:45.123456789-03:00"},"success":true}"#,
        );
        let outcome = parse_send_outcome(&data, None).unwrap();
        assert_eq!(outcome.id, "3EB0AA");
        let expected = DateTime::parse_from_rfc3339("2024-05-01T15:30:45.123456789Z").unwrap();
        assert_eq!(outcome.timestamp, Some(expected.with_timezone(&Utc)));
    }

    #[test]
    fn new_unix_timestamp_is_parsed() {
        let data = ok(
            r#"{"code":200,"data":{"Details":"Sent","Id":"3EB0BB","Timestamp":1714566645},"success":true}"#,
        );
        let outcome = parse_send_outcome(&data, None).unwrap();
        assert_eq!(
            outcome.timestamp,
            DateTime::from_timestamp(1_714_566_645, 0)
        );
    }

    #[test]
    fn odd_timestamps_do_not_fail_a_sent_message() {
        assert_eq!(parse_timestamp(&json!("0001-01-01T00:00:00Z")), None);
        assert_eq!(parse_timestamp(&json!("yesterday")), None);
        assert_eq!(parse_timestamp(&json!(null)), None);
        assert_eq!(
            parse_timestamp(&json!("1714566645")),
            DateTime::from_timestamp(1_714_566_645, 0)
        );
        assert_eq!(
            parse_timestamp(&json!(1_714_566_645_123_i64)),
            DateTime::from_timestamp_millis(1_714_566_645_123)
        );
        assert_eq!(
            parse_timestamp(&json!(1_714_566_645.5)),
            DateTime::from_timestamp_millis(1_714_566_645_500)
        );
    }

    #[test]
    fn send_answer_without_id_falls_back_to_requested_id() {
        let data = ok(r#"{"code":200,"data":{"Details":"Sent"},"success":true}"#);
        assert_eq!(parse_send_outcome(&data, Some("MINE")).unwrap().id, "MINE");
        assert!(matches!(
            parse_send_outcome(&data, None),
            Err(WuzapiError::Decode(_))
        ));
    }

    #[test]
    fn old_session_status_shape_is_parsed() {
        let data = ok(r#"{"code":200,"data":{"Connected":true,"LoggedIn":false},"success":true}"#);
        assert_eq!(
            parse_session_status(&data).unwrap(),
            SessionStatus {
                connected: true,
                logged_in: false,
                jid: None
            }
        );
    }

    #[test]
    fn new_session_status_shape_is_parsed() {
        let data = ok(
            r#"{"code":200,"data":{"id":"ab12","name":"Shop","connected":true,"loggedIn":true,"jid":"5511999999999:7@s.whatsapp.net","qrcode":""},"success":true}"#,
        );
        assert_eq!(
            parse_session_status(&data).unwrap(),
            SessionStatus {
                connected: true,
                logged_in: true,
                jid: Some("5511999999999:7@s.whatsapp.net".into())
            }
        );
        assert!(matches!(
            parse_session_status(&json!({"connected": true})),
            Err(WuzapiError::Decode(_))
        ));
    }

    #[test]
    fn null_users_is_an_empty_list() {
        let data = ok(r#"{"code":200,"data":{"Users":null},"success":true}"#);
        assert_eq!(parse_number_checks(&data).unwrap(), Vec::new());
    }

    #[test]
    fn number_checks_are_parsed() {
        let data = ok(
            r#"{"code":200,"data":{"Users":[{"Query":"+5511","IsInWhatsapp":false,"JID":"","VerifiedName":""},{"Query":"5522","IsInWhatsapp":true,"JID":"5522@s.whatsapp.net","VerifiedName":"Shop"}]},"success":true}"#,
        );
        assert_eq!(
            parse_number_checks(&data).unwrap(),
            vec![
                NumberCheck {
                    query: "+5511".into(),
                    is_in_whatsapp: false,
                    jid: String::new(),
                    verified_name: None
                },
                NumberCheck {
                    query: "5522".into(),
                    is_in_whatsapp: true,
                    jid: "5522@s.whatsapp.net".into(),
                    verified_name: Some("Shop".into())
                },
            ]
        );
    }

    #[test]
    fn errors_are_classified() {
        let envelope = |code: u16, msg: &str| {
            json!({"code": code, "error": msg, "success": false}).to_string()
        };
        assert_eq!(
            err(500, &envelope(500, "No session")),
            WuzapiError::Disconnected {
                message: "No session".into()
            }
        );
        assert_eq!(
            err(401, &envelope(401, "Unauthorized")),
            WuzapiError::Disconnected {
                message: "Unauthorized".into()
            }
        );
        assert!(
            err(
                500,
                &envelope(500, "Error sending message: websocket not connected")
            )
            .is_disconnected()
        );
        assert!(err(500, &envelope(500, "client logged out")).is_disconnected());
        assert_eq!(
            err(400, &envelope(400, "Missing Body in Payload")),
            WuzapiError::InvalidRequest {
                status: 400,
                message: "Missing Body in Payload".into()
            }
        );
        assert_eq!(
            err(
                500,
                &envelope(500, "Error sending message: server returned error 479")
            ),
            WuzapiError::Rejected {
                message: "Error sending message: server returned error 479".into()
            }
        );
        let slow = err(
            500,
            &envelope(500, "Error sending message: info query timed out"),
        );
        assert!(matches!(slow, WuzapiError::Server { status: 500, .. }));
        assert_eq!(
            err(503, &envelope(503, "Internal Server Error")),
            WuzapiError::Server {
                status: 503,
                message: "Internal Server Error".into()
            }
        );
        assert!(matches!(
            err(429, ""),
            WuzapiError::Server { status: 429, .. }
        ));
    }

    #[test]
    fn non_json_error_bodies_are_classified_by_status() {
        assert_eq!(
            err(502, "<html>Bad Gateway</html>"),
            WuzapiError::Server {
                status: 502,
                message: "Bad Gateway".into()
            }
        );
        assert_eq!(
            err(401, ""),
            WuzapiError::Disconnected {
                message: "Unauthorized".into()
            }
        );
        assert_eq!(
            err(404, "404 page not found"),
            WuzapiError::InvalidRequest {
                status: 404,
                message: "Not Found".into()
            }
        );
        assert!(matches!(
            interpret(StatusCode::OK, b"<html>proxy login</html>"),
            Err(WuzapiError::Decode(_))
        ));
    }

    #[test]
    fn bodies_other_than_the_envelope_are_never_quoted() {
        let secret = "SECRET-db-password-hunter2";
        let bodies = [
            format!("<html><body>{secret}</body></html>"),
            format!(r#"{{"error":"{secret}"}}"#),
            format!(r#"{{"success":false,"message":"{secret}"}}"#),
            format!(r#"{{"AccessKeyId":"{secret}","Token":"x"}}"#),
            format!(r#"["{secret}"]"#),
            format!("\u{feff}{secret}\u{0}"),
        ];
        for status in [200, 201, 302, 400, 401, 403, 404, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            for body in &bodies {
                let result = interpret(status, body.as_bytes()).and_then(|data| {
                    parse_send_outcome(&data, None)?;
                    parse_number_checks(&data)?;
                    parse_session_status(&data).map(|_| data)
                });
                let text = result.expect_err("not a WUZAPI answer").to_string();
                assert!(!text.contains(secret), "{status} {body}: {text}");
                assert!(!text.contains("SECRET"), "{status} {body}: {text}");
            }
        }
        // Text that is not JSON, and bytes that are not even UTF-8, are not shown either.
        let text = err(500, "\u{fffd}").to_string();
        assert_eq!(text, "WUZAPI server error (500): Internal Server Error");
        assert_eq!(
            interpret(StatusCode::OK, &[0xff, 0xfe, b'S', b'E', b'C'])
                .unwrap_err()
                .to_string(),
            "unexpected WUZAPI response: HTTP 200 with a body that is not JSON"
        );
    }

    #[test]
    fn envelope_messages_are_cleaned_and_cut() {
        let long = format!("No session\n\u{1b}[31m{}\r", "x".repeat(500));
        let body = json!({"code": 500, "error": long, "success": false}).to_string();
        let WuzapiError::Disconnected { message } = err(500, &body) else {
            panic!("not disconnected")
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.starts_with("No session[31mxxx"), "{message}");
        assert!(!message.chars().any(char::is_control));
        // An envelope without a usable message falls back to the status.
        let body = json!({"code": 503, "error": "\u{7}", "success": false}).to_string();
        assert_eq!(
            err(503, &body),
            WuzapiError::Server {
                status: 503,
                message: "Service Unavailable".into()
            }
        );
    }

    #[test]
    fn success_false_with_status_200_is_an_error() {
        assert_eq!(
            err(200, r#"{"code":500,"error":"No session","success":false}"#),
            WuzapiError::Disconnected {
                message: "No session".into()
            }
        );
    }

    #[test]
    fn transience_follows_the_classification() {
        let transient = [
            WuzapiError::Server {
                status: 503,
                message: String::new(),
            },
            WuzapiError::Timeout,
            WuzapiError::Transport("refused".into()),
        ];
        let permanent = [
            WuzapiError::Disconnected {
                message: String::new(),
            },
            WuzapiError::InvalidRequest {
                status: 400,
                message: String::new(),
            },
            WuzapiError::Rejected {
                message: String::new(),
            },
            WuzapiError::Decode(String::new()),
            WuzapiError::Config(String::new()),
        ];
        assert!(transient.iter().all(WuzapiError::is_transient));
        assert!(permanent.iter().all(|e| !e.is_transient()));
        assert!(permanent[0].is_disconnected());
        assert!(!transient.iter().any(WuzapiError::is_disconnected));
    }
}
