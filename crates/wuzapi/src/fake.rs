//! A WUZAPI server that speaks the real protocol over HTTP, without WhatsApp behind it.
//!
//! Tests, benches and local demos point the real [`WuzapiClient`](crate::WuzapiClient) (or
//! any HTTP client) at it. It keeps the upstream check order and error texts, records every
//! accepted message, and lets a test inject the failures a campaign must survive:
//! disconnected numbers, numbers not on WhatsApp, 5xx bursts and slow answers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::dev::{ServerHandle, Service};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::json_field;

mod events;
use events::Destination;
pub use events::{PostFormat, PostedEvent, ReceiptPlan, encode, signature};

/// Settings of a [`FakeWuzapi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConfig {
    /// Treat an unknown user token as a connected, paired user (so demos work with any
    /// inbox token). When false, unknown tokens get 401 `Unauthorized` like the real server.
    pub accept_any_token: bool,
    /// Value the `Authorization` header must carry on `/admin/*`.
    pub admin_token: String,
    /// Answer `/session/hmac/config` (newer WUZAPI); false answers 404 like older servers,
    /// whose posts are never signed.
    pub supports_hmac: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            accept_any_token: true,
            admin_token: "admin".to_owned(),
            supports_hmac: true,
        }
    }
}

/// One `POST /chat/presence` the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceCall {
    pub token: String,
    /// Digits of the chat's number.
    pub phone: String,
    /// `composing`, `paused` (as sent).
    pub state: String,
    pub at: DateTime<Utc>,
}

/// One message the fake accepted on `POST /chat/send/text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// User token the message was sent with.
    pub token: String,
    /// `Phone` exactly as received.
    pub phone: String,
    /// The JID the phone was normalised to.
    pub jid: String,
    pub body: String,
    /// Message id: the requested `Id`, or a generated whatsmeow-style one.
    pub id: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    name: String,
    token: String,
    webhook: String,
    events: String,
    /// Signs the posts to `webhook` (`/session/hmac/config`).
    hmac_key: Option<String>,
    /// Has a WhatsApp session (`/session/connect` done, not disconnected since).
    connected: bool,
    /// Paired with a phone (QR code scanned, not logged out since).
    logged_in: bool,
}

impl User {
    fn new(token: &str, name: &str, connected: bool, logged_in: bool) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: name.to_owned(),
            token: token.to_owned(),
            webhook: String::new(),
            events: "All".to_owned(),
            hmac_key: None,
            connected,
            logged_in,
        }
    }

    fn ready(token: &str) -> Self {
        Self::new(token, token, true, true)
    }

    fn can_send(&self) -> bool {
        self.connected && self.logged_in
    }

    fn admin_view(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "token": self.token,
            "webhook": self.webhook,
            "events": self.events,
            "connected": self.connected,
            "loggedIn": self.logged_in,
        })
    }
}

#[derive(Debug)]
struct State {
    config: FakeConfig,
    /// By token.
    users: BTreeMap<String, User>,
    /// Digits of numbers that are not on WhatsApp.
    invalid_numbers: HashSet<String>,
    fail_remaining: u32,
    fail_status: StatusCode,
    latency: Duration,
    sent: Vec<SentMessage>,
    refused: Vec<DateTime<Utc>>,
    /// Sends WhatsApp refuses next (`Error sending message: ...`), with this reason.
    reject_remaining: u32,
    presence: Vec<PresenceCall>,
    requests: u64,
    receipts: ReceiptPlan,
    post_format: PostFormat,
    posted: Vec<PostedEvent>,
}

impl State {
    /// The user a token names, creating it when unknown tokens are accepted.
    fn user(&mut self, token: Option<&str>) -> Result<&mut User, Refusal> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(Refusal::unauthorized)?;
        if !self.config.accept_any_token && !self.users.contains_key(token) {
            return Err(Refusal::unauthorized());
        }
        Ok(self
            .users
            .entry(token.to_owned())
            .or_insert_with(|| User::ready(token)))
    }

    fn is_invalid(&self, jid: &str) -> bool {
        self.invalid_numbers.contains(&number_key(jid))
    }

    /// Where `token`'s events go, if it has a webhook.
    fn destination(&self, token: &str) -> Option<Destination> {
        let user = self.users.get(token).filter(|u| !u.webhook.is_empty())?;
        Some(Destination {
            url: user.webhook.clone(),
            hmac_key: user.hmac_key.clone(),
            format: self.post_format,
        })
    }
}

