//! Queues and the job lifecycle of the scaling guide.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::{UnknownVariant, text_enum};

/// The five work queues. Each has its own worker binary and concurrency setting.
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
