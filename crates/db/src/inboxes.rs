//! Inboxes: one WhatsApp number each, reached through a WUZAPI server and its user token.

use chrono::{DateTime, Utc};
use common::pacing::Pacing;
use common::sql;
use common::{AccountId, InboxId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set,
    Statement,
};

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
    /// Whether WUZAPI signs its posts for this inbox (`x-hmac-signature`).
    pub signs_events: bool,
    /// When WUZAPI last accepted our event settings, or why it refused them.
    pub events_configured_at: Option<DateTime<Utc>>,
    pub events_error: Option<String>,
    /// Daily cap, warm-up, send window, typing and failure breaker.
    pub pacing: Pacing,
}

/// The unguessable path segment of an inbox's event endpoint (`/hooks/wuzapi/{token}`): it
/// authenticates WUZAPI servers that do not sign, so it never prints and only its SHA-256 is
/// stored (256 random bits need no slow hash). The clear token exists only while WUZAPI is told
/// where to post ([`rotate_hook`]).
#[derive(Clone, PartialEq, Eq)]
pub struct HookToken(String);

impl HookToken {
    /// 256 random bits as 64 hex digits.
    pub fn generate() -> Self {
        Self(hex::encode(rand::random::<[u8; 32]>()))
    }

    /// A token as it arrived in a path; `None` unless it has the generated shape, so a probe
    /// with anything else never reaches the database.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

impl std::fmt::Debug for HookToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookToken(..)")
    }
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
            signs_events: m.hmac_key_ciphertext.is_some(),
            events_configured_at: m.events_configured_at,
            events_error: m.events_error,
            // Written only by `set_pacing`, checked: a row that does not read is the defaults.
            pacing: serde_json::from_value(m.pacing).unwrap_or_default(),
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
    let digest = cipher.token_digest(&new.wuzapi_url, &new.token);
    let model = inbox::ActiveModel {
        id: Set(InboxId::new().into()),
        tenant_id: Set(scope.tenant_uuid()),
        account_id: Set(new.account_id.into()),
        name: Set(new.name),
        wuzapi_url: Set(new.wuzapi_url),
        token_ciphertext: Set(cipher.encrypt(&new.token)),
        token_hint: Set(hint(&new.token)),
        token_digest: Set(Some(digest)),
        created_at: Set(Utc::now()),
        // Nobody knows this one: WUZAPI learns a path only from `rotate_hook`.
        hook_token_hash: Set(HookToken::generate().hash()),
        hmac_key_ciphertext: Set(None),
        events_configured_at: Set(None),
        events_error: Set(None),
        events_drain_pending: Set(false),
        pacing: Set(serde_json::json!({})),
    }
    .insert(scope.conn())
    .await
    // Whose it is stays unsaid: this tenant's or another's, the answer is the same.
    .map_err(|e| DbError::conflict_on_unique(e, TOKEN_TAKEN))?;
    Ok(model.into())
}

/// The answer to a second registration of a (server, token) pair, whoever holds the first.
pub const TOKEN_TAKEN: &str = "this WUZAPI token is already registered on this server";

/// What [`backfill_token_digests`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestBackfill {
    /// Rows digested now.
    pub digested: u64,
    /// Rows whose pair another inbox already holds: left without a digest for the operator
    /// to resolve (their ids are logged).
    pub duplicates: Vec<InboxId>,
    /// Rows whose token does not decrypt with this key (another `SECRETS_KEY`).
    pub unreadable: Vec<InboxId>,
}

