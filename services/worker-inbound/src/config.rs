//! Inbound-event settings from the environment (see the crate README); the rest is the shared
//! worker runtime's.

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, Env};
use worker::WorkerSettings;

#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// `INBOUND_BATCH` (500): events applied per transaction.
    pub batch: u64,
    /// `INBOUND_RETENTION_HOURS` (168): applied events are kept this long, so a repeated post
    /// within it is recognised; then they are deleted.
    pub retention: Duration,
    /// `INBOUND_SWEEP_SECONDS` (600): how often old events are deleted.
    pub sweep_every: Duration,
}

/// Everything `worker-inbound` reads.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, InboundConfig), ConfigError> {
    let settings = WorkerSettings::from_env(env, QueueName::Inbound)?;
    let config = InboundConfig {
        batch: env.parse_in("INBOUND_BATCH", 500, 1..=10_000)?,
        retention: Duration::from_secs(
            3600 * env.parse_in("INBOUND_RETENTION_HOURS", 168u64, 1..=24 * 365)?,
        ),
        sweep_every: Duration::from_secs(env.parse_in("INBOUND_SWEEP_SECONDS", 600, 1..=86_400)?),
    };
    Ok((settings, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let (settings, config) = from_env(&Env::from_pairs([("DEV_MODE", "true")])).unwrap();
        assert_eq!(settings.queue, QueueName::Inbound);
        assert_eq!(settings.concurrency, 4);
        assert_eq!(config.batch, 500);
        assert_eq!(config.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(config.sweep_every, Duration::from_secs(600));
        for (var, value) in [
            ("INBOUND_BATCH", "0"),
            ("INBOUND_RETENTION_HOURS", "never"),
            ("INBOUND_SWEEP_SECONDS", "0"),
        ] {
            let env = Env::from_pairs([("DEV_MODE", "true"), (var, value)]);
            assert_eq!(from_env(&env).unwrap_err().var, var, "{var}={value}");
        }
    }
}
