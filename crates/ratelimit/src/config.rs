//! The limiter's own settings; the per-plan limits are `common::config::RateLimitConfig`'s.

use std::time::Duration;

use common::config::{ConfigError, Env};

const REDIS_TIMEOUT_MS: u64 = 50;
const FALLBACK_REPLICAS: u32 = 1;

/// Everything a [`RateLimiter`](crate::RateLimiter) needs besides a Redis client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Put before every key, so deployments or tests can share one Redis. Not read from the
    /// environment: the gateway passes its cache's prefix.
    pub key_prefix: String,
    /// The most one decision may wait for Redis before the in-process limiter takes it
    /// (`RATE_LIMIT_REDIS_TIMEOUT_MS`, 1 to 10000, default 50).
    pub redis_timeout: Duration,
    /// How many gateway replicas share the traffic, so that while Redis is down each one admits
    /// its share of a plan's limit (`RATE_LIMIT_FALLBACK_REPLICAS`, 1 to 10000, default 1).
    pub fallback_replicas: u32,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            key_prefix: String::new(),
            redis_timeout: Duration::from_millis(REDIS_TIMEOUT_MS),
            fallback_replicas: FALLBACK_REPLICAS,
        }
    }
}

impl LimiterConfig {
    /// `RATE_LIMIT_REDIS_TIMEOUT_MS` and `RATE_LIMIT_FALLBACK_REPLICAS`; the key prefix stays
    /// empty for the caller to set.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let timeout_ms =
            env.parse_in("RATE_LIMIT_REDIS_TIMEOUT_MS", REDIS_TIMEOUT_MS, 1..=10_000)?;
        let fallback_replicas = env.parse_in(
            "RATE_LIMIT_FALLBACK_REPLICAS",
            FALLBACK_REPLICAS,
            1..=10_000,
        )?;
        Ok(Self {
            key_prefix: String::new(),
            redis_timeout: Duration::from_millis(timeout_ms),
            fallback_replicas,
        })
    }

    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = LimiterConfig::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(config, LimiterConfig::default());
        assert_eq!(config.redis_timeout, Duration::from_millis(50));
        assert_eq!(config.fallback_replicas, 1);
    }

    #[test]
    fn variables_are_read_and_checked() {
        let env = Env::from_pairs([
            ("RATE_LIMIT_REDIS_TIMEOUT_MS", "120"),
            ("RATE_LIMIT_FALLBACK_REPLICAS", "4"),
        ]);
        let config = LimiterConfig::from_env(&env)
            .unwrap()
            .with_key_prefix("prod:");
        assert_eq!(config.redis_timeout, Duration::from_millis(120));
        assert_eq!(config.fallback_replicas, 4);
        assert_eq!(config.key_prefix, "prod:");

        let zero =
            LimiterConfig::from_env(&Env::from_pairs([("RATE_LIMIT_FALLBACK_REPLICAS", "0")]))
                .unwrap_err();
        assert_eq!(zero.var, "RATE_LIMIT_FALLBACK_REPLICAS");
        let junk =
            LimiterConfig::from_env(&Env::from_pairs([("RATE_LIMIT_REDIS_TIMEOUT_MS", "fast")]))
                .unwrap_err();
        assert_eq!(junk.var, "RATE_LIMIT_REDIS_TIMEOUT_MS");
    }
}
