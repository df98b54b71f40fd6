//! Worker settings from the environment (see the crate README).

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, CoreConfig, Env, listen_addr, worker_concurrency};

#[derive(Clone)]
pub struct WorkerConfig {
    pub core: CoreConfig,
    pub concurrency: u16,
    /// Where `/healthz`, `/readyz` and `/metrics` listen; port 0 picks a free one (tests).
    pub listen: String,
    pub inbox_token_key: Option<String>,
    /// Retries of one send that failed transiently (5xx, timeout), before the job gives up.
    pub send_retries: u32,
    /// First retry delay; each next one doubles.
    pub send_retry_base: Duration,
    /// Recipients loaded per database round trip.
    pub batch_size: u64,
    pub database_max_connections: u32,
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let inbox_token_key = db::secrets::token_key_setting(env)?;
        Ok(Self {
            core: CoreConfig::from_env(env)?,
            concurrency: worker_concurrency(env, QueueName::Campaign)?,
            listen: listen_addr(env, "WORKER_HTTP_PORT", 9101)?,
            inbox_token_key,
            send_retries: env.parse_in("CAMPAIGN_SEND_RETRIES", 3, 0..=10)?,
            send_retry_base: Duration::from_millis(env.parse_in(
                "CAMPAIGN_SEND_RETRY_BASE_MS",
                2000,
                0..=600_000,
            )?),
            batch_size: env.parse_in("CAMPAIGN_BATCH_SIZE", 100, 1..=10_000)?,
            database_max_connections: env.parse_in("DATABASE_MAX_CONNECTIONS", 10, 1..=1000)?,
        })
    }
}