/// Shared handle on a fake's state: register users and inject faults while it runs.
/// Clones control the same server.
#[derive(Debug, Clone)]
pub struct FakeControl {
    state: Arc<Mutex<State>>,
    /// Posts events to users' webhooks.
    http: reqwest::Client,
}

impl FakeControl {
    fn new(config: FakeConfig) -> Self {
        let state = State {
            config,
            users: BTreeMap::new(),
            invalid_numbers: HashSet::new(),
            fail_remaining: 0,
            fail_status: StatusCode::INTERNAL_SERVER_ERROR,
            latency: Duration::ZERO,
            sent: Vec::new(),
            refused: Vec::new(),
            reject_remaining: 0,
            presence: Vec::new(),
            requests: 0,
            receipts: ReceiptPlan::default(),
            post_format: PostFormat::default(),
            posted: Vec::new(),
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// A test that panicked while holding the lock must not hide its own failure behind
    /// poison errors in every later request.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `token` as a connected, paired user (or reconnects it).
    pub fn add_user(&self, token: impl Into<String>) {
        let token = token.into();
        let mut state = self.lock();
        let user = state
            .users
            .entry(token.clone())
            .or_insert_with(|| User::ready(&token));
        user.connected = true;
        user.logged_in = true;
    }

    /// Drops the user's WhatsApp session: its calls answer 500 `No session` until
    /// [`connect`](Self::connect). Works for tokens not seen yet too.
    pub fn disconnect(&self, token: &str) {
        let mut state = self.lock();
        let user = state
            .users
            .entry(token.to_owned())
            .or_insert_with(|| User::ready(token));
        user.connected = false;
    }

    /// Restores a paired session for `token`, as if the number came back online.
    pub fn connect(&self, token: &str) {
        self.add_user(token);
    }

    /// Numbers (digits, `+` and formatting ignored) that are not on WhatsApp: `/user/check`
    /// reports them `IsInWhatsapp: false` and sends to them fail with
    /// 500 `Error sending message: ...`. Replaces the previous set.
    pub fn set_invalid_numbers<I, S>(&self, numbers: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.lock().invalid_numbers = numbers
            .into_iter()
            .map(|n| number_key(n.as_ref()))
            .collect();
    }

    /// The next `n` otherwise valid sends answer `status` (meant for 5xx) with
    /// `Internal Server Error` and are not recorded.
    pub fn fail_next_sends(&self, n: u32, status: u16) {
        let mut state = self.lock();
        state.fail_remaining = n;
        state.fail_status =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// The next `n` otherwise valid sends are refused by "WhatsApp" (500 `Error sending
    /// message: server returned error 479`, what a restricted number gets) and not recorded.
    pub fn reject_next_sends(&self, n: u32) {
        self.lock().reject_remaining = n;
    }

    /// Every presence update (`POST /chat/presence`), oldest first.
    pub fn presence_calls(&self) -> Vec<PresenceCall> {
        self.lock().presence.clone()
    }

    /// Delay added to every protocol answer. The request is handled first, so a client
    /// that times out may find its message recorded, as with a slow real server.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Every accepted message, oldest first.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// How many messages were accepted (without copying them, for polling).
    pub fn sent_count(&self) -> usize {
        self.lock().sent.len()
    }

    /// When each send failed on purpose ([`fail_next_sends`](Self::fail_next_sends)), oldest
    /// first: tests measure retry delays with it.
    pub fn refused_send_times(&self) -> Vec<DateTime<Utc>> {
        self.lock().refused.clone()
    }

    /// Protocol requests received (anything outside `/_fake/*`), accepted or not.
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    /// Forgets recorded messages and the request count and clears injected faults
    /// (invalid numbers, pending failures, latency). Users and their sessions are kept.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.sent.clear();
        state.refused.clear();
        state.requests = 0;
        state.invalid_numbers.clear();
        state.fail_remaining = 0;
        state.reject_remaining = 0;
        state.presence.clear();
        state.latency = Duration::ZERO;
        state.receipts = ReceiptPlan::default();
        state.posted.clear();
    }

    /// From now on, each accepted message is reported delivered and read to its user's
    /// webhook after these delays (`None`: never), as WhatsApp's receipts would be.
    pub fn set_receipts(&self, plan: ReceiptPlan) {
        self.lock().receipts = plan;
    }

    /// How events are posted: form-encoded `jsonData` (the default) or JSON.
    pub fn set_post_format(&self, format: PostFormat) {
        self.lock().post_format = format;
    }

    /// The webhook URL `token` posts its events to and the events it subscribed to, once a
    /// client set them, and whether it signs them.
    pub fn webhook_of(&self, token: &str) -> Option<(String, String, bool)> {
        let state = self.lock();
        let user = state.users.get(token)?;
        Some((
            user.webhook.clone(),
            user.events.clone(),
            user.hmac_key.is_some(),
        ))
    }

    /// The key `token`'s posts are signed with, once a client set one.
    pub fn hmac_key_of(&self, token: &str) -> Option<String> {
        self.lock().users.get(token)?.hmac_key.clone()
    }

    /// Every event posted so far, in the order the answers came.
    pub fn posted_events(&self) -> Vec<PostedEvent> {
        self.lock().posted.clone()
    }

    /// `from` (a number) writes `text` to `token`'s number: posts the `Message` event now and
    /// says how the receiver answered. `None` when the user has no webhook.
    pub async fn reply(&self, token: &str, from: &str, text: &str) -> Option<PostedEvent> {
        let event = events::message(
            &normalise_jid(from),
            &whatsmeow_message_id(),
            text,
            Utc::now(),
        );
        self.post_event(token, &event).await
    }

    /// Posts a session event (`Connected`, `Disconnected`, `LoggedOut`, `TemporaryBan`) for
    /// `token`; `None` when it has no webhook.
    pub async fn post_session_event(&self, token: &str, kind: &str) -> Option<PostedEvent> {
        self.post_event(token, &events::session(kind, Utc::now()))
            .await
    }

    /// Posts any `event` to `token`'s webhook as the server would (encoded, and signed when
    /// the user has a key); `None` when it has no webhook.
    pub async fn post_event(&self, token: &str, event: &Value) -> Option<PostedEvent> {
        let destination = self.lock().destination(token)?;
        Some(self.post(&destination, event).await)
    }

    /// Whether `/session/hmac/config` is answered (newer WUZAPI) or 404 (older).
    pub fn set_hmac_support(&self, supported: bool) {
        self.lock().config.supports_hmac = supported;
    }

    async fn post(&self, to: &Destination, event: &Value) -> PostedEvent {
        let posted = events::post(&self.http, to, event).await;
        self.lock().posted.push(posted.clone());
        posted
    }

    /// The receipts the plan promises for a message just accepted.
    fn schedule_receipts(&self, to: Destination, plan: ReceiptPlan, jid: String, id: String) {
        for (delay, state) in [
            (plan.delivered_after, "Delivered"),
            (plan.read_after, "Read"),
        ] {
            let Some(delay) = delay else { continue };
            let (control, to, jid, id) = (self.clone(), to.clone(), jid.clone(), id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let event = events::receipt(&jid, &[id], state, Utc::now());
                control.post(&to, &event).await;
            });
        }
    }

    fn on_request(&self) -> Duration {
        let mut state = self.lock();
        state.requests += 1;
        state.latency
    }
}

/// A running fake WUZAPI server. Stops when dropped or on [`stop`](Self::stop).
///
/// Dereferences to its [`FakeControl`], so `fake.disconnect(token)` works directly.
#[derive(Debug)]
pub struct FakeWuzapi {
    control: FakeControl,
    addr: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<io::Result<()>>,
}

impl FakeWuzapi {
    /// Binds `addr` (port 0 picks a free port) with [`FakeConfig::default`] and serves on a
    /// task of the current Tokio runtime.
    pub fn start(addr: &str) -> io::Result<Self> {
        Self::start_with(addr, FakeConfig::default())
    }

