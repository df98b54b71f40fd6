//! Campaign settings from the environment (see the crate README); the rest is the shared
//! worker runtime's.

use std::time::Duration;

use common::QueueName;
use common::config::{ConfigError, Env};
use common::wuzapi_url::WuzapiUrlPolicy;
use worker::WorkerSettings;

#[derive(Clone)]
pub struct CampaignConfig {
    /// `SECRETS_KEY`: the gateway's key for inbox tokens.
    pub secrets_key: db::secrets::KeySetting,
    /// `CAMPAIGN_BATCH_SECONDS`: how long one batch sends before it hands over to its
    /// continuation, so no queue message stays unacknowledged for long and campaigns of many
    /// tenants take turns.
    pub batch_budget: Duration,
    /// `CAMPAIGN_GROUP_MAX`: the most recipients claimed (and recorded) per round trip.
    pub max_group: u64,
    /// `CAMPAIGN_OUTAGE_PROBE_MS`: the first wait of a campaign parked for a WUZAPI outage;
    /// each failed probe doubles it, up to ten minutes.
    pub first_outage_probe: Duration,
    /// `WUZAPI_URL` and `WUZAPI_ALLOWED_HOSTS`: checked again before every batch, so an inbox
    /// whose server the operator no longer allows sends nothing.
    pub wuzapi_urls: WuzapiUrlPolicy,
    /// `CAMPAIGN_TYPING_MS_PER_CHAR`, `CAMPAIGN_TYPING_MIN_MS`, `CAMPAIGN_TYPING_MAX_MS`: how
    /// long "typing..." shows before a message of an inbox with typing on. Zero: no presence.
    pub typing: Typing,
}

/// How long "typing..." shows before a message: `per_char` per character, within
/// `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typing {
    pub per_char: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Typing {
    pub fn for_message(&self, chars: usize) -> Duration {
        common::pacing::typing_time(chars, self.per_char, self.min, self.max)
    }
}

impl CampaignConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            secrets_key: db::secrets::KeySetting::from_env(env)?,
            batch_budget: Duration::from_secs_f64(env.parse_in(
                "CAMPAIGN_BATCH_SECONDS",
                20.0,
                0.1..=25.0,
            )?),
            max_group: env.parse_in("CAMPAIGN_GROUP_MAX", 50, 1..=1000)?,
            first_outage_probe: Duration::from_millis(env.parse_in(
                "CAMPAIGN_OUTAGE_PROBE_MS",
                15_000,
                100..=600_000,
            )?),
            wuzapi_urls: WuzapiUrlPolicy::from_env(env)?,
            typing: Typing {
                per_char: Duration::from_millis(env.parse_in(
                    "CAMPAIGN_TYPING_MS_PER_CHAR",
                    40,
                    0..=1_000,
                )?),
                min: Duration::from_millis(env.parse_in(
                    "CAMPAIGN_TYPING_MIN_MS",
                    800,
                    0..=60_000,
                )?),
                max: Duration::from_millis(env.parse_in(
                    "CAMPAIGN_TYPING_MAX_MS",
                    6_000,
                    0..=60_000,
                )?),
            },
        })
    }
}

/// Everything `worker-campaign` reads.
pub fn from_env(env: &Env) -> Result<(WorkerSettings, CampaignConfig), ConfigError> {
    Ok((
        WorkerSettings::from_env(env, QueueName::Campaign)?,
        CampaignConfig::from_env(env)?,
    ))
}
