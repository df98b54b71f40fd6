//! An account's roles, agents, teams and inbox list: `/api/accounts/{accountId}/...`.
//!
//! Any user of the account (and any tenant admin of its tenant) reads; only tenant admins
//! write. An account of another tenant is a 404 on every endpoint, reads and writes alike, so
//! its existence never shows: that is why writes take a [`TenantUser`] and check the admin
//! role only after the account (a `TenantAdmin` extractor would answer a plain user 403 before
//! the lookup). `{accountId}` may be `current`: the caller's own account.
//!
//! The four lists are cached per account (`session_*:{accountId}`, filed under the tenant), and
//! every write drops exactly the lists it changes: agents show their role's name and
//! permissions, teams show their members.

use actix_web::web;
use cache::{Key, KeyRef};
use common::{AccountId, Permission, Role, TenantId, UserId};
use db::access::{AccountInbox, AccountRole, Agent, RoleInput, Team};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::paging::{ListQuery, ListSpec};
use super::{ApiJson, ApiResult, Deleted, created, ok, required_text};
use crate::auth::TenantUser;
use crate::cached;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts/{account_id}/roles", web::get().to(list_roles))
        .route("/accounts/{account_id}/roles", web::post().to(create_role))
        .route(
            "/accounts/{account_id}/roles/{role_id}",
            web::put().to(update_role),
        )
        .route(
            "/accounts/{account_id}/roles/{role_id}",
            web::delete().to(delete_role),
        )
        .route("/accounts/{account_id}/agents", web::get().to(list_agents))
        .route(
            "/accounts/{account_id}/agents/{user_id}",
            web::put().to(assign_agent),
        )
        .route(
            "/accounts/{account_id}/agents/{user_id}",
            web::delete().to(remove_agent),
        )
        .route("/accounts/{account_id}/teams", web::get().to(list_teams))
        .route("/accounts/{account_id}/teams", web::post().to(create_team))
        .route(
            "/accounts/{account_id}/teams/{team_id}",
            web::put().to(rename_team),
        )
        .route(
            "/accounts/{account_id}/teams/{team_id}",
            web::delete().to(delete_team),
        )
        .route(
            "/accounts/{account_id}/teams/{team_id}/members",
            web::put().to(set_team_members),
        )
        .route(
            "/accounts/{account_id}/inboxes",
            web::get().to(list_inboxes),
        );
}

cache::key_type! {
    /// An account's agents, each with its role's name and permissions.
    pub SessionAgentsKey: SessionAgents, id = AccountId, value = Vec<Agent>, schema = 1
}

cache::key_type! {
    /// An account's teams with their members.
    pub SessionTeamsKey: SessionTeams, id = AccountId, value = Vec<Team>, schema = 1
}

cache::key_type! {
    /// An account's roles.
    pub SessionRolesKey: SessionRoles, id = AccountId, value = Vec<AccountRole>, schema = 1
}

cache::key_type! {
    /// An account's inboxes (tokens only as hints).
    pub SessionInboxesKey: SessionInboxes, id = AccountId, value = Vec<AccountInbox>, schema = 1
}

fn agents_key(tenant_id: TenantId, account_id: AccountId) -> Key<SessionAgentsKey> {
    cached::tenant_key(&account_id, tenant_id)
}

fn teams_key(tenant_id: TenantId, account_id: AccountId) -> Key<SessionTeamsKey> {
    cached::tenant_key(&account_id, tenant_id)
}

fn roles_key(tenant_id: TenantId, account_id: AccountId) -> Key<SessionRolesKey> {
    cached::tenant_key(&account_id, tenant_id)
}

/// The cached inbox list of an account: whoever creates an inbox invalidates it.
pub fn inboxes_key(tenant_id: TenantId, account_id: AccountId) -> Key<SessionInboxesKey> {
    cached::tenant_key(&account_id, tenant_id)
}

/// The `{accountId}` of a path: an account id, or `current` for the caller's own account.
#[derive(Debug, Clone, Copy)]
pub enum AccountRef {
    Current,
    Id(AccountId),
}

