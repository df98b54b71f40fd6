//! What happens to a tenant's work that its people and systems hear about: in-app
//! notifications, Web Push and signed webhooks all start from one recorded event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::UnknownVariant;

/// The kinds of event, named as webhook consumers see them (`<object>.<what happened>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// A campaign sent its first batch.
    #[serde(rename = "campaign.started")]
    CampaignStarted,
    /// Every recipient of a campaign was handled.
    #[serde(rename = "campaign.completed")]
    CampaignCompleted,
    /// A campaign stopped for good on an error it cannot get past.
    #[serde(rename = "campaign.failed")]
    CampaignFailed,
    /// A campaign was paused, by its owner or by the system (the reason says which).
    #[serde(rename = "campaign.paused")]
    CampaignPaused,
    /// A contact import read its whole file.
    #[serde(rename = "import.completed")]
    ImportCompleted,
    /// A contact import stopped on a file it cannot read.
    #[serde(rename = "import.failed")]
    ImportFailed,
    /// A report is ready to download.
    #[serde(rename = "report.ready")]
    ReportReady,
    /// A quota is 80% used.
    #[serde(rename = "quota.warning")]
    QuotaWarning,
    /// A quota is used up: further creations are refused.
    #[serde(rename = "quota.reached")]
    QuotaReached,
    /// A webhook endpoint kept failing and was disabled.
    #[serde(rename = "webhook.endpoint_disabled")]
    WebhookEndpointDisabled,
    /// WhatsApp reported a new share of a campaign's messages delivered: 25, 50, 75 or 100
    /// percent of those sent to (each once).
    #[serde(rename = "campaign.delivery_milestone")]
    CampaignDeliveryMilestone,
    /// A campaign's recipient wrote back.
    #[serde(rename = "campaign.replied")]
    CampaignReplied,
    /// A contact replied an opt-out keyword: no campaign of the account messages it again.
    #[serde(rename = "contact.opted_out")]
    ContactOptedOut,
    /// A contact who had opted out replied an opt-in keyword.
    #[serde(rename = "contact.opted_in")]
    ContactOptedIn,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::CampaignStarted,
        EventKind::CampaignCompleted,
        EventKind::CampaignFailed,
        EventKind::CampaignPaused,
        EventKind::ImportCompleted,
        EventKind::ImportFailed,
        EventKind::ReportReady,
        EventKind::QuotaWarning,
        EventKind::QuotaReached,
        EventKind::WebhookEndpointDisabled,
        EventKind::CampaignDeliveryMilestone,
        EventKind::CampaignReplied,
        EventKind::ContactOptedOut,
        EventKind::ContactOptedIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CampaignStarted => "campaign.started",
            EventKind::CampaignCompleted => "campaign.completed",
            EventKind::CampaignFailed => "campaign.failed",
            EventKind::CampaignPaused => "campaign.paused",
            EventKind::ImportCompleted => "import.completed",
            EventKind::ImportFailed => "import.failed",
            EventKind::ReportReady => "report.ready",
            EventKind::QuotaWarning => "quota.warning",
            EventKind::QuotaReached => "quota.reached",
            EventKind::WebhookEndpointDisabled => "webhook.endpoint_disabled",
            EventKind::CampaignDeliveryMilestone => "campaign.delivery_milestone",
            EventKind::CampaignReplied => "campaign.replied",
            EventKind::ContactOptedOut => "contact.opted_out",
            EventKind::ContactOptedIn => "contact.opted_in",
        }
    }
}

impl FromStr for EventKind {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "event type",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
