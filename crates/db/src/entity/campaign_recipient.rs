use common::{CampaignId, ContactId, LeaseToken, RecipientId, RecipientStatus, TenantId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_recipients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RecipientId,
    pub campaign_id: CampaignId,
    pub tenant_id: TenantId,
    pub contact_id: Option<ContactId>,
    pub phone: String,
    pub variables: Json,
    pub status: RecipientStatus,
    pub message_id: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub sent_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub read_at: Option<DateTimeUtc>,
    pub replied_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    pub claim_token: Option<LeaseToken>,
    pub claimed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
