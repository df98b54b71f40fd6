//! Settings from environment variables.
//!
//! Readers take the environment as a function, so this crate needs no configuration crate and
//! tests pass their own values without `std::env::set_var` races. A variable set to something
//! blank counts as unset; one set to something unusable is an error naming it.

use std::fmt;
use std::time::Duration;

use crate::key::{KeyKind, TtlDefault};

pub(crate) const DEFAULT_TTL_SECS: u64 = 300;
const NEGATIVE_TTL_SECS: u64 = 30;
const TIMEOUT_MS: u64 = 50;
const TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

/// A variable that is set to something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {var}: `{value}`: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub reason: String,
}

fn lookup(env: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

fn parse_in(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = lookup(env, var) else {
        return Ok(None);
    };
    let reason = format!(
        "must be a whole number between {} and {}",
        range.start(),
        range.end()
    );
    match value.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError {
            var: var.to_owned(),
            value,
            reason,
        }),
    }
}

/// How long each kind of entry lives in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTtls {
    default: Duration,
    per_kind: Vec<Duration>,
    negative: Duration,
}

impl Default for CacheTtls {
    /// The guide's TTLs.
    fn default() -> Self {
        Self {
            default: Duration::from_secs(DEFAULT_TTL_SECS),
            per_kind: KeyKind::ALL.iter().map(|k| k.default_ttl()).collect(),
            negative: Duration::from_secs(NEGATIVE_TTL_SECS),
        }
    }
}

impl CacheTtls {
    /// `CACHE_DEFAULT_TTL`, each kind's [`KeyKind::ttl_var`] and `CACHE_NEGATIVE_TTL`, all in
    /// seconds between 1 and 86400.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let default = parse_in(&env, "CACHE_DEFAULT_TTL", TTL_RANGE)?.unwrap_or(DEFAULT_TTL_SECS);
        let per_kind = KeyKind::ALL
            .iter()
            .map(|kind| {
                let fallback = match kind.ttl_default() {
                    TtlDefault::Shared => default,
                    TtlDefault::Fixed(secs) => secs,
                };
                let secs = parse_in(&env, kind.ttl_var(), TTL_RANGE)?.unwrap_or(fallback);
                Ok(Duration::from_secs(secs))
            })
            .collect::<Result<_, ConfigError>>()?;
        let negative =
            parse_in(&env, "CACHE_NEGATIVE_TTL", TTL_RANGE)?.unwrap_or(NEGATIVE_TTL_SECS);
        Ok(Self {
            default: Duration::from_secs(default),
            per_kind,
            negative: Duration::from_secs(negative),
        })
    }

    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(process_env)
    }

    pub fn ttl(&self, kind: KeyKind) -> Duration {
        self.per_kind[kind as usize]
    }

    /// `CACHE_DEFAULT_TTL`: already applied to the kinds it is the default of.
    pub fn default_ttl(&self) -> Duration {
        self.default
    }

    /// How long an absent row is remembered (`CACHE_NEGATIVE_TTL`).
    pub fn negative(&self) -> Duration {
        self.negative
    }

    /// Sub-millisecond TTLs are raised to one millisecond: Redis cannot store less.
    pub fn with_ttl(mut self, kind: KeyKind, ttl: Duration) -> Self {
        self.per_kind[kind as usize] = ttl.max(Duration::from_millis(1));
        self
    }

    pub fn with_negative(mut self, ttl: Duration) -> Self {
        self.negative = ttl.max(Duration::from_millis(1));
        self
    }

    /// The longest any entry may live: how long a tenant index must outlive its last write.
    pub(crate) fn longest(&self) -> Duration {
        self.per_kind
            .iter()
            .copied()
            .chain([self.negative])
            .max()
            .unwrap_or(self.default)
    }
}

/// The in-process tier in front of Redis, for the kinds read on every request.
///
/// Entries are dropped on every replica when they are invalidated (Redis pub/sub), and the tier
/// is only used while this process is subscribed, so it never serves an entry whose invalidation
/// it could have missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTierConfig {
    /// How long an entry stays in process (`CACHE_LOCAL_TTL_SECS`, 0 to 3600, default 30; 0
    /// turns the tier off). Also the bound on staleness should a pub/sub message be lost.
    pub ttl: Duration,
    /// At most this many entries per process (`CACHE_LOCAL_CAPACITY`, default 100000).
    pub capacity: u64,
    /// The kinds kept in process (`CACHE_LOCAL_KINDS`, comma-separated names, default
    /// `api_key_principal,branding`: read on nearly every request, rarely changed).
    pub kinds: Vec<KeyKind>,
}

const LOCAL_TTL_SECS: u64 = 30;
const LOCAL_CAPACITY: u64 = 100_000;
const LOCAL_KINDS: [KeyKind; 2] = [KeyKind::ApiKeyPrincipal, KeyKind::Branding];

impl Default for LocalTierConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(LOCAL_TTL_SECS),
            capacity: LOCAL_CAPACITY,
            kinds: LOCAL_KINDS.to_vec(),
        }
    }
}