impl<'de> Deserialize<'de> for AccountRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "current" {
            return Ok(AccountRef::Current);
        }
        text.parse().map(AccountRef::Id).map_err(|_| {
            D::Error::custom("`accountId` must be an account id (a UUID) or `current`")
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// The account the request is about, once the caller may `access` it: 404 for an account
/// outside the caller's tenant, then 403 for a write by a non-admin or a read by a user of
/// another account.
async fn authorize(
    state: &AppState,
    user: &TenantUser,
    account: AccountRef,
    access: Access,
) -> Result<(TenantId, AccountId), ApiError> {
    let own = user.caller.0.account_id;
    let account_id = match account {
        AccountRef::Current => user.account_id()?,
        AccountRef::Id(id) => id,
    };
    // The caller's own account is its tenant's by construction; any other is looked up.
    if own != Some(account_id) {
        db::access::require_account(user.scope(&state.db), account_id).await?;
    }
    match access {
        Access::Write if user.role() != Role::TenantAdmin => {
            return Err(ApiError::forbidden("only a tenant admin may do this"));
        }
        Access::Read if user.role() != Role::TenantAdmin && own != Some(account_id) => {
            return Err(ApiError::forbidden(
                "only users of this account and tenant admins may read it",
            ));
        }
        Access::Read | Access::Write => {}
    }
    Ok((user.tenant_id(), account_id))
}

// ---- Roles ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    name: String,
    /// Names from the closed set of `common::Permission`, e.g. `campaigns.read`.
    permissions: Vec<String>,
}

impl RoleBody {
    fn validate(self) -> Result<RoleInput, ApiError> {
        let name = required_text("name", &self.name, 60)?;
        let permissions = Permission::parse_set(&self.permissions).map_err(|e| {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            ApiError::validation(
                "permissions",
                format!("{e}; the permissions are {}", known.join(", ")),
            )
        })?;
        Ok(RoleInput { name, permissions })
    }
}

pub const ROLES: ListSpec = ListSpec {
    name: "account_roles",
    fields: &[
        "id",
        "accountId",
        "name",
        "permissions",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "name"],
};

/// `GET /api/accounts/{accountId}/roles?limit=&cursor=&fields=`, oldest first.
pub async fn list_roles(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    query: ListQuery,
) -> ApiResult {
    let (tenant_id, account_id) = authorize(&state, &user, path.into_inner(), Access::Read).await?;
    let page = query.page_within(&ROLES, account_id.into_uuid())?;
    let scope = user.scope(&state.db);
    let all = cached::read(&state, &roles_key(tenant_id, account_id), async {
        db::access::roles(scope, account_id).await.map(Some)
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id)
}

/// `POST /api/accounts/{accountId}/roles` (tenant admin) `{name, permissions}`
pub async fn create_role(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    body: ApiJson<RoleBody>,
) -> ApiResult {
    let (tenant_id, account_id) =
        authorize(&state, &user, path.into_inner(), Access::Write).await?;
    let input = body.into_inner().validate()?;
    let role = db::access::create_role(user.scope(&state.db), account_id, input).await?;
    // No agent holds a new role yet: only the role list changed.
    cached::invalidate(&state, [KeyRef::from(roles_key(tenant_id, account_id))]).await;
    Ok(created(role))
}

/// `PUT /api/accounts/{accountId}/roles/{roleId}` (tenant admin) `{name, permissions}`
pub async fn update_role(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, Uuid)>,
    body: ApiJson<RoleBody>,
) -> ApiResult {
    let (account, role_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let input = body.into_inner().validate()?;
    let role = db::access::update_role(user.scope(&state.db), account_id, role_id, input).await?;
    // Agents show their role's name and permissions.
    cached::invalidate(
        &state,
        [
            KeyRef::from(roles_key(tenant_id, account_id)),
            KeyRef::from(agents_key(tenant_id, account_id)),
        ],
    )
    .await;
    Ok(ok(role))
}

/// `DELETE /api/accounts/{accountId}/roles/{roleId}` (tenant admin): 409 while agents hold it.
pub async fn delete_role(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, Uuid)>,
) -> ApiResult {
    let (account, role_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    db::access::delete_role(user.scope(&state.db), account_id, role_id).await?;
    // Only a role no agent holds can go, so the agent list is unchanged.
    cached::invalidate(&state, [KeyRef::from(roles_key(tenant_id, account_id))]).await;
    Ok(ok(Deleted::new(role_id)))
}

// ---- Agents ----

pub const AGENTS: ListSpec = ListSpec {
    name: "account_agents",
    fields: &["userId", "accountId", "email", "name", "role", "assignedAt"],
    default_fields: &["userId", "name", "role"],
};

/// `GET /api/accounts/{accountId}/agents?limit=&cursor=&fields=`, in user id order.
pub async fn list_agents(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    query: ListQuery,
) -> ApiResult {
    let (tenant_id, account_id) = authorize(&state, &user, path.into_inner(), Access::Read).await?;
    let page = query.page_within(&AGENTS, account_id.into_uuid())?;
    let scope = user.scope(&state.db);
    let all = cached::read(&state, &agents_key(tenant_id, account_id), async {
        db::access::agents(scope, account_id).await.map(Some)
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.user_id.into_uuid())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignAgent {
    role_id: Uuid,
}

/// `PUT /api/accounts/{accountId}/agents/{userId}` (tenant admin) `{roleId}`: makes a user of
/// the account an agent with that role, or changes an agent's role.
pub async fn assign_agent(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, UserId)>,
    body: ApiJson<AssignAgent>,
) -> ApiResult {
    let (account, user_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let role_id = body.into_inner().role_id;
    let agent =
        db::access::assign_agent(user.scope(&state.db), account_id, user_id, role_id).await?;
    // Team lists show members without their roles, so only the agent list changed.
    cached::invalidate(&state, [KeyRef::from(agents_key(tenant_id, account_id))]).await;
    Ok(ok(agent))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentRemoved {
    user_id: UserId,
    removed: bool,
}

/// `DELETE /api/accounts/{accountId}/agents/{userId}` (tenant admin): the user stays a user of
/// the account but holds no role and leaves every team.
pub async fn remove_agent(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, UserId)>,
) -> ApiResult {
    let (account, user_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let left_teams = db::access::remove_agent(user.scope(&state.db), account_id, user_id).await?;
    let mut keys = vec![KeyRef::from(agents_key(tenant_id, account_id))];
    if left_teams {
        keys.push(KeyRef::from(teams_key(tenant_id, account_id)));
    }
    cached::invalidate(&state, keys).await;
    Ok(ok(AgentRemoved {
        user_id,
        removed: true,
    }))
}

// ---- Teams ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamBody {
    name: String,
}

/// The most members one request may name.
const MAX_TEAM_MEMBERS: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamMembers {
    user_ids: Vec<UserId>,
}

pub const TEAMS: ListSpec = ListSpec {
    name: "account_teams",
    fields: &[
        "id",
        "accountId",
        "name",
        "members",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "name"],
};

/// `GET /api/accounts/{accountId}/teams?limit=&cursor=&fields=`, oldest first.
pub async fn list_teams(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    query: ListQuery,
) -> ApiResult {
    let (tenant_id, account_id) = authorize(&state, &user, path.into_inner(), Access::Read).await?;
    let page = query.page_within(&TEAMS, account_id.into_uuid())?;
    let scope = user.scope(&state.db);
    let all = cached::read(&state, &teams_key(tenant_id, account_id), async {
        db::access::teams(scope, account_id).await.map(Some)
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id)
}

/// `POST /api/accounts/{accountId}/teams` (tenant admin) `{name}`
pub async fn create_team(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    body: ApiJson<TeamBody>,
) -> ApiResult {
    let (tenant_id, account_id) =
        authorize(&state, &user, path.into_inner(), Access::Write).await?;
    let name = required_text("name", &body.into_inner().name, 60)?;
    let team = db::access::create_team(user.scope(&state.db), account_id, &name).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(created(team))
}

/// `PUT /api/accounts/{accountId}/teams/{teamId}` (tenant admin) `{name}`
pub async fn rename_team(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, Uuid)>,
    body: ApiJson<TeamBody>,
) -> ApiResult {
    let (account, team_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let name = required_text("name", &body.into_inner().name, 60)?;
    let team = db::access::rename_team(user.scope(&state.db), account_id, team_id, &name).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(ok(team))
}

/// `DELETE /api/accounts/{accountId}/teams/{teamId}` (tenant admin)
pub async fn delete_team(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, Uuid)>,
) -> ApiResult {
    let (account, team_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    db::access::delete_team(user.scope(&state.db), account_id, team_id).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(ok(Deleted::new(team_id)))
}

/// `PUT /api/accounts/{accountId}/teams/{teamId}/members` (tenant admin) `{userIds}`: the
/// team's members become exactly these agents.
pub async fn set_team_members(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, Uuid)>,
    body: ApiJson<TeamMembers>,
) -> ApiResult {
    let (account, team_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let user_ids = body.into_inner().user_ids;
    if user_ids.len() > MAX_TEAM_MEMBERS {
        return Err(ApiError::validation(
            "userIds",
            format!("`userIds` may name at most {MAX_TEAM_MEMBERS} users"),
        ));
    }
    let team =
        db::access::set_team_members(user.scope(&state.db), account_id, team_id, &user_ids).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(ok(team))
}

// ---- Inboxes ----

pub const ACCOUNT_INBOXES: ListSpec = ListSpec {
    name: "account_inboxes",
    fields: &[
        "id",
        "accountId",
        "name",
        "wuzapiUrl",
        "tokenHint",
        "createdAt",
    ],
    default_fields: &["id", "name"],
};

/// `GET /api/accounts/{accountId}/inboxes?limit=&cursor=&fields=`, oldest first.
pub async fn list_inboxes(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<AccountRef>,
    query: ListQuery,
) -> ApiResult {
    let (tenant_id, account_id) = authorize(&state, &user, path.into_inner(), Access::Read).await?;
    let page = query.page_within(&ACCOUNT_INBOXES, account_id.into_uuid())?;
    let scope = user.scope(&state.db);
    let all = cached::read(&state, &inboxes_key(tenant_id, account_id), async {
        db::access::inboxes(scope, account_id).await.map(Some)
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id.into_uuid())
}
