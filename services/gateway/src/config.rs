//! Gateway settings from the environment (see the crate README for the list).

use common::QueueName;
use common::config::{
    ConfigError, CoreConfig, Env, PlanLimit, RateLimitConfig, job_attempts, listen_addr,
};

#[derive(Clone)]
pub struct GatewayConfig {
    pub core: CoreConfig,
    /// `HOST:PORT`; port 0 picks a free one (tests).
    pub listen: String,
    pub rate_limits: RateLimitConfig,
    /// `RATE_LIMIT_REDIS_TIMEOUT_MS`, `RATE_LIMIT_FALLBACK_REPLICAS` (the key prefix is the
    /// cache's).
    pub limiter: ratelimit::LimiterConfig,
    /// `COMPRESSION_BROTLI_QUALITY`, `COMPRESSION_GZIP_LEVEL`, `COMPRESSION_MIN_BYTES`.
    pub compression: crate::compression::CompressionConfig,
    /// `CACHE_*`: TTLs, the Redis command timeout and the key prefix (see the `cache` crate).
    pub cache: cache::CacheConfig,
    /// `REDIS_MODE` and friends: a single server (`REDIS_HOST`/`REDIS_PORT`), Sentinel or Cluster.
    pub redis: cache::RedisSettings,
    /// `SECRETS_KEY`: the key of everything encrypted at rest (inbox tokens).
    pub secrets_key: db::secrets::KeySetting,
    /// `HTTP_JSON_LIMIT_BYTES`: larger JSON bodies get 413.
    pub json_limit_bytes: usize,
    /// `HTTP_CAMPAIGN_JSON_LIMIT_BYTES`: the same for campaign creation (many contact ids).
    pub campaign_json_limit_bytes: usize,
    pub database_max_connections: u32,
    /// `OUTBOX_RELAY`: whether this process publishes queued jobs.
    pub run_outbox_relay: bool,
    /// `WORKER_CAMPAIGN_ATTEMPTS`: attempts stored on each new campaign job.
    pub campaign_attempts: i32,
    /// `WORKER_IMPORT_ATTEMPTS`: attempts stored on each new import job.
    pub import_attempts: i32,
    /// `WORKER_REPORT_ATTEMPTS`: attempts stored on each new report job.
    pub report_attempts: i32,
    /// `IMPORT_MAX_BYTES`, `IMPORT_DEFAULT_REGION`.
    pub imports: ImportSettings,
    /// `STORAGE_URL` and friends: where uploads and generated files go (`crates/storage`).
    pub storage: storage::StorageConfig,
    /// `QUEUE_METRICS_INTERVAL_MS`: how often the queue gauges are refreshed from Postgres and
    /// RabbitMQ.
    pub queue_metrics_interval: std::time::Duration,
    /// `VAPID_PUBLIC_KEY`, or derived from `VAPID_PRIVATE_KEY` (the development key under
    /// `DEV_MODE=true`): what browsers subscribe with. `None`: Web Push is not configured.
    pub vapid_public_key: Option<String>,
    /// `WEB_PUSH_ALLOW_HTTP` (false): accept `http://` push endpoints (tests' fake push service).
    pub push_allow_http: bool,
    /// `WEB_PUSH_ALLOW_PRIVATE`, `WEB_PUSH_ALLOWED_PORTS`: where push endpoints may point.
    pub push_targets: common::push::PushTargets,
    /// `NOTIFICATIONS_KEEPALIVE_MS` (15000): the keep-alive comment interval of idle streams.
    pub notifications_keepalive: std::time::Duration,
    /// `WEBHOOK_ALLOW_PRIVATE` (false): whether webhook endpoints may point at loopback,
    /// private, link-local and other non-public addresses (self-hosted receivers, tests).
    pub webhook_allow_private: bool,
    /// `PUBLIC_URL`: the gateway's address as WUZAPI servers reach it, the base of each inbox's
    /// event endpoint. Unset: `http://127.0.0.1:<port>` (development only).
    pub public_url: Option<url::Url>,
    /// `WORKER_INBOUND_ATTEMPTS`: attempts stored on each new drain of inbound events.
    pub inbound_attempts: i32,
    /// Sign-in for people: sessions, invitations, attempt limits.
    pub sign_in: SignInSettings,
    /// `TRUST_PROXY_HOPS` (0): how many proxies in front of the gateway append to
    /// `X-Forwarded-For`; every per-address limit reads the client's address by it
    /// (`crate::client_address`).
    pub trust_proxy_hops: u8,
    /// `ANON_RATE_LIMIT`/`_BURST`, `HOOK_RATE_LIMIT`/`_BURST`: the per-address budgets of
    /// requests without a valid credential (`crate::anonymous`).
    pub anonymous: crate::anonymous::AnonymousLimits,
    /// `NOTIFICATIONS_STREAMS_PER_USER` (5): live notification streams one user may hold open
    /// on one gateway at once.
    pub streams_per_user: usize,
    /// `WEB_DIR` (`web/dist`): the web app's build, served at `/` when the directory exists.
    pub web_dir: std::path::PathBuf,
    /// HSTS, `/metrics`, the inbound events' age window, the session idle timeout.
    pub security: crate::security::SecuritySettings,
    /// `RESERVED_HOSTS`, `CUSTOM_HOST_DNS_SERVERS`, `CUSTOM_HOST_DNS_TIMEOUT_MS`: which hosts no
    /// tenant may claim, and where a claim's TXT record is looked up.
    pub custom_hosts: crate::custom_host::CustomHostSettings,
}