/// Digests the (server, token) pair of every inbox stored before digests existed (migration
/// 000019 adds the column empty: a migration has no key to decrypt with). Each row is
/// updated on its own, so one duplicate does not stop the rest; safe to run on every start
/// and on several gateways at once (a row is only ever set from NULL to its digest).
pub async fn backfill_token_digests(
    scope: crate::PlatformScope<'_, impl ConnectionTrait>,
    cipher: &SecretCipher,
) -> DbResult<DigestBackfill> {
    use sea_orm::QuerySelect;
    use secrecy::ExposeSecret;
    let rows: Vec<(uuid::Uuid, String, Vec<u8>)> = inbox::Entity::find()
        .select_only()
        .column(inbox::Column::Id)
        .column(inbox::Column::WuzapiUrl)
        .column(inbox::Column::TokenCiphertext)
        .filter(inbox::Column::TokenDigest.is_null())
        .into_tuple()
        .all(scope.conn())
        .await?;
    let mut done = DigestBackfill::default();
    for (id, server, sealed) in rows {
        let Ok(token) = cipher.decrypt(&sealed) else {
            done.unreadable.push(id.into());
            continue;
        };
        let digest = cipher.token_digest(&server, token.expose_secret());
        let updated = inbox::Entity::update_many()
            .col_expr(
                inbox::Column::TokenDigest,
                sea_orm::sea_query::Expr::value(digest),
            )
            .filter(inbox::Column::Id.eq(id))
            .filter(inbox::Column::TokenDigest.is_null())
            .exec(scope.conn())
            .await;
        match updated {
            Ok(result) => done.digested += result.rows_affected,
            Err(e) => match DbError::conflict_on_unique(e, TOKEN_TAKEN) {
                DbError::Conflict(_) => done.duplicates.push(id.into()),
                other => return Err(other),
            },
        }
    }
    Ok(done)
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

/// A fresh key for WUZAPI to sign an inbox's posts with: 48 hex digits (WUZAPI wants 32
/// characters or more).
pub fn new_event_key() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

/// The inbox an event post is for: found by its hook token alone (the token is the credential),
/// with the key its posts must be signed with, if any.
#[derive(Debug, Clone)]
pub struct HookTarget {
    pub tenant_id: common::TenantId,
    pub inbox_id: InboxId,
    /// Encrypted like the token; `None` when WUZAPI does not sign for this inbox.
    pub hmac_key: Option<SealedToken>,
}

pub async fn hook_target(
    scope: crate::PlatformScope<'_, impl ConnectionTrait>,
    token: &HookToken,
) -> DbResult<Option<HookTarget>> {
    let found = inbox::Entity::find()
        .filter(inbox::Column::HookTokenHash.eq(token.hash()))
        .one(scope.conn())
        .await?;
    Ok(found.map(|m| HookTarget {
        tenant_id: m.tenant_id.into(),
        inbox_id: m.id.into(),
        hmac_key: m.hmac_key_ciphertext.map(SealedToken),
    }))
}

/// Gives the inbox a new hook token and returns it, the only time it exists in clear: the
/// previous path stops working at once, so call it right before telling WUZAPI the new one.
pub async fn rotate_hook(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: InboxId,
) -> DbResult<HookToken> {
    let token = HookToken::generate();
    let updated = inbox::Entity::update_many()
        .col_expr(
            inbox::Column::HookTokenHash,
            sea_orm::sea_query::Expr::value(token.hash()),
        )
        .filter(inbox::Column::Id.eq(id.into_uuid()))
        .filter(inbox::Column::TenantId.eq(scope.tenant_uuid()))
        .exec(scope.conn())
        .await?;
    if updated.rows_affected == 0 {
        return Err(DbError::NotFound("inbox"));
    }
    Ok(token)
}

/// What WUZAPI answered when it was told where to post this inbox's events.
pub enum EventsSetup {
    /// Accepted; `hmac_key` when it also took our signing key (newer WUZAPI).
    Configured { hmac_key: Option<String> },
    /// Refused or unreachable, with why.
    Failed(String),
}

/// Records how configuring the inbox's events on WUZAPI went. A failure keeps an earlier key:
/// the server may still sign with it.
pub async fn record_events_setup(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cipher: &SecretCipher,
    id: InboxId,
    setup: EventsSetup,
) -> DbResult<Inbox> {
    let mut model = inbox::ActiveModel {
        id: sea_orm::Unchanged(id.into_uuid()),
        ..Default::default()
    };
    match setup {
        EventsSetup::Configured { hmac_key } => {
            model.hmac_key_ciphertext = Set(hmac_key.map(|key| cipher.encrypt(&key)));
            model.events_configured_at = Set(Some(Utc::now()));
            model.events_error = Set(None);
        }
        EventsSetup::Failed(reason) => {
            model.events_error = Set(Some(reason.chars().take(500).collect()));
        }
    }
    let updated = inbox::Entity::update_many()
        .set(model)
        .filter(inbox::Column::Id.eq(id.into_uuid()))
        .filter(inbox::Column::TenantId.eq(scope.tenant_uuid()))
        .exec_with_returning(scope.conn())
        .await?;
    updated
        .into_iter()
        .next()
        .map(Inbox::from)
        .ok_or(DbError::NotFound("inbox"))
}

/// Replaces the inbox's pacing (checked by [`Pacing::checked`]); returns the inbox.
pub async fn set_pacing(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: InboxId,
    pacing: &Pacing,
) -> DbResult<Inbox> {
    let value = serde_json::to_value(pacing).map_err(|e| DbError::Invalid {
        field: "pacing",
        message: e.to_string(),
    })?;
    let updated = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("UPDATE inboxes SET pacing = $3 WHERE id = $1 AND tenant_id = $2"),
            [
                id.into_uuid().into(),
                scope.tenant_uuid().into(),
                value.into(),
            ],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        return Err(DbError::NotFound("inbox"));
    }
    find(scope, id).await
}
