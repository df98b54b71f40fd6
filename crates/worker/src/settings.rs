//! What every worker process reads from the environment.

use std::time::Duration;

use common::QueueName;
use common::config::{
    ConfigError, CoreConfig, Env, job_attempts, job_backoff, listen_addr, parse_durations,
    worker_concurrency,
};

/// A queue's retry policy: `attempts` in all, the n-th retry after `backoff_base * 2^(n-1)`
/// (the guide's exponential back-off: 2 s, 4 s, 8 s, ...), or, with an explicit `schedule`,
/// after its n-th delay (the last one repeats if attempts outnumber it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: i32,
    pub backoff_base: Duration,
    /// The delays before each retry, in order; empty: exponential from `backoff_base`.
    pub schedule: Vec<Duration>,
}

impl RetryPolicy {
    /// Retries after exactly these delays: `schedule.len() + 1` attempts in all.
    pub fn scheduled(schedule: Vec<Duration>) -> Self {
        Self {
            attempts: i32::try_from(schedule.len()).unwrap_or(i32::MAX - 1) + 1,
            backoff_base: schedule.first().copied().unwrap_or(Duration::from_secs(2)),
            schedule,
        }
    }

    /// The wait before the retry that follows attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: i32) -> Duration {
        if let Some(last) = self.schedule.last() {
            let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
            return self.schedule.get(index).copied().unwrap_or(*last);
        }
        let doublings = (attempt.max(1) - 1).min(20) as u32;
        self.backoff_base * 2u32.pow(doublings)
    }

    /// Every retry delay this policy can use, shortest first, each once.
    pub fn delays(&self) -> Vec<Duration> {
        let mut delays: Vec<Duration> = (1..self.attempts).map(|a| self.delay_after(a)).collect();
        delays.sort();
        delays.dedup();
        delays
    }

    /// `WORKER_<QUEUE>_RETRY_SCHEDULE` (comma-separated durations such as `5s,5m,30m`) when set;
    /// otherwise `WORKER_<QUEUE>_ATTEMPTS` (default 3) and `WORKER_<QUEUE>_BACKOFF_MS` (default
    /// 2000).
    pub fn from_env(env: &Env, queue: QueueName) -> Result<Self, ConfigError> {
        let var = format!(
            "WORKER_{}_RETRY_SCHEDULE",
            queue.as_str().to_ascii_uppercase()
        );
        if let Some(text) = env.optional(&var) {
            return Self::schedule_from(&var, &text);
        }
        Ok(Self {
            attempts: job_attempts(env, queue)?,
            backoff_base: job_backoff(env, queue)?,
            schedule: Vec::new(),
        })
    }

    /// A schedule read from `var`: 1 to 19 delays, each from 100 ms to 24 h.
    pub fn schedule_from(var: &str, text: &str) -> Result<Self, ConfigError> {
        let error = |reason: String| ConfigError {
            var: var.to_owned(),
            value: text.to_owned(),
            reason,
        };
        let schedule = parse_durations(text).map_err(error)?;
        if schedule.is_empty() || schedule.len() > MAX_SCHEDULE_LEN {
            return Err(error(format!("must list 1 to {MAX_SCHEDULE_LEN} delays")));
        }
        if let Some(bad) = schedule
            .iter()
            .find(|d| **d < Duration::from_millis(100) || **d > Duration::from_secs(86_400))
        {
            return Err(error(format!(
                "each delay must be between 100ms and 24h, not {bad:?}"
            )));
        }
        Ok(Self::scheduled(schedule))
    }
}

/// Most delays a retry schedule may list (attempts are at most 20).
pub const MAX_SCHEDULE_LEN: usize = 19;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub core: CoreConfig,
    pub queue: QueueName,
    /// Jobs run at once by this process (and the broker's prefetch).
    pub concurrency: u16,
    pub retry: RetryPolicy,
    /// `JOB_LEASE_SECONDS`: how long a job stays a dead worker's before another may take it.
    /// A live worker renews its leases every third of this.
    pub lease_ttl: Duration,
    /// `WORKER_HEARTBEAT_MS`: how often the worker reports itself; it is shown as gone after
    /// three missed heartbeats.
    pub heartbeat: Duration,
    /// Where `/healthz`, `/readyz` and `/metrics` listen (`HOST`, `WORKER_HTTP_PORT`); port 0
    /// picks a free one (tests).
    pub listen: String,
    pub database_max_connections: u32,
    /// `OUTBOX_RELAY`: whether this process also publishes outbox rows (continuations).
    pub run_outbox_relay: bool,
}

/// How long a message whose job is held by another worker waits before it is looked at again.
pub const DEFER_DELAY: Duration = Duration::from_secs(1);

