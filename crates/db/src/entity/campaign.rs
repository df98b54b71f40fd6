use common::{AccountId, CampaignAudience, CampaignId, CampaignStatus, InboxId, TenantId, UserId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CampaignId,
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub inbox_id: InboxId,
    pub created_by: Option<UserId>,
    pub name: String,
    pub template: String,
    pub status: CampaignStatus,
    pub delay_min_ms: i32,
    pub delay_max_ms: i32,
    pub scheduled_at: Option<DateTimeUtc>,
    pub total: i32,
    /// Why the campaign is paused, parked or failed.
    pub status_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub outage_probes: i32,
    pub audience: CampaignAudience,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
