#![doc = include_str!("../README.md")]

pub mod config;
pub mod error;
pub mod ids;
pub mod jobs;
pub mod phone;
pub mod plan;
pub mod template;
pub mod text;
pub mod wuzapi_url;

/// Queue messages generated from `proto/jobs.proto` at build time.
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/wuzapi_manager.jobs.v1.rs"));
}

pub use error::{ErrorBody, ErrorCode};
pub use ids::*;
pub use jobs::{JobState, QueueName};
pub use phone::PhoneNumber;
pub use plan::{Plan, Role};
