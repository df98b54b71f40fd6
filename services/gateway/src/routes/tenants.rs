//! Tenants, users and API keys.

use actix_web::{delete, get, patch, post, web};
use common::{AccountId, ApiKeyId, ErrorCode, Plan, Role, TenantId, UserId};
use db::auth::KeyAccess;
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Deleted, Envelope, created, ok, required_text};
use crate::auth::{Caller, Superadmin, TenantUser, principal_keys};
use crate::cached;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create_tenant)
        .service(list_tenants)
        .service(update_tenant)
        .service(list_users)
        .service(me)
        .service(delete_user)
        .service(revoke_api_key)
        .service(current_tenant)
        .service(create_user)
        .service(create_api_key)
        .service(list_api_keys);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// 1 to 200 characters.
    name: String,
    /// 2 to 63 characters of `a-z`, `0-9` and `-`, not starting with `-` (upper case is
    /// lowered); unique on the platform.
    slug: String,
    /// The platform plan; `free` when left out.
    #[serde(default = "default_plan")]
    plan: Plan,
}

fn default_plan() -> Plan {
    Plan::Free
}

/// A tenant as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TenantView {
    id: TenantId,
    name: String,
    slug: String,
    /// The platform plan, which sets the tenant's API rate limit.
    plan: Plan,
    /// The account created with the tenant; only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_account_id: Option<AccountId>,
}

impl TenantView {
    fn new(tenant: db::tenants::Tenant, default_account_id: Option<AccountId>) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name,
            slug: tenant.slug,
            plan: tenant.plan,
            default_account_id,
        }
    }
}

/// Creates a tenant and its default account (superadmin only).
#[utoipa::path(
    tag = "admin",
    request_body = CreateTenant,
    responses((status = 201, description = "The new tenant, with its default account's id", body = Envelope<TenantView>)),
)]
#[post("/admin/tenants")]
pub async fn create_tenant(
    state: web::Data<AppState>,
    operator: Superadmin,
    body: ApiJson<CreateTenant>,
) -> ApiResult {
    let body = body.into_inner();
    let name = required_text("name", &body.name, 200)?;
    let slug = body.slug.trim().to_ascii_lowercase();
    let slug_ok = (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if !slug_ok {
        return Err(ApiError::validation(
            "slug",
            "`slug` must be 2-63 characters of a-z, 0-9 and `-`, not starting with `-`",
        ));
    }
    let (tenant, account) = db::tenants::create_tenant(
        operator.platform(&state.db),
        db::tenants::NewTenant {
            name,
            slug,
            plan: body.plan,
        },
    )
    .await?;
    Ok(created(TenantView::new(tenant, Some(account.id))))
}

pub const TENANTS: ListSpec = ListSpec {
    name: "tenants",
    fields: &["id", "name", "slug", "plan"],
    default_fields: &["id", "name", "slug", "plan"],
};

/// Every tenant of the platform, oldest first (superadmin only).
#[utoipa::path(
    tag = "admin",
    params(ListParams),
    responses((status = 200, description = "A page of tenants", body = Page<TenantView>)),
)]
#[get("/admin/tenants")]
pub async fn list_tenants(
    state: web::Data<AppState>,
    operator: Superadmin,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&TENANTS)?;
    let (rows, more) =
        db::tenants::tenants_page(operator.platform(&state.db), page.after(), page.limit()).await?;
    let views: Vec<TenantView> = rows.into_iter().map(|t| TenantView::new(t, None)).collect();
    page.respond(views, more, |t| t.id.into_uuid())
}

