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

use actix_web::{delete, get, post, put, web};
use cache::{Key, KeyRef};
use chrono::{DateTime, Utc};
use common::{AccountId, InboxId, Permission, Role, RoleId, TeamId, TenantId, UserId};
use db::access::RoleInput;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Deleted, Envelope, created, ok, required_text};
use crate::auth::TenantUser;
use crate::cached;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(list_roles)
        .service(create_role)
        .service(update_role)
        .service(delete_role)
        .service(list_agents)
        .service(assign_agent)
        .service(remove_agent)
        .service(list_teams)
        .service(create_team)
        .service(rename_team)
        .service(delete_team)
        .service(set_team_members)
        .service(list_inboxes);
}

/// A role of an account: what its agents may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountRole {
    // On the wire a plain uuid string, as before ids were typed.
    #[schema(value_type = uuid::Uuid)]
    pub id: RoleId,
    pub account_id: AccountId,
    pub name: String,
    /// Sorted, without duplicates.
    pub permissions: Vec<Permission>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<db::access::AccountRole> for AccountRole {
    fn from(v: db::access::AccountRole) -> Self {
        Self {
            id: v.id,
            account_id: v.account_id,
            name: v.name,
            permissions: v.permissions,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// A user of the account holding a role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub name: String,
    pub role: AgentRole,
    /// When the current role was assigned.
    pub assigned_at: DateTime<Utc>,
}

impl From<db::access::Agent> for Agent {
    fn from(v: db::access::Agent) -> Self {
        Self {
            user_id: v.user_id,
            account_id: v.account_id,
            email: v.email,
            name: v.name,
            role: v.role.into(),
            assigned_at: v.assigned_at,
        }
    }
}

/// The role an agent holds, as shown with the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentRole {
    // On the wire a plain uuid string, as before ids were typed.
    #[schema(value_type = uuid::Uuid)]
    pub id: RoleId,
    pub name: String,
    pub permissions: Vec<Permission>,
}

impl From<db::access::AgentRole> for AgentRole {
    fn from(v: db::access::AgentRole) -> Self {
        Self {
            id: v.id,
            name: v.name,
            permissions: v.permissions,
        }
    }
}

/// A named group of agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    // On the wire a plain uuid string, as before ids were typed.
    #[schema(value_type = uuid::Uuid)]
    pub id: TeamId,
    pub account_id: AccountId,
    pub name: String,
    /// In user id order.
    pub members: Vec<TeamMember>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<db::access::Team> for Team {
    fn from(v: db::access::Team) -> Self {
        Self {
            id: v.id,
            account_id: v.account_id,
            name: v.name,
            members: v.members.into_iter().map(TeamMember::from).collect(),
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
}

impl From<db::access::TeamMember> for TeamMember {
    fn from(v: db::access::TeamMember) -> Self {
        Self {
            user_id: v.user_id,
            email: v.email,
            name: v.name,
        }
    }
}

/// An inbox as the account's inbox list shows it: the token only as its hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountInbox {
    pub id: InboxId,
    pub account_id: AccountId,
    pub name: String,
    pub wuzapi_url: String,
    pub token_hint: String,
    pub created_at: DateTime<Utc>,
}

impl From<db::access::AccountInbox> for AccountInbox {
    fn from(v: db::access::AccountInbox) -> Self {
        Self {
            id: v.id,
            account_id: v.account_id,
            name: v.name,
            wuzapi_url: v.wuzapi_url,
            token_hint: v.token_hint,
            created_at: v.created_at,
        }
    }
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

pub(crate) fn agents_key(tenant_id: TenantId, account_id: AccountId) -> Key<SessionAgentsKey> {
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    /// 1 to 60 characters.
    name: String,
    /// Permission names, e.g. `campaigns.read`.
    #[schema(value_type = Vec<Permission>)]
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

/// The account's roles, oldest first (users of the account and tenant admins); `nextCursor`
/// fetches the next page.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ListParams),
    responses((status = 200, description = "A page of roles", body = Page<AccountRole>)),
)]
#[get("/accounts/{account_id}/roles")]
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
        let rows = db::access::roles(scope, account_id).await?;
        Ok(Some(rows.into_iter().map(AccountRole::from).collect()))
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id.into_uuid())
}

/// Creates a role of the account: a name and the permissions its agents get (tenant admin).
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account")),
    request_body = RoleBody,
    responses((status = 201, description = "The new role", body = Envelope<AccountRole>)),
)]
#[post("/accounts/{account_id}/roles")]
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
    Ok(created(AccountRole::from(role)))
}

/// Replaces a role's name and permissions (tenant admin); its agents get them at once.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("role_id" = Uuid, Path, description = "The role's id")),
    request_body = RoleBody,
    responses((status = 200, description = "The role as replaced", body = Envelope<AccountRole>)),
)]
#[put("/accounts/{account_id}/roles/{role_id}")]
pub async fn update_role(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, RoleId)>,
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
    Ok(ok(AccountRole::from(role)))
}

