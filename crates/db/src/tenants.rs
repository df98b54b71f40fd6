//! Tenants, their accounts, users and API keys.

use chrono::{DateTime, Utc};
use common::sql;
use common::{AccountId, ApiKeyId, Plan, Role, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Set, TransactionTrait,
};

use crate::entity::{account, api_key, tenant, user};
use crate::{DbError, DbResult, PlatformScope, Reach, TenantScope, apikey, parse_stored};

/// A tenant: a business on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    /// The platform plan, which sets its API rate limit.
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
}

/// A tenant's account: the unit that owns inboxes, agents and teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A person (or program) that signs in with API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// `None` only for superadmins.
    pub tenant_id: Option<TenantId>,
    pub account_id: Option<AccountId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: never the key itself, only its hash and a prefix to recognise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    /// The key's first characters, shown so its owner can tell keys apart.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key stops authenticating; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TryFrom<tenant::Model> for Tenant {
    type Error = DbError;
    fn try_from(m: tenant::Model) -> DbResult<Self> {
        Ok(Self {
            id: m.id.into(),
            name: m.name,
            slug: m.slug,
            plan: parse_stored("tenants", "plan", &m.plan)?,
            created_at: m.created_at,
        })
    }
}

impl From<account::Model> for Account {
    fn from(m: account::Model) -> Self {
        Self {
            id: m.id.into(),
            name: m.name,
            created_at: m.created_at,
        }
    }
}

impl TryFrom<user::Model> for User {
    type Error = DbError;
    fn try_from(m: user::Model) -> DbResult<Self> {
        Ok(Self {
            id: m.id.into(),
            tenant_id: m.tenant_id.map(Into::into),
            account_id: m.account_id.map(Into::into),
            email: m.email,
            name: m.name,
            role: parse_stored("users", "role", &m.role)?,
            created_at: m.created_at,
        })
    }
}

impl From<api_key::Model> for ApiKey {
    fn from(m: api_key::Model) -> Self {
        Self {
            id: m.id.into(),
            user_id: m.user_id.into(),
            name: m.name,
            key_prefix: m.key_prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
            expires_at: m.expires_at,
        }
    }
}

pub struct NewTenant {
    pub name: String,
    pub slug: String,
    pub plan: Plan,
}

