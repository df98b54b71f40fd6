//! Configuration from environment variables.
//!
//! Every setting has a default that fits a developer machine (Postgres, Redis and RabbitMQ on
//! localhost), so nothing must be set to start. A value that is set but invalid is an error that
//! names the variable, and services refuse to start with it rather than guess.
//!
//! Readers take an [`Env`] instead of touching the process environment, so tests can pass their
//! own values without `std::env::set_var` races.

use std::collections::HashMap;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use crate::jobs::{QueueName, QueueType};
use crate::plan::Plan;
use crate::wuzapi_url::WuzapiUrlPolicy;

/// A variable that is set to something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {var}: `{value}`: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub reason: String,
}

/// Where settings come from: the process environment, or a map in tests.
pub struct Env {
    values: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn system() -> Self {
        Self {
            values: std::env::vars().collect(),
        }
    }

    /// Only the given pairs; everything else takes its default.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value when set and not blank.
    pub fn optional(&self, var: &str) -> Option<String> {
        self.values
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn string(&self, var: &str, default: &str) -> String {
        self.optional(var).unwrap_or_else(|| default.to_owned())
    }

    pub fn parse<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(var) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError {
                var: var.to_owned(),
                reason: e.to_string(),
                value,
            }),
        }
    }

    pub fn parse_in<T>(
        &self,
        var: &str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
        T::Err: Display,
    {
        let value = self.parse(var, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                var: var.to_owned(),
                value: value.to_string(),
                reason: format!("must be between {} and {}", range.start(), range.end()),
            })
        }
    }

    /// A URL-ish setting that must start with one of `schemes`.
    pub fn url(&self, var: &str, default: &str, schemes: &[&str]) -> Result<String, ConfigError> {
        let value = self.string(var, default);
        if schemes
            .iter()
            .any(|s| value.starts_with(&format!("{s}://")))
        {
            Ok(value)
        } else {
            Err(ConfigError {
                var: var.to_owned(),
                value: redact_url(&value),
                reason: format!("must be a URL starting with {}://", schemes.join("://, ")),
            })
        }
    }
}

/// A duration written with its unit: `250ms`, `5s`, `30m`, `2h`, `5d` (whole numbers).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. 500ms, 5s, 30m, 2h or 5d"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` must start with a whole number"))?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; one of ms, s, m, h, d"
            ));
        }
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// A comma-separated list of durations (`5s,5m,30m`), each as [`parse_duration`] reads it.
pub fn parse_durations(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',').map(parse_duration).collect()
}

impl Env {
    /// A duration setting (`5d`, `90s`, `250ms`) between `min` and `max`.
    pub fn duration(
        &self,
        var: &str,
        default: Duration,
        range: RangeInclusive<Duration>,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = self.optional(var) else {
            return Ok(default);
        };
        let parsed = parse_duration(&value).map_err(|reason| ConfigError {
            var: var.to_owned(),
            value: value.clone(),
            reason,
        })?;
        if !range.contains(&parsed) {
            return Err(ConfigError {
                var: var.to_owned(),
                value,
                reason: format!("must be between {:?} and {:?}", range.start(), range.end()),
            });
        }
        Ok(parsed)
    }
}

/// Hides the password of a URL so it never reaches a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Where every service finds Postgres, RabbitMQ and Redis.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// `DATABASE_URL`
    pub database_url: String,
    /// `AMQP_URL`
    pub amqp_url: String,
    /// `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`
    pub redis: RedisConfig,
    /// `QUEUE_PREFIX`: names every exchange and queue, so several systems (or tests) can share
    /// one broker.
    pub queue_prefix: String,
    /// `WUZAPI_URL`: the WUZAPI server an inbox uses when it names none.
    pub wuzapi_url: String,
    /// `QUEUE_TYPE`: `quorum` (default; replicated across a RabbitMQ cluster) or `classic`.
    pub queue_type: QueueType,
    /// `WUZAPI_URL` and `WUZAPI_ALLOWED_HOSTS`: the WUZAPI servers inboxes may use. Check an
    /// inbox's URL with [`WuzapiUrlPolicy::check`] before sending anything to it.
    pub wuzapi_urls: WuzapiUrlPolicy,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
    /// `REDIS_QUEUE_DB` of the guide; kept for compatibility, the queues live in RabbitMQ.
    pub queue_db: u8,
}

