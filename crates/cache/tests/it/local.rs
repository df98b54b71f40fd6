//! The in-process tier: kinds read on every request are answered without Redis, and an
//! invalidation on one replica reaches the others' tiers through pub/sub.

use std::time::Duration;

use cache::{Cache, CacheConfig, LocalTierConfig, RedisSettings};
use uuid::Uuid;

use crate::support::{Calls, PrincipalKey, Quotas, QuotasKey, REDIS_URL, TestCache};

type Result<T> = std::result::Result<T, std::sync::Arc<std::io::Error>>;

/// Reads `id` through `cache`, loading `value` on a miss.
async fn read(cache: &Cache, calls: &Calls, id: &str, value: Uuid) -> Option<Uuid> {
    cache
        .get_or_load(
            &PrincipalKey::key(id),
            calls.load::<Option<Uuid>, _>(Some(value)),
        )
        .await
        .map_err(|e: std::sync::Arc<std::io::Error>| e)
        .expect("read")
}

/// The subscriber connects in the background; the tier is used once it is subscribed.
async fn until_local_hit(cache: &Cache, calls: &Calls, id: &str, value: Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let before = cache.stats().local_hits;
    loop {
        read(cache, calls, id, value).await;
        if cache.stats().local_hits > before {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no local hit within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn warm_reads_of_a_local_kind_do_not_ask_redis() {
    let t = TestCache::new().await;
    let calls = Calls::default();
    let id = "hash-1";
    let value = Uuid::new_v4();
    until_local_hit(&t.cache, &calls, id, value).await;

    let before = t.cache.stats();
    for _ in 0..100 {
        assert_eq!(read(&t.cache, &calls, id, value).await, Some(value));
    }
    let after = t.cache.stats();
    assert_eq!(after.local_hits - before.local_hits, 100);
    assert_eq!(after.hits, before.hits, "no Redis read");
    assert_eq!(after.misses, before.misses);
    assert_eq!(calls.count(), 1, "one load in all");
}

#[tokio::test]
async fn an_invalidation_on_one_replica_empties_the_other_replicas_tier() {
    let t = TestCache::new().await;
    let other = t.replica().await;
    let (calls_a, calls_b) = (Calls::default(), Calls::default());
    let id = "hash-2";
    let old = Uuid::new_v4();
    until_local_hit(&t.cache, &calls_a, id, old).await;
    until_local_hit(&other, &calls_b, id, old).await;
    assert_eq!(
        calls_a.count() + calls_b.count(),
        1,
        "B read A's entry from Redis"
    );

    t.cache
        .invalidate(&PrincipalKey::key(id))
        .await
        .expect("invalidate");
    let new = Uuid::new_v4();
    // Pub/sub delivers in milliseconds; the guide's promise is one second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        if read(&other, &calls_b, id, new).await == Some(new) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica B still serves the invalidated entry after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A dropped its own entry at once.
    assert_eq!(read(&t.cache, &calls_a, id, new).await, Some(new));
}

#[tokio::test]
async fn tenant_invalidation_reaches_local_entries_filed_under_the_tenant() {
    let t = TestCache::new().await;
    let other = t.replica().await;
    let tenant = Uuid::new_v4();
    let calls = Calls::default();
    let key = || PrincipalKey::key("hash-3").for_tenant(tenant);
    let first = Uuid::new_v4();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while other.stats().local_hits == 0 {
        other
            .get_or_load(&key(), calls.load::<Option<Uuid>, _>(Some(first)))
            .await
            .map_err(|e: std::sync::Arc<std::io::Error>| e)
            .expect("read");
        assert!(tokio::time::Instant::now() < deadline, "no local hit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        t.cache.invalidate_tenant(tenant).await.expect("invalidate"),
        1
    );
    let second = Uuid::new_v4();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let value = other
            .get_or_load(&key(), calls.load::<Option<Uuid>, _>(Some(second)))
            .await
            .map_err(|e: std::sync::Arc<std::io::Error>| e)
            .expect("read");
        if value == Some(second) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still the old entry"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn kinds_not_configured_as_local_always_ask_redis() {
    let t = TestCache::new().await;
    let calls = Calls::default();
    let key = QuotasKey::key(&Uuid::new_v4());
    let quotas = Quotas {
        messages_per_day: 5,
    };
    for _ in 0..3 {
        let got: Result<Option<Quotas>> = t
            .cache
            .get_or_load(&key, calls.load(Some(quotas.clone())))
            .await;
        assert_eq!(got.expect("read"), Some(quotas.clone()));
    }
    let stats = t.cache.stats();
    assert_eq!(stats.local_hits, 0);
    assert_eq!(stats.hits, 2);
}

#[tokio::test]
async fn a_disabled_tier_keeps_nothing_in_process() {
    let config = CacheConfig {
        local: LocalTierConfig::disabled(),
        key_prefix: format!("test:{}:", Uuid::new_v4()),
        timeout: Duration::from_secs(2),
        ..CacheConfig::default()
    };
    let cache = Cache::connect(&RedisSettings::single(REDIS_URL), config)
        .await
        .expect("cache");
    let calls = Calls::default();
    let id = format!("hash-{}", Uuid::new_v4());
    let value = Uuid::new_v4();
    for _ in 0..3 {
        read(&cache, &calls, &id, value).await;
    }
    assert_eq!(cache.stats().local_hits, 0);
    assert_eq!(cache.stats().hits, 2);
    cache
        .invalidate(&PrincipalKey::key(&id))
        .await
        .expect("clean up");
}

#[test]
fn local_tier_settings_are_read_and_checked() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |var: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let default = LocalTierConfig::from_env(env(&[])).expect("defaults");
    assert_eq!(default, LocalTierConfig::default());
    assert!(default.enabled());
    let off = LocalTierConfig::from_env(env(&[("CACHE_LOCAL_TTL_SECS", "0")])).expect("off");
    assert!(!off.enabled());
    let kinds =
        LocalTierConfig::from_env(env(&[("CACHE_LOCAL_KINDS", "api_key_principal, branding")]))
            .expect("kinds");
    assert_eq!(kinds.kinds.len(), 2);
    let err = LocalTierConfig::from_env(env(&[("CACHE_LOCAL_KINDS", "sessions")])).unwrap_err();
    assert_eq!(err.var, "CACHE_LOCAL_KINDS");
    assert!(err.reason.contains("`sessions`"), "{err}");
}
