use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

use crate::support::{Branding, BrandingKey, Calls, TestCache};

/// How long the tests give spawned calls to reach their first await: far more than they need.
const SETTLE: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_run_the_loader_once() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let calls = Calls::default();

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cache = t.cache.clone();
            let key = key.clone();
            let calls = calls.clone();
            tokio::spawn(async move {
                let load = calls.load::<_, Infallible>(Some(Branding::named("Acme")));
                cache
                    .get_or_load(&key, async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        load.await
                    })
                    .await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap());
    }

    assert_eq!(calls.count(), 1);
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().unwrap().as_ref() == Some(&Branding::named("Acme")))
    );
    let stats = t.cache.stats();
    assert_eq!(stats.loader_calls, 1);
    assert_eq!(stats.coalesced + stats.hits + stats.misses, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_error_reaches_every_waiter_and_is_not_cached() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let release = Arc::new(Notify::new());
    let (started_tx, started_rx) = oneshot::channel();

    let leader = {
        let (cache, key, release) = (t.cache.clone(), key.clone(), release.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, async move {
                    let _ = started_tx.send(());
                    release.notified().await;
                    Err::<Option<Branding>, _>("database unavailable".to_owned())
                })
                .await
        })
    };
    started_rx.await.unwrap();
    let follower_calls = Calls::default();
    let followers: Vec<_> = (0..20)
        .map(|_| {
            let (cache, key, calls) = (t.cache.clone(), key.clone(), follower_calls.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(&key, calls.load::<_, String>(Some(Branding::named("x"))))
                    .await
            })
        })
        .collect();
    tokio::time::sleep(SETTLE).await;
    release.notify_one();

    let leader = tokio::time::timeout(DEADLINE, leader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leader, Err("database unavailable".to_owned()));
    for follower in followers {
        let answer = tokio::time::timeout(DEADLINE, follower)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer, Err("database unavailable".to_owned()));
    }
    assert_eq!(follower_calls.count(), 0);
    assert!(
        !t.exists(&t.cache.redis_key(&key)).await,
        "errors are not cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_lookup_to_a_waiter() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let (started_tx, started_rx) = oneshot::channel();

    let leader = {
        let (cache, key) = (t.cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, async move {
                    let _ = started_tx.send(());
                    std::future::pending::<Result<Option<Branding>, Infallible>>().await
                })
                .await
        })
    };
    started_rx.await.unwrap();
    let calls = Calls::default();
    let follower = {
        let (cache, key, calls) = (t.cache.clone(), key.clone(), calls.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(
                    &key,
                    calls.load::<_, Infallible>(Some(Branding::named("taken over"))),
                )
                .await
        })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(!follower.is_finished(), "the follower waits for the leader");

    leader.abort();

    let answer = tokio::time::timeout(DEADLINE, follower)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, Ok(Some(Branding::named("taken over"))));
    assert_eq!(calls.count(), 1);
    let stored = t.raw_get(&t.cache.redis_key(&key)).await;
    assert!(stored.is_some(), "the new leader stores its value");
}
