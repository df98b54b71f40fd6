//! Contacts: who campaigns message.

use chrono::{DateTime, Utc};
use common::{AccountId, ContactId, PhoneNumber};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entity::contact;
use crate::{DbError, DbResult, TenantScope};

/// A contact of a tenant.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    /// E.164 digits, without `+`.
    pub phone: String,
    pub name: String,
    /// Template fields: text, numbers and booleans by name.
    pub fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<contact::Model> for Contact {
    fn from(m: contact::Model) -> Self {
        Self {
            id: m.id.into(),
            account_id: m.account_id.into(),
            phone: m.phone,
            name: m.name,
            fields: m.fields,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub struct NewContact {
    pub account_id: AccountId,
    pub phone: PhoneNumber,
    pub name: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewContact,
) -> DbResult<Contact> {
    let now = Utc::now();
    let model = contact::ActiveModel {
        id: Set(ContactId::new().into()),
        tenant_id: Set(scope.tenant_uuid()),
        account_id: Set(new.account_id.into()),
        phone: Set(new.phone.digits().to_owned()),
        name: Set(new.name),
        fields: Set(serde_json::Value::Object(new.fields)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(scope.conn())
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(e, format!("a contact with phone {} exists", new.phone))
    })?;
    Ok(model.into())
}

/// One page of a tenant's contacts in id (creation) order, after `cursor`. Returns up to
/// `limit` contacts and whether more follow.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cursor: Option<ContactId>,
    limit: u64,
) -> DbResult<(Vec<Contact>, bool)> {
    let select = contact::Entity::find().filter(contact::Column::TenantId.eq(scope.tenant_uuid()));
    let (rows, more) = crate::page_by_id(
        scope.conn(),
        select,
        contact::Column::Id,
        cursor.map(ContactId::into_uuid),
        limit,
    )
    .await?;
    Ok((rows.into_iter().map(Contact::from).collect(), more))
}