    pub fn start_with(addr: &str, config: FakeConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| io::Error::other("FakeWuzapi must be started inside a Tokio runtime"))?;
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let control = FakeControl::new(config);
        let app_control = control.clone();
        let server = HttpServer::new(move || {
            let counter = app_control.clone();
            App::new()
                .app_data(web::Data::new(app_control.clone()))
                .wrap_fn(move |req, srv| {
                    let latency = if req.path().starts_with("/_fake") {
                        Duration::ZERO
                    } else {
                        counter.on_request()
                    };
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        if !latency.is_zero() {
                            tokio::time::sleep(latency).await;
                        }
                        Ok(response)
                    }
                })
                .configure(routes)
                .default_service(web::to(not_found))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = runtime.spawn(server);
        Ok(Self {
            control,
            addr,
            handle,
            task,
        })
    }

    /// `http://host:port`, usable as a WUZAPI base URL.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that outlives borrows of the server, e.g. to move into other tasks.
    pub fn control(&self) -> FakeControl {
        self.control.clone()
    }

    /// Stops accepting connections and waits for the server to shut down.
    pub async fn stop(mut self) {
        self.handle.stop(false).await;
        if let Err(err) = (&mut self.task).await {
            tracing::warn!(%err, "fake WUZAPI server task ended abnormally");
        }
    }
}

impl std::ops::Deref for FakeWuzapi {
    type Target = FakeControl;

