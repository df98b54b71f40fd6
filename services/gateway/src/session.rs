//! Browser sessions: the cookies a sign-in sets, how a request's session is found, and the
//! CSRF check of requests that change something.
//!
//! A signed-in browser holds two cookies: `wm_session` (`HttpOnly`, so no script reads it) and
//! `wm_csrf` (readable by the app's own scripts, which echo it in `X-CSRF-Token`). Both are
//! `SameSite=Strict`. A request authenticated by the session cookie whose method is not safe
//! (anything but GET, HEAD, OPTIONS) must carry the session's CSRF token in that header: another
//! site can make a browser send the cookie, but cannot read `wm_csrf` to copy it. Requests with
//! an API key (`Authorization`) carry no ambient credentials and need no token.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponseBuilder};
use common::ErrorCode;
use db::sessions::{NewSessionTokens, SessionPrincipal};
use secrecy::ExposeSecret;

use crate::config::SignInSettings;
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie: the session token, never readable by scripts.
pub const SESSION_COOKIE: &str = "wm_session";
/// The CSRF cookie: the token unsafe requests echo in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "wm_csrf";
/// Where an unsafe request on a session carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session a request was authenticated by (absent for API keys), for the session
/// endpoints: which session to sign out, which to keep on a password change.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub SessionPrincipal);

/// A request that sent a session cookie no live session has (expired, revoked, its user
/// deleted): it goes on anonymous, and the 401 of a protected endpoint says why.
#[derive(Debug, Clone, Copy)]
pub struct StaleSession;

/// Looks up the session of the request's cookie, if it sent one. `Ok(None)`: no cookie, or a
/// stale one (marked with [`StaleSession`]). Refuses an unsafe request without the session's
/// CSRF token.
pub async fn authenticate(
    state: &AppState,
    req: &ServiceRequest,
) -> Result<Option<SessionPrincipal>, ApiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = db::sessions::hash_token(cookie.value());
    let Some(session) = db::sessions::principal_for_token(&state.db, &token_hash).await? else {
        req.extensions_mut().insert(StaleSession);
        return Ok(None);
    };
    let now = chrono::Utc::now();
    if now - session.last_seen_at > state.config.security.session_idle_timeout {
        // Unused too long: it never authenticates again, so nothing is kept of it.
        db::sessions::delete_idle(&state.db, session.session_id).await?;
        tracing::info!(session = %session.session_id, "a session idle past SESSION_IDLE_TIMEOUT_MINUTES ended");
        req.extensions_mut().insert(StaleSession);
        return Ok(None);
    }
    if db::sessions::needs_touch(&session, now) {
        // At most one write a minute per session, whatever its traffic.
        db::sessions::touch(&state.db, session.session_id).await?;
    }
    if !is_safe(req.method()) {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(db::sessions::hash_token);
        // Hashes are compared, so timing tells nothing about the token.
        if sent.as_deref() != Some(session.csrf_hash.as_slice()) {
            return Err(ApiError::new(
                ErrorCode::CsrfFailed,
                "this request changes something and needs the session's CSRF token in the \
                 `X-CSRF-Token` header (the `wm_csrf` cookie's value); nothing was changed",
            ));
        }
    }
    Ok(Some(session))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Sets both cookies of a new session on the answer.
pub fn set_cookies(
    response: &mut HttpResponseBuilder,
    tokens: &NewSessionTokens,
    settings: &SignInSettings,
) {
    let max_age =
        actix_web::cookie::time::Duration::seconds(settings.session_lifetime.num_seconds());
    let build = |name: &'static str, value: String, http_only: bool| {
        Cookie::build(name, value)
            .path("/")
            .http_only(http_only)
            .secure(settings.secure_cookies)
            .same_site(SameSite::Strict)
            .max_age(max_age)
            .finish()
    };
    response.cookie(build(
        SESSION_COOKIE,
        tokens.token.expose_secret().to_owned(),
        true,
    ));
    response.cookie(build(
        CSRF_COOKIE,
        tokens.csrf_token.expose_secret().to_owned(),
        false,
    ));
}

/// Clears both cookies (sign-out, or a session that no longer exists).
pub fn clear_cookies(response: &mut HttpResponseBuilder, settings: &SignInSettings) {
    for (name, http_only) in [(SESSION_COOKIE, true), (CSRF_COOKIE, false)] {
        let mut cookie = Cookie::build(name, "")
            .path("/")
            .http_only(http_only)
            .secure(settings.secure_cookies)
            .same_site(SameSite::Strict)
            .finish();
        cookie.make_removal();
        response.cookie(cookie);
    }
}

/// Where a session is opened from, as stored with it.
/// `trust_proxy_hops`: `TRUST_PROXY_HOPS` (see [`crate::client_address`]).
pub fn origin(req: &HttpRequest, trust_proxy_hops: u8) -> db::sessions::Origin {
    db::sessions::Origin {
        address: crate::client_address::client_address(req, trust_proxy_hops).to_string(),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// How long ended sessions stay listed in the database (for an operator's questions) before
/// [`sweep`] deletes them.
const ENDED_SESSIONS_KEPT: chrono::Duration = chrono::Duration::days(7);
/// How often [`sweep`] runs.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes sessions that ended (expired or revoked) over a week ago, hourly, until `stop`.
/// Every replica runs it; the delete is idempotent.
pub async fn sweep(db: db::DatabaseConnection, stop: tokio_util::sync::CancellationToken) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match db::sessions::delete_stale(&db, ENDED_SESSIONS_KEPT).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted sessions that ended a week ago"),
            Err(error) => tracing::warn!(
                error = &error as &(dyn std::error::Error + 'static),
                "could not delete ended sessions; trying again in an hour"
            ),
        }
    }
}