impl RedisConfig {
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@{}:{}", self.host, self.port),
            None => format!("redis://{}:{}", self.host, self.port),
        }
    }
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/wuzapi_manager";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const DEFAULT_WUZAPI_URL: &str = "http://127.0.0.1:8080";

impl CoreConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let queue_prefix = env.string("QUEUE_PREFIX", "wuzapi");
        if !queue_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError {
                var: "QUEUE_PREFIX".into(),
                value: queue_prefix,
                reason: "may contain only ASCII letters, digits, `-`, `_` and `.`".into(),
            });
        }
        Ok(Self {
            database_url: env.url(
                "DATABASE_URL",
                DEFAULT_DATABASE_URL,
                &["postgres", "postgresql"],
            )?,
            amqp_url: env.url("AMQP_URL", DEFAULT_AMQP_URL, &["amqp", "amqps"])?,
            redis: RedisConfig {
                host: env.string("REDIS_HOST", "localhost"),
                port: env.parse_in("REDIS_PORT", 6379, 1..=65535)?,
                password: env.optional("REDIS_PASSWORD"),
                queue_db: env.parse_in("REDIS_QUEUE_DB", 1, 0..=15)?,
            },
            queue_prefix,
            wuzapi_url: env.url("WUZAPI_URL", DEFAULT_WUZAPI_URL, &["http", "https"])?,
            queue_type: env.parse("QUEUE_TYPE", QueueType::Quorum)?,
            wuzapi_urls: WuzapiUrlPolicy::from_env(env)?,
        })
    }
}

/// Requests per minute and burst per platform plan (`RATE_LIMIT_*`, `RATE_LIMIT_*_BURST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub free: PlanLimit,
    pub pro: PlanLimit,
    pub enterprise: PlanLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimitConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limit = |rpm_var: &str, rpm: u32, burst_var: &str, burst: u32| {
            Ok::<_, ConfigError>(PlanLimit {
                per_minute: env.parse_in(rpm_var, rpm, 1..=1_000_000)?,
                burst: env.parse_in(burst_var, burst, 1..=1_000_000)?,
            })
        };
        Ok(Self {
            free: limit("RATE_LIMIT_FREE", 100, "RATE_LIMIT_FREE_BURST", 150)?,
            pro: limit("RATE_LIMIT_PRO", 500, "RATE_LIMIT_PRO_BURST", 750)?,
            enterprise: limit(
                "RATE_LIMIT_ENTERPRISE",
                2000,
                "RATE_LIMIT_ENTERPRISE_BURST",
                3000,
            )?,
        })
    }

    pub fn for_plan(&self, plan: Plan) -> PlanLimit {
        match plan {
            Plan::Free => self.free,
            Plan::Pro => self.pro,
            Plan::Enterprise => self.enterprise,
        }
    }
}

/// How many jobs of `queue` one worker process runs at once (`WORKER_<QUEUE>_CONCURRENCY`).
pub fn worker_concurrency(env: &Env, queue: QueueName) -> Result<u16, ConfigError> {
    env.parse_in(
        queue.concurrency_var(),
        queue.default_concurrency(),
        1..=1000,
    )
}

/// How many attempts a job of `queue` gets (`WORKER_<QUEUE>_ATTEMPTS`, default 3): stored on
/// each job when it is created, enforced by the worker.
pub fn job_attempts(env: &Env, queue: QueueName) -> Result<i32, ConfigError> {
    let upper = queue.as_str().to_ascii_uppercase();
    env.parse_in(&format!("WORKER_{upper}_ATTEMPTS"), 3, 1..=20)
}

/// The first retry delay of `queue` (`WORKER_<QUEUE>_BACKOFF_MS`, default 2000); each next one
/// doubles.
pub fn job_backoff(env: &Env, queue: QueueName) -> Result<Duration, ConfigError> {
    let upper = queue.as_str().to_ascii_uppercase();
    env.parse_in(&format!("WORKER_{upper}_BACKOFF_MS"), 2000, 100..=3_600_000)
        .map(Duration::from_millis)
}