/// The caller's own tenant (any tenant user).
#[utoipa::path(
    tag = "tenants",
    responses((status = 200, description = "The caller's tenant", body = Envelope<TenantView>)),
)]
#[get("/tenants/current")]
pub async fn current_tenant(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let tenant = db::tenants::find_tenant(user.scope(&state.db)).await?;
    Ok(ok(TenantView::new(tenant, None)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    /// An email address, at most 320 characters.
    email: String,
    #[serde(default)]
    name: String,
    /// `tenant_admin` or `user`; superadmins are not created through the API.
    role: Role,
    /// Required for superadmins; tenant admins always create in their own tenant (naming
    /// another one is refused).
    tenant_id: Option<TenantId>,
}

/// A user as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserView {
    id: UserId,
    tenant_id: Option<TenantId>,
    account_id: Option<AccountId>,
    email: String,
    name: String,
    role: Role,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsersFilter {
    /// The superadmin's narrowing to one tenant's users (tenant admins always see their own).
    tenant_id: Option<TenantId>,
}

pub const USERS: ListSpec = ListSpec {
    name: "users",
    fields: &["id", "tenantId", "accountId", "email", "name", "role"],
    default_fields: &["id", "email", "name", "role"],
};

/// The users a caller administers, oldest first: a tenant admin's tenant, or for the superadmin
/// the whole platform (`tenantId` narrows it to one tenant). Plain users get 403.
#[utoipa::path(
    tag = "tenants",
    params(UsersFilter, ListParams),
    responses((status = 200, description = "A page of users", body = Page<UserView>)),
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    query: ListQuery<UsersFilter>,
) -> ApiResult {
    let reach: db::Reach<'_, _> = match caller.role() {
        Role::Superadmin => db::PlatformScope::new(&state.db).into(),
        Role::TenantAdmin => caller.scope(&state.db)?.into(),
        Role::User => {
            return Err(ApiError::forbidden("only admins list users"));
        }
    };
    let page = query.page(&USERS)?;
    let (rows, more) =
        db::tenants::users_page(reach, query.filter.tenant_id, page.after(), page.limit()).await?;
    let views: Vec<UserView> = rows.into_iter().map(UserView::from).collect();
    page.respond(views, more, |u| u.id.into_uuid())
}

/// Creates a user in the default account of a tenant.
///
/// A superadmin creates tenant admins and users of any tenant (`tenantId` required); a tenant
/// admin creates users and admins of its own tenant (`tenantId` left out or its own). Plain
/// users may not create users.
#[utoipa::path(
    tag = "tenants",
    request_body = CreateUser,
    responses((status = 201, description = "The new user", body = Envelope<UserView>)),
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CreateUser>,
) -> ApiResult {
    let body = body.into_inner();
    let scope = match (caller.role(), caller.0.tenant) {
        (Role::Superadmin, _) => db::TenantScope::for_operator_action(
            &state.db,
            body.tenant_id.ok_or_else(|| {
                ApiError::validation("tenantId", "`tenantId` is required for a superadmin")
            })?,
        ),
        (Role::TenantAdmin, Some(own)) => {
            let own = own.id;
            // Naming another tenant is refused rather than ignored: the caller meant something
            // it may not do, and must not believe it happened.
            if body.tenant_id.is_some_and(|named| named != own) {
                return Err(ApiError::forbidden(
                    "tenant admins create users only in their own tenant; leave `tenantId` out",
                ));
            }
            caller.scope(&state.db)?
        }
        _ => return Err(ApiError::forbidden("only tenant admins may create users")),
    };
    if body.role == Role::Superadmin {
        return Err(ApiError::validation(
            "role",
            "superadmins are created with `gateway bootstrap-superadmin`, not through the API",
        ));
    }
    let email = required_text("email", &body.email, 320)?;
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::validation(
            "email",
            "`email` must be an email address",
        ));
    }
    // A superadmin naming an unknown tenant gets 404, like any missing object.
    let account = db::tenants::default_account(scope)
        .await
        .map_err(|e| match e {
            db::DbError::NotFound(_) => ApiError::not_found("tenant"),
            other => other.into(),
        })?;
    let user = db::tenants::create_user(
        scope,
        db::tenants::NewUser {
            account_id: Some(account.id),
            email,
            name: body.name.trim().to_owned(),
            role: body.role,
        },
    )
    .await?;
    Ok(created(UserView::from(user)))
}

