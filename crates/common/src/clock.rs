//! The time a component reads, injected so that tests step it instead of sleeping.
//!
//! Production code holds a [`Clock::system`] (the default) and reads [`Clock::now`] where it
//! would call `Utc::now()`. A test builds a [`Clock::manual`] at a fixed instant, hands it to
//! the component under test, and moves it with [`Clock::advance`]: a refill, an expiry or a
//! window opening is then reached at once and exactly, not after a sleep that may be too short
//! on a loaded machine. Clones share one manual time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Where the current time comes from. Cheap to clone.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock; otherwise the time a test set, shared by every clone.
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands at `start` until a test moves it.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(time) => *time.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Whether a test drives this clock (components that otherwise read another clock, such as
    /// Redis' `TIME`, then read this one).
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Moves a manual clock forward by `by`.
    ///
    /// # Panics
    /// On the system clock: real time cannot be stepped, and a test that tries has a bug.
    pub fn advance(&self, by: Duration) {
        let time = self
            .manual
            .as_ref()
            .expect("only a manual clock can be advanced");
        let by = TimeDelta::from_std(by).expect("a step of a sane size");
        *time.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_advanced_and_its_clones_share_it() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let clone = clock.clone();
        assert_eq!(clock.now(), start);
        clone.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now(), start + TimeDelta::milliseconds(1_500));
        assert!(clock.is_manual());
        assert!(!Clock::system().is_manual());
    }

    #[test]
    #[should_panic(expected = "only a manual clock")]
    fn the_system_clock_cannot_be_stepped() {
        Clock::system().advance(Duration::from_secs(1));
    }
}
