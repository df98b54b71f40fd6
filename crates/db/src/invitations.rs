//! Invitations: one-time links a tenant admin creates for a new user of the tenant.
//!
//! The link carries a random token (256 bits; only its SHA-256 is stored). Accepting it creates
//! the user with the invited email and role in the tenant's default account, with the password
//! the person chose, and uses the invitation up, all in the caller's transaction: the row is
//! locked first, so two tabs accepting the same link create one user.

use chrono::{DateTime, Duration, Utc};
use common::password::PasswordHashString;
use common::sql;
use common::{AccountId, InvitationId, Role, TenantId, UserId};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use secrecy::SecretString;
use uuid::Uuid;

use crate::sessions::hash_token;
use crate::{DbError, DbResult, TenantScope, parse_stored};

/// What an invitation link's token starts with.
pub const TOKEN_PREFIX: &str = "wmi_";

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// Not used yet and not expired: the link works.
    Pending,
    /// Used: the user exists.
    Accepted,
    /// Not used in time.
    Expired,
    /// Withdrawn by an admin.
    Revoked,
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    pub account_id: Option<AccountId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_user_id: Option<UserId>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub state: InvitationState,
}

#[derive(FromQueryResult)]
struct InvitationRow {
    id: Uuid,
    tenant_id: Uuid,
    account_id: Option<Uuid>,
    email: String,
    name: String,
    role: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    accepted_user_id: Option<Uuid>,
    revoked_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, account_id, email, name, role, created_by, created_at,
                       expires_at, accepted_at, accepted_user_id, revoked_at, now() AS now";

impl TryFrom<InvitationRow> for Invitation {
    type Error = DbError;

    fn try_from(row: InvitationRow) -> DbResult<Self> {
        let state = if row.accepted_at.is_some() {
            InvitationState::Accepted
        } else if row.revoked_at.is_some() {
            InvitationState::Revoked
        } else if row.expires_at <= row.now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        };
        Ok(Invitation {
            id: row.id.into(),
            tenant_id: row.tenant_id.into(),
            account_id: row.account_id.map(Into::into),
            email: row.email,
            name: row.name,
            role: parse_stored("invitations", "role", &row.role)?,
            created_by: row.created_by.map(Into::into),
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
            accepted_user_id: row.accepted_user_id.map(Into::into),
            revoked_at: row.revoked_at,
            state,
        })
    }
}

pub struct NewInvitation {
    pub account_id: AccountId,
    pub email: String,
    pub name: String,
    /// `TenantAdmin` or `User`.
    pub role: Role,
    pub created_by: UserId,
    pub lifetime: Duration,
}

/// Creates an invitation and returns it with the link's token (shown once). `Conflict` when the
/// tenant already has a user with the email, `Invalid` for a superadmin role.
pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewInvitation,
) -> DbResult<(Invitation, SecretString)> {
    if new.role == Role::Superadmin {
        return Err(DbError::Invalid {
            field: "role",
            message: "an invitation is for a tenant admin or a user".into(),
        });
    }
    if email_taken(scope, &new.email).await? {
        return Err(DbError::Conflict(format!(
            "a user with email `{}` exists",
            new.email
        )));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let row = InvitationRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO invitations (id, tenant_id, account_id, email, name, role, token_hash,
                                      created_by, expires_at)
             SELECT $1, $2, a.id, $4, $5, $6, $7, $8, now() + make_interval(secs => $9)
               FROM accounts a WHERE a.id = $3 AND a.tenant_id = $2
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            InvitationId::new().into_uuid().into(),
            scope.tenant_uuid().into(),
            new.account_id.into_uuid().into(),
            new.email.into(),
            new.name.into(),
            new.role.as_str().into(),
            hash_token(&token).into(),
            new.created_by.into_uuid().into(),
            (new.lifetime.num_seconds() as f64).into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("account"))?;
    Ok((row.try_into()?, SecretString::from(token)))
}

async fn email_taken(scope: TenantScope<'_, impl ConnectionTrait>, email: &str) -> DbResult<bool> {
    #[derive(FromQueryResult)]
    struct Row {
        taken: bool,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND lower(email) = lower($2))
             AS taken"
        ),
        [scope.tenant_uuid().into(), email.to_owned().into()],
    ))
    .one(scope.conn())
    .await?;
    Ok(row.is_some_and(|r| r.taken))
}