/// Creates a tenant and its default account in one transaction (a platform operation).
pub async fn create_tenant(
    platform: PlatformScope<
        '_,
        impl ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
    >,
    new: NewTenant,
) -> DbResult<(Tenant, Account)> {
    let txn = platform.conn().begin().await?;
    let now = Utc::now();
    let tenant = tenant::ActiveModel {
        id: Set(TenantId::new().into()),
        name: Set(new.name.clone()),
        slug: Set(new.slug.clone()),
        plan: Set(new.plan.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(e, format!("a tenant with slug `{}` exists", new.slug))
    })?;
    let account = account::ActiveModel {
        id: Set(AccountId::new().into()),
        tenant_id: Set(tenant.id),
        name: Set(new.name),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((tenant.try_into()?, account.into()))
}

/// The scope's tenant.
pub async fn find_tenant(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<Tenant> {
    tenant::Entity::find_by_id(scope.tenant_uuid())
        .one(scope.conn())
        .await?
        .ok_or(DbError::NotFound("tenant"))?
        .try_into()
}

/// The account new users of a tenant join when none is named: its oldest.
pub async fn default_account(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<Account> {
    use sea_orm::QueryOrder;
    account::Entity::find()
        .filter(account::Column::TenantId.eq(scope.tenant_uuid()))
        .order_by_asc(account::Column::Id)
        .one(scope.conn())
        .await?
        .map(Account::from)
        .ok_or(DbError::NotFound("account"))
}

/// A user of the scope's tenant.
pub struct NewUser {
    pub account_id: Option<AccountId>,
    pub email: String,
    pub name: String,
    /// A tenant role: superadmins are made by [`bootstrap_superadmin`] only.
    pub role: Role,
}

pub async fn create_user(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewUser,
) -> DbResult<User> {
    if new.role == Role::Superadmin {
        return Err(DbError::Invalid {
            field: "role",
            message: "a superadmin belongs to no tenant".into(),
        });
    }
    insert_user(scope.conn(), Some(scope.tenant_id()), new).await
}

async fn insert_user(
    db: &impl ConnectionTrait,
    tenant_id: Option<TenantId>,
    new: NewUser,
) -> DbResult<User> {
    user::ActiveModel {
        id: Set(UserId::new().into()),
        tenant_id: Set(tenant_id.map(Into::into)),
        account_id: Set(new.account_id.map(Into::into)),
        email: Set(new.email.clone()),
        name: Set(new.name),
        role: Set(new.role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(e, format!("a user with email `{}` exists", new.email))
    })?
    .try_into()
}

/// A user the reach may see (the platform also sees superadmins).
pub async fn find_user(reach: Reach<'_, impl ConnectionTrait>, id: UserId) -> DbResult<User> {
    let query = user::Entity::find_by_id(id.into_uuid());
    let query = match reach.tenant_id() {
        Some(t) => query.filter(user::Column::TenantId.eq(t.into_uuid())),
        None => query,
    };
    query
        .one(reach.conn())
        .await?
        .ok_or(DbError::NotFound("user"))?
        .try_into()
}

/// One page of a user's API keys (revoked and expired ones included, marked so), oldest first,
/// after `cursor`: up to `limit` keys and whether more follow.
pub async fn page_api_keys(
    db: &impl ConnectionTrait,
    user: &User,
    cursor: Option<ApiKeyId>,
    limit: u64,
) -> DbResult<(Vec<ApiKey>, bool)> {
    let select = api_key::Entity::find().filter(api_key::Column::UserId.eq(user.id.into_uuid()));
    let (rows, more) = crate::page_by_id(
        db,
        select,
        api_key::Column::Id,
        cursor.map(ApiKeyId::into_uuid),
        limit,
    )
    .await?;
    Ok((rows.into_iter().map(ApiKey::from).collect(), more))
}

/// Creates a key for `user` that never expires; the returned raw key is the only time it
/// exists in clear.
pub async fn create_api_key(
    db: &impl ConnectionTrait,
    user: &User,
    name: &str,
) -> DbResult<(ApiKey, String)> {
    create_expiring_api_key(db, user, name, None).await
}

/// Creates a key for `user` that stops authenticating at `expires_at` (never when `None`).
pub async fn create_expiring_api_key(
    db: &impl ConnectionTrait,
    user: &User,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> DbResult<(ApiKey, String)> {
    let key = apikey::generate();
    let model = api_key::ActiveModel {
        id: Set(ApiKeyId::new().into()),
        user_id: Set(user.id.into()),
        tenant_id: Set(user.tenant_id.map(Into::into)),
        name: Set(name.to_owned()),
        key_prefix: Set(key.display_prefix),
        key_hash: Set(key.hash),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok((model.into(), key.raw))
}

/// Makes sure a superadmin with `email` exists and gives it a new API key. Idempotent on the
/// user; each call makes one more key (so a lost key can be replaced from the command line).
pub async fn bootstrap_superadmin(
    db: &DatabaseConnection,
    email: &str,
) -> DbResult<(User, String)> {
    let txn = db.begin().await?;
    let existing = user::Entity::find()
        .filter(user::Column::TenantId.is_null())
        .filter(sea_orm::sea_query::Expr::cust_with_values(
            "lower(email) = lower($1)",
            [email],
        ))
        .one(&txn)
        .await?;
    let admin = match existing {
        Some(admin) => admin.try_into()?,
        None => {
            insert_user(
                &txn,
                None,
                NewUser {
                    account_id: None,
                    email: email.to_owned(),
                    name: "Superadmin".to_owned(),
                    role: Role::Superadmin,
                },
            )
            .await?
        }
    };
    let (_, raw) = create_api_key(&txn, &admin, "bootstrap").await?;
    txn.commit().await?;
    Ok((admin, raw))
}

/// The tenant's IANA time zone (`UTC` until set): daily caps and send windows are read in it.
pub async fn time_zone(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<String> {
    let row = scope
        .conn()
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            sql!("SELECT time_zone FROM tenants WHERE id = $1"),
            [scope.tenant_uuid().into()],
        ))
        .await?
        .ok_or(DbError::NotFound("tenant"))?;
    Ok(row.try_get("", "time_zone")?)
}

/// Sets the tenant's time zone (an IANA name the caller checked).
pub async fn set_time_zone(
    scope: TenantScope<'_, impl ConnectionTrait>,
    time_zone: &str,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            sql!("UPDATE tenants SET time_zone = $2, updated_at = now() WHERE id = $1"),
            [scope.tenant_uuid().into(), time_zone.into()],
        ))
        .await?;
    Ok(())
}

/// A page of the platform's tenants in id (creation) order, after `cursor`.
pub async fn tenants_page(
    platform: PlatformScope<'_, impl ConnectionTrait>,
    cursor: Option<TenantId>,
    limit: u64,
) -> DbResult<(Vec<Tenant>, bool)> {
    let (rows, more) = crate::page_by_id(
        platform.conn(),
        tenant::Entity::find(),
        tenant::Column::Id,
        cursor.map(TenantId::into_uuid),
        limit,
    )
    .await?;
    Ok((
        rows.into_iter()
            .map(Tenant::try_from)
            .collect::<DbResult<_>>()?,
        more,
    ))
}

/// A page of the users the reach may see, in id (creation) order, after `cursor`: a tenant's
/// users, or for the platform every user (superadmins too), narrowed to one tenant by `tenant`.
pub async fn users_page(
    reach: Reach<'_, impl ConnectionTrait>,
    tenant: Option<TenantId>,
    cursor: Option<UserId>,
    limit: u64,
) -> DbResult<(Vec<User>, bool)> {
    let mut select = user::Entity::find();
    if let Some(t) = reach.tenant_id().or(tenant) {
        select = select.filter(user::Column::TenantId.eq(t.into_uuid()));
    }
    let (rows, more) = crate::page_by_id(
        reach.conn(),
        select,
        user::Column::Id,
        cursor.map(UserId::into_uuid),
        limit,
    )
    .await?;
    Ok((
        rows.into_iter()
            .map(User::try_from)
            .collect::<DbResult<_>>()?,
        more,
    ))
}