    fn deref(&self) -> &FakeControl {
        &self.control
    }
}

impl Drop for FakeWuzapi {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; its future only awaits completion.
        drop(self.handle.stop(false));
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/chat/send/text", web::post().to(send_text))
        .route("/chat/presence", web::post().to(chat_presence))
        .route("/user/check", web::post().to(check_numbers))
        .route("/session/status", web::get().to(session_status))
        .route("/session/connect", web::post().to(session_connect))
        .route("/session/disconnect", web::post().to(session_disconnect))
        .route("/session/logout", web::post().to(session_logout))
        .route("/session/qr", web::get().to(session_qr))
        .route("/webhook", web::post().to(set_webhook))
        .route("/webhook", web::get().to(get_webhook))
        .route("/session/hmac/config", web::post().to(set_hmac))
        .route("/session/hmac/config", web::delete().to(delete_hmac))
        .route("/admin/users", web::post().to(admin_create_user))
        .route("/admin/users", web::get().to(admin_list_users))
        .route("/admin/users/{id}", web::delete().to(admin_delete_user))
        .route("/_fake/messages", web::get().to(fake_messages))
        .route("/_fake/stats", web::get().to(fake_stats))
        .route("/_fake/faults", web::post().to(fake_faults))
        .route("/_fake/reset", web::post().to(fake_reset));
}

type Control = web::Data<FakeControl>;
type Answer = Result<HttpResponse, Refusal>;

fn success(status: StatusCode, data: Value) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({"code": status.as_u16(), "data": data, "success": true}))
}

/// An error answer in the WUZAPI envelope; handlers return it with `?`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    fn no_session() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "No session")
    }

    fn bad_payload() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Could not decode Payload")
    }

    fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({"code": self.status.as_u16(), "error": self.message, "success": false}))
    }
}

/// Upstream's router answers unknown paths in plain text.
async fn not_found() -> HttpResponse {
    plain_not_found()
}

fn plain_not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("404 page not found\n")
}

/// `Token`/`token` header (header names are case-insensitive), else `?token=`.
fn request_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get("token").and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|query| query.get("token").cloned())
}

/// The request's user when it has a paired WhatsApp session.
fn session_user<'a>(state: &'a mut State, req: &HttpRequest) -> Result<&'a mut User, Refusal> {
    let user = state.user(request_token(req).as_deref())?;
    if user.can_send() {
        Ok(user)
    } else {
        Err(Refusal::no_session())
    }
}

/// The request's user when it is connected, paired or not.
fn connected_user<'a>(state: &'a mut State, req: &HttpRequest) -> Result<&'a mut User, Refusal> {
    let user = state.user(request_token(req).as_deref())?;
    if user.connected {
        Ok(user)
    } else {
        Err(Refusal::no_session())
    }
}

fn decode_object(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(Refusal::bad_payload)
}

