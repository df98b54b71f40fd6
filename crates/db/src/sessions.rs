//! Sessions of people signed in through a browser, and their passwords.
//!
//! A session is two random tokens: the session token (the `HttpOnly` cookie) and the CSRF token
//! (sent back in a header on unsafe requests). Both have 256 bits of entropy, so, as with API
//! keys, a SHA-256 of each is all that is stored. A session authenticates while it is neither
//! revoked nor expired; it is read from Postgres on each request, so a revocation (sign-out, an
//! admin's, a password change, the user's deletion) applies to the very next request.

use chrono::{DateTime, Duration, Utc};
use common::password::PasswordHashString;
use common::sql;
use common::{AccountId, Role, SessionId, TenantId, UserId};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{Principal, TenantPrincipal};
use crate::{DbError, DbResult, Reach, parse_stored};

/// What the session cookie's value starts with.
pub const TOKEN_PREFIX: &str = "wms_";

/// SHA-256 of a session or CSRF token: what is stored and compared.
pub fn hash_token(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.as_bytes()).to_vec()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The person behind a sign-in attempt, found by tenant and email.
#[derive(Debug)]
pub struct SignInUser {
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    /// `None` for a user who has never set a password (one created through the API).
    pub password_hash: Option<PasswordHashString>,
}

#[derive(FromQueryResult)]
struct SignInRow {
    id: Uuid,
    tenant_id: Option<Uuid>,
    password_hash: Option<String>,
}

/// The user with `email` (case-insensitive) in the tenant with slug `tenant_slug`, or the
/// platform's superadmin with it when `tenant_slug` is `None`.
pub async fn find_for_sign_in(
    db: &impl ConnectionTrait,
    tenant_slug: Option<&str>,
    email: &str,
) -> DbResult<Option<SignInUser>> {
    let row = SignInRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT u.id, u.tenant_id, u.password_hash
           FROM users u
           LEFT JOIN tenants t ON t.id = u.tenant_id
          WHERE lower(u.email) = lower($2)
            AND CASE WHEN $1::text IS NULL THEN u.tenant_id IS NULL ELSE t.slug = lower($1) END"
        ),
        [
            tenant_slug.map(str::to_owned).into(),
            email.to_owned().into(),
        ],
    ))
    .one(db)
    .await?;
    Ok(row.map(|row| SignInUser {
        user_id: row.id.into(),
        tenant_id: row.tenant_id.map(Into::into),
        password_hash: row.password_hash.map(PasswordHashString::from_stored),
    }))
}

/// Stores a new password hash for the user, and when it changed.
pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: UserId,
    hash: &PasswordHashString,
) -> DbResult<()> {
    let updated = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1"),
            [user_id.into_uuid().into(), hash.as_str().to_owned().into()],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        return Err(DbError::NotFound("user"));
    }
    Ok(())
}

/// The stored password hash of a user, if it has one.
pub async fn password_of(
    db: &impl ConnectionTrait,
    user_id: UserId,
) -> DbResult<Option<PasswordHashString>> {
    #[derive(FromQueryResult)]
    struct Row {
        password_hash: Option<String>,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT password_hash FROM users WHERE id = $1"),
        [user_id.into_uuid().into()],
    ))
    .one(db)
    .await?
    .ok_or(DbError::NotFound("user"))?;
    Ok(row.password_hash.map(PasswordHashString::from_stored))
}

/// Where a session was opened from, as the gateway saw it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address (cut to 100 characters).
    pub address: String,
    /// Its `User-Agent` (cut to 300 characters).
    pub user_agent: String,
}

/// A session as its owner lists it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub address: String,
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new session's tokens: shown to the browser once (as cookies), never stored.
pub struct NewSessionTokens {
    /// The session cookie's value (`wms_` and 64 hex characters).
    pub token: SecretString,
    /// The CSRF token the browser sends back in `X-CSRF-Token`.
    pub csrf_token: SecretString,
}

