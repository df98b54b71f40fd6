use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "inboxes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub wuzapi_url: String,
    pub token_ciphertext: Vec<u8>,
    pub token_hint: String,
    /// Keyed digest of the (server, token) pair, unique (`SecretCipher::token_digest`); NULL
    /// only for rows from before it existed until the gateway digests them at start.
    pub token_digest: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    /// SHA-256 of the hook token (the token itself is never stored).
    pub hook_token_hash: Vec<u8>,
    pub hmac_key_ciphertext: Option<Vec<u8>>,
    pub events_configured_at: Option<DateTimeUtc>,
    pub events_error: Option<String>,
    pub events_drain_pending: bool,
    pub pacing: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
