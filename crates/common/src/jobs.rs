//! Queues and the job lifecycle of the scaling guide.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

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

crate::text_enum! {
    sea_orm,
    /// The six work queues. Each has its own worker binary and concurrency setting.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum QueueName as "queue" {
        Campaign = "campaign",
        Import = "import",
        Report = "report",
        Notification = "notification",
        Webhook = "webhook",
        /// Events WUZAPI servers post (receipts, replies, disconnects), drained per inbox.
        Inbound = "inbound",
    }
}

impl QueueName {
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

crate::text_enum! {
    sea_orm,
    /// Where a job is in its life (the guide's lifecycle).
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum JobState as "job state" {
        /// Accepted and queued (or about to be published by the outbox relay).
        Waiting = "waiting",
        /// A worker is processing it.
        Active = "active",
        /// Finished; the result is recorded.
        Completed = "completed",
        /// Finished without success after its last attempt, or with an error that cannot succeed.
        Failed = "failed",
        /// Scheduled for later: a retry back-off, a paced continuation, a future start, or a
        /// paused campaign waiting for its owner.
        Delayed = "delayed",
    }
}

impl JobState {
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

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
