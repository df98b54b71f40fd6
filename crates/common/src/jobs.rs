//! Queues and the job lifecycle of the scaling guide.

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::plan::{UnknownVariant, text_enum};

/// One kind of background job, declared once: the queue its messages go to, the id type of what
/// it works on, its parameters and how many attempts it gets unless its creator says otherwise.
///
/// Enqueueing is `db::jobs::enqueue::<K>` (the job row and its first message, through the
/// outbox, in the caller's transaction); running is `worker::Job`, whose `Kind` is this type,
/// so the worker is handed the typed subject and parameters from the job row. The message on
/// the wire is only a [`crate::proto::JobRef`].
pub trait JobKind: Send + Sync + 'static {
    /// The queue its messages arrive on.
    const QUEUE: QueueName;
    /// Attempts a job gets when its creator does not set them.
    const DEFAULT_ATTEMPTS: i32;
    /// What the job works on (a campaign, an import, ...), stored as the row's `subject_id`.
    type Subject: Copy + From<Uuid> + Into<Uuid> + fmt::Display + Send + Sync + 'static;
    /// Parameters beyond the subject, stored on the job row as JSON (`()` when there are none).
    type Params: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// The job kinds of the six queues.
pub mod kind {
    use super::{JobKind, QueueName};
    use crate::ids::{CampaignId, EventId, ImportId, InboxId, ReportId, WebhookDeliveryId};

    macro_rules! job_kinds {
        ($($(#[$doc:meta])* $kind:ident: $queue:ident, $subject:ty, attempts $attempts:expr;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $kind;

            impl JobKind for $kind {
                const QUEUE: QueueName = QueueName::$queue;
                const DEFAULT_ATTEMPTS: i32 = $attempts;
                type Subject = $subject;
                type Params = ();
            }
        )*};
    }

    job_kinds! {
        /// Sends a campaign, one batch per message: each batch sends what its pacing allows and
        /// continues the job with the next generation.
        CampaignBatch: Campaign, CampaignId, attempts 3;
        /// Imports one uploaded file of contacts, batch by batch; a restart goes on after the
        /// last committed batch.
        ContactImport: Import, ImportId, attempts 3;
        /// Generates one report file into storage.
        ReportGeneration: Report, ReportId, attempts 3;
        /// Tells a tenant's people about one recorded event (in-app, live stream, Web Push); its
        /// handler is idempotent.
        EventNotification: Notification, EventId, attempts 5;
        /// Delivers one signed event to one webhook endpoint, retried on its schedule. Its
        /// attempts are an upper bound: the worker's retry schedule (`WEBHOOK_RETRY_SCHEDULE`, at
        /// most 19 delays) decides when a delivery has failed for good.
        WebhookDelivery: Webhook, WebhookDeliveryId, attempts 20;
        /// Applies the events WUZAPI posted for one inbox that are not applied yet.
        InboundDrain: Inbound, InboxId, attempts 3;
    }
}

/// The six work queues. Each has its own worker binary and concurrency setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "Text")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum QueueName {
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "campaign"))]
    Campaign,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "import"))]
    Import,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "report"))]
    Report,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "notification"))]
    Notification,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "webhook"))]
    Webhook,
    /// Events WUZAPI servers post (receipts, replies, disconnects), drained per inbox.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "inbound"))]
    Inbound,
}

impl QueueName {
    pub const ALL: [QueueName; 6] = [
        QueueName::Campaign,
        QueueName::Import,
        QueueName::Report,
        QueueName::Notification,
        QueueName::Webhook,
        QueueName::Inbound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Campaign => "campaign",
            QueueName::Import => "import",
            QueueName::Report => "report",
            QueueName::Notification => "notification",
            QueueName::Webhook => "webhook",
            QueueName::Inbound => "inbound",
        }
    }

    /// Concurrency per worker process when `WORKER_<QUEUE>_CONCURRENCY` is unset (the guide's table).
    pub fn default_concurrency(self) -> u16 {
        match self {
            QueueName::Campaign => 5,
            QueueName::Import => 2,
            QueueName::Report => 3,
            QueueName::Notification => 10,
            QueueName::Webhook => 5,
            // Not in the guide's table: a drain is short database work, many inboxes at once.
            QueueName::Inbound => 4,
        }
    }

    /// The environment variable that sets this queue's worker concurrency.
    pub fn concurrency_var(self) -> &'static str {
        match self {
            QueueName::Campaign => "WORKER_CAMPAIGN_CONCURRENCY",
            QueueName::Import => "WORKER_IMPORT_CONCURRENCY",
            QueueName::Report => "WORKER_REPORT_CONCURRENCY",
            QueueName::Notification => "WORKER_NOTIFICATION_CONCURRENCY",
            QueueName::Webhook => "WORKER_WEBHOOK_CONCURRENCY",
            QueueName::Inbound => "WORKER_INBOUND_CONCURRENCY",
        }
    }
}

/// How queues are replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Replicated across the cluster's nodes (Raft); survives the loss of a minority of nodes.
    #[default]
    Quorum,
    /// A durable queue on one node.
    Classic,
}

impl FromStr for QueueType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "quorum" => Ok(QueueType::Quorum),
            "classic" => Ok(QueueType::Classic),
            _ => Err("must be `quorum` or `classic`".into()),
        }
    }
}

/// Where a job is in its life (the guide's lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "Text")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobState {
    /// Accepted and queued (or about to be published by the outbox relay).
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "waiting"))]
    Waiting,
    /// A worker is processing it.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "active"))]
    Active,
    /// Finished; the result is recorded.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "completed"))]
    Completed,
    /// Finished without success after its last attempt, or with an error that cannot succeed.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "failed"))]
    Failed,
    /// Scheduled for later: a retry back-off, a paced continuation, a future start, or a
    /// paused campaign waiting for its owner.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "delayed"))]
    Delayed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Delayed => "delayed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }

    pub const ALL: [JobState; 5] = [
        JobState::Waiting,
        JobState::Active,
        JobState::Completed,
        JobState::Failed,
        JobState::Delayed,
    ];
}

text_enum!(
    QueueName,
    "queue",
    [
        QueueName::Campaign,
        QueueName::Import,
        QueueName::Report,
        QueueName::Notification,
        QueueName::Webhook,
        QueueName::Inbound
    ]
);
text_enum!(
    JobState,
    "job state",
    [
        JobState::Waiting,
        JobState::Active,
        JobState::Completed,
        JobState::Failed,
        JobState::Delayed
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_defaults_follow_the_guide() {
        let table: Vec<_> = QueueName::ALL
            .iter()
            .map(|q| (q.as_str(), q.default_concurrency()))
            .collect();
        assert_eq!(
            table,
            [
                ("campaign", 5),
                ("import", 2),
                ("report", 3),
                ("notification", 10),
                ("webhook", 5),
                ("inbound", 4)
            ]
        );
        assert_eq!("import".parse::<QueueName>().unwrap(), QueueName::Import);
        assert_eq!("delayed".parse::<JobState>().unwrap(), JobState::Delayed);
    }
}
