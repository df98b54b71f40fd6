use std::convert::Infallible;
use std::net::TcpListener;
use std::time::Duration;

use cache::{Cache, CacheConfig, RedisSettings};
use fred::interfaces::ClientLike;
use fred::types::Builder;
use fred::types::config::Config;
use uuid::Uuid;

use crate::support::{Branding, BrandingKey, Calls};

/// Ample for a call bounded by a 50 ms command timeout; only there so a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(2);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn redis_down_at_start_is_not_an_error_and_reads_fall_back_to_the_loader() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let cache = Cache::connect(&RedisSettings::single(url), CacheConfig::default())
        .await
        .expect("connecting is not a start-up requirement");
    let calls = Calls::default();

    for _ in 0..2 {
        let key = BrandingKey::key(&Uuid::new_v4());
        let value = tokio::time::timeout(
            DEADLINE,
            cache.get_or_load(
                &key,
                calls.load::<_, Infallible>(Some(Branding::named("db"))),
            ),
        )
        .await
        .expect("bounded by the command timeout");
        assert_eq!(value, Ok(Some(Branding::named("db"))));
    }

    assert_eq!(calls.count(), 2);
    let stats = cache.stats();
    assert_eq!(stats.fallbacks, 2);
    assert_eq!(stats.timeouts + stats.redis_errors, 2);
    assert_eq!(stats.hits + stats.misses, 0);
}

#[tokio::test]
async fn a_redis_that_never_answers_times_out_and_reads_fall_back_to_the_loader() {
    // Accepts connections (the kernel completes them) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let client = Builder::from_config(Config::from_url(&url).unwrap())
        .build()
        .unwrap();
    client.connect();
    let cache = Cache::from_client(client, CacheConfig::default());
    let key = BrandingKey::key(&Uuid::new_v4());
    let calls = Calls::default();

    let value = tokio::time::timeout(
        DEADLINE,
        cache.get_or_load(
            &key,
            calls.load::<_, Infallible>(Some(Branding::named("db"))),
        ),
    )
    .await
    .expect("bounded by the command timeout");

    assert_eq!(value, Ok(Some(Branding::named("db"))));
    assert_eq!(calls.count(), 1);
    let stats = cache.stats();
    assert_eq!(stats.fallbacks, 1);
    assert_eq!(stats.timeouts, 1);
    let invalidated = tokio::time::timeout(DEADLINE, cache.invalidate(&key))
        .await
        .unwrap();
    assert!(invalidated.is_err(), "invalidation reports the failure");
    drop(silent);
}