/// Deletes a role (tenant admin); refused with 409 while agents hold it.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("role_id" = Uuid, Path, description = "The role's id")),
    responses((status = 200, description = "The role is deleted", body = Envelope<Deleted<Uuid>>)),
)]
#[delete("/accounts/{account_id}/roles/{role_id}")]
pub async fn delete_role(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, RoleId)>,
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

/// The account's agents with their roles, in user id order (users of the account and tenant
/// admins); `nextCursor` fetches the next page.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ListParams),
    responses((status = 200, description = "A page of agents", body = Page<Agent>)),
)]
#[get("/accounts/{account_id}/agents")]
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
        let rows = db::access::agents(scope, account_id).await?;
        Ok(Some(rows.into_iter().map(Agent::from).collect()))
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.user_id.into_uuid())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignAgent {
    /// A role of the account.
    #[schema(value_type = uuid::Uuid)]
    role_id: RoleId,
}

/// Makes a user of the account an agent with a role, or changes an agent's role (tenant
/// admin).
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("user_id" = UserId, Path, description = "The user's id")),
    request_body = AssignAgent,
    responses((status = 200, description = "The agent", body = Envelope<Agent>)),
)]
#[put("/accounts/{account_id}/agents/{user_id}")]
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
    Ok(ok(Agent::from(agent)))
}

/// `{"userId":...,"removed":true}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AgentRemoved {
    user_id: UserId,
    removed: bool,
}

/// Removes an agent (tenant admin): the user stays a user of the account but holds no role and
/// leaves every team.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("user_id" = UserId, Path, description = "The user's id")),
    responses((status = 200, description = "The user is no longer an agent", body = Envelope<AgentRemoved>)),
)]
#[delete("/accounts/{account_id}/agents/{user_id}")]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamBody {
    /// 1 to 60 characters.
    name: String,
}

/// The most members one request may name.
const MAX_TEAM_MEMBERS: usize = 500;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamMembers {
    /// The agents of the account the team is made of, at most 500.
    #[schema(max_items = 500)]
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

/// The account's teams with their members, oldest first (users of the account and tenant
/// admins); `nextCursor` fetches the next page.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ListParams),
    responses((status = 200, description = "A page of teams", body = Page<Team>)),
)]
#[get("/accounts/{account_id}/teams")]
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
        let rows = db::access::teams(scope, account_id).await?;
        Ok(Some(rows.into_iter().map(Team::from).collect()))
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id.into_uuid())
}

/// Creates a team of the account, without members (tenant admin).
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account")),
    request_body = TeamBody,
    responses((status = 201, description = "The new team", body = Envelope<Team>)),
)]
#[post("/accounts/{account_id}/teams")]
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
    Ok(created(Team::from(team)))
}

/// Renames a team (tenant admin).
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("team_id" = Uuid, Path, description = "The team's id")),
    request_body = TeamBody,
    responses((status = 200, description = "The team", body = Envelope<Team>)),
)]
#[put("/accounts/{account_id}/teams/{team_id}")]
pub async fn rename_team(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, TeamId)>,
    body: ApiJson<TeamBody>,
) -> ApiResult {
    let (account, team_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    let name = required_text("name", &body.into_inner().name, 60)?;
    let team = db::access::rename_team(user.scope(&state.db), account_id, team_id, &name).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(ok(Team::from(team)))
}

/// Deletes a team (tenant admin); its members stay agents.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("team_id" = Uuid, Path, description = "The team's id")),
    responses((status = 200, description = "The team is deleted", body = Envelope<Deleted<Uuid>>)),
)]
#[delete("/accounts/{account_id}/teams/{team_id}")]
pub async fn delete_team(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, TeamId)>,
) -> ApiResult {
    let (account, team_id) = path.into_inner();
    let (tenant_id, account_id) = authorize(&state, &user, account, Access::Write).await?;
    db::access::delete_team(user.scope(&state.db), account_id, team_id).await?;
    cached::invalidate(&state, [KeyRef::from(teams_key(tenant_id, account_id))]).await;
    Ok(ok(Deleted::new(team_id)))
}

/// Sets a team's members: they become exactly these agents (tenant admin).
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ("team_id" = Uuid, Path, description = "The team's id")),
    request_body = TeamMembers,
    responses((status = 200, description = "The team with its new members", body = Envelope<Team>)),
)]
#[put("/accounts/{account_id}/teams/{team_id}/members")]
pub async fn set_team_members(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<(AccountRef, TeamId)>,
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
    Ok(ok(Team::from(team)))
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

/// The account's inboxes, oldest first, their tokens only as hints (users of the account and
/// tenant admins); `nextCursor` fetches the next page.
#[utoipa::path(
    tag = "access",
    params(("account_id" = String, Path, description = "An account id, or `current` for the caller's own account"), ListParams),
    responses((status = 200, description = "A page of inboxes", body = Page<AccountInbox>)),
)]
#[get("/accounts/{account_id}/inboxes")]
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
        let rows = db::access::inboxes(scope, account_id).await?;
        Ok(Some(rows.into_iter().map(AccountInbox::from).collect()))
    })
    .await?;
    // Cached whole (a few dozen rows at most), so paged here rather than in the query.
    page.respond_from_all(all.unwrap_or_default(), |item| item.id.into_uuid())
}
