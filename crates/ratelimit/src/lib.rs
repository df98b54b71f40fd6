#![doc = include_str!("../README.md")]

mod config;
mod decision;
mod fallback;
mod gcra;
mod limiter;
pub mod metrics;

pub use config::LimiterConfig;
pub use decision::{Decision, EXCEEDED_MESSAGE, HEADER_NAMES, Source, exceeded_body};
pub use limiter::{NamedDecision, RateLimiter};
pub use metrics::LimiterStats;
