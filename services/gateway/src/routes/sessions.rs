//! Sign-in for people: email and password, browser sessions, sign-out and revocation.
//!
//! Programs keep using API keys; these endpoints are what the web app signs in with. The
//! cookies and the CSRF rule are in [`crate::session`].

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use common::{AccountId, ErrorBody, ErrorCode, Role, SessionId, TenantId, UserId};
use db::sessions::SessionPrincipal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiResult, Envelope, ok, required_text};
use crate::auth::Caller;
use crate::client_address::client_key;
use crate::error::ApiError;
use crate::known_browser::SignInAccount;
use crate::session::{self, CurrentSession};
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(login)
        .service(current)
        .service(logout)
        .service(list_sessions)
        .service(revoke_session)
        .service(change_password)
        .service(revoke_user_sessions);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug; left out to sign in as the platform's superadmin.
    #[serde(default)]
    tenant: Option<String>,
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Who is signed in.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    user_id: UserId,
    role: Role,
    tenant_id: Option<TenantId>,
    account_id: Option<AccountId>,
    email: String,
    name: String,
}

/// A browser session: who it is, the CSRF token to send in `X-CSRF-Token` on requests that
/// change something (also in the `wm_csrf` cookie), and when it ends.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    user: SessionUser,
    /// Only in the answer to a sign-in (or an accepted invitation); `null` otherwise (read the
    /// `wm_csrf` cookie).
    csrf_token: Option<String>,
    expires_at: DateTime<Utc>,
}

impl SessionView {
    pub fn new(session: SessionPrincipal, csrf_token: Option<String>) -> Self {
        Self {
            user: SessionUser {
                user_id: session.principal.user_id,
                role: session.principal.role,
                tenant_id: session.principal.tenant.map(|t| t.id),
                account_id: session.principal.account_id,
                email: session.email,
                name: session.name,
            },
            csrf_token,
            expires_at: session.expires_at,
        }
    }
}

/// Opens a session for `user_id` and answers `status` with its view and cookies.
pub async fn open_session(
    state: &AppState,
    req: &HttpRequest,
    user_id: UserId,
    status: actix_web::http::StatusCode,
) -> ApiResult {
    use secrecy::ExposeSecret;
    let settings = &state.config.sign_in;
    let (_, tokens) = db::sessions::open(
        &state.db,
        user_id,
        &session::origin(req, state.config.trust_proxy_hops),
        settings.session_lifetime,
    )
    .await?;
    let principal = db::sessions::principal_for_token(
        &state.db,
        &db::sessions::hash_token(tokens.token.expose_secret()),
    )
    .await?
    .ok_or_else(|| ApiError::internal("a session just opened is not live"))?;
    let mut response = HttpResponse::build(status);
    session::set_cookies(&mut response, &tokens, settings);
    Ok(response.json(Envelope::new(SessionView::new(
        principal,
        Some(tokens.csrf_token.expose_secret().to_owned()),
    ))))
}

/// 429 with `Retry-After`, for too many sign-in attempts.
fn too_many_attempts(retry_after: std::time::Duration) -> HttpResponse {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    HttpResponse::TooManyRequests()
        .insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()))
        .json(ErrorBody::new(
            ErrorCode::RateLimited,
            format!("too many sign-in attempts; try again in {seconds} seconds"),
        ))
}