/// A string field that must not be empty: `Ok(None)` when missing or empty, `Err` when it
/// is present with another JSON type (Go's decoder rejects the whole payload then).
fn optional_str(payload: &Value, key: &str) -> Result<Option<String>, Refusal> {
    match json_field(payload, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal::bad_payload()),
    }
}

/// Upstream's phone parsing: strip one leading `+`; bare numbers get the user server.
fn normalise_jid(phone: &str) -> String {
    let phone = phone.strip_prefix('+').unwrap_or(phone);
    if phone.contains('@') {
        phone.to_owned()
    } else {
        format!("{phone}@s.whatsapp.net")
    }
}

/// Digits of the user part of a number or JID (`+55 11 9...`, `55119...:3@s.whatsapp.net`).
fn number_key(number: &str) -> String {
    let user = number.split('@').next().unwrap_or(number);
    let user = user.split(':').next().unwrap_or(user);
    user.chars().filter(char::is_ascii_digit).collect()
}

fn whatsmeow_message_id() -> String {
    format!("3EB0{:016X}", rand::random::<u64>())
}

/// `POST /chat/presence` `{Phone, State}`: "typing..." (`composing`) or not (`paused`) in a
/// chat; upstream answers `{"Details": "Chat presence set successfuly"}`.
async fn chat_presence(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    let token = session_user(&mut state, &req)?.token.clone();
    let payload = decode_object(&body)?;
    let phone = optional_str(&payload, "Phone")?
        .ok_or_else(|| Refusal::bad_request("Missing Phone in Payload"))?;
    let presence = optional_str(&payload, "State")?
        .ok_or_else(|| Refusal::bad_request("Missing State in Payload"))?;
    if !["composing", "paused"].contains(&presence.as_str()) {
        return Err(Refusal::bad_request("Invalid state"));
    }
    state.presence.push(PresenceCall {
        token,
        phone: number_key(&phone),
        state: presence,
        at: Utc::now(),
    });
    Ok(success(
        StatusCode::OK,
        json!({"Details": "Chat presence set successfuly"}),
    ))
}

async fn send_text(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    let token = session_user(&mut state, &req)?.token.clone();
    let payload = decode_object(&body)?;
    let phone = optional_str(&payload, "Phone")?
        .ok_or_else(|| Refusal::bad_request("Missing Phone in Payload"))?;
    let text = optional_str(&payload, "Body")?
        .ok_or_else(|| Refusal::bad_request("Missing Body in Payload"))?;
    let id = optional_str(&payload, "Id")?.unwrap_or_else(whatsmeow_message_id);
    let jid = normalise_jid(&phone);

    if state.fail_remaining > 0 {
        state.fail_remaining -= 1;
        state.refused.push(Utc::now());
        return Err(Refusal::new(state.fail_status, "Internal Server Error"));
    }
    if state.is_invalid(&jid) {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error sending message: number is not on WhatsApp",
        ));
    }
    if state.reject_remaining > 0 {
        state.reject_remaining -= 1;
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error sending message: server returned error 479",
        ));
    }

    let at = Utc::now();
    let receipts = state
        .destination(&token)
        .map(|to| (to, state.receipts, jid.clone(), id.clone()));
    state.sent.push(SentMessage {
        token,
        phone,
        jid,
        body: text,
        id: id.clone(),
        at,
    });
    drop(state);
    if let Some((to, plan, jid, id)) = receipts {
        control.schedule_receipts(to, plan, jid, id);
    }
    Ok(success(
        StatusCode::OK,
        json!({"Details": "Sent", "Id": id, "Timestamp": at.timestamp()}),
    ))
}

async fn check_numbers(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    session_user(&mut state, &req)?;
    let payload = decode_object(&body)?;
    let phones: Vec<String> = match json_field(&payload, "Phone") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(Refusal::bad_payload)?,
        Some(_) => return Err(Refusal::bad_payload()),
    };
    if phones.is_empty() {
        return Err(Refusal::bad_request("Missing Phone in Payload"));
    }
    // Reversed so clients that rely on request order fail here rather than in production.
    let users: Vec<Value> = phones
        .iter()
        .rev()
        .map(|query| {
            let jid = normalise_jid(query);
            json!({
                "Query": query,
                "IsInWhatsapp": !state.is_invalid(&jid),
                "JID": jid,
                "VerifiedName": "",
            })
        })
        .collect();
    Ok(success(StatusCode::OK, json!({ "Users": users })))
}

