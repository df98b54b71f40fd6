//! Invitations: one-time links a tenant admin creates for a new user, and the public endpoints
//! the invited person's browser uses to see and accept one.

use actix_web::{HttpRequest, delete, get, post, web};
use chrono::{DateTime, Utc};
use common::{AccountId, ErrorCode, InvitationId, Role, UserId};
use db::invitations::{AcceptError, Invitation, InvitationState};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, created, ok, required_text};
use crate::auth::TenantAdmin;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create_invitation)
        .service(list_invitations)
        .service(revoke_invitation)
        .service(preview_invitation)
        .service(accept_invitation);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInvitation {
    /// The invited person's email: their sign-in name once they accept.
    email: String,
    /// The name to give the user (they may change it when accepting); at most 200 characters.
    #[serde(default)]
    name: String,
    /// `tenant_admin` or `user`.
    role: Role,
}

/// Where an invitation stands, as the API names it (`pending`, `accepted`, `expired`,
/// `revoked`).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum StateName {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl From<InvitationState> for StateName {
    fn from(state: InvitationState) -> Self {
        match state {
            InvitationState::Pending => Self::Pending,
            InvitationState::Accepted => Self::Accepted,
            InvitationState::Expired => Self::Expired,
            InvitationState::Revoked => Self::Revoked,
        }
    }
}

/// An invitation as admins list it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    id: InvitationId,
    account_id: Option<AccountId>,
    email: String,
    name: String,
    role: Role,
    #[schema(value_type = String)]
    state: StateName,
    created_by: Option<UserId>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    accepted_user_id: Option<UserId>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            account_id: i.account_id,
            email: i.email,
            name: i.name,
            role: i.role,
            state: i.state.into(),
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            accepted_user_id: i.accepted_user_id,
            revoked_at: i.revoked_at,
        }
    }
}

/// A new invitation: the only answer that holds its link's token.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewInvitationView {
    invitation: InvitationView,
    /// The one-time token (`wmi_...`); send the person `path` (or an absolute URL of it).
    token: String,
    /// The web app's page that accepts it: `/invite/<token>`.
    path: String,
    notice: &'static str,
}

/// Invites a new user to the caller's tenant (tenant admins): the answer holds a one-time link
/// that works until it expires (`INVITATION_LIFETIME_HOURS`). 409 when a user with the email
/// exists.
#[utoipa::path(
    tag = "auth",
    request_body = CreateInvitation,
    responses((status = 201, description = "The invitation and its link", body = Envelope<NewInvitationView>)),
)]
#[post("/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<CreateInvitation>,
) -> ApiResult {
    let body = body.into_inner();
    let email = required_text("email", &body.email, 320)?;
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::validation(
            "email",
            "`email` must be an email address",
        ));
    }
    if body.name.chars().count() > 200 {
        return Err(ApiError::validation(
            "name",
            "`name` must have at most 200 characters",
        ));
    }
    if body.role == Role::Superadmin {
        return Err(ApiError::validation(
            "role",
            "an invitation is for a `tenant_admin` or a `user`",
        ));
    }
    let scope = admin.scope(&state.db);
    let account = db::tenants::default_account(scope).await?;
    let (invitation, token) = db::invitations::create(
        scope,
        db::invitations::NewInvitation {
            account_id: account.id,
            email,
            name: body.name.trim().to_owned(),
            role: body.role,
            created_by: admin.user_id(),
            lifetime: state.config.sign_in.invitation_lifetime,
        },
    )
    .await?;
    let token = token.expose_secret().to_owned();
    Ok(created(NewInvitationView {
        invitation: invitation.into(),
        path: format!("/invite/{token}"),
        token,
        notice: "the link is shown only now; send it to the person invited",
    }))
}

pub const INVITATIONS: ListSpec = ListSpec {
    name: "invitations",
    fields: &[
        "id",
        "accountId",
        "email",
        "name",
        "role",
        "state",
        "createdBy",
        "createdAt",
        "expiresAt",
        "acceptedAt",
        "acceptedUserId",
        "revokedAt",
    ],
    default_fields: &[
        "id",
        "email",
        "name",
        "role",
        "state",
        "createdAt",
        "expiresAt",
        "acceptedAt",
    ],
};

/// The tenant's invitations, oldest first, in every state (tenant admins).
#[utoipa::path(
    tag = "auth",
    params(ListParams),
    responses((status = 200, description = "A page of invitations", body = Page<InvitationView>)),
)]
#[get("/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&INVITATIONS)?;
    let (rows, more) = db::invitations::page(
        admin.scope(&state.db),
        page.after::<InvitationId>(),
        page.limit(),
    )
    .await?;
    let views: Vec<InvitationView> = rows.into_iter().map(InvitationView::from).collect();
    page.respond(views, more, |i| i.id.into_uuid())
}

