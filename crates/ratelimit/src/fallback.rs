//! The in-process limiter that decides while Redis cannot: `governor`'s keyed GCRA, with this
//! replica's share of each plan's limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use common::TenantId;
use common::config::PlanLimit;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::gcra::Outcome;

type KeyedLimiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// How often (in fallback decisions) the buckets of idle tenants are dropped, so a long outage
/// does not keep one entry per tenant ever seen.
const PRUNE_EVERY: u64 = 4096;

/// One replica's share of a limit: requests per minute and burst each divided by the replica
/// count, rounded up, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Share {
    pub(crate) per_minute: u32,
    pub(crate) burst: u32,
}

impl Share {
    pub(crate) fn of(limit: PlanLimit, replicas: u32) -> Self {
        let replicas = replicas.max(1);
        Self {
            per_minute: limit.per_minute.div_ceil(replicas).max(1),
            burst: limit.burst.div_ceil(replicas).max(1),
        }
    }

    fn quota(self) -> Quota {
        let interval = Duration::from_secs(60) / self.per_minute;
        // The interval is at least 13 ns (a minute over u32::MAX), never zero.
        Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN))
    }
}

/// Keyed by tenant for the API's limits, by name for others (sign-in attempts).
pub(crate) struct Fallback<K: Hash + Eq + Clone = TenantId> {
    replicas: u32,
    /// One keyed limiter per distinct share: plans differ in quota, and a governor limiter has
    /// one. Created on first use, so a Redis that never fails costs nothing here.
    limiters: RwLock<HashMap<Share, Arc<KeyedLimiter<K>>>>,
    decisions: AtomicU64,
}

impl<K: Hash + Eq + Clone> Fallback<K> {
    pub(crate) fn new(replicas: u32) -> Self {
        Self {
            replicas: replicas.max(1),
            limiters: RwLock::default(),
            decisions: AtomicU64::new(0),
        }
    }

    pub(crate) fn check(&self, key: K, limit: PlanLimit) -> Outcome {
        let share = Share::of(limit, self.replicas);
        let limiter = self.limiter(share);
        let quota = share.quota();
        let interval = quota.replenish_interval();
        let outcome = match limiter.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Outcome {
                    allowed: true,
                    remaining,
                    retry_after: Duration::ZERO,
                    // governor does not expose its TAT: this is the upper bound of what the
                    // remaining count implies, off by less than one interval.
                    reset_after: interval * share.burst.saturating_sub(remaining),
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(limiter.clock().now());
                Outcome {
                    allowed: false,
                    remaining: 0,
                    retry_after,
                    reset_after: retry_after + interval * (share.burst - 1),
                }
            }
        };
        if self.decisions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        outcome
    }

    fn limiter(&self, share: Share) -> Arc<KeyedLimiter<K>> {
        // Nothing panics while the lock is held, so a poisoned map is still a whole one.
        if let Some(limiter) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&share)
        {
            return limiter.clone();
        }
        self.limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(share)
            .or_insert_with(|| {
                Arc::new(
                    RateLimiter::dashmap(share.quota())
                        .with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }

    fn prune(&self) {
        let limiters: Vec<_> = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_replica_gets_its_share_rounded_up() {
        let pro = PlanLimit {
            per_minute: 500,
            burst: 750,
        };
        assert_eq!(
            Share::of(pro, 1),
            Share {
                per_minute: 500,
                burst: 750
            }
        );
        assert_eq!(
            Share::of(pro, 3),
            Share {
                per_minute: 167,
                burst: 250
            }
        );
        let tiny = PlanLimit {
            per_minute: 1,
            burst: 1,
        };
        assert_eq!(
            Share::of(tiny, 8),
            Share {
                per_minute: 1,
                burst: 1
            }
        );
        assert_eq!(Share::of(pro, 0), Share::of(pro, 1));
    }

    #[test]
    fn the_share_is_enforced_per_tenant() {
        let fallback = Fallback::new(2);
        let limit = PlanLimit {
            per_minute: 60,
            burst: 10,
        };
        let (tenant, other) = (TenantId::new(), TenantId::new());
        let remaining: Vec<_> = (0..5)
            .map(|_| fallback.check(tenant, limit))
            .map(|outcome| {
                assert!(outcome.allowed);
                outcome.remaining
            })
            .collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0]);

        let refused = fallback.check(tenant, limit);
        assert!(!refused.allowed);
        // Two seconds per request for this replica (30 a minute); the first of the five has
        // been coming back for a moment already.
        assert!(refused.retry_after <= Duration::from_secs(2));
        assert!(refused.retry_after > Duration::from_secs(1));
        assert!(refused.reset_after >= Duration::from_secs(9));

        assert!(fallback.check(other, limit).allowed);
    }

    #[test]
    fn plans_with_different_limits_get_their_own_quota() {
        let fallback = Fallback::new(1);
        let tenant = TenantId::new();
        let small = PlanLimit {
            per_minute: 60,
            burst: 1,
        };
        let large = PlanLimit {
            per_minute: 600,
            burst: 20,
        };
        assert!(fallback.check(tenant, small).allowed);
        assert!(!fallback.check(tenant, small).allowed);
        assert_eq!(fallback.check(tenant, large).remaining, 19);
        assert_eq!(fallback.limiters.read().unwrap().len(), 2);
    }
}
