//! The bucket's arithmetic as Redis applies it: burst, refill, isolation, plan changes, and
//! whatever else may be found under a tenant's key.

use std::time::Duration;

use chrono::Utc;
use common::clock::Clock;
use common::{Plan, TenantId};
use fred::interfaces::{HashesInterface, KeysInterface};
use fred::types::Expiration;
use ratelimit::Source;

use crate::support::{REDIS_URL, SharedRedis, connect_url, limit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_passes_at_once_then_requests_pass_at_the_sustained_rate() {
    let redis = SharedRedis::new();
    // The shared bucket decides at this clock's time: the refill is stepped, not slept.
    let clock = Clock::manual(Utc::now());
    let limiter = redis.limiter_at(&clock).await;
    let tenant = TenantId::new();
    // One request a second, five at once.
    let plan = limit(60, 5);

    let mut remaining = Vec::new();
    for _ in 0..5 {
        let decision = limiter.check(tenant, Plan::Free, plan).await;
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.source, Source::Redis);
        assert_eq!(decision.retry_after, Duration::ZERO);
        remaining.push(decision.remaining);
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);

    // The bucket is empty: the next request comes back one interval (a second) after the
    // first one was charged, and the bucket is full again five intervals after it.
    let refused = limiter.check(tenant, Plan::Free, plan).await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_eq!(refused.retry_after, Duration::from_secs(1), "{refused:?}");
    assert_eq!(refused.reset_after, Duration::from_secs(5), "{refused:?}");
    assert_eq!(refused.retry_after_secs(), 1);

    // A moment too early is still refused; at the interval, one request passes.
    clock.advance(Duration::from_millis(999));
    assert!(!limiter.check(tenant, Plan::Free, plan).await.allowed);
    clock.advance(Duration::from_millis(1));
    let again = limiter.check(tenant, Plan::Free, plan).await;
    assert!(again.allowed, "{again:?}");
    assert_eq!(again.remaining, 0);
    assert!(!limiter.check(tenant, Plan::Free, plan).await.allowed);

    // Two and a half intervals later, two more.
    clock.advance(Duration::from_millis(2_500));
    let later: Vec<bool> =
        futures_util::future::join_all((0..6).map(|_| limiter.check(tenant, Plan::Free, plan)))
            .await
            .iter()
            .map(|d| d.allowed)
            .collect();
    assert_eq!(later.iter().filter(|allowed| **allowed).count(), 2);

    let stats = limiter.stats();
    assert_eq!((stats.allowed, stats.limited), (8, 7));
    assert_eq!(stats.redis_decisions, 15);
    assert_eq!(stats.fallback_decisions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_holds_the_tat_in_microseconds_and_expires_when_the_bucket_is_full() {
    let redis = SharedRedis::new();
    let limiter = redis.limiter().await;
    let tenant = TenantId::new();
    let key = limiter.key(tenant);
    assert_eq!(key, format!("{}ratelimit:{tenant}", redis.prefix));

    for _ in 0..3 {
        assert!(
            limiter
                .check(tenant, Plan::Pro, limit(60, 10))
                .await
                .allowed
        );
    }
    let client = connect_url(REDIS_URL).await;
    let tat: String = client.get(&key).await.unwrap();
    let tat_us: u64 = tat.parse().expect("a whole number of microseconds");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    // Three seconds charged (one per request), from a moment ago; the two clocks (this
    // process', Redis') are the same machine's.
    let ahead = Duration::from_micros(tat_us.saturating_sub(now_us));
    assert!(
        ahead > Duration::from_millis(2_000) && ahead <= Duration::from_secs(3),
        "{ahead:?}"
    );
    let pttl: i64 = client.pttl(&key).await.unwrap();
    assert!(pttl > 2_000 && pttl <= 3_000, "PTTL {pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_exhausting_its_bucket_leaves_another_untouched() {
    let redis = SharedRedis::new();
    let limiter = redis.limiter().await;
    let (greedy, quiet) = (TenantId::new(), TenantId::new());
    let plan = limit(1, 20);

    let mut admitted = 0;
    for _ in 0..30 {
        admitted += u32::from(limiter.check(greedy, Plan::Pro, plan).await.allowed);
    }
    assert_eq!(admitted, 20);

    let mut quiet_remaining = Vec::new();
    for _ in 0..20 {
        let decision = limiter.check(quiet, Plan::Pro, plan).await;
        assert!(decision.allowed, "{decision:?}");
        quiet_remaining.push(decision.remaining);
    }
    assert_eq!(quiet_remaining.first(), Some(&19));
    assert_eq!(quiet_remaining.last(), Some(&0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_is_judged_by_the_new_limit_from_the_next_request() {
    let redis = SharedRedis::new();
    let limiter = redis.limiter().await;
    let tenant = TenantId::new();
    // Three at once, one a second: exhausted, and three seconds from full.
    let small = limit(60, 3);
    for _ in 0..3 {
        assert!(limiter.check(tenant, Plan::Free, small).await.allowed);
    }
    assert!(!limiter.check(tenant, Plan::Free, small).await.allowed);

    // Upgraded: 100 at once, ten a second, so the bucket holds ten seconds. The three seconds
    // already used are thirty of its requests; this one is the 31st.
    let large = limit(600, 100);
    let upgraded = limiter.check(tenant, Plan::Pro, large).await;
    assert!(upgraded.allowed, "{upgraded:?}");
    assert!((69..=70).contains(&upgraded.remaining), "{upgraded:?}");
    assert_eq!(upgraded.limit, large);
    assert_eq!(upgraded.plan, Plan::Pro);
    let mut admitted = 1;
    while limiter.check(tenant, Plan::Pro, large).await.allowed {
        admitted += 1;
        assert!(admitted <= 80, "the new burst is not enforced");
    }
    assert!((70..=75).contains(&admitted), "{admitted}");

    // Downgraded again while ten seconds from full: more than the small bucket can hold, so
    // it is merely empty and the next request waits one small interval, not ten seconds.
    let downgraded = limiter.check(tenant, Plan::Free, small).await;
    assert!(!downgraded.allowed);
    assert!(
        downgraded.retry_after <= Duration::from_secs(1),
        "{downgraded:?}"
    );
    assert!(
        downgraded.reset_after <= Duration::from_secs(4),
        "{downgraded:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_unreadable_at_the_key_counts_as_a_full_bucket() {
    let redis = SharedRedis::new();
    let limiter = redis.limiter().await;
    let client = connect_url(REDIS_URL).await;
    let plan = limit(60, 5);

    for garbage in ["not a number", "nan", "inf", "-inf", "12abc", ""] {
        let tenant = TenantId::new();
        let () = client
            .set(
                limiter.key(tenant),
                garbage,
                Some(Expiration::EX(60)),
                None,
                false,
            )
            .await
            .unwrap();
        let decision = limiter.check(tenant, Plan::Free, plan).await;
        assert!(decision.allowed, "{garbage:?}: {decision:?}");
        assert_eq!(decision.remaining, 4, "{garbage:?}");
        assert_eq!(decision.source, Source::Redis, "{garbage:?}");
        // Replaced by a TAT of its own.
        let stored: String = client.get(limiter.key(tenant)).await.unwrap();
        assert!(stored.parse::<u64>().is_ok(), "{garbage:?} left {stored:?}");
    }

    // A key of another type.
    let tenant = TenantId::new();
    let () = client
        .hset(limiter.key(tenant), ("field", "value"))
        .await
        .unwrap();
    let decision = limiter.check(tenant, Plan::Free, plan).await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.remaining, 4);

    // A number far in the future (not one this limiter would write): an empty bucket, not a
    // debt of years, and it is given an expiry.
    let tenant = TenantId::new();
    let () = client
        .set(limiter.key(tenant), "9e15", None, None, false)
        .await
        .unwrap();
    let decision = limiter.check(tenant, Plan::Free, plan).await;
    assert!(!decision.allowed);
    assert!(
        decision.retry_after <= Duration::from_secs(1),
        "{decision:?}"
    );
    let pttl: i64 = client.pttl(limiter.key(tenant)).await.unwrap();
    assert!(pttl > 0 && pttl <= 5_000, "PTTL {pttl}");

    assert_eq!(limiter.stats().redis_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_renders_as_429_headers_and_body() {
    let redis = SharedRedis::new();
    let limiter = redis.limiter().await;
    let tenant = TenantId::new();
    let plan = limit(30, 1);
    let allowed = limiter.check(tenant, Plan::Enterprise, plan).await;
    let headers = allowed.headers();
    assert!(headers.contains(&("X-RateLimit-Limit", "30".to_owned())));
    assert!(headers.contains(&("X-RateLimit-Remaining", "0".to_owned())));
    assert!(headers.contains(&("RateLimit-Policy", "\"enterprise\";q=30;w=60".to_owned())));
    assert!(headers.contains(&("RateLimit", "\"enterprise\";r=0;t=2".to_owned())));
    assert!(headers.iter().all(|(name, _)| *name != "Retry-After"));

    // Two seconds per request.
    let refused = limiter.check(tenant, Plan::Enterprise, plan).await;
    assert!(!refused.allowed);
    let headers = refused.headers();
    assert!(
        headers.contains(&("Retry-After", "2".to_owned())),
        "{headers:?}"
    );
    assert!(headers.contains(&("RateLimit", "\"enterprise\";r=0;t=2".to_owned())));
    assert_eq!(
        refused.exceeded_body(),
        r#"{"success":false,"error":"Rate limit exceeded","retryAfter":2}"#
    );
    let reset: u64 = headers
        .iter()
        .find(|(name, _)| *name == "X-RateLimit-Reset")
        .map(|(_, value)| value.parse().unwrap())
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now && reset <= now + 5, "reset {reset}, now {now}");
}