impl From<db::tenants::User> for UserView {
    fn from(user: db::tenants::User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            account_id: user.account_id,
            email: user.email,
            name: user.name,
            role: user.role,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label for the key (cut to 200 characters).
    #[serde(default)]
    name: String,
    /// When the key stops authenticating (RFC 3339): in the future, at most
    /// [`MAX_KEY_LIFETIME_DAYS`] days ahead. Left out: the key works until revoked.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How far ahead a key's expiry may be set (two years): a key meant to outlive that is one that
/// never expires, and says so.
pub const MAX_KEY_LIFETIME_DAYS: i64 = 730;

/// A key as its owner and admins list it: never the key itself.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    id: ApiKeyId,
    user_id: UserId,
    name: String,
    /// The key's first characters, to recognise it.
    prefix: String,
    created_at: chrono::DateTime<chrono::Utc>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it stops (or stopped) authenticating; `null`: never.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Neither revoked nor expired.
    active: bool,
}

impl From<db::tenants::ApiKey> for ApiKeyView {
    fn from(key: db::tenants::ApiKey) -> Self {
        let active =
            key.revoked_at.is_none() && key.expires_at.is_none_or(|at| at > chrono::Utc::now());
        Self {
            id: key.id,
            user_id: key.user_id,
            name: key.name,
            prefix: key.key_prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            expires_at: key.expires_at,
            active,
        }
    }
}

pub const API_KEYS: ListSpec = ListSpec {
    name: "api_keys",
    fields: &[
        "id",
        "userId",
        "name",
        "prefix",
        "createdAt",
        "lastUsedAt",
        "revokedAt",
        "expiresAt",
        "active",
    ],
    default_fields: &["id", "name", "prefix", "expiresAt", "active"],
};

/// Whom the caller may manage keys of: superadmins every user, tenant admins their tenant's,
/// users themselves.
async fn key_owner(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
) -> Result<db::tenants::User, ApiError> {
    let reach = match caller.role() {
        Role::User if caller.0.user_id != user_id => {
            return Err(ApiError::forbidden("users may only manage their own keys"));
        }
        _ => caller.reach(&state.db)?,
    };
    Ok(db::tenants::find_user(reach, user_id).await?)
}

/// A user's API keys, oldest first, revoked and expired ones included (`active` tells them
/// apart); never the keys themselves. Same reach as creating one.
#[utoipa::path(
    tag = "tenants",
    params(("user_id" = UserId, Path, description = "The keys' user"), ListParams),
    responses((status = 200, description = "A page of keys", body = Page<ApiKeyView>)),
)]
#[get("/users/{user_id}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<UserId>,
    query: ListQuery,
) -> ApiResult {
    let user_id = path.into_inner();
    let page = query.page_within(&API_KEYS, user_id.into_uuid())?;
    let user = key_owner(&state, &caller, user_id).await?;
    let (rows, more) =
        db::tenants::page_api_keys(&state.db, &user, page.after(), page.limit()).await?;
    let views: Vec<ApiKeyView> = rows.into_iter().map(ApiKeyView::from).collect();
    page.respond(views, more, |key| key.id.into_uuid())
}

/// A new API key: the only answer that ever holds the raw key.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewApiKeyView {
    id: ApiKeyId,
    user_id: UserId,
    name: String,
    /// The key's first characters, to recognise it in lists.
    prefix: String,
    /// The raw key (`wzm_...`), to send as `Authorization: Bearer <key>`.
    key: String,
    /// When it stops authenticating; `null`: never.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A reminder that the key is not shown again.
    notice: &'static str,
}

/// Creates an API key for a user. The raw key is in this answer and nowhere else: store it.
///
/// Superadmins create keys for any user, tenant admins for their tenant's users, users only
/// for themselves.
#[utoipa::path(
    tag = "tenants",
    params(("user_id" = UserId, Path, description = "The user the key authenticates as")),
    request_body = CreateApiKey,
    responses((status = 201, description = "The new key, raw key included", body = Envelope<NewApiKeyView>)),
)]
#[post("/users/{user_id}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<UserId>,
    body: ApiJson<CreateApiKey>,
) -> ApiResult {
    let user_id = path.into_inner();
    let user = key_owner(&state, &caller, user_id).await?;
    let body = body.into_inner();
    if let Some(at) = body.expires_at {
        let now = chrono::Utc::now();
        if at <= now {
            return Err(ApiError::validation(
                "expiresAt",
                "`expiresAt` must be in the future",
            ));
        }
        if at > now + chrono::Duration::days(MAX_KEY_LIFETIME_DAYS) {
            return Err(ApiError::validation(
                "expiresAt",
                format!(
                    "`expiresAt` may be at most {MAX_KEY_LIFETIME_DAYS} days ahead; leave it out \
                     for a key that works until revoked"
                ),
            ));
        }
    }
    let name = body.name.trim().chars().take(200).collect::<String>();
    let (key, raw) =
        db::tenants::create_expiring_api_key(&state.db, &user, &name, body.expires_at).await?;
    Ok(created(NewApiKeyView {
        id: key.id,
        user_id: key.user_id,
        name: key.name,
        prefix: key.key_prefix,
        key: raw,
        expires_at: key.expires_at,
        notice: "store this key now: it is not shown again",
    }))
}

/// `{"id":...,"revoked":true}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Revoked {
    id: ApiKeyId,
    revoked: bool,
}

