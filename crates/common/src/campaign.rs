//! Where a campaign and each of its recipients are in their lives.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::{UnknownVariant, text_enum};

/// A campaign's status, as its owner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "Text")
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CampaignStatus {
    /// Created; its first batch waits for a worker.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "queued"))]
    Queued,
    /// Created with a future `scheduledAt`.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "scheduled"))]
    Scheduled,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "running"))]
    Running,
    /// Stopped by its owner, or because its number is disconnected; resumes where it stopped.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "paused"))]
    Paused,
    /// WUZAPI kept failing: the campaign is parked and probed with a growing back-off, and goes
    /// on by itself when WUZAPI answers again.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "waiting_wuzapi"))]
    WaitingWuzapi,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "completed"))]
    Completed,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "failed"))]
    Failed,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "cancelled"))]
    Cancelled,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 8] = [
        CampaignStatus::Queued,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        CampaignStatus::Paused,
        CampaignStatus::WaitingWuzapi,
        CampaignStatus::Completed,
        CampaignStatus::Failed,
        CampaignStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Queued => "queued",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
            CampaignStatus::WaitingWuzapi => "waiting_wuzapi",
            CampaignStatus::Completed => "completed",
            CampaignStatus::Failed => "failed",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    /// No more messages will ever be sent (unless the owner resends uncertain recipients).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            CampaignStatus::Completed | CampaignStatus::Failed | CampaignStatus::Cancelled
        )
    }

    /// A worker may send its messages now.
    pub fn is_sendable(self) -> bool {
        matches!(
            self,
            CampaignStatus::Queued
                | CampaignStatus::Scheduled
                | CampaignStatus::Running
                | CampaignStatus::WaitingWuzapi
        )
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "Text")
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecipientStatus {
    /// Not messaged yet.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "pending"))]
    Pending,
    /// Claimed by a worker, whose WUZAPI call is under way.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "sending"))]
    Sending,
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "sent"))]
    Sent,
    /// Will not be messaged: not on WhatsApp, or WhatsApp refused the message.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "failed"))]
    Failed,
    /// A worker died (or lost its lease) between claiming and recording it: the message may or
    /// may not have gone out. Never resent unless the owner asks.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "uncertain"))]
    Uncertain,
    /// The campaign was cancelled before this recipient was messaged.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "cancelled"))]
    Cancelled,
    /// Not messaged on purpose: the contact opted out (the reason says when).
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "skipped"))]
    Skipped,
}

impl RecipientStatus {
    pub const ALL: [RecipientStatus; 7] = [
        RecipientStatus::Pending,
        RecipientStatus::Sending,
        RecipientStatus::Sent,
        RecipientStatus::Failed,
        RecipientStatus::Uncertain,
        RecipientStatus::Cancelled,
        RecipientStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecipientStatus::Pending => "pending",
            RecipientStatus::Sending => "sending",
            RecipientStatus::Sent => "sent",
            RecipientStatus::Failed => "failed",
            RecipientStatus::Uncertain => "uncertain",
            RecipientStatus::Cancelled => "cancelled",
            RecipientStatus::Skipped => "skipped",
        }
    }
}

/// Who a campaign may message among the contacts it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "Text")
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CampaignAudience {
    /// Every named contact who has not opted out.
    #[default]
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "everyone"))]
    Everyone,
    /// Only those who have written to the campaign's number before (the others are skipped):
    /// the safest audience for a number that must not be reported as spam.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "wrote_before"))]
    WroteBefore,
}

impl CampaignAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignAudience::Everyone => "everyone",
            CampaignAudience::WroteBefore => "wrote_before",
        }
    }
}

text_enum!(
    CampaignStatus,
    "campaign status",
    [
        CampaignStatus::Queued,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        CampaignStatus::Paused,
        CampaignStatus::WaitingWuzapi,
        CampaignStatus::Completed,
        CampaignStatus::Failed,
        CampaignStatus::Cancelled
    ]
);
text_enum!(
    CampaignAudience,
    "campaign audience",
    [CampaignAudience::Everyone, CampaignAudience::WroteBefore]
);
text_enum!(
    RecipientStatus,
    "recipient status",
    [
        RecipientStatus::Pending,
        RecipientStatus::Sending,
        RecipientStatus::Sent,
        RecipientStatus::Failed,
        RecipientStatus::Uncertain,
        RecipientStatus::Cancelled,
        RecipientStatus::Skipped
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_text_and_json() {
        for status in CampaignStatus::ALL {
            assert_eq!(status.as_str().parse::<CampaignStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        for status in RecipientStatus::ALL {
            assert_eq!(status.as_str().parse::<RecipientStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
    }
}
