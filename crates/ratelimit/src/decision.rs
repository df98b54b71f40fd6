//! What one check decided, and how it is told to the client: response headers and the body of
//! a refused request. Plain strings, so this crate needs no web framework.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Plan;
use common::config::PlanLimit;

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The shared bucket in Redis: exact across every gateway replica.
    Redis,
    /// This process' own limiter, with its share of the plan's limit, because Redis was not
    /// connected, failed, or did not answer in time.
    Fallback,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Fallback => "fallback",
        }
    }
}

/// The outcome of one [`RateLimiter::check`](crate::RateLimiter::check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub plan: Plan,
    /// The limit the decision was made against (the plan's, as the caller passed it).
    pub limit: PlanLimit,
    /// Whole requests that would still pass right now, after this one.
    pub remaining: u32,
    /// How long until a request can pass again; zero when this one was allowed.
    pub retry_after: Duration,
    /// How long until the bucket is full again.
    pub reset_after: Duration,
    pub source: Source,
    /// This process' clock when the decision came back; the base of the epoch reset header.
    pub decided_at: SystemTime,
}

/// The `error` of [`exceeded_body`].
pub const EXCEEDED_MESSAGE: &str = "Rate limit exceeded";

/// The names [`Decision::headers`] may return, for a CORS `Access-Control-Expose-Headers`.
pub const HEADER_NAMES: [&str; 6] = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
    "Retry-After",
];

