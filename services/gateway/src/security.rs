//! Transport and caching headers every answer gets, and the settings of the gateway's other
//! hardening (issue 23): HSTS on https, `Cache-Control: no-store` on authenticated API answers,
//! where `/metrics` is served, how old an inbound WUZAPI event may be, and the idle timeout of
//! browser sessions.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY,
};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use common::config::{ConfigError, Env};
use secrecy::SecretString;

use crate::state::AppState;

/// A year, and every subdomain: what HSTS preload lists ask for. A deployment that serves any
/// subdomain over plain http must not run this gateway on https under the parent domain.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// `no-store`: an authenticated answer is one person's data, never kept by a browser's or a
/// proxy's cache.
pub const NO_STORE: &str = "no-store";

#[derive(Clone)]
pub struct SecuritySettings {
    /// `INBOUND_MAX_AGE_SECONDS` (300): WUZAPI events whose own timestamp is further than this
    /// from now (in the past, or in the future: clock skew) are refused as possible replays.
    pub inbound_max_age: chrono::Duration,
    /// `SESSION_IDLE_TIMEOUT_MINUTES` (720, 12 hours): a browser session unused this long is
    /// refused and deleted.
    pub session_idle_timeout: chrono::Duration,
    /// `METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// `METRICS_LISTEN` (`host:port`): when set, `/metrics` is served on this address alone
    /// (and 404 on the API's port).
    pub metrics_listen: Option<String>,
}

impl SecuritySettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let metrics_listen = env.optional("METRICS_LISTEN");
        if let Some(listen) = &metrics_listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError {
                var: "METRICS_LISTEN".into(),
                value: listen.clone(),
                reason: "an address and port such as 127.0.0.1:9100 or 0.0.0.0:9100".into(),
            });
        }
        Ok(Self {
            inbound_max_age: chrono::Duration::seconds(env.parse_in(
                "INBOUND_MAX_AGE_SECONDS",
                300,
                10..=7 * 24 * 3600,
            )?),
            session_idle_timeout: chrono::Duration::minutes(env.parse_in(
                "SESSION_IDLE_TIMEOUT_MINUTES",
                720,
                5..=366 * 24 * 60,
            )?),
            metrics_token: env.optional("METRICS_TOKEN").map(SecretString::from),
            metrics_listen,
        })
    }
}

/// Whether the client reached the gateway over https: a TLS listener, a `PUBLIC_URL` on https
/// (the gateway is then only reachable through the TLS terminator that URL names), or, when
/// proxies are trusted (`TRUST_PROXY_HOPS` > 0), their `X-Forwarded-Proto` (its last value: the
/// one the nearest proxy set or appended). Without trusted proxies the header is the client's
/// own words and is ignored.
pub fn served_over_https(req: &actix_web::HttpRequest, state: &AppState) -> bool {
    if req.app_config().secure()
        || state
            .config
            .public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    {
        return true;
    }
    state.config.trust_proxy_hops > 0
        && req
            .headers()
            .get_all(HeaderName::from_static("x-forwarded-proto"))
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether the request carried credentials: an `Authorization` header or the session cookie.
/// Its answer is then about one caller, whatever its status (a 401 included).
fn carries_credentials(req: &actix_web::HttpRequest) -> bool {
    req.headers().contains_key(AUTHORIZATION)
        || req.cookie(crate::session::SESSION_COOKIE).is_some()
        || req.extensions().get::<db::auth::Principal>().is_some()
}

/// The middleware: HSTS on https answers, `no-store` on API answers to a caller with
/// credentials. Wrapped outside compression and ETag, so 304s and compressed answers carry them
/// too. Conditional requests keep working on `no-store` answers: a program that kept a body
/// may still revalidate it with its `ETag`; no shared cache will have stored it.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(req).await?;
    let request = response.request();
    let https = request
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| served_over_https(request, state));
    let no_store = request.path().starts_with("/api/") && carries_credentials(request);
    let headers = response.headers_mut();
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if no_store {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
    Ok(response)
}