async fn session_status(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    let user = connected_user(&mut state, &req)?;
    Ok(success(
        StatusCode::OK,
        json!({
            "id": user.id,
            "name": user.name,
            "connected": true,
            "loggedIn": user.logged_in,
            "jid": "",
            "token": user.token,
            "webhook": user.webhook,
            "events": user.events,
        }),
    ))
}

async fn session_connect(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    let user = state.user(request_token(&req).as_deref())?;
    if !body.is_empty() {
        decode_object(&body)?;
    }
    if user.connected {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Already Connected",
        ));
    }
    user.connected = true;
    Ok(success(
        StatusCode::OK,
        json!({"details": "Connected!", "events": user.events, "jid": "", "webhook": user.webhook}),
    ))
}

async fn session_disconnect(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    connected_user(&mut state, &req)?.connected = false;
    Ok(success(StatusCode::OK, json!({"Details": "Disconnected"})))
}

async fn session_logout(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    let user = connected_user(&mut state, &req)?;
    user.connected = false;
    user.logged_in = false;
    Ok(success(StatusCode::OK, json!({"Details": "Logged out"})))
}

/// A 1x1 PNG: clients only need a displayable data URL.
const QR_PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgAB4iG8MwAAAABJRU5ErkJggg==";

/// There is no phone to scan the code with, so handing it out pairs the session at once.
async fn session_qr(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    let user = connected_user(&mut state, &req)?;
    if user.logged_in {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Already Loggedin",
        ));
    }
    user.logged_in = true;
    Ok(success(
        StatusCode::OK,
        json!({"QRCode": format!("data:image/png;base64,{QR_PNG_BASE64}")}),
    ))
}

/// `POST /webhook`: `webhookURL` (or `webhook`) and optional `events`; `active: false`
/// switches the webhook off.
async fn set_webhook(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    let user = state.user(request_token(&req).as_deref())?;
    let payload = decode_object(&body)?;
    let url = match optional_str(&payload, "webhookURL")? {
        Some(url) => Some(url),
        None => optional_str(&payload, "webhook")?,
    }
    .unwrap_or_default();
    let events: Vec<String> = match json_field(&payload, "events") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(Refusal::bad_payload)?,
        Some(_) => return Err(Refusal::bad_payload()),
    };
    let active = json_field(&payload, "active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    user.webhook = if active { url } else { String::new() };
    if !events.is_empty() {
        user.events = events.join(",");
    }
    Ok(success(
        StatusCode::OK,
        json!({"webhook": user.webhook, "events": events, "active": active}),
    ))
}

async fn get_webhook(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    let user = state.user(request_token(&req).as_deref())?;
    let subscribe: Vec<&str> = user.events.split(',').collect();
    Ok(success(
        StatusCode::OK,
        json!({"webhook": user.webhook, "subscribe": subscribe}),
    ))
}

/// `POST /session/hmac/config` with `hmac_key` of at least 32 characters.
async fn set_hmac(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    if !state.config.supports_hmac {
        return Ok(plain_not_found());
    }
    let user = state.user(request_token(&req).as_deref())?;
    let payload = decode_object(&body)?;
    let key = optional_str(&payload, "hmac_key")?.unwrap_or_default();
    if key.chars().count() < 32 {
        return Err(Refusal::bad_request(
            "HMAC key must be at least 32 characters long",
        ));
    }
    user.hmac_key = Some(key);
    Ok(success(
        StatusCode::OK,
        json!({"Details": "HMAC configuration saved successfully"}),
    ))
}

async fn delete_hmac(control: Control, req: HttpRequest) -> Answer {
    let mut state = control.lock();
    if !state.config.supports_hmac {
        return Ok(plain_not_found());
    }
    state.user(request_token(&req).as_deref())?.hmac_key = None;
    Ok(success(
        StatusCode::OK,
        json!({"Details": "HMAC configuration deleted successfully"}),
    ))
}