impl LocalTierConfig {
    /// No in-process tier: every read asks Redis.
    pub fn disabled() -> Self {
        Self {
            ttl: Duration::ZERO,
            capacity: 0,
            kinds: Vec::new(),
        }
    }

    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ttl = parse_in(&env, "CACHE_LOCAL_TTL_SECS", 0..=3600)?.unwrap_or(LOCAL_TTL_SECS);
        let capacity =
            parse_in(&env, "CACHE_LOCAL_CAPACITY", 1..=100_000_000)?.unwrap_or(LOCAL_CAPACITY);
        let kinds = match lookup(&env, "CACHE_LOCAL_KINDS") {
            None => LOCAL_KINDS.to_vec(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(|name| {
                    KeyKind::ALL
                        .iter()
                        .copied()
                        .find(|kind| kind.name() == name)
                        .ok_or_else(|| ConfigError {
                            var: "CACHE_LOCAL_KINDS".into(),
                            value: list.clone(),
                            reason: format!("`{name}` is not a cache key type"),
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        if ttl == 0 {
            return Ok(Self::disabled());
        }
        Ok(Self {
            ttl: Duration::from_secs(ttl),
            capacity,
            kinds,
        })
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero() && !self.kinds.is_empty()
    }
}

/// Everything a [`Cache`](crate::Cache) needs besides a Redis connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub ttls: CacheTtls,
    pub local: LocalTierConfig,
    /// The most one Redis command may take before the call goes to the source (`CACHE_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Put before every key (`CACHE_KEY_PREFIX`), so deployments or tests can share one Redis.
    pub key_prefix: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttls: CacheTtls::default(),
            local: LocalTierConfig::default(),
            timeout: Duration::from_millis(TIMEOUT_MS),
            key_prefix: String::new(),
        }
    }
}

impl CacheConfig {
    /// The TTL variables of [`CacheTtls::from_env`], those of [`LocalTierConfig::from_env`],
    /// `CACHE_TIMEOUT_MS` (1 to 10000, default 50)
    /// and `CACHE_KEY_PREFIX` (default empty).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ttls = CacheTtls::from_env(&env)?;
        let timeout = parse_in(&env, "CACHE_TIMEOUT_MS", 1..=10_000)?.unwrap_or(TIMEOUT_MS);
        let key_prefix = lookup(&env, "CACHE_KEY_PREFIX").unwrap_or_default();
        // Keys travel in logs and redis-cli sessions; spaces or control characters there would
        // only confuse.
        if key_prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError {
                var: "CACHE_KEY_PREFIX".into(),
                value: key_prefix,
                reason: "may not contain spaces or control characters".into(),
            });
        }
        Ok(Self {
            ttls,
            local: LocalTierConfig::from_env(&env)?,
            timeout: Duration::from_millis(timeout),
            key_prefix,
        })
    }

    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(process_env)
    }
}

/// Which Redis deployment to talk to.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTopology {
    /// One server: `redis://[[user]:password@]host[:port][/db]`.
    Single { url: String },
    /// A Redis Cluster; one reachable node is enough, the others are discovered.
    Cluster { nodes: Vec<(String, u16)> },
    /// A primary found through Sentinel.
    Sentinel {
        nodes: Vec<(String, u16)>,
        service: String,
    },
}

/// Where Redis is.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    pub topology: RedisTopology,
    /// The data nodes' password for `Cluster` and `Sentinel`; a single server takes it from its URL.
    pub password: Option<String>,
}

impl RedisSettings {
    pub fn single(url: impl Into<String>) -> Self {
        Self {
            topology: RedisTopology::Single { url: url.into() },
            password: None,
        }
    }

    /// `REDIS_MODE` (`single`, the default, `cluster` or `sentinel`); with `cluster` and
    /// `sentinel`, `REDIS_NODES` (`host:port,host:port`, sentinels for `sentinel`),
    /// `REDIS_PASSWORD`, and for `sentinel` `REDIS_SENTINEL_SERVICE`. `single_url` is the server
    /// of `single` mode, as the caller already builds it from `REDIS_HOST`/`REDIS_PORT`.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        single_url: &str,
    ) -> Result<Self, ConfigError> {
        let mode = lookup(&env, "REDIS_MODE").unwrap_or_else(|| "single".into());
        let password = lookup(&env, "REDIS_PASSWORD");
        let required = |var: &str| {
            lookup(&env, var).ok_or_else(|| ConfigError {
                var: var.to_owned(),
                value: String::new(),
                reason: format!("required when REDIS_MODE={mode}"),
            })
        };
        let topology = match mode.to_ascii_lowercase().as_str() {
            "single" => RedisTopology::Single {
                url: single_url.to_owned(),
            },
            "cluster" => RedisTopology::Cluster {
                nodes: parse_nodes(&required("REDIS_NODES")?)?,
            },
            "sentinel" => RedisTopology::Sentinel {
                nodes: parse_nodes(&required("REDIS_NODES")?)?,
                service: required("REDIS_SENTINEL_SERVICE")?,
            },
            _ => {
                return Err(ConfigError {
                    var: "REDIS_MODE".into(),
                    value: mode,
                    reason: "must be single, cluster or sentinel".into(),
                });
            }
        };
        Ok(Self { topology, password })
    }

    pub fn from_process_env(single_url: &str) -> Result<Self, ConfigError> {
        Self::from_env(process_env, single_url)
    }
}

fn parse_nodes(value: &str) -> Result<Vec<(String, u16)>, ConfigError> {
    value
        .split(',')
        .map(|node| {
            let node = node.trim();
            node.rsplit_once(':')
                .and_then(|(host, port)| {
                    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
                    (!host.is_empty()).then(|| (host.to_owned(), port))
                })
                .ok_or_else(|| ConfigError {
                    var: "REDIS_NODES".into(),
                    value: value.to_owned(),
                    reason: format!("`{node}` is not host:port"),
                })
        })
        .collect()
}

// Hand-written so a password never reaches a log.
impl fmt::Debug for RedisTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single { url } => f
                .debug_struct("Single")
                .field("url", &redact_url(url))
                .finish(),
            Self::Cluster { nodes } => f.debug_struct("Cluster").field("nodes", nodes).finish(),
            Self::Sentinel { nodes, service } => f
                .debug_struct("Sentinel")
                .field("nodes", nodes)
                .field("service", service)
                .finish(),
        }
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("topology", &self.topology)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
