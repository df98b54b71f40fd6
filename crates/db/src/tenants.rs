//! Tenants, their accounts, users and API keys.

use chrono::Utc;
use common::{AccountId, ApiKeyId, Plan, Role, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};

use crate::entity::{account, api_key, tenant, user};
use crate::{DbError, DbResult, apikey};

pub struct NewTenant {
    pub name: String,
    pub slug: String,
    pub plan: Plan,
}

/// Creates a tenant and its default account in one transaction.
pub async fn create_tenant(
    db: &DatabaseConnection,
    new: NewTenant,
) -> DbResult<(tenant::Model, account::Model)> {
    let txn = db.begin().await?;
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
    Ok((tenant, account))
}

pub async fn find_tenant(db: &DatabaseConnection, id: TenantId) -> DbResult<tenant::Model> {
    tenant::Entity::find_by_id(id.into_uuid())
        .one(db)
        .await?
        .ok_or(DbError::NotFound("tenant"))
}

/// The account new users of a tenant join when none is named: its oldest.
pub async fn default_account(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> DbResult<account::Model> {
    use sea_orm::QueryOrder;
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant_id.into_uuid()))
        .order_by_asc(account::Column::Id)
        .one(db)
        .await?
        .ok_or(DbError::NotFound("account"))
}

pub struct NewUser {
    /// `None` only with [`Role::Superadmin`].
    pub tenant_id: Option<TenantId>,
    pub account_id: Option<AccountId>,
    pub email: String,
    pub name: String,
    pub role: Role,
}

pub async fn create_user(db: &impl ConnectionTrait, new: NewUser) -> DbResult<user::Model> {
    user::ActiveModel {
        id: Set(UserId::new().into()),
        tenant_id: Set(new.tenant_id.map(Into::into)),
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
    })
}

/// A user of `tenant_id` (or a superadmin when `tenant_id` is `None`).
pub async fn find_user(
    db: &DatabaseConnection,
    tenant_id: Option<TenantId>,
    id: UserId,
) -> DbResult<user::Model> {
    let query = user::Entity::find_by_id(id.into_uuid());
    let query = match tenant_id {
        Some(t) => query.filter(user::Column::TenantId.eq(t.into_uuid())),
        None => query,
    };
    query.one(db).await?.ok_or(DbError::NotFound("user"))
}

/// Creates a key for `user`; the returned raw key is the only time it exists in clear.
pub async fn create_api_key(
    db: &impl ConnectionTrait,
    user: &user::Model,
    name: &str,
) -> DbResult<(api_key::Model, String)> {
    let key = apikey::generate();
    let model = api_key::ActiveModel {
        id: Set(ApiKeyId::new().into()),
        user_id: Set(user.id),
        tenant_id: Set(user.tenant_id),
        name: Set(name.to_owned()),
        key_prefix: Set(key.display_prefix),
        key_hash: Set(key.hash),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((model, key.raw))
}

/// Makes sure a superadmin with `email` exists and gives it a new API key. Idempotent on the
/// user; each call makes one more key (so a lost key can be replaced from the command line).
pub async fn bootstrap_superadmin(
    db: &DatabaseConnection,
    email: &str,
) -> DbResult<(user::Model, String)> {
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
        Some(admin) => admin,
        None => {
            create_user(
                &txn,
                NewUser {
                    tenant_id: None,
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