/// The body of a 429: `{"success":false,"error":"Rate limit exceeded","retryAfter":<seconds>}`.
pub fn exceeded_body(retry_after_secs: u64) -> String {
    format!(r#"{{"success":false,"error":"{EXCEEDED_MESSAGE}","retryAfter":{retry_after_secs}}}"#)
}

/// Whole seconds, any fraction counting as one more: a client that waits this long is not
/// turned away again for having come back a few milliseconds early.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl Decision {
    /// The `Retry-After` of a refused request: whole seconds rounded up, at least 1. Zero for
    /// an allowed one.
    pub fn retry_after_secs(&self) -> u64 {
        if self.allowed {
            0
        } else {
            ceil_secs(self.retry_after).max(1)
        }
    }

    /// Epoch seconds (rounded up) when the bucket is full again.
    pub fn reset_epoch_secs(&self) -> u64 {
        let full_at = self.decided_at + self.reset_after;
        full_at
            .duration_since(UNIX_EPOCH)
            .map(ceil_secs)
            .unwrap_or(0)
    }

    /// [`exceeded_body`] with this decision's retry-after.
    pub fn exceeded_body(&self) -> String {
        exceeded_body(self.retry_after_secs())
    }

    /// The response headers for this decision, as `(name, value)` pairs:
    ///
    /// - `X-RateLimit-Limit` (the plan's requests per minute), `X-RateLimit-Remaining`, and
    ///   `X-RateLimit-Reset` (epoch seconds when the bucket is full again), the de facto
    ///   convention clients already read;
    /// - `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers-11
    ///   (§3 and §4): Structured Field Lists of one Item named after the plan,
    ///   `RateLimit-Policy: "pro";q=500;w=60` (quota `q` in requests over window `w` seconds)
    ///   and `RateLimit: "pro";r=42;t=5` (available quota `r`, effective window `t` seconds).
    ///   `t` is the time until the bucket is full again, except on a refusal, where it is the
    ///   `Retry-After` value: §6 says Retry-After should not point earlier than the end of the
    ///   effective window, and no request passes before then anyway;
    /// - `Retry-After` (whole seconds, rounded up, at least 1) when the request was refused.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let policy = self.plan.as_str();
        let window_secs = if self.allowed {
            ceil_secs(self.reset_after)
        } else {
            self.retry_after_secs()
        };
        let mut headers = vec![
            ("X-RateLimit-Limit", self.limit.per_minute.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", self.reset_epoch_secs().to_string()),
            (
                "RateLimit-Policy",
                format!("\"{policy}\";q={};w=60", self.limit.per_minute),
            ),
            (
                "RateLimit",
                format!("\"{policy}\";r={};t={window_secs}", self.remaining),
            ),
        ];
        if !self.allowed {
            headers.push(("Retry-After", self.retry_after_secs().to_string()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRO: PlanLimit = PlanLimit {
        per_minute: 500,
        burst: 750,
    };

    fn at(epoch_ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(epoch_ms)
    }

    fn allowed() -> Decision {
        Decision {
            allowed: true,
            plan: Plan::Pro,
            limit: PRO,
            remaining: 742,
            retry_after: Duration::ZERO,
            reset_after: Duration::from_millis(960),
            source: Source::Redis,
            decided_at: at(1_700_000_000_500),
        }
    }

    fn limited(retry_after: Duration) -> Decision {
        Decision {
            allowed: false,
            remaining: 0,
            retry_after,
            reset_after: Duration::from_secs(90) + retry_after,
            ..allowed()
        }
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_allowed_request_gets_limit_remaining_reset_and_the_draft_fields() {
        let headers = allowed().headers();
        assert_eq!(header(&headers, "X-RateLimit-Limit"), Some("500"));
        assert_eq!(header(&headers, "X-RateLimit-Remaining"), Some("742"));
        // 1_700_000_000.5 s + 0.96 s = 1_700_000_001.46 s, rounded up.
        assert_eq!(header(&headers, "X-RateLimit-Reset"), Some("1700000002"));
        assert_eq!(
            header(&headers, "RateLimit-Policy"),
            Some("\"pro\";q=500;w=60")
        );
        assert_eq!(header(&headers, "RateLimit"), Some("\"pro\";r=742;t=1"));
        assert_eq!(header(&headers, "Retry-After"), None);
        assert_eq!(headers.len(), 5);
        assert!(headers.iter().all(|(name, _)| HEADER_NAMES.contains(name)));
    }

    #[test]
    fn a_refusal_adds_retry_after_rounded_up() {
        let decision = limited(Duration::from_millis(1_200));
        assert_eq!(decision.retry_after_secs(), 2);
        let headers = decision.headers();
        assert_eq!(header(&headers, "Retry-After"), Some("2"));
        assert_eq!(header(&headers, "X-RateLimit-Remaining"), Some("0"));
        assert_eq!(header(&headers, "RateLimit"), Some("\"pro\";r=0;t=2"));
        // 1_700_000_000.5 + 91.2 = 1_700_000_091.7, rounded up.
        assert_eq!(header(&headers, "X-RateLimit-Reset"), Some("1700000092"));
        assert_eq!(headers.len(), 6);
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_whole_seconds_stay_whole() {
        assert_eq!(limited(Duration::from_millis(1)).retry_after_secs(), 1);
        assert_eq!(limited(Duration::ZERO).retry_after_secs(), 1);
        assert_eq!(limited(Duration::from_secs(3)).retry_after_secs(), 3);
        assert_eq!(
            limited(Duration::from_nanos(3_000_000_001)).retry_after_secs(),
            4
        );
        assert_eq!(allowed().retry_after_secs(), 0);
    }

    #[test]
    fn the_policy_is_named_after_the_plan() {
        for (plan, name) in [
            (Plan::Free, "free"),
            (Plan::Pro, "pro"),
            (Plan::Enterprise, "enterprise"),
        ] {
            let decision = Decision { plan, ..allowed() };
            let headers = decision.headers();
            assert!(
                header(&headers, "RateLimit-Policy")
                    .unwrap()
                    .starts_with(&format!("\"{name}\";"))
            );
            assert!(
                header(&headers, "RateLimit")
                    .unwrap()
                    .starts_with(&format!("\"{name}\";"))
            );
        }
    }

    #[test]
    fn the_exceeded_body_is_the_documented_json() {
        assert_eq!(
            limited(Duration::from_millis(2_001)).exceeded_body(),
            r#"{"success":false,"error":"Rate limit exceeded","retryAfter":3}"#
        );
        assert_eq!(
            exceeded_body(1),
            r#"{"success":false,"error":"Rate limit exceeded","retryAfter":1}"#
        );
    }
}
