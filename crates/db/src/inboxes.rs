//! Inboxes: one WhatsApp number each, reached through a WUZAPI server and its user token.

use chrono::Utc;
use common::{AccountId, InboxId, TenantId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::inbox;
use crate::secrets::{SecretCipher, hint};
use crate::{DbError, DbResult};

pub struct NewInbox {
    pub account_id: AccountId,
    pub name: String,
    pub wuzapi_url: String,
    pub token: String,
}

pub async fn create(
    db: &impl sea_orm::ConnectionTrait,
    cipher: &SecretCipher,
    tenant_id: TenantId,
    new: NewInbox,
) -> DbResult<inbox::Model> {
    Ok(inbox::ActiveModel {
        id: Set(InboxId::new().into()),
        tenant_id: Set(tenant_id.into()),
        account_id: Set(new.account_id.into()),
        name: Set(new.name),
        wuzapi_url: Set(new.wuzapi_url),
        token_ciphertext: Set(cipher.encrypt(&new.token)),
        token_hint: Set(hint(&new.token)),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?)
}

pub async fn find(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: TenantId,
    id: InboxId,
) -> DbResult<inbox::Model> {
    inbox::Entity::find_by_id(id.into_uuid())
        .filter(inbox::Column::TenantId.eq(tenant_id.into_uuid()))
        .one(db)
        .await?
        .ok_or(DbError::NotFound("inbox"))
}

pub async fn list(db: &DatabaseConnection, tenant_id: TenantId) -> DbResult<Vec<inbox::Model>> {
    Ok(inbox::Entity::find()
        .filter(inbox::Column::TenantId.eq(tenant_id.into_uuid()))
        .order_by_asc(inbox::Column::Id)
        .all(db)
        .await?)
}