/// Opens a session for `user_id` that lasts `lifetime`.
pub async fn open(
    db: &impl ConnectionTrait,
    user_id: UserId,
    origin: &Origin,
    lifetime: Duration,
) -> DbResult<(Session, NewSessionTokens)> {
    let token = format!("{TOKEN_PREFIX}{}", random_hex());
    let csrf_token = random_hex();
    let session = Session::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("INSERT INTO sessions (id, user_id, tenant_id, token_hash, csrf_hash, address, user_agent,
                               expires_at)
         SELECT $1, u.id, u.tenant_id, $3, $4, $5, $6, now() + make_interval(secs => $7)
           FROM users u WHERE u.id = $2
         RETURNING id, user_id, address, user_agent, created_at, expires_at"),
        [
            SessionId::new().into_uuid().into(),
            user_id.into_uuid().into(),
            hash_token(&token).into(),
            hash_token(&csrf_token).into(),
            cut(&origin.address, 100).into(),
            cut(&origin.user_agent, 300).into(),
            (lifetime.num_milliseconds() as f64 / 1000.0).into(),
        ],
    ))
    .one(db)
    .await?
    .ok_or(DbError::NotFound("user"))?;
    Ok((
        session,
        NewSessionTokens {
            token: SecretString::from(token),
            csrf_token: SecretString::from(csrf_token),
        },
    ))
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// Who a live session authenticates as, and what its requests must prove.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub session_id: SessionId,
    pub principal: Principal,
    /// SHA-256 of the session's CSRF token.
    pub csrf_hash: Vec<u8>,
    pub email: String,
    pub name: String,
    pub expires_at: DateTime<Utc>,
    /// When a request last used it, to the minute ([`touch`]): the idle timeout counts from here.
    pub last_seen_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct SessionPrincipalRow {
    session_id: Uuid,
    csrf_hash: Vec<u8>,
    expires_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    user_id: Uuid,
    role: String,
    tenant_id: Option<Uuid>,
    plan: Option<String>,
    account_id: Option<Uuid>,
    email: String,
    name: String,
}

/// The principal of the live (unrevoked, unexpired) session with this token hash, or `None`.
pub async fn principal_for_token(
    db: &impl ConnectionTrait,
    token_hash: &[u8],
) -> DbResult<Option<SessionPrincipal>> {
    let row = SessionPrincipalRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT s.id AS session_id, s.csrf_hash, s.expires_at, s.last_seen_at,
                u.id AS user_id, u.role, u.tenant_id, t.plan, u.account_id, u.email, u.name
           FROM sessions s
           JOIN users u ON u.id = s.user_id
           LEFT JOIN tenants t ON t.id = u.tenant_id
          WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
        ),
        [token_hash.to_vec().into()],
    ))
    .one(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let tenant = match (row.tenant_id, row.plan) {
        (Some(id), Some(plan)) => Some(TenantPrincipal {
            id: id.into(),
            plan: parse_stored("tenants", "plan", &plan)?,
        }),
        _ => None,
    };
    let role: Role = parse_stored("users", "role", &row.role)?;
    Ok(Some(SessionPrincipal {
        session_id: row.session_id.into(),
        principal: Principal {
            user_id: row.user_id.into(),
            role,
            tenant,
            account_id: row.account_id.map(AccountId::from),
        },
        csrf_hash: row.csrf_hash,
        email: row.email,
        name: row.name,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    }))
}

/// How stale a session's `last_seen_at` may get before a request writes it again: the idle
/// timeout is only this much less exact, and a busy session costs a write a minute, not one
/// per request.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::minutes(1);

/// Whether a request of this session should record that it was seen ([`touch`]).
pub fn needs_touch(session: &SessionPrincipal, now: DateTime<Utc>) -> bool {
    now - session.last_seen_at >= LAST_SEEN_RESOLUTION
}

/// Records that the session was used now (unless another request already did this minute).
pub async fn touch(db: &impl ConnectionTrait, session_id: SessionId) -> DbResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE sessions SET last_seen_at = now()
          WHERE id = $1 AND last_seen_at < now() - interval '1 minute'"
        ),
        [session_id.into_uuid().into()],
    ))
    .await?;
    Ok(())
}

