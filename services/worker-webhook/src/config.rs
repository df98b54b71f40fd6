//! Webhook delivery settings from the environment (see the crate README); the rest is the
//! shared worker runtime's.

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, Env};
use worker::{RetryPolicy, WorkerSettings};

/// Standard Webhooks' retry schedule: the delay before each retry after the first attempt.
pub const STANDARD_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `WEBHOOK_ALLOW_PRIVATE` (false): deliver to loopback, private and other non-public
    /// addresses too.
    pub allow_private: bool,
    /// `WEBHOOK_TIMEOUT_MS` (10000): one attempt, from connecting to the last byte read.
    pub timeout: Duration,
    /// `WEBHOOK_RESPONSE_EXCERPT_BYTES` (1024): how much of an answer's body is logged.
    pub excerpt_bytes: usize,
    /// `WEBHOOK_RETRY_SCHEDULE`: the delays before each retry.
    pub schedule: Vec<Duration>,
    /// `WEBHOOK_DISABLE_AFTER` (`5d`): an endpoint failing this long without a success is
    /// disabled.
    pub disable_after: Duration,
    /// `SECRETS_KEY`: the key the gateway sealed the signing secrets with.
    pub secrets_key: db::secrets::KeySetting,
}

/// Everything `worker-webhook` reads. The retry schedule is `WEBHOOK_RETRY_SCHEDULE`, else the
/// runtime's `WORKER_WEBHOOK_RETRY_SCHEDULE`, else Standard Webhooks'; it becomes the runtime's
/// retry policy, so the wait queues are declared from it.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, WebhookConfig), ConfigError> {
    let mut settings = WorkerSettings::from_env(env, QueueName::Webhook)?;
    settings.retry = match env.optional("WEBHOOK_RETRY_SCHEDULE") {
        Some(text) => RetryPolicy::schedule_from("WEBHOOK_RETRY_SCHEDULE", &text)?,
        None if !settings.retry.schedule.is_empty() => settings.retry,
        None => RetryPolicy::schedule_from("WEBHOOK_RETRY_SCHEDULE", STANDARD_SCHEDULE)?,
    };
    let config = WebhookConfig {
        allow_private: env.parse("WEBHOOK_ALLOW_PRIVATE", false)?,
        timeout: Duration::from_millis(env.parse_in("WEBHOOK_TIMEOUT_MS", 10_000, 100..=60_000)?),
        excerpt_bytes: env.parse_in("WEBHOOK_RESPONSE_EXCERPT_BYTES", 1024, 0..=65_536)?,
        schedule: settings.retry.schedule.clone(),
        disable_after: env.duration(
            "WEBHOOK_DISABLE_AFTER",
            Duration::from_secs(5 * 86_400),
            Duration::from_secs(1)..=Duration::from_secs(90 * 86_400),
        )?,
        secrets_key: db::secrets::KeySetting::from_env(env)?,
    };
    Ok((settings, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_standard_webhooks_and_settings_are_checked() {
        let env = Env::from_pairs([("DEV_MODE", "true")]);
        let (settings, config) = from_env(&env).unwrap();
        assert_eq!(settings.retry.attempts, 8);
        assert_eq!(config.schedule.len(), 7);
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.excerpt_bytes, 1024);
        assert_eq!(config.disable_after, Duration::from_secs(432_000));
        assert!(!config.allow_private);

        let env = Env::from_pairs([
            ("DEV_MODE", "true"),
            ("WEBHOOK_RETRY_SCHEDULE", "200ms,400ms"),
            ("WEBHOOK_DISABLE_AFTER", "90s"),
        ]);
        let (settings, config) = from_env(&env).unwrap();
        assert_eq!(settings.retry.attempts, 3);
        assert_eq!(
            settings.wait_delays(),
            [200, 400, 1000].map(Duration::from_millis)
        );
        assert_eq!(config.disable_after, Duration::from_secs(90));

        for (var, value) in [
            ("WEBHOOK_RETRY_SCHEDULE", "soon"),
            ("WEBHOOK_DISABLE_AFTER", "5 days"),
            ("WEBHOOK_TIMEOUT_MS", "0"),
            ("WEBHOOK_ALLOW_PRIVATE", "maybe"),
        ] {
            let env = Env::from_pairs([("DEV_MODE", "true"), (var, value)]);
            assert_eq!(from_env(&env).unwrap_err().var, var, "{var}={value}");
        }
    }
}