/// Signs a person in with email and password and opens a browser session.
///
/// Public. Sets the `wm_session` (HttpOnly) and `wm_csrf` cookies, and `wm_device` (HttpOnly,
/// path `/api/auth`): the browser is known to the account from then on. A wrong password and
/// an unknown email get the same 401 in the same time. Attempts are limited per client address
/// and per account: a browser known to the account has a budget of its own, every other
/// attempt on the account shares one, so guessing from elsewhere does not lock the owner out;
/// 429 with `Retry-After` beyond them. 503 with `Retry-After` when too many passwords are
/// being checked at once.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Envelope<SessionView>),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
        (status = 503, description = "Too many password checks running; retry after `Retry-After`", body = ErrorBody),
    ),
    security(()),
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> ApiResult {
    let body = body.into_inner();
    let tenant = match body.tenant.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(slug) => Some(required_text("tenant", slug, 63)?.to_ascii_lowercase()),
    };
    let email = required_text("email", &body.email, 320)?;
    {
        use secrecy::ExposeSecret;
        if body.password.expose_secret().is_empty() {
            return Err(ApiError::validation("password", "`password` is required"));
        }
    }
    let settings = &state.config.sign_in;
    let client = client_key(&req, state.config.trust_proxy_hops);
    let account = SignInAccount::new(tenant.as_deref(), &email);
    // The account's owner signing in from a browser it used before has a budget of its own;
    // everyone else (an attacker from anywhere, or the owner on a new browser) shares one.
    let account_bucket = match state.device_key.recognise(&req, &account) {
        Some(browser) => browser.bucket(),
        None => account.bucket(),
    };
    // The address first: every attempt from it counts, even one its account's limit refuses.
    for (bucket, limit) in [
        (format!("login:address:{client}"), settings.per_address),
        (account_bucket, settings.per_account),
    ] {
        let decision = state.limiter.check_named(&bucket, limit).await;
        if !decision.allowed {
            metrics::counter!("gateway_sign_in_refused_total", "reason" => "rate_limited")
                .increment(1);
            return Ok(too_many_attempts(decision.retry_after));
        }
    }
    let found = db::sessions::find_for_sign_in(&state.db, tenant.as_deref(), &email).await?;
    let (user_id, stored) = match found {
        Some(user) => (Some(user.user_id), user.password_hash),
        None => (None, None),
    };
    let password = body.password;
    let matches = match state
        .password_gate
        .run(move || common::password::verify(&password, stored.as_ref()))
        .await
    {
        Ok(matches) => matches,
        Err(refused) => return Ok(refused.response()),
    };
    let Some(user_id) = user_id.filter(|_| matches) else {
        metrics::counter!("gateway_sign_in_refused_total", "reason" => "wrong_password")
            .increment(1);
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "wrong email or password",
        ));
    };
    metrics::counter!("gateway_sign_ins_total").increment(1);
    let mut response = open_session(&state, &req, user_id, actix_web::http::StatusCode::OK).await?;
    response
        .add_cookie(&state.device_key.issue(&account, settings.secure_cookies))
        .map_err(ApiError::internal)?;
    Ok(response)
}

/// The session the request is signed in with; 401 without one (an API key is not a session).
fn current_session(req: &HttpRequest) -> Result<SessionPrincipal, ApiError> {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<CurrentSession>()
        .map(|s| s.0.clone())
        .ok_or_else(|| {
            let stale = req.extensions().get::<session::StaleSession>().is_some();
            ApiError::new(
                ErrorCode::Unauthenticated,
                if stale {
                    "your session has expired or was revoked; sign in again"
                } else {
                    "not signed in: this endpoint needs a browser session, not an API key"
                },
            )
        })
}

/// The browser session the request is signed in with.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "The session", body = Envelope<SessionView>)),
    security(()),
)]
#[get("/auth/session")]
pub async fn current(req: HttpRequest) -> ApiResult {
    Ok(ok(SessionView::new(current_session(&req)?, None)))
}

/// Signs out: revokes the request's session and clears its cookies. Needs `X-CSRF-Token`.
#[utoipa::path(
    tag = "auth",
    responses((status = 204, description = "Signed out")),
    security(()),
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let session = current_session(&req)?;
    db::sessions::revoke_own(&state.db, session.principal.user_id, session.session_id).await?;
    let mut response = HttpResponse::NoContent();
    session::clear_cookies(&mut response, &state.config.sign_in);
    Ok(response.finish())
}

/// One of the caller's live sessions.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SessionListItem {
    id: SessionId,
    /// The client address it was opened from.
    address: String,
    user_agent: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// Whether it is the session of this request.
    current: bool,
}