/// Withdraws a pending invitation (tenant admins): its link stops working. 409 once accepted;
/// 404 for another tenant's.
#[utoipa::path(
    tag = "auth",
    params(("id" = InvitationId, Path, description = "The invitation")),
    responses((status = 200, description = "Revoked", body = Envelope<InvitationView>)),
)]
#[delete("/invitations/{id}")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    id: web::Path<InvitationId>,
) -> ApiResult {
    let invitation = db::invitations::revoke(admin.scope(&state.db), id.into_inner()).await?;
    Ok(ok(InvitationView::from(invitation)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvitationToken {
    /// The token of the invitation link (`wmi_...`).
    #[schema(value_type = String)]
    token: SecretString,
}

/// What the accept page shows of an invitation.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationPreview {
    email: String,
    name: String,
    role: Role,
    tenant_name: String,
    tenant_slug: String,
    expires_at: DateTime<Utc>,
}

/// 410 for an invitation that can no longer be accepted, 404 for an unknown one.
fn unusable(error: AcceptError) -> ApiError {
    match error {
        AcceptError::Unknown => ApiError::new(ErrorCode::NotFound, error.to_string()),
        AcceptError::Expired(_) | AcceptError::Used | AcceptError::Revoked => {
            ApiError::new(ErrorCode::Gone, error.to_string())
        }
        AcceptError::Db(e) => e.into(),
    }
}

/// Shows the invitation of a link, for the page that accepts it. Public (the token is the
/// credential); sent in the body, so it stays out of URLs and logs. 404 unknown, 410 expired,
/// used or withdrawn.
#[utoipa::path(
    tag = "auth",
    request_body = InvitationToken,
    responses((status = 200, description = "The invitation", body = Envelope<InvitationPreview>)),
    security(()),
)]
#[post("/auth/invitation")]
pub async fn preview_invitation(
    state: web::Data<AppState>,
    body: ApiJson<InvitationToken>,
) -> ApiResult {
    let token = body.into_inner().token;
    let invited = db::invitations::find_by_token(&state.db, token.expose_secret(), false)
        .await?
        .ok_or(AcceptError::Unknown)
        .map_err(unusable)?;
    let invitation = invited.invitation;
    match invitation.state {
        InvitationState::Pending => {}
        InvitationState::Accepted => return Err(unusable(AcceptError::Used)),
        InvitationState::Revoked => return Err(unusable(AcceptError::Revoked)),
        InvitationState::Expired => {
            return Err(unusable(AcceptError::Expired(invitation.expires_at)));
        }
    }
    Ok(ok(InvitationPreview {
        email: invitation.email,
        name: invitation.name,
        role: invitation.role,
        tenant_name: invited.tenant_name,
        tenant_slug: invited.tenant_slug,
        expires_at: invitation.expires_at,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptInvitation {
    #[schema(value_type = String)]
    token: SecretString,
    /// The user's name; the invitation's when left out. At most 200 characters.
    #[serde(default)]
    name: Option<String>,
    /// At least 10 characters, at most 1024 bytes, not the email address.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Accepts an invitation: creates the user with the chosen password, uses the link up and
/// signs the person in (cookies as `POST /api/auth/login`). Public. 404 unknown, 410 expired,
/// used or withdrawn, 422 for a weak password; nothing is created then.
#[utoipa::path(
    tag = "auth",
    request_body = AcceptInvitation,
    responses((status = 201, description = "The user exists and is signed in", body = Envelope<super::sessions::SessionView>)),
    security(()),
)]
#[post("/auth/invitation/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<AcceptInvitation>,
) -> ApiResult {
    let body = body.into_inner();
    let name = match body.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) if name.chars().count() > 200 => {
            return Err(ApiError::validation(
                "name",
                "`name` must have at most 200 characters",
            ));
        }
        Some(name) => Some(name.to_owned()),
    };
    let token = body.token.expose_secret().to_owned();
    // The password is checked against the invited email before anything is written.
    let invited = db::invitations::find_by_token(&state.db, &token, false)
        .await?
        .ok_or(AcceptError::Unknown)
        .map_err(unusable)?;
    common::password::check_new(&body.password, &invited.invitation.email)
        .map_err(|e| ApiError::validation("password", e.to_string()))?;
    let password = body.password;
    let hashed = match state
        .password_gate
        .run(move || common::password::hash(&password))
        .await
    {
        Ok(hashed) => hashed,
        Err(refused) => return Ok(refused.response()),
    };
    use sea_orm::TransactionTrait;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let (user_id, _) = db::invitations::accept(&txn, &token, name, &hashed)
        .await
        .map_err(unusable)?;
    txn.commit().await.map_err(db::DbError::from)?;
    super::sessions::open_session(&state, &req, user_id, actix_web::http::StatusCode::CREATED).await
}
