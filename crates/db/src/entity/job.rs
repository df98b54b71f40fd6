use common::{JobId, JobState, LeaseToken, QueueName, TenantId, WorkerId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: JobId,
    pub tenant_id: TenantId,
    pub queue: QueueName,
    pub subject_id: Option<Uuid>,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub progress: Json,
    pub result: Option<Json>,
    pub error: Option<String>,
    /// When the current message is due (a scheduled start, a retry, a paced continuation).
    pub run_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Generation of the current queue message; older ones are dropped.
    pub seq: i32,
    /// The queue message (a `JobRef`), kept for continuations and replay.
    pub payload: Vec<u8>,
    /// The job type's parameters beyond its subject (`JobKind::Params`); NULL when none.
    pub params: Option<Json>,
    pub lease_token: Option<LeaseToken>,
    pub lease_worker: Option<WorkerId>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub dead_lettered_at: Option<DateTimeUtc>,
    /// W3C `traceparent` of the request that created the job; sent with each of its messages.
    pub trace_context: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
