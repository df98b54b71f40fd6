//! Notification settings from the environment (see the crate README); the rest is the shared
//! worker runtime's.

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, CoreConfig, Env};
use common::push::{self, VapidKey};
use worker::WorkerSettings;

#[derive(Debug, Clone)]
pub struct NotificationConfig {
    /// `REDIS_MODE` and friends: where new notifications are published for the live streams.
    pub redis: cache::RedisSettings,
    /// `CACHE_KEY_PREFIX`: the gateways' key prefix, which names the live channels.
    pub key_prefix: String,
    /// Web Push, unless `WEB_PUSH_ENABLED=false`.
    pub push: Option<PushConfig>,
}

#[derive(Debug, Clone)]
pub struct PushConfig {
    /// `VAPID_PRIVATE_KEY` (or, with `DEV_MODE=true`, the published development key).
    pub key: VapidKey,
    /// `VAPID_SUBJECT`: `mailto:` or `https:`, sent in every VAPID token.
    pub subject: String,
    /// `WEB_PUSH_TTL_SECONDS` (86400): how long a push service keeps a push for an offline
    /// browser.
    pub ttl: u32,
    /// `WEB_PUSH_TIMEOUT_MS` (10000): one push request, connection included.
    pub timeout: Duration,
    /// `WEB_PUSH_ALLOW_PRIVATE`, `WEB_PUSH_ALLOWED_PORTS`: where endpoints may point, checked
    /// again at every connection (a subscription may predate the gateway's check).
    pub targets: push::PushTargets,
}

impl NotificationConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let single_url = CoreConfig::from_env(env)?.redis.url();
        let redis = cache::RedisSettings::from_env(|var| env.optional(var), &single_url)
            .map_err(config_error)?;
        let key_prefix = cache::CacheConfig::from_env(|var| env.optional(var))
            .map_err(config_error)?
            .key_prefix;
        let push = if env.parse("WEB_PUSH_ENABLED", true)? {
            let key = VapidKey::from_env(env)?.ok_or_else(|| ConfigError {
                var: push::PRIVATE_KEY_VAR.into(),
                value: String::new(),
                reason: "required for Web Push: a P-256 private key (base64url or PEM); \
                         set WEB_PUSH_ENABLED=false to run without pushes, or DEV_MODE=true \
                         for the published development key"
                    .into(),
            })?;
            if key.development {
                tracing::warn!(
                    "DEV_MODE: Web Push signs with the PUBLISHED development VAPID key; \
                     set VAPID_PRIVATE_KEY for anything real"
                );
            }
            Some(PushConfig {
                subject: push::subject_from_env(env, &key)?,
                key,
                ttl: env.parse_in("WEB_PUSH_TTL_SECONDS", 86_400, 0..=2_419_200)?,
                timeout: Duration::from_millis(env.parse_in(
                    "WEB_PUSH_TIMEOUT_MS",
                    10_000,
                    100..=120_000,
                )?),
                targets: push::PushTargets::from_env(env)?,
            })
        } else {
            None
        };
        Ok(Self {
            redis,
            key_prefix,
            push,
        })
    }
}

fn config_error(e: cache::ConfigError) -> ConfigError {
    ConfigError {
        var: e.var,
        value: e.value,
        reason: e.reason,
    }
}

/// Everything `worker-notification` reads.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, NotificationConfig), ConfigError> {
    Ok((
        WorkerSettings::from_env(env, QueueName::Notification)?,
        NotificationConfig::from_env(env)?,
    ))
}
