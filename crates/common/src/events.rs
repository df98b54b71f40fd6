//! What happens to a tenant's work that its people and systems hear about: in-app
//! notifications, Web Push and signed webhooks all start from one recorded event.

crate::text_enum! {
    /// The kinds of event, named as webhook consumers see them (`<object>.<what happened>`).
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum EventKind as "event type" {
        /// A campaign sent its first batch.
        CampaignStarted = "campaign.started",
        /// Every recipient of a campaign was handled.
        CampaignCompleted = "campaign.completed",
        /// A campaign stopped for good on an error it cannot get past.
        CampaignFailed = "campaign.failed",
        /// A campaign was paused, by its owner or by the system (the reason says which).
        CampaignPaused = "campaign.paused",
        /// A contact import read its whole file.
        ImportCompleted = "import.completed",
        /// A contact import stopped on a file it cannot read.
        ImportFailed = "import.failed",
        /// A report is ready to download.
        ReportReady = "report.ready",
        /// A quota is 80% used.
        QuotaWarning = "quota.warning",
        /// A quota is used up: further creations are refused.
        QuotaReached = "quota.reached",
        /// A webhook endpoint kept failing and was disabled.
        WebhookEndpointDisabled = "webhook.endpoint_disabled",
        /// WhatsApp reported a new share of a campaign's messages delivered: 25, 50, 75 or 100
        /// percent of those sent to (each once).
        CampaignDeliveryMilestone = "campaign.delivery_milestone",
        /// A campaign's recipient wrote back.
        CampaignReplied = "campaign.replied",
        /// A contact replied an opt-out keyword: no campaign of the account messages it again.
        ContactOptedOut = "contact.opted_out",
        /// A contact who had opted out replied an opt-in keyword.
        ContactOptedIn = "contact.opted_in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_as_text_and_json() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert_eq!(
            "campaign.exploded"
                .parse::<EventKind>()
                .unwrap_err()
                .to_string(),
            "unknown event type `campaign.exploded`"
        );
    }
}
