//! Inboxes: one WhatsApp number each, reached through a WUZAPI server and its user token.

use chrono::{DateTime, Utc};
use common::{AccountId, InboxId};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entity::inbox;
use crate::secrets::{SecretCipher, hint};
use crate::{DbError, DbResult, TenantScope};

/// A WUZAPI user token as stored: encrypted. Only [`SecretCipher::decrypt`] opens it, and it
/// neither prints nor serialises.
#[derive(Clone)]
pub struct SealedToken(Vec<u8>);

impl SealedToken {
    pub fn ciphertext(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedToken(..)")
    }
}

/// An inbox of a tenant.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub id: InboxId,
    pub account_id: AccountId,
    pub name: String,
    pub wuzapi_url: String,
    /// Enough of the token to recognise it, never enough to use it.
    pub token_hint: String,
    pub token: SealedToken,
    pub created_at: DateTime<Utc>,
}

impl From<inbox::Model> for Inbox {
    fn from(m: inbox::Model) -> Self {
        Self {
            id: m.id.into(),
            account_id: m.account_id.into(),
            name: m.name,
            wuzapi_url: m.wuzapi_url,
            token_hint: m.token_hint,
            token: SealedToken(m.token_ciphertext),
            created_at: m.created_at,
        }
    }
}

pub struct NewInbox {
    pub account_id: AccountId,
    pub name: String,
    pub wuzapi_url: String,
    pub token: String,
}

pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cipher: &SecretCipher,
    new: NewInbox,
) -> DbResult<Inbox> {
    let model = inbox::ActiveModel {
        id: Set(InboxId::new().into()),
        tenant_id: Set(scope.tenant_uuid()),
        account_id: Set(new.account_id.into()),
        name: Set(new.name),
        wuzapi_url: Set(new.wuzapi_url),
        token_ciphertext: Set(cipher.encrypt(&new.token)),
        token_hint: Set(hint(&new.token)),
        created_at: Set(Utc::now()),
    }
    .insert(scope.conn())
    .await?;
    Ok(model.into())
}

pub async fn find(scope: TenantScope<'_, impl ConnectionTrait>, id: InboxId) -> DbResult<Inbox> {
    inbox::Entity::find_by_id(id.into_uuid())
        .filter(inbox::Column::TenantId.eq(scope.tenant_uuid()))
        .one(scope.conn())
        .await?
        .map(Inbox::from)
        .ok_or(DbError::NotFound("inbox"))
}

/// One page of a tenant's inboxes in id (creation) order, after `cursor`: up to `limit` inboxes
/// and whether more follow.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cursor: Option<InboxId>,
    limit: u64,
) -> DbResult<(Vec<Inbox>, bool)> {
    let select = inbox::Entity::find().filter(inbox::Column::TenantId.eq(scope.tenant_uuid()));
    let (rows, more) = crate::page_by_id(
        scope.conn(),
        select,
        inbox::Column::Id,
        cursor.map(InboxId::into_uuid),
        limit,
    )
    .await?;
    Ok((rows.into_iter().map(Inbox::from).collect(), more))
}
