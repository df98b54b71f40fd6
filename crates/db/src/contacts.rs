//! Contacts: who campaigns message.

use chrono::Utc;
use common::{AccountId, ContactId, PhoneNumber, TenantId};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::entity::contact;
use crate::{DbError, DbResult};

pub struct NewContact {
    pub account_id: AccountId,
    pub phone: PhoneNumber,
    pub name: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

pub async fn create(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: TenantId,
    new: NewContact,
) -> DbResult<contact::Model> {
    let now = Utc::now();
    contact::ActiveModel {
        id: Set(ContactId::new().into()),
        tenant_id: Set(tenant_id.into()),
        account_id: Set(new.account_id.into()),
        phone: Set(new.phone.digits().to_owned()),
        name: Set(new.name),
        fields: Set(serde_json::Value::Object(new.fields)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(e, format!("a contact with phone {} exists", new.phone))
    })
}

/// One page of a tenant's contacts in id (creation) order, after `cursor`. Returns up to
/// `limit` rows and whether more follow.
pub async fn page(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    cursor: Option<ContactId>,
    limit: u64,
) -> DbResult<(Vec<contact::Model>, bool)> {
    let select =
        contact::Entity::find().filter(contact::Column::TenantId.eq(tenant_id.into_uuid()));
    crate::page_by_id(
        db,
        select,
        contact::Column::Id,
        cursor.map(ContactId::into_uuid),
        limit,
    )
    .await
}
