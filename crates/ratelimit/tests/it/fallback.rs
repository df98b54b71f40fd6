//! Redis going away and coming back, on a server of the test's own: decisions keep coming,
//! from this process' limiter with its share of the limit, and return to Redis by themselves.

use std::time::Duration;

use common::{Plan, TenantId};
use ratelimit::{LimiterConfig, RateLimiter, Source};

use testkit::redis_server::RedisServer;

use crate::support::{connect_url, eventually, limit};

async fn own_server() -> RedisServer {
    tokio::task::spawn_blocking(RedisServer::start)
        .await
        .expect("start redis-server")
}

fn config(timeout: Duration) -> LimiterConfig {
    LimiterConfig {
        redis_timeout: timeout,
        fallback_replicas: 2,
        ..LimiterConfig::default()
    }
    .with_key_prefix("fallback-test:")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_falls_back_to_this_replicas_share_and_recovers_by_itself() {
    let mut server = own_server().await;
    let limiter = RateLimiter::new(
        connect_url(&server.url()).await,
        config(Duration::from_secs(1)),
    );
    // Four requests a minute, ten at once; halved for two replicas: two a minute, five at once.
    let plan = limit(4, 10);

    let before = limiter.check(TenantId::new(), Plan::Pro, plan).await;
    assert_eq!(before.source, Source::Redis);
    assert!(before.allowed);

    tokio::task::block_in_place(|| server.stop());
    let tenant = TenantId::new();
    let decisions: Vec<_> = {
        let mut decisions = Vec::new();
        for _ in 0..10 {
            decisions.push(limiter.check(tenant, Plan::Pro, plan).await);
        }
        decisions
    };
    assert!(
        decisions.iter().all(|d| d.source == Source::Fallback),
        "{decisions:?}"
    );
    let admitted: Vec<_> = decisions.iter().map(|d| d.allowed).collect();
    assert_eq!(
        admitted,
        [
            true, true, true, true, true, false, false, false, false, false
        ]
    );
    assert_eq!(decisions[0].remaining, 4);
    assert!(!decisions[5].allowed);
    // Half the plan's rate: 30 s per request, not the plan's 15 s.
    assert!(
        decisions[5].retry_after > Duration::from_secs(25),
        "{:?}",
        decisions[5]
    );
    // The client's limit is still the plan's, in the headers too.
    assert_eq!(decisions[5].limit, plan);

    let stats = limiter.stats();
    assert_eq!(stats.fallback_decisions, 10);
    assert_eq!(stats.redis_decisions, 1);
    assert_eq!((stats.allowed, stats.limited), (6, 5));

    // Back on the same port: the client reconnects in the background, the script is loaded
    // again (a restarted server knows no scripts), and Redis decides again.
    tokio::task::block_in_place(|| server.restart());
    let recovered = eventually(Duration::from_secs(10), || async {
        limiter.check(TenantId::new(), Plan::Pro, plan).await.source == Source::Redis
    })
    .await;
    assert!(
        recovered,
        "decisions did not return to Redis: {:?}",
        limiter.stats()
    );
    // The shared bucket starts afresh: the fallback's own state does not leak into it.
    let fresh = limiter.check(tenant, Plan::Pro, plan).await;
    assert_eq!(fresh.source, Source::Redis);
    assert!(fresh.allowed);
    assert_eq!(fresh.remaining, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_does_not_answer_in_time_is_not_waited_for() {
    let server = own_server().await;
    let limiter = RateLimiter::new(
        connect_url(&server.url()).await,
        config(Duration::from_millis(50)),
    );
    let plan = limit(60, 10);
    let tenant = TenantId::new();
    assert_eq!(
        limiter.check(tenant, Plan::Free, plan).await.source,
        Source::Redis
    );

    // Connected, but stalled for two seconds.
    let paused = tokio::task::block_in_place(|| server.cli(&["CLIENT", "PAUSE", "2000", "ALL"]));
    assert_eq!(paused, "OK");
    let started = std::time::Instant::now();
    let decision = limiter.check(tenant, Plan::Free, plan).await;
    assert_eq!(decision.source, Source::Fallback);
    assert!(decision.allowed);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?} for a stalled Redis",
        started.elapsed()
    );
    let stats = limiter.stats();
    assert_eq!(stats.redis_timeouts, 1);
    assert_eq!(stats.fallback_decisions, 1);
}
