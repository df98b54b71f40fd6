//! Typed ids: a `TenantId` can never be passed where a `UserId` is wanted.
//!
//! Ids are UUIDv7, so they sort by creation time; list endpoints page on them directly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        /// Ids are never auto-incremented: sea-orm asks for this only to build one from an
        /// integer, which cannot happen with UUID keys.
        #[cfg(feature = "sea-orm")]
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

// `LeaseToken`: one holding of a job lease (or an inbox send slot); a worker proves with it
// that the job is still its own.
id_type!(
    TenantId,
    AccountId,
    UserId,
    ApiKeyId,
    InboxId,
    ContactId,
    CampaignId,
    RecipientId,
    JobId,
    WorkerId,
    LeaseToken,
    SubscriptionPlanId,
    ImportId,
    EventId,
    NotificationId,
    PushSubscriptionId,
    WebhookEndpointId,
    WebhookDeliveryId,
    ReportId,
    OptOutId,
    SessionId,
    InvitationId,
    RoleId,
    TeamId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = CampaignId::new();
        assert_eq!(id.to_string().parse::<CampaignId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<CampaignId>(&json).unwrap(), id);
    }

    #[test]
    fn new_ids_sort_by_creation() {
        let first = JobId::new();
        let second = JobId::new();
        assert!(first < second);
    }
}
