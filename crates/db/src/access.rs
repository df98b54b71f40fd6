//! Who does what inside an account: roles (named sets of [`Permission`]s), agents (users of the
//! account holding one role), teams (named groups of agents), and the account's inbox list.
//!
//! Every query is bound to the caller's tenant and names the account, so a row of another
//! account or tenant is never read or changed; the schema's composite keys keep roles, agents
//! and team members of one account together.

use chrono::{DateTime, Utc};
use common::sql;
use common::{AccountId, InboxId, Permission, RoleId, TeamId, UserId};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, FromQueryResult, SqlErr, Statement, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use crate::{DbError, DbResult, TenantScope};

/// A role of an account: what its agents may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRole {
    pub id: RoleId,
    pub account_id: AccountId,
    pub name: String,
    /// Sorted, without duplicates.
    pub permissions: Vec<Permission>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A role's name and permissions as checked by [`create_role`] and [`update_role`].
pub struct RoleInput {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// A user of the account holding a role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub name: String,
    pub role: AgentRole,
    /// When the current role was assigned.
    pub assigned_at: DateTime<Utc>,
}

/// The role an agent holds, as shown with the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRole {
    pub id: RoleId,
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// A named group of agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub account_id: AccountId,
    pub name: String,
    /// In user id order.
    pub members: Vec<TeamMember>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
}

/// An inbox as the account's inbox list shows it: the token only as its hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInbox {
    pub id: InboxId,
    pub account_id: AccountId,
    pub name: String,
    pub wuzapi_url: String,
    pub token_hint: String,
    pub created_at: DateTime<Utc>,
}

