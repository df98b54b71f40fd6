//! A fake browser push service (the role of FCM or Mozilla's autopush), on 127.0.0.1, that
//! checks every push as a real one and a browser would: the VAPID token (RFC 8292: ES256
//! signature with the key of `Authorization: vapid t=..., k=...`, `aud` the endpoint's
//! origin, `exp` within 24 hours, `sub` present), then the payload, decrypted (RFC 8291
//! `aes128gcm`) with the browser's private key and auth secret that only the test holds.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::{ECDSAP256PublicKeyLike, ES256PublicKey, VerificationOptions};
use serde_json::Value;

/// A browser's subscription: what it registers, and the secrets it decrypts with.
pub struct Browser {
    pub endpoint: String,
    /// base64url of its P-256 public key, as `PushSubscription.toJSON().keys.p256dh`.
    pub p256dh: String,
    /// base64url of its auth secret.
    pub auth: String,
}

impl Browser {
    /// The body of `POST /api/push/subscriptions`.
    pub fn subscription(&self) -> Value {
        serde_json::json!({"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}})
    }
}

/// A push that passed every check.
#[derive(Debug, Clone)]
pub struct ReceivedPush {
    /// The browser it was for.
    pub browser: String,
    /// The decrypted payload.
    pub payload: Value,
    pub ttl: Option<String>,
    pub urgency: Option<String>,
    /// The VAPID token's `sub`.
    pub subject: String,
    /// The VAPID public key (`k=`), base64url.
    pub vapid_key: String,
}

struct Secrets {
    keys: ece::EcKeyComponents,
    auth: Vec<u8>,
}

#[derive(Default)]
struct State {
    browsers: HashMap<String, Secrets>,
    gone: HashSet<String>,
    /// Answered 500 this many more times (a push service having a bad moment).
    failing: HashMap<String, u32>,
    received: Vec<ReceivedPush>,
    /// Pushes refused by a check, with the reason: a test expects none.
    refused: Vec<String>,
}

pub struct FakePushService {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

impl FakePushService {
    /// Serves on a task of the current Tokio runtime.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake push service");
        listener.set_nonblocking(true).expect("non-blocking");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let app_state = web::Data::new(state.clone());
        let origin = base_url.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::Data::new(origin.clone()))
                .app_data(web::PayloadConfig::new(64 * 1024))
                .route("/push/{browser}", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url,
            state,
            handle,
        }
    }

    /// A new browser with its own key pair and auth secret, and its endpoint here.
    pub fn browser(&self, name: &str) -> Browser {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().expect("browser keys");
        let keys = pair.raw_components().expect("key components");
        let public = pair.pub_as_raw().expect("public key");
        self.state.lock().unwrap().browsers.insert(
            name.to_owned(),
            Secrets {
                keys,
                auth: auth.to_vec(),
            },
        );
        Browser {
            endpoint: format!("{}/push/{name}", self.base_url),
            p256dh: URL_SAFE_NO_PAD.encode(public),
            auth: URL_SAFE_NO_PAD.encode(auth),
        }
    }

    /// From now on the browser's endpoint answers 410 Gone (it unsubscribed).
    pub fn mark_gone(&self, name: &str) {
        self.state.lock().unwrap().gone.insert(name.to_owned());
    }

    /// The browser's next `times` pushes are answered 500.
    pub fn fail_next(&self, name: &str, times: u32) {
        self.state
            .lock()
            .unwrap()
            .failing
            .insert(name.to_owned(), times);
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn receive(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
    origin: web::Data<String>,
) -> HttpResponse {
    let browser = path.into_inner();
    let mut state = state.lock().unwrap();
    if state.gone.contains(&browser) {
        return HttpResponse::Gone().finish();
    }
    if let Some(left) = state.failing.get_mut(&browser).filter(|left| **left > 0) {
        *left -= 1;
        return HttpResponse::InternalServerError().finish();
    }
    let checked = state
        .browsers
        .get(&browser)
        .ok_or_else(|| "unknown endpoint".to_owned())
        .and_then(|secrets| check(&req, &body, secrets, &origin));
    match checked {
        Ok((payload, subject, vapid_key)) => {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            state.received.push(ReceivedPush {
                browser,
                payload,
                ttl: header("ttl"),
                urgency: header("urgency"),
                subject,
                vapid_key,
            });
            HttpResponse::Created().finish()
        }
        Err(reason) => {
            state.refused.push(format!("{browser}: {reason}"));
            HttpResponse::BadRequest().body(reason)
        }
    }
}

/// The payload, the token's `sub` and the VAPID key, or why the push is refused.
fn check(
    req: &HttpRequest,
    body: &[u8],
    secrets: &Secrets,
    origin: &str,
) -> Result<(Value, String, String), String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    if header("content-encoding")? != "aes128gcm" {
        return Err("Content-Encoding is not aes128gcm".into());
    }
    header("ttl")?
        .parse::<u32>()
        .map_err(|_| "TTL is not a number".to_owned())?;
    let authorization = header("authorization")?;
    let params = authorization
        .strip_prefix("vapid ")
        .ok_or("Authorization is not `vapid`")?;
    let mut token = None;
    let mut key = None;
    for part in params.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = token.zip(key).ok_or("vapid needs t= and k=")?;
    let raw_key = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| "k= is not base64url")?;
    let public = ES256PublicKey::from_bytes(&raw_key).map_err(|e| format!("k=: {e}"))?;
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from([origin.to_owned()])),
        ..VerificationOptions::default()
    };
    let claims = public
        .verify_token::<serde_json::Map<String, Value>>(token, Some(options))
        .map_err(|e| format!("VAPID token: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims
        .expires_at
        .ok_or("VAPID token without exp")?
        .as_secs();
    if exp > now + 24 * 3600 {
        return Err(format!("exp is {} s away, more than 24 h", exp - now));
    }
    let subject = claims.subject.ok_or("VAPID token without sub")?;
    let plaintext =
        ece::decrypt(&secrets.keys, &secrets.auth, body).map_err(|e| format!("decrypting: {e}"))?;
    let payload = serde_json::from_slice(&plaintext).map_err(|e| format!("payload: {e}"))?;
    Ok((payload, subject, key.to_owned()))
}