/// `HOST` and a port variable: where a service listens.
pub fn listen_addr(env: &Env, port_var: &str, default_port: u16) -> Result<String, ConfigError> {
    let host = env.string("HOST", "127.0.0.1");
    let port: u16 = env.parse(port_var, default_port)?;
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_units() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(5 * 86_400)));
        assert_eq!(
            parse_durations("5s,5m,30m,2h").unwrap(),
            [5, 300, 1800, 7200].map(Duration::from_secs)
        );
        for bad in ["", "5", "s", "5x", "-5s", "1.5s", "5s,,5m"] {
            assert!(parse_durations(bad).is_err(), "{bad}");
        }
        let env = Env::from_pairs([("AFTER", "2w")]);
        let err = env
            .duration("AFTER", Duration::ZERO, Duration::ZERO..=Duration::MAX)
            .unwrap_err();
        assert_eq!(err.var, "AFTER");
    }

    #[test]
    fn defaults_fit_a_developer_machine() {
        let env = Env::from_pairs([]);
        let core = CoreConfig::from_env(&env).unwrap();
        assert_eq!(core.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(core.redis.url(), "redis://localhost:6379");
        assert_eq!(core.queue_prefix, "wuzapi");
        let limits = RateLimitConfig::from_env(&env).unwrap();
        assert_eq!(
            limits.for_plan(Plan::Free),
            PlanLimit {
                per_minute: 100,
                burst: 150
            }
        );
        assert_eq!(
            limits.for_plan(Plan::Pro),
            PlanLimit {
                per_minute: 500,
                burst: 750
            }
        );
        assert_eq!(
            limits.for_plan(Plan::Enterprise),
            PlanLimit {
                per_minute: 2000,
                burst: 3000
            }
        );
        assert_eq!(worker_concurrency(&env, QueueName::Import).unwrap(), 2);
    }

    #[test]
    fn set_values_win() {
        let env = Env::from_pairs([
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_PASSWORD", "s3cret"),
            ("RATE_LIMIT_PRO", "50"),
            ("WORKER_CAMPAIGN_CONCURRENCY", "9"),
        ]);
        let core = CoreConfig::from_env(&env).unwrap();
        assert_eq!(core.redis.url(), "redis://:s3cret@cache:6380");
        assert_eq!(RateLimitConfig::from_env(&env).unwrap().pro.per_minute, 50);
        assert_eq!(worker_concurrency(&env, QueueName::Campaign).unwrap(), 9);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            RateLimitConfig::from_env(&Env::from_pairs([("RATE_LIMIT_FREE", "lots")])).unwrap_err();
        assert_eq!(err.var, "RATE_LIMIT_FREE");
        assert!(
            err.to_string()
                .starts_with("invalid value for RATE_LIMIT_FREE: `lots`")
        );

        let err = worker_concurrency(
            &Env::from_pairs([("WORKER_IMPORT_CONCURRENCY", "0")]),
            QueueName::Import,
        )
        .unwrap_err();
        assert_eq!(err.var, "WORKER_IMPORT_CONCURRENCY");
        assert!(err.reason.contains("between 1 and 1000"));

        let err = CoreConfig::from_env(&Env::from_pairs([("DATABASE_URL", "mysql://u:pw@h/db")]))
            .unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        assert_eq!(
            err.value, "mysql://u:***@h/db",
            "passwords never reach a message"
        );

        let err = CoreConfig::from_env(&Env::from_pairs([("REDIS_PORT", "70000")])).unwrap_err();
        assert_eq!(err.var, "REDIS_PORT");

        let err = CoreConfig::from_env(&Env::from_pairs([(
            "WUZAPI_ALLOWED_HOSTS",
            "wuzapi.internal,https://other.internal",
        )]))
        .unwrap_err();
        assert_eq!(err.var, "WUZAPI_ALLOWED_HOSTS");
        assert_eq!(err.value, "https://other.internal");
    }

    #[test]
    fn blank_means_unset() {
        let env = Env::from_pairs([("REDIS_PASSWORD", ""), ("RATE_LIMIT_FREE", "  ")]);
        assert_eq!(CoreConfig::from_env(&env).unwrap().redis.password, None);
        assert_eq!(
            RateLimitConfig::from_env(&env).unwrap().free.per_minute,
            100
        );
    }
}