/// The caller's live browser sessions, newest first (at most 200). Any caller, with a session
/// or an API key.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "The sessions", body = Envelope<Vec<SessionListItem>>)),
)]
#[get("/auth/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> ApiResult {
    let this = current_session(&req).ok().map(|s| s.session_id);
    let sessions = db::sessions::live_of_user(&state.db, caller.0.user_id).await?;
    Ok(ok(sessions
        .into_iter()
        .map(|s| SessionListItem {
            current: Some(s.id) == this,
            id: s.id,
            address: s.address,
            user_agent: s.user_agent,
            created_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect::<Vec<_>>()))
}

/// Revokes one of the caller's own sessions (sign out another browser); 404 for a session that
/// is not the caller's or no longer live.
#[utoipa::path(
    tag = "auth",
    params(("id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "Revoked", body = Envelope<super::Deleted<SessionId>>)),
)]
#[delete("/auth/sessions/{id}")]
pub async fn revoke_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<SessionId>,
) -> ApiResult {
    let id = id.into_inner();
    db::sessions::revoke_own(&state.db, caller.0.user_id, id).await?;
    Ok(ok(super::Deleted::new(id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password; may be left out only by a user who has none yet.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<SecretString>,
    /// At least 10 characters, at most 1024 bytes, not the email address.
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// How many sessions a change revoked.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SessionsRevoked {
    revoked: u64,
}

/// Changes the caller's password and signs out every other session of theirs (the request's
/// own stays). 401 when `currentPassword` is wrong.
#[utoipa::path(
    tag = "auth",
    request_body = ChangePassword,
    responses((status = 200, description = "Changed", body = Envelope<SessionsRevoked>)),
)]
#[put("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: ApiJson<ChangePassword>,
) -> ApiResult {
    let body = body.into_inner();
    let user_id = caller.0.user_id;
    let user = db::tenants::find_user(db::PlatformScope::new(&state.db).into(), user_id).await?;
    common::password::check_new(&body.new_password, &user.email)
        .map_err(|e| ApiError::validation("newPassword", e.to_string()))?;
    let stored = db::sessions::password_of(&state.db, user_id).await?;
    let new_password = body.new_password;
    let given = body.current_password;
    let hashed = state
        .password_gate
        .run(move || {
            let allowed = match (&stored, &given) {
                (None, _) => true,
                (Some(stored), Some(given)) => common::password::verify(given, Some(stored)),
                (Some(_), None) => false,
            };
            allowed.then(|| common::password::hash(&new_password))
        })
        .await;
    let hashed = match hashed {
        Ok(hashed) => hashed,
        Err(refused) => return Ok(refused.response()),
    };
    let Some(hashed) = hashed else {
        return Err(ApiError {
            field: Some("currentPassword".to_owned()),
            ..ApiError::new(ErrorCode::Unauthenticated, "the current password is wrong")
        });
    };
    use sea_orm::TransactionTrait;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    db::sessions::set_password(&txn, user_id, &hashed).await?;
    let keep = current_session(&req).ok().map(|s| s.session_id);
    let revoked =
        db::sessions::revoke_all_of_user(db::PlatformScope::new(&txn).into(), user_id, keep)
            .await?;
    txn.commit().await.map_err(db::DbError::from)?;
    Ok(ok(SessionsRevoked { revoked }))
}

/// Signs a user out everywhere: revokes all their sessions. Tenant admins for their tenant's
/// users, the superadmin for anyone; 404 for a user out of reach.
#[utoipa::path(
    tag = "auth",
    params(("id" = UserId, Path, description = "The user")),
    responses((status = 200, description = "Revoked", body = Envelope<SessionsRevoked>)),
)]
#[delete("/users/{id}/sessions")]
pub async fn revoke_user_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<UserId>,
) -> ApiResult {
    let reach = match caller.role() {
        Role::Superadmin => db::PlatformScope::new(&state.db).into(),
        Role::TenantAdmin => caller.scope(&state.db)?.into(),
        Role::User => {
            return Err(ApiError::forbidden(
                "only admins revoke other users' sessions; revoke your own with DELETE /api/auth/sessions/{id}",
            ));
        }
    };
    let revoked = db::sessions::revoke_all_of_user(reach, id.into_inner(), None).await?;
    Ok(ok(SessionsRevoked { revoked }))
}
