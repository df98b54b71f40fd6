use common::{QueueName, WorkerId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WorkerId,
    pub queue: QueueName,
    pub host: String,
    pub pid: i32,
    pub concurrency: i32,
    pub in_flight: i32,
    pub heartbeat_ms: i32,
    pub started_at: DateTimeUtc,
    pub last_heartbeat_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