impl GatewayConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            core: CoreConfig::from_env(env)?,
            listen: listen_addr(env, "PORT", 3000)?,
            rate_limits: RateLimitConfig::from_env(env)?,
            limiter: ratelimit::LimiterConfig::from_env(env)?,
            compression: crate::compression::CompressionConfig::from_env(env)?,
            cache: cache::CacheConfig::from_env(|var| env.optional(var)).map_err(config_error)?,
            redis: redis_settings(env)?,
            secrets_key: db::secrets::KeySetting::from_env(env)?,
            json_limit_bytes: env.parse_in(
                "HTTP_JSON_LIMIT_BYTES",
                256 * 1024,
                1024..=64 * 1024 * 1024,
            )?,
            campaign_json_limit_bytes: env.parse_in(
                "HTTP_CAMPAIGN_JSON_LIMIT_BYTES",
                8 * 1024 * 1024,
                1024..=256 * 1024 * 1024,
            )?,
            database_max_connections: env.parse_in("DATABASE_MAX_CONNECTIONS", 10, 1..=1000)?,
            run_outbox_relay: env.parse("OUTBOX_RELAY", true)?,
            campaign_attempts: job_attempts(env, QueueName::Campaign)?,
            import_attempts: job_attempts(env, QueueName::Import)?,
            report_attempts: job_attempts(env, QueueName::Report)?,
            imports: ImportSettings::from_env(env)?,
            storage: storage::StorageConfig::from_env(env)?,
            queue_metrics_interval: std::time::Duration::from_millis(env.parse_in(
                "QUEUE_METRICS_INTERVAL_MS",
                15_000,
                100..=3_600_000,
            )?),
            vapid_public_key: common::push::public_key_from_env(env)?,
            push_allow_http: env.parse("WEB_PUSH_ALLOW_HTTP", false)?,
            push_targets: common::push::PushTargets::from_env(env)?,
            notifications_keepalive: crate::routes::notifications::keepalive_from_env(env)?,
            webhook_allow_private: env.parse("WEBHOOK_ALLOW_PRIVATE", false)?,
            public_url: public_url(env)?,
            inbound_attempts: job_attempts(env, QueueName::Inbound)?,
            sign_in: SignInSettings::from_env(env)?,
            trust_proxy_hops: trust_proxy_hops(env)?,
            anonymous: crate::anonymous::AnonymousLimits::from_env(env)?,
            streams_per_user: env.parse_in("NOTIFICATIONS_STREAMS_PER_USER", 5, 1..=1000)?,
            web_dir: env.string("WEB_DIR", "web/dist").into(),
            security: crate::security::SecuritySettings::from_env(env)?,
            custom_hosts: crate::custom_host::CustomHostSettings::from_env(env)?,
        })
    }
}

/// `TRUST_PROXY_HOPS`, 0 to 10. The boolean it replaced, `TRUST_FORWARDED_FOR`, trusted the
/// client-written end of `X-Forwarded-For`; a deployment still setting it is stopped rather
/// than silently read otherwise.
fn trust_proxy_hops(env: &Env) -> Result<u8, ConfigError> {
    if let Some(value) = env.optional("TRUST_FORWARDED_FOR") {
        return Err(ConfigError {
            var: "TRUST_FORWARDED_FOR".into(),
            value,
            reason: "is no longer read: set TRUST_PROXY_HOPS to the number of proxies in front \
                     of the gateway that append to X-Forwarded-For (0 when none), and unset \
                     TRUST_FORWARDED_FOR"
                .into(),
        });
    }
    env.parse_in("TRUST_PROXY_HOPS", 0, 0..=10)
}