fn require_admin(state: &State, req: &HttpRequest) -> Result<(), Refusal> {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if given == Some(state.config.admin_token.as_str()) {
        Ok(())
    } else {
        Err(Refusal::unauthorized())
    }
}

/// New-style answer: 201 with the envelope and a hex `id`. Created users have no session
/// until `/session/connect` and `/session/qr`, as upstream.
async fn admin_create_user(control: Control, req: HttpRequest, body: web::Bytes) -> Answer {
    let mut state = control.lock();
    require_admin(&state, &req)?;
    let payload = decode_object(&body)?;
    let name = optional_str(&payload, "name")?;
    let webhook = optional_str(&payload, "webhook")?;
    let events = optional_str(&payload, "events")?;
    let token = optional_str(&payload, "token")?
        .ok_or_else(|| Refusal::bad_request("Missing token in Payload"))?;
    if state.users.contains_key(&token) {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "user with this token already exists",
        ));
    }
    let mut user = User::new(&token, name.as_deref().unwrap_or(&token), false, false);
    user.webhook = webhook.unwrap_or_default();
    if let Some(events) = events {
        user.events = events;
    }
    let view = user.admin_view();
    state.users.insert(token, user);
    Ok(success(StatusCode::CREATED, view))
}

async fn admin_list_users(control: Control, req: HttpRequest) -> Answer {
    let state = control.lock();
    require_admin(&state, &req)?;
    let users: Vec<Value> = state.users.values().map(User::admin_view).collect();
    Ok(success(StatusCode::OK, Value::Array(users)))
}

async fn admin_delete_user(control: Control, req: HttpRequest, id: web::Path<String>) -> Answer {
    let mut state = control.lock();
    require_admin(&state, &req)?;
    let before = state.users.len();
    state.users.retain(|_, user| user.id != *id);
    if state.users.len() == before {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "user not found"));
    }
    Ok(success(StatusCode::OK, json!({"id": id.into_inner()})))
}

async fn fake_messages(control: Control) -> HttpResponse {
    HttpResponse::Ok().json(control.sent_messages())
}

async fn fake_stats(control: Control) -> HttpResponse {
    let state = control.lock();
    HttpResponse::Ok().json(json!({"requests": state.requests, "sent": state.sent.len()}))
}

/// Body of `POST /_fake/faults`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Faults {
    disconnect: Vec<String>,
    connect: Vec<String>,
    invalid_numbers: Option<Vec<String>>,
    fail_next_sends: Option<FailNextSends>,
    latency_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNextSends {
    count: u32,
    status: u16,
}

async fn fake_faults(control: Control, body: web::Bytes) -> Answer {
    let faults: Faults = serde_json::from_slice(&body)
        .map_err(|err| Refusal::bad_request(&format!("invalid faults: {err}")))?;
    for token in &faults.disconnect {
        control.disconnect(token);
    }
    for token in &faults.connect {
        control.connect(token);
    }
    if let Some(numbers) = faults.invalid_numbers {
        control.set_invalid_numbers(numbers);
    }
    if let Some(fail) = faults.fail_next_sends {
        control.fail_next_sends(fail.count, fail.status);
    }
    if let Some(ms) = faults.latency_ms {
        control.set_latency(Duration::from_millis(ms));
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn fake_reset(control: Control) -> HttpResponse {
    control.reset();
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_like_upstream() {
        assert_eq!(
            normalise_jid("+5511999999999"),
            "5511999999999@s.whatsapp.net"
        );
        assert_eq!(
            normalise_jid("5511999999999"),
            "5511999999999@s.whatsapp.net"
        );
        assert_eq!(
            normalise_jid("120363000000000000@g.us"),
            "120363000000000000@g.us"
        );
    }

    #[test]
    fn number_keys_ignore_formatting_and_devices() {
        assert_eq!(number_key("+55 (11) 99999-9999"), "5511999999999");
        assert_eq!(
            number_key("5511999999999:12@s.whatsapp.net"),
            "5511999999999"
        );
    }

    #[test]
    fn generated_ids_look_like_whatsmeow_ids() {
        let id = whatsmeow_message_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("3EB0"));
        assert!(
            id[4..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
    }
}