fn statement(sql: &str, values: impl IntoIterator<Item = sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Stored permission names back into the enum; a name the code does not know means the
/// database and the code disagree (the schema's check makes that a deploy mistake).
fn stored_permissions(names: &[String]) -> DbResult<Vec<Permission>> {
    Permission::parse_set(names)
        .map_err(|e| DbError::corrupt("account_roles", "permissions", e.value))
}

fn permission_names(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(|p| p.as_str().to_owned()).collect()
}

/// `Ok` when the account belongs to the scope's tenant; `NotFound` otherwise, so another
/// tenant's account ids look exactly like ids that do not exist.
pub async fn require_account(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<()> {
    scope
        .conn()
        .query_one_raw(statement(
            sql!("SELECT 1 FROM accounts WHERE id = $1 AND tenant_id = $2"),
            [account_id.into(), scope.tenant_uuid().into()],
        ))
        .await?
        .map(|_| ())
        .ok_or(DbError::NotFound("account"))
}

// ---- Roles ----

#[derive(FromQueryResult)]
struct RoleRow {
    id: RoleId,
    account_id: Uuid,
    name: String,
    permissions: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl RoleRow {
    fn into_role(self) -> DbResult<AccountRole> {
        Ok(AccountRole {
            id: self.id,
            account_id: self.account_id.into(),
            permissions: stored_permissions(&self.permissions)?,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const ROLE_COLUMNS: &str = "id, account_id, name, permissions, created_at, updated_at";

fn duplicate_role(err: DbErr, name: &str) -> DbError {
    DbError::conflict_on_unique(err, format!("a role named `{name}` exists in this account"))
}

/// The account's roles in creation order.
pub async fn roles(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<Vec<AccountRole>> {
    RoleRow::find_by_statement(statement(
        &sql!(
            "SELECT {ROLE_COLUMNS} FROM account_roles
              WHERE tenant_id = $1 AND account_id = $2 ORDER BY id",
            ROLE_COLUMNS
        ),
        [scope.tenant_uuid().into(), account_id.into()],
    ))
    .all(scope.conn())
    .await?
    .into_iter()
    .map(RoleRow::into_role)
    .collect()
}

/// A new role; `Conflict` when the account has one of that name (in any case).
pub async fn create_role(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    input: RoleInput,
) -> DbResult<AccountRole> {
    let row = RoleRow::find_by_statement(statement(
        &sql!(
            "INSERT INTO account_roles (id, tenant_id, account_id, name, permissions)
             VALUES ($1, $2, $3, $4, $5) RETURNING {ROLE_COLUMNS}",
            ROLE_COLUMNS
        ),
        [
            RoleId::new().into(),
            scope.tenant_uuid().into(),
            account_id.into(),
            input.name.clone().into(),
            permission_names(&input.permissions).into(),
        ],
    ))
    .one(scope.conn())
    .await
    .map_err(|e| duplicate_role(e, &input.name))?;
    row.ok_or_else(|| DbError::Db(DbErr::RecordNotInserted))?
        .into_role()
}

/// Replaces a role's name and permissions; `NotFound` when the account has no such role.
pub async fn update_role(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    role_id: RoleId,
    input: RoleInput,
) -> DbResult<AccountRole> {
    RoleRow::find_by_statement(statement(
        &sql!(
            "UPDATE account_roles SET name = $4, permissions = $5, updated_at = now()
              WHERE id = $1 AND tenant_id = $2 AND account_id = $3
          RETURNING {ROLE_COLUMNS}",
            ROLE_COLUMNS
        ),
        [
            role_id.into(),
            scope.tenant_uuid().into(),
            account_id.into(),
            input.name.clone().into(),
            permission_names(&input.permissions).into(),
        ],
    ))
    .one(scope.conn())
    .await
    .map_err(|e| duplicate_role(e, &input.name))?
    .ok_or(DbError::NotFound("role"))?
    .into_role()
}

/// Deletes a role no agent holds. A held role is refused with `Conflict` rather than taking its
/// agents' access away silently: reassign or remove them first.
pub async fn delete_role(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    role_id: RoleId,
) -> DbResult<()> {
    let held = || {
        DbError::Conflict(
            "agents hold this role; assign them another role or remove them first".to_owned(),
        )
    };
    let deleted = scope
        .conn()
        .execute_raw(statement(
            sql!("DELETE FROM account_roles WHERE id = $1 AND tenant_id = $2 AND account_id = $3"),
            [
                role_id.into(),
                scope.tenant_uuid().into(),
                account_id.into(),
            ],
        ))
        .await
        // The agents' foreign key (`ON DELETE RESTRICT`) is what refuses a held role, also
        // against an assignment racing this delete.
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => held(),
            _ => DbError::Db(e),
        })?;
    if deleted.rows_affected() == 0 {
        return Err(DbError::NotFound("role"));
    }
    Ok(())
}

// ---- Agents ----

#[derive(FromQueryResult)]
struct AgentRow {
    user_id: Uuid,
    account_id: Uuid,
    email: String,
    name: String,
    role_id: RoleId,
    role_name: String,
    permissions: Vec<String>,
    assigned_at: DateTime<Utc>,
}

impl AgentRow {
    fn into_agent(self) -> DbResult<Agent> {
        Ok(Agent {
            user_id: self.user_id.into(),
            account_id: self.account_id.into(),
            email: self.email,
            name: self.name,
            role: AgentRole {
                id: self.role_id,
                name: self.role_name,
                permissions: stored_permissions(&self.permissions)?,
            },
            assigned_at: self.assigned_at,
        })
    }
}

/// The account's agents in user id order, or only `user_id` when given.
async fn load_agents(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    user_id: Option<UserId>,
) -> DbResult<Vec<Agent>> {
    AgentRow::find_by_statement(statement(
        sql!(
            "SELECT u.id AS user_id, a.account_id, u.email, u.name,
                r.id AS role_id, r.name AS role_name, r.permissions, a.assigned_at
           FROM account_agents a
           JOIN users u ON u.id = a.user_id
           JOIN account_roles r ON r.id = a.role_id
          WHERE a.tenant_id = $1 AND a.account_id = $2
            AND ($3::uuid IS NULL OR a.user_id = $3)
          ORDER BY u.id"
        ),
        [
            scope.tenant_uuid().into(),
            account_id.into(),
            user_id.map(UserId::into_uuid).into(),
        ],
    ))
    .all(scope.conn())
    .await?
    .into_iter()
    .map(AgentRow::into_agent)
    .collect()
}

pub async fn agents(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<Vec<Agent>> {
    load_agents(scope, account_id, None).await
}

/// Makes `user_id` an agent of the account with `role_id`, or gives an agent that role.
/// `NotFound` for a user outside the tenant; `Invalid` for a user of another account (or of
/// none) and for a role the account does not have.
pub async fn assign_agent(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    user_id: UserId,
    role_id: RoleId,
) -> DbResult<Agent> {
    let user = scope
        .conn()
        .query_one_raw(statement(
            sql!("SELECT account_id FROM users WHERE id = $1 AND tenant_id = $2"),
            [user_id.into(), scope.tenant_uuid().into()],
        ))
        .await?
        .ok_or(DbError::NotFound("user"))?;
    let users_account: Option<Uuid> = user.try_get("", "account_id")?;
    if users_account != Some(account_id.into_uuid()) {
        return Err(DbError::Invalid {
            field: "userId",
            message: format!("user `{user_id}` is not a user of this account"),
        });
    }
    let unknown_role = || DbError::Invalid {
        field: "roleId",
        message: format!("this account has no role `{role_id}`"),
    };
    // Selecting the role from the account is the check that it is the account's; a delete of
    // the role racing this insert is caught by the foreign key instead.
    let assigned = scope
        .conn()
        .execute_raw(statement(
            sql!(
                "INSERT INTO account_agents (tenant_id, account_id, user_id, role_id)
             SELECT tenant_id, account_id, $3, id FROM account_roles
              WHERE id = $4 AND tenant_id = $1 AND account_id = $2
             ON CONFLICT (tenant_id, account_id, user_id)
             DO UPDATE SET role_id = EXCLUDED.role_id, assigned_at = now()"
            ),
            [
                scope.tenant_uuid().into(),
                account_id.into(),
                user_id.into(),
                role_id.into(),
            ],
        ))
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => unknown_role(),
            _ => DbError::Db(e),
        })?;
    if assigned.rows_affected() == 0 {
        return Err(unknown_role());
    }
    load_agents(scope, account_id, Some(user_id))
        .await?
        .pop()
        .ok_or(DbError::NotFound("agent"))
}

/// Takes the account's role away from `user_id`, and with it the user's team memberships.
/// Returns whether the user was in any team (so team lists changed too); `NotFound` when the
/// user is not an agent of the account.
pub async fn remove_agent(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    user_id: UserId,
) -> DbResult<bool> {
    // One statement: the memberships are counted in the snapshot taken before the delete,
    // whose cascade removes them when the statement ends.
    let row = scope
        .conn()
        .query_one_raw(statement(
            sql!(
                "WITH removed AS (
                 DELETE FROM account_agents
                  WHERE tenant_id = $1 AND account_id = $2 AND user_id = $3
              RETURNING user_id
             )
             SELECT (SELECT count(*) FROM removed) AS removed,
                    (SELECT count(*) FROM account_team_members
                      WHERE tenant_id = $1 AND account_id = $2 AND user_id = $3) AS memberships"
            ),
            [
                scope.tenant_uuid().into(),
                account_id.into(),
                user_id.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbError::Db(DbErr::RecordNotFound("agent removal".to_owned())))?;
    let removed: i64 = row.try_get("", "removed")?;
    let memberships: i64 = row.try_get("", "memberships")?;
    if removed == 0 {
        return Err(DbError::NotFound("agent"));
    }
    Ok(memberships > 0)
}

// ---- Teams ----

#[derive(FromQueryResult)]
struct TeamRow {
    id: TeamId,
    account_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct MemberRow {
    team_id: TeamId,
    user_id: Uuid,
    email: String,
    name: String,
}

const TEAM_COLUMNS: &str = "id, account_id, name, created_at, updated_at";

fn duplicate_team(err: DbErr, name: &str) -> DbError {
    DbError::conflict_on_unique(err, format!("a team named `{name}` exists in this account"))
}

/// The account's teams in creation order with their members, or only `team_id` when given.
async fn load_teams(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    team_id: Option<TeamId>,
) -> DbResult<Vec<Team>> {
    let values = || {
        [
            scope.tenant_uuid().into(),
            account_id.into(),
            team_id.into(),
        ]
    };
    let teams = TeamRow::find_by_statement(statement(
        &sql!(
            "SELECT {TEAM_COLUMNS} FROM account_teams
              WHERE tenant_id = $1 AND account_id = $2 AND ($3::uuid IS NULL OR id = $3)
              ORDER BY id",
            TEAM_COLUMNS
        ),
        values(),
    ))
    .all(scope.conn())
    .await?;
    let members = MemberRow::find_by_statement(statement(
        sql!(
            "SELECT m.team_id, u.id AS user_id, u.email, u.name
           FROM account_team_members m
           JOIN users u ON u.id = m.user_id
          WHERE m.tenant_id = $1 AND m.account_id = $2 AND ($3::uuid IS NULL OR m.team_id = $3)
          ORDER BY m.team_id, u.id"
        ),
        values(),
    ))
    .all(scope.conn())
    .await?;
    Ok(teams
        .into_iter()
        .map(|team| Team {
            members: members
                .iter()
                .filter(|m| m.team_id == team.id)
                .map(|m| TeamMember {
                    user_id: m.user_id.into(),
                    email: m.email.clone(),
                    name: m.name.clone(),
                })
                .collect(),
            id: team.id,
            account_id: team.account_id.into(),
            name: team.name,
            created_at: team.created_at,
            updated_at: team.updated_at,
        })
        .collect())
}

async fn load_team(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    team_id: TeamId,
) -> DbResult<Team> {
    load_teams(scope, account_id, Some(team_id))
        .await?
        .pop()
        .ok_or(DbError::NotFound("team"))
}

pub async fn teams(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<Vec<Team>> {
    load_teams(scope, account_id, None).await
}

/// A new team without members; `Conflict` when the account has one of that name (in any case).
pub async fn create_team(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    name: &str,
) -> DbResult<Team> {
    let row = TeamRow::find_by_statement(statement(
        &sql!(
            "INSERT INTO account_teams (id, tenant_id, account_id, name)
             VALUES ($1, $2, $3, $4) RETURNING {TEAM_COLUMNS}",
            TEAM_COLUMNS
        ),
        [
            TeamId::new().into(),
            scope.tenant_uuid().into(),
            account_id.into(),
            name.into(),
        ],
    ))
    .one(scope.conn())
    .await
    .map_err(|e| duplicate_team(e, name))?
    .ok_or_else(|| DbError::Db(DbErr::RecordNotInserted))?;
    Ok(Team {
        id: row.id,
        account_id: row.account_id.into(),
        name: row.name,
        members: Vec::new(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn rename_team(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    team_id: TeamId,
    name: &str,
) -> DbResult<Team> {
    let renamed = scope
        .conn()
        .execute_raw(statement(
            sql!(
                "UPDATE account_teams SET name = $4, updated_at = now()
              WHERE id = $1 AND tenant_id = $2 AND account_id = $3"
            ),
            [
                team_id.into(),
                scope.tenant_uuid().into(),
                account_id.into(),
                name.into(),
            ],
        ))
        .await
        .map_err(|e| duplicate_team(e, name))?;
    if renamed.rows_affected() == 0 {
        return Err(DbError::NotFound("team"));
    }
    load_team(scope, account_id, team_id).await
}

pub async fn delete_team(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    team_id: TeamId,
) -> DbResult<()> {
    let deleted = scope
        .conn()
        .execute_raw(statement(
            sql!("DELETE FROM account_teams WHERE id = $1 AND tenant_id = $2 AND account_id = $3"),
            [
                team_id.into(),
                scope.tenant_uuid().into(),
                account_id.into(),
            ],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(DbError::NotFound("team"));
    }
    Ok(())
}

/// Makes `user_ids` (duplicates ignored) the team's members, in one transaction. Every one
/// must be an agent of the account, else `Invalid` naming those that are not.
pub async fn set_team_members<C>(
    scope: TenantScope<'_, C>,
    account_id: AccountId,
    team_id: TeamId,
    user_ids: &[UserId],
) -> DbResult<Team>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut wanted: Vec<Uuid> = user_ids.iter().map(|id| id.into_uuid()).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let txn = scope.conn().begin().await?;
    let tx = scope.on(&txn);
    let tenant = tx.tenant_uuid();
    // Locking the team row orders concurrent replacements of one team.
    txn.query_one_raw(statement(
        sql!(
            "SELECT id FROM account_teams
          WHERE id = $1 AND tenant_id = $2 AND account_id = $3 FOR UPDATE"
        ),
        [team_id.into(), tenant.into(), account_id.into()],
    ))
    .await?
    .ok_or(DbError::NotFound("team"))?;
    reject_non_agents(&txn, tenant, account_id, &wanted).await?;
    replace_team_members(&txn, tenant, account_id, team_id, &wanted).await?;
    txn.execute_raw(statement(
        sql!("UPDATE account_teams SET updated_at = now() WHERE id = $1"),
        [team_id.into()],
    ))
    .await?;
    let team = load_team(tx, account_id, team_id).await?;
    txn.commit().await?;
    Ok(team)
}

/// `Invalid` naming those of `wanted` that are not agents of the account.
async fn reject_non_agents(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
    account_id: AccountId,
    wanted: &[Uuid],
) -> DbResult<()> {
    let not_agents = conn
        .query_all_raw(statement(
            sql!(
                "SELECT w.user_id FROM unnest($3::uuid[]) AS w(user_id)
              WHERE NOT EXISTS (SELECT 1 FROM account_agents a
                                 WHERE a.tenant_id = $1 AND a.account_id = $2
                                   AND a.user_id = w.user_id)
              ORDER BY w.user_id"
            ),
            [tenant.into(), account_id.into(), wanted.to_vec().into()],
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "user_id"))
        .collect::<Result<Vec<_>, _>>()?;
    if !not_agents.is_empty() {
        return Err(DbError::Invalid {
            field: "userIds",
            message: format!(
                "only agents of this account can be team members; not agents: {}",
                not_agents
                    .iter()
                    .map(Uuid::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// Removes the team's members not in `wanted` and adds those missing.
async fn replace_team_members(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
    account_id: AccountId,
    team_id: TeamId,
    wanted: &[Uuid],
) -> DbResult<()> {
    conn.execute_raw(statement(
        sql!(
            "DELETE FROM account_team_members
          WHERE team_id = $1 AND tenant_id = $2 AND account_id = $3
            AND user_id <> ALL($4::uuid[])"
        ),
        [
            team_id.into(),
            tenant.into(),
            account_id.into(),
            wanted.to_vec().into(),
        ],
    ))
    .await?;
    conn.execute_raw(statement(
        sql!(
            "INSERT INTO account_team_members (tenant_id, account_id, team_id, user_id)
         SELECT $1, $2, $3, user_id FROM unnest($4::uuid[]) AS w(user_id)
         ON CONFLICT (team_id, user_id) DO NOTHING"
        ),
        [
            tenant.into(),
            account_id.into(),
            team_id.into(),
            wanted.to_vec().into(),
        ],
    ))
    .await
    // An agent removed since the check above: the members' foreign key refuses it.
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => DbError::Invalid {
            field: "userIds",
            message: "a user stopped being an agent of this account meanwhile; \
                      check the agents and try again"
                .to_owned(),
        },
        _ => DbError::Db(e),
    })?;
    Ok(())
}

// ---- Inboxes ----

#[derive(FromQueryResult)]
struct InboxRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    wuzapi_url: String,
    token_hint: String,
    created_at: DateTime<Utc>,
}

/// The account's inboxes in creation order.
pub async fn inboxes(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
) -> DbResult<Vec<AccountInbox>> {
    Ok(InboxRow::find_by_statement(statement(
        sql!(
            "SELECT id, account_id, name, wuzapi_url, token_hint, created_at FROM inboxes
          WHERE tenant_id = $1 AND account_id = $2 ORDER BY id"
        ),
        [scope.tenant_uuid().into(), account_id.into()],
    ))
    .all(scope.conn())
    .await?
    .into_iter()
    .map(|row| AccountInbox {
        id: row.id.into(),
        account_id: row.account_id.into(),
        name: row.name,
        wuzapi_url: row.wuzapi_url,
        token_hint: row.token_hint,
        created_at: row.created_at,
    })
    .collect())
}
