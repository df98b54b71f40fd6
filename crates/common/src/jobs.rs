//! Queues and the job lifecycle of the scaling guide.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::{UnknownVariant, text_enum};

/// The five work queues. Each has its own worker binary and concurrency setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    Campaign,
    Import,
    Report,
    Notification,
    Webhook,
}

impl QueueName {
    pub const ALL: [QueueName; 5] = [
        QueueName::Campaign,
        QueueName::Import,
        QueueName::Report,
        QueueName::Notification,
        QueueName::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Campaign => "campaign",
            QueueName::Import => "import",
            QueueName::Report => "report",
            QueueName::Notification => "notification",
            QueueName::Webhook => "webhook",
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
        }
    }
}

/// Where a job is in its life (the guide's lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted and queued (or about to be published by the outbox relay).
    Waiting,
    /// A worker is processing it.
    Active,
    /// Finished; the result is recorded.
    Completed,
    /// Finished without success after its last attempt, or with an error that cannot succeed.
    Failed,
    /// Scheduled for later: a retry back-off or a future start.
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
}

text_enum!(
    QueueName,
    "queue",
    [
        QueueName::Campaign,
        QueueName::Import,
        QueueName::Report,
        QueueName::Notification,
        QueueName::Webhook
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
                ("webhook", 5)
            ]
        );
        assert_eq!("import".parse::<QueueName>().unwrap(), QueueName::Import);
        assert_eq!("delayed".parse::<JobState>().unwrap(), JobState::Delayed);
    }
}
