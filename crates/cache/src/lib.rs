#![doc = include_str!("../README.md")]

mod cache;
mod codec;
mod config;
mod flight;
mod key;
mod metrics;

pub use cache::{Cache, CacheError};
pub use config::{CacheConfig, CacheTtls, ConfigError, RedisSettings, RedisTopology};
pub use key::{Key, KeyKind, KeyOwner, KeyRef, KeyType};
pub use metrics::{CacheStats, describe_metrics};

/// Names of the metrics this crate records.
pub mod metric_names {
    pub use crate::metrics::{COALESCED, ERRORS, FALLBACKS, HITS, LOADER_CALLS, MISSES};
}