/// `PUBLIC_URL`: an `http(s)` URL without query or fragment; a trailing `/` is dropped.
fn public_url(env: &Env) -> Result<Option<url::Url>, ConfigError> {
    let Some(text) = env.optional("PUBLIC_URL") else {
        return Ok(None);
    };
    let invalid = |reason: &str| ConfigError {
        var: "PUBLIC_URL".into(),
        value: text.clone(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(text.trim_end_matches('/'))
        .map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(Some(url))
}

/// Sign-in for people (browsers): see the gateway README's "Sign-in for people".
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// `SESSION_LIFETIME_HOURS` (168): how long a session lasts from sign-in.
    pub session_lifetime: chrono::Duration,
    /// `SESSION_COOKIE_SECURE` (true): cookies only over HTTPS. Browsers treat
    /// `http://localhost` and `http://127.0.0.1` as secure, so development works either way.
    pub secure_cookies: bool,
    /// `INVITATION_LIFETIME_HOURS` (72): how long an invitation link works.
    pub invitation_lifetime: chrono::Duration,
    /// `LOGIN_ACCOUNT_PER_MINUTE` (1) and `LOGIN_ACCOUNT_BURST` (5): sign-in attempts per
    /// account (tenant and email), whatever the address.
    pub per_account: PlanLimit,
    /// `LOGIN_ADDRESS_PER_MINUTE` (20) and `LOGIN_ADDRESS_BURST` (20): sign-in attempts per
    /// client address, whatever the account.
    pub per_address: PlanLimit,
    /// `PASSWORD_HASH_CONCURRENCY` (twice the cores): password hashes (argon2id) running at
    /// once; a sign-in beyond them is 503 (`crate::password_gate`).
    pub password_hash_concurrency: usize,
}

impl SignInSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hours = |var: &str, default: i64| -> Result<chrono::Duration, ConfigError> {
            Ok(chrono::Duration::hours(env.parse_in(
                var,
                default,
                1..=24 * 366,
            )?))
        };
        Ok(Self {
            session_lifetime: hours("SESSION_LIFETIME_HOURS", 168)?,
            secure_cookies: env.parse("SESSION_COOKIE_SECURE", true)?,
            invitation_lifetime: hours("INVITATION_LIFETIME_HOURS", 72)?,
            per_account: PlanLimit {
                per_minute: env.parse_in("LOGIN_ACCOUNT_PER_MINUTE", 1, 1..=10_000)?,
                burst: env.parse_in("LOGIN_ACCOUNT_BURST", 5, 1..=10_000)?,
            },
            per_address: PlanLimit {
                per_minute: env.parse_in("LOGIN_ADDRESS_PER_MINUTE", 20, 1..=100_000)?,
                burst: env.parse_in("LOGIN_ADDRESS_BURST", 20, 1..=100_000)?,
            },
            password_hash_concurrency: crate::password_gate::concurrency_from_env(env)?,
        })
    }
}

/// Contact upload settings.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// `IMPORT_MAX_BYTES` (default 256 MiB): larger uploads get 413 and nothing is stored.
    pub max_bytes: u64,
    /// `IMPORT_DEFAULT_REGION` (default `BR`): the region of numbers written without a
    /// country code, when an import does not say.
    pub default_region: String,
    /// `STORAGE_QUOTA_FREE` / `_PRO` / `_ENTERPRISE`: the bytes a tenant may keep in storage.
    pub storage_quota: StorageQuota,
}

/// The bytes a tenant may keep in storage (import source files and ready reports), by its
/// platform plan: `STORAGE_QUOTA_FREE` (default 1 GiB), `STORAGE_QUOTA_PRO` (10 GiB),
/// `STORAGE_QUOTA_ENTERPRISE` (100 GiB). An upload that would pass it gets 429
/// `quota_exceeded` and nothing is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageQuota {
    pub free: u64,
    pub pro: u64,
    pub enterprise: u64,
}

impl StorageQuota {
    const GIB: u64 = 1024 * 1024 * 1024;
    /// 1 PiB: more than any store a tenant gets, less than what `bigint` and `u64` arithmetic
    /// on the count could overflow.
    const MAX: u64 = 1024 * 1024 * Self::GIB;

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            free: env.parse_in("STORAGE_QUOTA_FREE", Self::GIB, 0..=Self::MAX)?,
            pro: env.parse_in("STORAGE_QUOTA_PRO", 10 * Self::GIB, 0..=Self::MAX)?,
            enterprise: env.parse_in("STORAGE_QUOTA_ENTERPRISE", 100 * Self::GIB, 0..=Self::MAX)?,
        })
    }

    pub fn of(&self, plan: common::Plan) -> u64 {
        match plan {
            common::Plan::Free => self.free,
            common::Plan::Pro => self.pro,
            common::Plan::Enterprise => self.enterprise,
        }
    }
}

impl ImportSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default_region = env
            .optional("IMPORT_DEFAULT_REGION")
            .unwrap_or_else(|| "BR".to_owned())
            .to_ascii_uppercase();
        if default_region.len() != 2
            || <phonenumber::country::Id as std::str::FromStr>::from_str(&default_region).is_err()
        {
            return Err(ConfigError {
                var: "IMPORT_DEFAULT_REGION".to_owned(),
                value: default_region,
                reason: "an ISO 3166 region code such as BR or US".to_owned(),
            });
        }
        Ok(Self {
            max_bytes: env.parse_in(
                "IMPORT_MAX_BYTES",
                256 * 1024 * 1024,
                1..=64 * 1024 * 1024 * 1024,
            )?,
            default_region,
            storage_quota: StorageQuota::from_env(env)?,
        })
    }
}

/// Where Redis is, for every topology; `single` uses `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`.
pub fn redis_settings(env: &Env) -> Result<cache::RedisSettings, ConfigError> {
    let single_url = CoreConfig::from_env(env)?.redis.url();
    cache::RedisSettings::from_env(|var| env.optional(var), &single_url).map_err(config_error)
}

fn config_error(e: cache::ConfigError) -> ConfigError {
    ConfigError {
        var: e.var,
        value: e.value,
        reason: e.reason,
    }
}
