//! The exported counters: every read counts once, as a hit of the tier that answered it or as
//! a miss, so the guide's `redis_cache_hits_total / (hits + misses)` is the cache's hit rate.

use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use uuid::Uuid;

use crate::support::{Branding, BrandingKey, Calls, PrincipalKey, TestCache};

type LoadError = std::sync::Arc<std::io::Error>;

/// The value of one series in the recorder's Prometheus text, 0 when absent.
fn series(recorder: &PrometheusRecorder, name: &str) -> u64 {
    recorder
        .handle()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `test` on a runtime of its own with `recorder` as this thread's recorder, so the test
/// sees exactly the counts of its own reads.
fn recorded<F: Future<Output = ()>>(recorder: &PrometheusRecorder, test: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(recorder, || runtime.block_on(test()));
}

#[test]
fn a_miss_then_a_redis_hit_count_once_each() {
    let recorder = PrometheusBuilder::new().build_recorder();
    recorded(&recorder, || async {
        let t = TestCache::new().await;
        let calls = Calls::default();
        let key = BrandingKey::key(&Uuid::new_v4());
        for _ in 0..2 {
            let read: Result<_, LoadError> = t
                .cache
                .get_or_load(&key, calls.load(Some(Branding::named("Acme"))))
                .await;
            read.expect("read");
        }
    });
    let branding = |metric: &str| series(&recorder, &format!("{metric}{{key_type=\"branding\"}}"));
    assert_eq!(branding("redis_cache_misses_total"), 1);
    assert_eq!(
        series(
            &recorder,
            r#"redis_cache_hits_total{key_type="branding",tier="redis"}"#
        ),
        1
    );
    assert_eq!(
        series(
            &recorder,
            r#"redis_cache_hits_total{key_type="branding",tier="local"}"#
        ),
        0,
        "branding is not held in process here"
    );
}

#[test]
fn local_hits_are_hits_and_every_read_counts_once() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let mut reads = 0;
    let mut stats = None;
    recorded(&recorder, || async {
        let t = TestCache::new().await;
        let calls = Calls::default();
        let key = PrincipalKey::key("metrics-hash");
        let value = Uuid::new_v4();
        // The tier answers once its subscriber is connected (in the background); read until
        // it has answered a few times.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while t.cache.stats().local_hits < 3 {
            let read: Result<_, LoadError> =
                t.cache.get_or_load(&key, calls.load(Some(value))).await;
            assert_eq!(read.expect("read"), Some(value));
            reads += 1;
            assert!(
                tokio::time::Instant::now() < deadline,
                "no local hits in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stats = Some(t.cache.stats());
    });
    let stats = stats.expect("stats");
    let principal = |labels: &str| series(&recorder, &format!("redis_cache_{labels}"));
    let local = principal(r#"hits_total{key_type="api_key_principal",tier="local"}"#);
    let redis = principal(r#"hits_total{key_type="api_key_principal",tier="redis"}"#);
    let misses = principal(r#"misses_total{key_type="api_key_principal"}"#);
    assert_eq!(misses, 1, "the first read");
    assert!(local >= 3);
    assert_eq!(
        (local, redis, misses),
        (stats.local_hits, stats.hits, stats.misses)
    );
    assert_eq!(local + redis + misses, reads, "each read counted once");
}