/// Revokes an API key, at once on every replica. Superadmins reach every key, tenant admins
/// their tenant's, users their own.
#[utoipa::path(
    tag = "tenants",
    params(("key_id" = ApiKeyId, Path, description = "The key's id")),
    responses((status = 200, description = "The key is revoked", body = Envelope<Revoked>)),
)]
#[delete("/api-keys/{key_id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ApiKeyId>,
) -> ApiResult {
    let access = match (caller.role(), caller.0.tenant) {
        (Role::Superadmin, _) => KeyAccess::Any,
        (Role::TenantAdmin, Some(tenant)) => KeyAccess::Tenant(tenant.id),
        (Role::User, Some(tenant)) => KeyAccess::Owner(tenant.id, caller.0.user_id),
        // Every tenant role has a tenant; a principal without one reaches nothing.
        (_, None) => return Err(ApiError::forbidden("this user belongs to no tenant")),
    };
    let key_id = path.into_inner();
    let key_hash = db::auth::revoke_api_key(&state.db, access, key_id).await?;
    cached::invalidate(&state, principal_keys(&[key_hash])).await;
    Ok(ok(Revoked {
        id: key_id,
        revoked: true,
    }))
}

/// Deletes a tenant user and its API keys (a superadmin: of any tenant; a tenant admin: of its
/// own). Nobody deletes themselves this way.
#[utoipa::path(
    tag = "tenants",
    params(("user_id" = UserId, Path, description = "The user to delete")),
    responses((status = 200, description = "The user is deleted", body = Envelope<Deleted<UserId>>)),
)]
#[delete("/users/{user_id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<UserId>,
) -> ApiResult {
    let user_id = path.into_inner();
    if caller.role() == Role::User {
        return Err(ApiError::forbidden("only tenant admins may delete users"));
    }
    if user_id == caller.0.user_id {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you cannot delete yourself; ask another admin",
        ));
    }
    let deleted = db::auth::delete_user(caller.reach(&state.db)?, user_id).await?;
    let mut keys = principal_keys(&deleted.key_hashes);
    keys.extend(user_cache_keys(user_id));
    // Its agent row and team memberships went with it.
    if let Some(account_id) = deleted.account_id {
        keys.push(cache::KeyKind::SessionAgents.key(account_id));
        keys.push(cache::KeyKind::SessionTeams.key(account_id));
    }
    cached::invalidate(&state, keys).await;
    Ok(ok(Deleted::new(user_id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    /// The platform plan to move the tenant to.
    plan: Plan,
}

/// Moves a tenant to another platform plan, which sets its API rate limit; every replica sees
/// it at once (superadmin only).
#[utoipa::path(
    tag = "admin",
    params(("tenant_id" = TenantId, Path, description = "The tenant to move")),
    request_body = UpdateTenant,
    responses((status = 200, description = "The tenant on its new plan", body = Envelope<TenantView>)),
)]
#[patch("/admin/tenants/{tenant_id}")]
pub async fn update_tenant(
    state: web::Data<AppState>,
    operator: Superadmin,
    path: web::Path<TenantId>,
    body: ApiJson<UpdateTenant>,
) -> ApiResult {
    let tenant_id = path.into_inner();
    let plan = body.into_inner().plan;
    let key_hashes =
        db::auth::set_tenant_plan(operator.platform(&state.db), tenant_id, plan).await?;
    cached::invalidate(&state, principal_keys(&key_hashes)).await;
    // The operator acts on the tenant it named.
    let tenant =
        db::tenants::find_tenant(db::TenantScope::for_operator_action(&state.db, tenant_id))
            .await?;
    Ok(ok(TenantView::new(tenant, None)))
}

/// The entries cached for one user, besides its keys' principals.
pub fn user_cache_keys(user_id: UserId) -> [cache::KeyRef; 3] {
    [
        cache::KeyKind::UserSubscription.key(user_id),
        cache::KeyKind::UserQuotas.key(user_id),
        cache::KeyKind::UserFeatures.key(user_id),
    ]
}

/// Who the API key authenticates as: user, role, and (for tenant users) tenant, platform plan
/// and account. Any caller.
#[utoipa::path(
    tag = "tenants",
    responses((status = 200, description = "The caller", body = Envelope<MeView>)),
)]
#[get("/me")]
pub async fn me(caller: Caller) -> ApiResult {
    // Answered from the cached principal alone: a warm call touches neither Postgres nor Redis.
    let principal = caller.0;
    Ok(ok(MeView {
        user_id: principal.user_id,
        role: principal.role,
        tenant_id: principal.tenant.map(|t| t.id),
        plan: principal.tenant.map(|t| t.plan),
        account_id: principal.account_id,
    }))
}

/// Who a key authenticates as; the tenant's fields are `null` for the superadmin.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MeView {
    user_id: UserId,
    role: Role,
    tenant_id: Option<TenantId>,
    plan: Option<Plan>,
    account_id: Option<AccountId>,
}