/// Deletes a session that was left unused past the idle timeout: it can never authenticate
/// again, so nothing is kept of it.
pub async fn delete_idle(db: &impl ConnectionTrait, session_id: SessionId) -> DbResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("DELETE FROM sessions WHERE id = $1"),
        [session_id.into_uuid().into()],
    ))
    .await?;
    Ok(())
}

/// The user's live sessions, newest first.
pub async fn live_of_user(db: &impl ConnectionTrait, user_id: UserId) -> DbResult<Vec<Session>> {
    Ok(Session::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT id, user_id, address, user_agent, created_at, expires_at FROM sessions
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
          ORDER BY created_at DESC, id DESC LIMIT 200"
        ),
        [user_id.into_uuid().into()],
    ))
    .all(db)
    .await?)
}

/// Revokes one of the user's own sessions; `NotFound` for a session that is not theirs or no
/// longer live.
pub async fn revoke_own(
    db: &impl ConnectionTrait,
    user_id: UserId,
    session_id: SessionId,
) -> DbResult<()> {
    let updated = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE sessions SET revoked_at = now()
              WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()"
            ),
            [session_id.into_uuid().into(), user_id.into_uuid().into()],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        return Err(DbError::NotFound("session"));
    }
    Ok(())
}

/// Revokes every live session of a user the reach may see, but `keep` (the caller's own, after
/// a password change). Returns how many were revoked; `NotFound` when the user is out of reach.
pub async fn revoke_all_of_user(
    reach: Reach<'_, impl ConnectionTrait>,
    user_id: UserId,
    keep: Option<SessionId>,
) -> DbResult<u64> {
    #[derive(FromQueryResult)]
    struct Row {
        revoked: i64,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "WITH target AS (
             SELECT id FROM users
              WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)
         ), revoked AS (
             UPDATE sessions SET revoked_at = now()
              WHERE user_id IN (SELECT id FROM target)
                AND revoked_at IS NULL AND expires_at > now()
                AND ($3::uuid IS NULL OR id <> $3)
             RETURNING 1
         )
         SELECT CASE WHEN EXISTS (SELECT 1 FROM target) THEN (SELECT count(*) FROM revoked)
                     ELSE -1 END AS revoked"
        ),
        [
            user_id.into_uuid().into(),
            reach.tenant_id().map(TenantId::into_uuid).into(),
            keep.map(SessionId::into_uuid).into(),
        ],
    ))
    .one(reach.conn())
    .await?
    .ok_or(DbError::NotFound("user"))?;
    u64::try_from(row.revoked).map_err(|_| DbError::NotFound("user"))
}

/// Deletes sessions that expired or were revoked more than `kept` ago; returns how many.
pub async fn delete_stale(db: &impl ConnectionTrait, kept: Duration) -> DbResult<u64> {
    let deleted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "DELETE FROM sessions
              WHERE expires_at < now() - make_interval(secs => $1)
                 OR revoked_at < now() - make_interval(secs => $1)"
            ),
            [(kept.num_seconds() as f64).into()],
        ))
        .await?;
    Ok(deleted.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_touched_at_most_once_a_minute() {
        let now = Utc::now();
        let session = |last_seen_at| SessionPrincipal {
            session_id: SessionId::new(),
            principal: Principal {
                user_id: UserId::new(),
                role: Role::User,
                tenant: None,
                account_id: None,
            },
            csrf_hash: Vec::new(),
            email: String::new(),
            name: String::new(),
            expires_at: now + Duration::hours(1),
            last_seen_at,
        };
        assert!(!needs_touch(&session(now), now));
        assert!(!needs_touch(&session(now - Duration::seconds(59)), now));
        assert!(needs_touch(&session(now - Duration::seconds(60)), now));
        assert!(needs_touch(&session(now - Duration::hours(3)), now));
    }
}
