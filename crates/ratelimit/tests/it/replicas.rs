//! Two gateway replicas (two limiters, two Redis connections) share one bucket per tenant.

use std::time::Duration;

use chrono::Utc;
use common::clock::Clock;
use common::{Plan, TenantId};
use futures_util::future::join_all;
use ratelimit::{RateLimiter, Source};

use crate::support::{SharedRedis, limit};

/// Fires `total` checks for `tenant` at once, alternating between `limiters`; how many passed.
pub async fn admitted_at_once(limiters: &[RateLimiter], tenant: TenantId, total: usize) -> usize {
    // One request a minute: nothing refills while the burst is being fired.
    let plan = limit(1, 50);
    let checks = (0..total).map(|i| {
        let limiter = limiters[i % limiters.len()].clone();
        tokio::spawn(async move { limiter.check(tenant, Plan::Pro, plan).await })
    });
    let decisions: Vec<_> = join_all(checks)
        .await
        .into_iter()
        .map(|joined| joined.expect("check task"))
        .collect();
    assert!(
        decisions.iter().all(|d| d.source == Source::Redis),
        "some decisions did not come from Redis"
    );
    decisions.iter().filter(|d| d.allowed).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_through_two_replicas_admit_exactly_the_burst() {
    let redis = SharedRedis::new();
    let replicas = [redis.limiter().await, redis.limiter().await];
    for _ in 0..3 {
        let tenant = TenantId::new();
        assert_eq!(admitted_at_once(&replicas, tenant, 100).await, 50);
    }
    let stats: Vec<_> = replicas.iter().map(RateLimiter::stats).collect();
    assert_eq!(stats.iter().map(|s| s.allowed).sum::<u64>(), 150);
    assert_eq!(stats.iter().map(|s| s.limited).sum::<u64>(), 150);
    // Both replicas took part in admitting.
    assert!(stats.iter().all(|s| s.allowed > 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_refills_at_the_plans_rate_whichever_replica_is_asked() {
    let redis = SharedRedis::new();
    let clock = Clock::manual(Utc::now());
    let replicas = [
        redis.limiter_at(&clock).await,
        redis.limiter_at(&clock).await,
    ];
    let tenant = TenantId::new();
    // One request a second, twenty at once (the pro plan's shape in the gateway's test).
    let plan = limit(60, 20);
    let fire = |count: usize| {
        let checks = (0..count).map(|i| replicas[i % 2].check(tenant, Plan::Pro, plan));
        async move {
            join_all(checks)
                .await
                .iter()
                .filter(|decision| decision.allowed)
                .count()
        }
    };
    assert_eq!(fire(30).await, 20, "the burst, across both replicas");
    clock.advance(Duration::from_millis(2_500));
    assert_eq!(fire(6).await, 2, "2.5 s refill two requests");
    clock.advance(Duration::from_millis(500));
    assert_eq!(
        fire(6).await,
        1,
        "and the half second left over makes a third"
    );
}
