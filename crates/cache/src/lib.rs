#![doc = include_str!("../README.md")]

mod cache;
mod codec;
mod config;
mod flight;
mod key;
mod local;
mod metrics;

pub use cache::{Cache, CacheError, client_builder};
pub use config::{
    CacheConfig, CacheTtls, ConfigError, LocalTierConfig, RedisSettings, RedisTopology,
};
pub use key::{Key, KeyKind, KeyOwner, KeyRef, KeyType};
pub use metrics::{CacheStats, describe_metrics};

/// Names of the metrics this crate records.
pub mod metric_names {
    pub use crate::metrics::{COALESCED, ERRORS, FALLBACKS, HITS, LOADER_CALLS, MISSES};
}
