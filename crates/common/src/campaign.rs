//! Where a campaign and each of its recipients are in their lives.

crate::text_enum! {
    sea_orm,
    /// A campaign's status, as its owner sees it.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum CampaignStatus as "campaign status" {
        /// Created; its first batch waits for a worker.
        Queued = "queued",
        /// Created with a future `scheduledAt`.
        Scheduled = "scheduled",
        Running = "running",
        /// Stopped by its owner, or because its number is disconnected; resumes where it stopped.
        Paused = "paused",
        /// WUZAPI kept failing: the campaign is parked and probed with a growing back-off, and goes
        /// on by itself when WUZAPI answers again.
        WaitingWuzapi = "waiting_wuzapi",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl CampaignStatus {
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

crate::text_enum! {
    sea_orm,
    /// One recipient's outcome.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum RecipientStatus as "recipient status" {
        /// Not messaged yet.
        Pending = "pending",
        /// Claimed by a worker, whose WUZAPI call is under way.
        Sending = "sending",
        Sent = "sent",
        /// Will not be messaged: not on WhatsApp, or WhatsApp refused the message.
        Failed = "failed",
        /// A worker died (or lost its lease) between claiming and recording it: the message may or
        /// may not have gone out. Never resent unless the owner asks.
        Uncertain = "uncertain",
        /// The campaign was cancelled before this recipient was messaged.
        Cancelled = "cancelled",
        /// Not messaged on purpose: the contact opted out (the reason says when).
        Skipped = "skipped",
    }
}

crate::text_enum! {
    sea_orm,
    /// Who a campaign may message among the contacts it names.
    #[derive(Default)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum CampaignAudience as "campaign audience" {
        /// Every named contact who has not opted out.
        #[default]
        Everyone = "everyone",
        /// Only those who have written to the campaign's number before (the others are skipped):
        /// the safest audience for a number that must not be reported as spam.
        WroteBefore = "wrote_before",
    }
}

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