/// A page of the tenant's invitations, oldest first.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    after: Option<InvitationId>,
    limit: u64,
) -> DbResult<(Vec<Invitation>, bool)> {
    crate::tenant_page_by_id::<InvitationRow, _>(
        scope,
        &sql!(
            "SELECT {COLUMNS} FROM invitations
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3",
            COLUMNS
        ),
        after.map(InvitationId::into_uuid),
        limit,
    )
    .await
}

/// Withdraws a pending invitation of the tenant; its link stops working. Revoking one that is
/// already revoked answers it again; an accepted one is `Conflict`, another tenant's `NotFound`.
pub async fn revoke(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: InvitationId,
) -> DbResult<Invitation> {
    let row = InvitationRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE invitations SET revoked_at = coalesce(revoked_at, now())
              WHERE id = $1 AND tenant_id = $2 AND accepted_at IS NULL
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [id.into_uuid().into(), scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?;
    match row {
        Some(row) => row.try_into(),
        None => {
            let exists = InvitationRow::find_by_statement(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql!(
                    "SELECT {COLUMNS} FROM invitations WHERE id = $1 AND tenant_id = $2",
                    COLUMNS
                ),
                [id.into_uuid().into(), scope.tenant_uuid().into()],
            ))
            .one(scope.conn())
            .await?;
            match exists {
                Some(_) => Err(DbError::Conflict(
                    "the invitation was accepted; delete the user instead".into(),
                )),
                None => Err(DbError::NotFound("invitation")),
            }
        }
    }
}

/// An invitation found by its link's token, with its tenant's name and slug (for the page
/// that accepts it).
#[derive(Debug, Clone)]
pub struct Invited {
    pub invitation: Invitation,
    pub tenant_name: String,
    pub tenant_slug: String,
}

#[derive(FromQueryResult)]
struct TenantNames {
    name: String,
    slug: String,
}

/// The invitation with this link token, in any state; `lock` holds its row until the
/// transaction ends (to accept it).
pub async fn find_by_token(
    db: &impl ConnectionTrait,
    token: &str,
    lock: bool,
) -> DbResult<Option<Invited>> {
    let row = InvitationRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        if lock {
            sql!(
                "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE",
                COLUMNS
            )
        } else {
            sql!(
                "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1",
                COLUMNS
            )
        },
        [hash_token(token).into()],
    ))
    .one(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let invitation: Invitation = row.try_into()?;
    let names = TenantNames::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT name, slug FROM tenants WHERE id = $1"),
        [invitation.tenant_id.into_uuid().into()],
    ))
    .one(db)
    .await?
    .ok_or(DbError::NotFound("tenant"))?;
    Ok(Some(Invited {
        invitation,
        tenant_name: names.name,
        tenant_slug: names.slug,
    }))
}

/// Why an invitation could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("no invitation has this link; ask your admin for a new one")]
    Unknown,
    #[error("this invitation expired at {0}; ask your admin for a new one")]
    Expired(DateTime<Utc>),
    #[error("this invitation was already used; sign in instead")]
    Used,
    #[error("this invitation was withdrawn; ask your admin for a new one")]
    Revoked,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Uses the invitation with `token` up: creates its user (the invited email and role, in the
/// invited account, named `name` or the invitation's name) with `password`, and returns the
/// new user's id. Run it in a transaction: the invitation's row is locked until it ends.
pub async fn accept(
    txn: &impl ConnectionTrait,
    token: &str,
    name: Option<String>,
    password: &PasswordHashString,
) -> Result<(UserId, TenantId), AcceptError> {
    let invited = find_by_token(txn, token, true)
        .await?
        .ok_or(AcceptError::Unknown)?;
    let invitation = invited.invitation;
    match invitation.state {
        InvitationState::Pending => {}
        InvitationState::Accepted => return Err(AcceptError::Used),
        InvitationState::Revoked => return Err(AcceptError::Revoked),
        InvitationState::Expired => return Err(AcceptError::Expired(invitation.expires_at)),
    }
    let scope = TenantScope::new(txn, invitation.tenant_id);
    let user = crate::tenants::create_user(
        scope,
        crate::tenants::NewUser {
            account_id: invitation.account_id,
            email: invitation.email.clone(),
            name: name.unwrap_or(invitation.name),
            role: invitation.role,
        },
    )
    .await?;
    crate::sessions::set_password(txn, user.id, password).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("UPDATE invitations SET accepted_at = now(), accepted_user_id = $2 WHERE id = $1"),
        [invitation.id.into_uuid().into(), user.id.into_uuid().into()],
    ))
    .await
    .map_err(DbError::from)?;
    Ok((user.id, invitation.tenant_id))
}
