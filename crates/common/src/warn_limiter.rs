//! Keeping repeated warnings from flooding the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lets one warning through per interval and counts the rest: when Redis is down every request
/// fails the same way, and a warning per request would bury everything else in the log.
pub struct WarnLimiter {
    start: Instant,
    interval: Duration,
    /// Milliseconds after `start` of the last warning, plus one; zero for never.
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl WarnLimiter {
    pub fn new(interval: Duration) -> Self {
        Self {
            start: Instant::now(),
            interval,
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(number of warnings suppressed since the last one)` when this one may be logged.
    pub fn allow(&self) -> Option<u64> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last.load(Ordering::Relaxed);
        let interval = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        let due = last == 0 || now.saturating_sub(last) >= interval;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_and_the_rest_are_counted() {
        let warn = WarnLimiter::new(Duration::from_secs(3600));
        assert_eq!(warn.allow(), Some(0));
        assert_eq!(warn.allow(), None);
        assert_eq!(warn.allow(), None);
        let often = WarnLimiter::new(Duration::ZERO);
        assert_eq!(often.allow(), Some(0));
        assert_eq!(often.allow(), Some(0));
    }
}
