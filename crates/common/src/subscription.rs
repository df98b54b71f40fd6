//! What the plans a tenant sells to its users are made of (quotas and features), and where a
//! user's subscription stands.

crate::text_enum! {
    /// A limit a plan sets on what a user's account may create.
    #[derive(PartialOrd, Ord)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Quota as "quota" {
        /// Inboxes of the account.
        MaxInboxes = "max_inboxes",
        /// Contacts of the account.
        MaxContacts = "max_contacts",
        /// Campaigns the account ever created (finished ones included).
        MaxCampaigns = "max_campaigns",
        /// Recipients of the campaigns the account created this UTC day.
        MessagesPerDay = "messages_per_day",
    }
}

impl Quota {
    /// The value named `name`, if any (names come from API bodies and stored rows).
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

crate::text_enum! {
    /// Something a plan includes or not.
    #[derive(PartialOrd, Ord)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Feature as "feature" {
        /// Campaigns with more than one recipient.
        BulkCampaigns = "bulk_campaigns",
        Webhooks = "webhooks",
        Reports = "reports",
        ApiAccess = "api_access",
    }
}

impl Feature {
    /// The value named `name`, if any (names come from API bodies and stored rows).
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

crate::text_enum! {
    /// Where a subscription stands. Every status but `canceled` gets the plan's quotas.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum SubscriptionStatus as "subscription status" {
        Active = "active",
        Trialing = "trialing",
        PastDue = "past_due",
        Canceled = "canceled",
    }
}
