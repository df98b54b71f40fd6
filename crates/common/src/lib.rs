#![doc = include_str!("../README.md")]

pub mod campaign;
pub mod clock;
pub mod config;
pub mod consent;
pub mod error;
pub mod events;
pub mod ids;
pub mod imports;
pub mod jobs;
pub mod pacing;
pub mod password;
pub mod permission;
pub mod phone;
pub mod plan;
pub mod push;
pub mod reports;
pub mod spreadsheet;
mod sql;
pub mod subscription;
pub mod template;
pub mod text;
mod text_enum;
pub mod warn_limiter;
pub mod webhooks;
pub mod wuzapi_url;

/// Queue messages generated from `proto/jobs.proto` at build time.
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/wuzapi_manager.jobs.v1.rs"));
}

pub use campaign::{CampaignAudience, CampaignStatus, RecipientStatus};
pub use error::{ErrorBody, ErrorCode};
pub use events::EventKind;
pub use ids::*;
pub use jobs::{JobKind, JobState, QueueName, QueueType};
pub use permission::Permission;
pub use phone::PhoneNumber;
pub use plan::{Plan, Role};
