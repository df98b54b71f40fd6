//! Report settings from the environment (see the crate README); the rest is the shared worker
//! runtime's.

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, Env};
use worker::WorkerSettings;

#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `STORAGE_URL` and friends: where report files go (the gateway's store, which serves
    /// the downloads).
    pub storage: storage::StorageConfig,
    /// `REPORT_TTL_SECONDS`, else `REPORT_TTL_HOURS` (default 168, a week): how long a ready
    /// report is kept.
    pub ttl: Duration,
    /// `REPORT_SWEEP_SECONDS` (default 300): how often expired reports are deleted.
    pub sweep_every: Duration,
}

impl ReportConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // Seconds, when given, win over hours: tests expire reports within seconds.
        let ttl = match env.optional("REPORT_TTL_SECONDS") {
            Some(_) => Duration::from_secs(env.parse_in(
                "REPORT_TTL_SECONDS",
                0u64,
                1..=366 * 24 * 3600,
            )?),
            None => {
                Duration::from_secs(3600 * env.parse_in("REPORT_TTL_HOURS", 168u64, 1..=366 * 24)?)
            }
        };
        Ok(Self {
            storage: storage::StorageConfig::from_env(env)?,
            ttl,
            sweep_every: Duration::from_secs(env.parse_in(
                "REPORT_SWEEP_SECONDS",
                300u64,
                1..=86_400,
            )?),
        })
    }
}

/// Everything `worker-report` reads.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, ReportConfig), ConfigError> {
    Ok((
        WorkerSettings::from_env(env, QueueName::Report)?,
        ReportConfig::from_env(env)?,
    ))
}