impl WorkerSettings {
    pub fn from_env(env: &Env, queue: QueueName) -> Result<Self, ConfigError> {
        Ok(Self {
            core: CoreConfig::from_env(env)?,
            queue,
            concurrency: worker_concurrency(env, queue)?,
            retry: RetryPolicy::from_env(env, queue)?,
            lease_ttl: Duration::from_secs_f64(env.parse_in(
                "JOB_LEASE_SECONDS",
                30.0,
                1.0..=3600.0,
            )?),
            heartbeat: Duration::from_millis(env.parse_in(
                "WORKER_HEARTBEAT_MS",
                5000,
                100..=600_000,
            )?),
            listen: listen_addr(env, "WORKER_HTTP_PORT", 9101)?,
            database_max_connections: env.parse_in("DATABASE_MAX_CONNECTIONS", 10, 1..=1000)?,
            run_outbox_relay: env.parse("OUTBOX_RELAY", true)?,
        })
    }

    /// Every delay a message of this queue may wait in a wait queue: the retry delays and the
    /// short deferral.
    pub fn wait_delays(&self) -> Vec<Duration> {
        let mut delays = self.retry.delays();
        delays.push(DEFER_DELAY);
        delays.sort();
        delays.dedup();
        delays
    }

    /// The wait queue delay to use for a wait of `wanted`: the longest declared one not over it
    /// (the message is looked at again and waits more if needed), or the shortest.
    pub fn wait_bucket(&self, wanted: Duration) -> Duration {
        let delays = self.wait_delays();
        delays
            .iter()
            .rev()
            .find(|d| **d <= wanted)
            .or(delays.first())
            .copied()
            .unwrap_or(DEFER_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_backoff_doubles_from_two_seconds() {
        let settings = WorkerSettings::from_env(&Env::from_pairs([]), QueueName::Campaign).unwrap();
        assert_eq!(settings.retry.attempts, 3);
        assert_eq!(
            settings.retry.delays(),
            [Duration::from_secs(2), Duration::from_secs(4)]
        );
        let four = RetryPolicy {
            attempts: 4,
            backoff_base: Duration::from_secs(2),
            schedule: Vec::new(),
        };
        assert_eq!(
            four.delays(),
            [
                Duration::from_secs(2),
                Duration::from_secs(4),
                Duration::from_secs(8)
            ]
        );
        assert_eq!(
            settings.wait_bucket(Duration::from_millis(3500)),
            Duration::from_secs(2)
        );
        assert_eq!(
            settings.wait_bucket(Duration::from_millis(10)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn settings_are_per_queue() {
        let env = Env::from_pairs([
            ("WORKER_IMPORT_ATTEMPTS", "5"),
            ("WORKER_IMPORT_BACKOFF_MS", "500"),
        ]);
        let import = WorkerSettings::from_env(&env, QueueName::Import).unwrap();
        assert_eq!(import.retry.attempts, 5);
        assert_eq!(import.concurrency, 2);
        let campaign = WorkerSettings::from_env(&env, QueueName::Campaign).unwrap();
        assert_eq!(campaign.retry.attempts, 3);
        let err = WorkerSettings::from_env(
            &Env::from_pairs([("WORKER_IMPORT_ATTEMPTS", "0")]),
            QueueName::Import,
        )
        .unwrap_err();
        assert_eq!(err.var, "WORKER_IMPORT_ATTEMPTS");
    }

    #[test]
    fn an_explicit_schedule_sets_the_delays_and_the_wait_queues() {
        let env = Env::from_pairs([("WORKER_WEBHOOK_RETRY_SCHEDULE", "200ms,400ms,400ms")]);
        let settings = WorkerSettings::from_env(&env, QueueName::Webhook).unwrap();
        assert_eq!(settings.retry.attempts, 4);
        let ms = Duration::from_millis;
        assert_eq!(
            [1, 2, 3, 9].map(|a| settings.retry.delay_after(a)),
            [ms(200), ms(400), ms(400), ms(400)]
        );
        assert_eq!(settings.retry.delays(), [ms(200), ms(400)]);
        assert_eq!(settings.wait_delays(), [ms(200), ms(400), DEFER_DELAY]);
        let standard = RetryPolicy::schedule_from("X", "5s,5m,30m,2h,5h,10h,10h").unwrap();
        assert_eq!(standard.attempts, 8);
        assert_eq!(standard.delay_after(7), Duration::from_secs(36_000));
        for bad in ["", "5s,", "10ms", "2d", "fast"] {
            let err = WorkerSettings::from_env(
                &Env::from_pairs([("WORKER_WEBHOOK_RETRY_SCHEDULE", bad)]),
                QueueName::Webhook,
            );
            // An empty value is unset: the exponential default.
            if bad.is_empty() {
                assert!(err.unwrap().retry.schedule.is_empty());
            } else {
                assert_eq!(
                    err.unwrap_err().var,
                    "WORKER_WEBHOOK_RETRY_SCHEDULE",
                    "{bad}"
                );
            }
        }
    }
}
