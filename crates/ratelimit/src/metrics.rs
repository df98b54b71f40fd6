//! Counters: Prometheus-style ones through the `metrics` facade, plus the same totals per
//! [`RateLimiter`](crate::RateLimiter) handle for tests and diagnostics.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Unit, counter, describe_counter};

use crate::decision::{Decision, Source};

pub const REQUESTS: &str = "rate_limit_requests_total";
pub const FALLBACK_DECISIONS: &str = "rate_limit_fallback_decisions_total";
pub const REDIS_ERRORS: &str = "rate_limit_redis_errors_total";

/// Registers the descriptions of the limiter's metrics with the installed recorder. Building a
/// [`RateLimiter`](crate::RateLimiter) does it too; call it again if the recorder is installed
/// later.
pub fn describe_metrics() {
    describe_counter!(
        REQUESTS,
        Unit::Count,
        "Rate limit decisions (labels plan, decision = allowed | limited)"
    );
    describe_counter!(
        FALLBACK_DECISIONS,
        Unit::Count,
        "Rate limit decisions made in process because Redis was unavailable (labels plan, decision)"
    );
    describe_counter!(
        REDIS_ERRORS,
        Unit::Count,
        "Rate limit checks Redis failed (label kind = timeout | error | reply)"
    );
}

/// Why Redis could not decide, the `kind` label of `rate_limit_redis_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisErrorKind {
    Timeout,
    Error,
    /// The script answered something other than its four integers.
    Reply,
}

impl RedisErrorKind {
    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Reply => "reply",
        }
    }
}

/// Totals of one [`RateLimiter`](crate::RateLimiter) and its clones, over all tenants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    pub allowed: u64,
    pub limited: u64,
    pub redis_decisions: u64,
    pub fallback_decisions: u64,
    /// Redis calls that did not answer within the timeout.
    pub redis_timeouts: u64,
    /// Redis calls that failed or answered something unusable.
    pub redis_errors: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    allowed: AtomicU64,
    limited: AtomicU64,
    redis_decisions: AtomicU64,
    fallback_decisions: AtomicU64,
    redis_timeouts: AtomicU64,
    redis_errors: AtomicU64,
}

fn decision_label(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "limited" }
}

impl Counters {
    pub(crate) fn decision(&self, decision: &Decision) {
        let plan = decision.plan.as_str();
        let label = decision_label(decision.allowed);
        let total = if decision.allowed {
            &self.allowed
        } else {
            &self.limited
        };
        total.fetch_add(1, Ordering::Relaxed);
        counter!(REQUESTS, "plan" => plan, "decision" => label).increment(1);
        match decision.source {
            Source::Redis => {
                self.redis_decisions.fetch_add(1, Ordering::Relaxed);
            }
            Source::Fallback => {
                self.fallback_decisions.fetch_add(1, Ordering::Relaxed);
                counter!(FALLBACK_DECISIONS, "plan" => plan, "decision" => label).increment(1);
            }
        }
    }

    pub(crate) fn redis_error(&self, kind: RedisErrorKind) {
        let total = match kind {
            RedisErrorKind::Timeout => &self.redis_timeouts,
            RedisErrorKind::Error | RedisErrorKind::Reply => &self.redis_errors,
        };
        total.fetch_add(1, Ordering::Relaxed);
        counter!(REDIS_ERRORS, "kind" => kind.label()).increment(1);
    }

    pub(crate) fn snapshot(&self) -> LimiterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LimiterStats {
            allowed: get(&self.allowed),
            limited: get(&self.limited),
            redis_decisions: get(&self.redis_decisions),
            fallback_decisions: get(&self.fallback_decisions),
            redis_timeouts: get(&self.redis_timeouts),
            redis_errors: get(&self.redis_errors),
        }
    }
}
