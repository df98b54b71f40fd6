//! Import settings from the environment (see the crate README); the rest is the shared worker
//! runtime's.

use common::QueueName;
use common::config::{ConfigError, Env};
use worker::WorkerSettings;

#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// `STORAGE_URL` and friends: where uploaded files are (the gateway's store).
    pub storage: storage::StorageConfig,
    /// `IMPORT_MAX_RECORD_BYTES` (default 64 KiB): the longest CSV record, NDJSON line or JSON
    /// array item; a longer one fails as its row (never held whole).
    pub max_record_bytes: usize,
}

impl ImportConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            storage: storage::StorageConfig::from_env(env)?,
            max_record_bytes: env.parse_in(
                "IMPORT_MAX_RECORD_BYTES",
                crate::read::DEFAULT_MAX_RECORD_BYTES,
                256..=64 * 1024 * 1024,
            )?,
        })
    }
}

/// Everything `worker-import` reads.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, ImportConfig), ConfigError> {
    Ok((
        WorkerSettings::from_env(env, QueueName::Import)?,
        ImportConfig::from_env(env)?,
    ))
}
