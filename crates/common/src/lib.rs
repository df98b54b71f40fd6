#![doc = include_str!("../README.md")]

pub mod campaign;
pub mod config;
pub mod consent;
pub mod error;
pub mod events;
pub mod ids;
pub mod jobs;
pub mod pacing;
pub mod password;
pub mod permission;
pub mod phone;
pub mod plan;
pub mod push;
pub mod spreadsheet;
pub mod template;
pub mod text;
mod text_enum;
pub mod warn_limiter;
pub mod wuzapi_url;

/// Queue messages generated from `proto/jobs.proto` at build time.
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/wuzapi_manager.jobs.v1.rs"));

    /// What every queue message carries, so the worker runtime can find its job row before it
    /// knows anything else about the message.
    pub trait JobMessage {
        /// The job row (UUID) this message advances.
        fn job_id(&self) -> &str;
        /// The tenant owning the job (UUID); checked against the row.
        fn tenant_id(&self) -> &str;
    }

    macro_rules! job_message {
        ($($message:ty),* $(,)?) => {$(
            impl JobMessage for $message {
                fn job_id(&self) -> &str {
                    &self.job_id
                }

                fn tenant_id(&self) -> &str {
                    &self.tenant_id
                }
            }
        )*};
    }

    job_message!(
        CampaignBatch,
        ContactImport,
        EventNotification,
        WebhookDelivery,
        ReportGeneration,
        InboundDrain
    );
}

pub use campaign::{CampaignAudience, CampaignStatus, RecipientStatus};
pub use error::{ErrorBody, ErrorCode};
pub use events::EventKind;
pub use ids::*;
pub use jobs::{JobState, QueueName, QueueType};
pub use permission::Permission;
pub use phone::PhoneNumber;
pub use plan::{Plan, Role};
