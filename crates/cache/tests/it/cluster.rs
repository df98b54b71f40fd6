//! The same cache on a three-node Redis Cluster: entries of one tenant spread over several
//! nodes, and tenant-wide invalidation still finds and removes each of them (no multi-key
//! command crosses a slot).

use std::convert::Infallible;
use std::time::Duration;

use cache::{Cache, CacheConfig, RedisSettings, RedisTopology};
use testkit::redis_cluster::RedisCluster;
use uuid::Uuid;

use crate::support::{Branding, BrandingKey, Calls, Quotas, QuotasKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_tenant_invalidation_work_on_a_redis_cluster() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap()
        .expect("start a Redis Cluster");
    let nodes = cluster
        .nodes
        .iter()
        .map(|node| {
            let (host, port) = node.rsplit_once(':').unwrap();
            (host.to_owned(), port.parse().unwrap())
        })
        .collect();
    let settings = RedisSettings {
        topology: RedisTopology::Cluster { nodes },
        password: None,
    };
    let config = CacheConfig {
        timeout: Duration::from_secs(2),
        ..CacheConfig::default()
    };
    let cache = Cache::connect(&settings, config).await.expect("connect");

    let tenant = Uuid::new_v4();
    let other_tenant = Uuid::new_v4();
    let users: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
    let calls = Calls::default();
    let quotas = Quotas {
        messages_per_day: 10,
    };
    for user in &users {
        let key = QuotasKey::key(user).for_tenant(tenant);
        let loaded = cache
            .get_or_load(&key, calls.load::<_, Infallible>(Some(quotas.clone())))
            .await;
        assert_eq!(loaded, Ok(Some(quotas.clone())));
    }
    let branding = BrandingKey::key(&tenant);
    let others = BrandingKey::key(&other_tenant);
    for key in [&branding, &others] {
        let loaded = cache
            .get_or_load(
                key,
                calls.load::<_, Infallible>(Some(Branding::named("Acme"))),
            )
            .await;
        assert_eq!(loaded, Ok(Some(Branding::named("Acme"))));
    }
    assert_eq!(calls.count(), 14);

    // The entries really live on more than one node.
    let mut owners = std::collections::HashSet::new();
    for user in &users {
        let slot = cluster
            .cli(&[
                "CLUSTER",
                "KEYSLOT",
                &cache.redis_key(&QuotasKey::key(user)),
            ])
            .unwrap();
        owners.insert(slot.parse::<u16>().unwrap() / 5462);
    }
    assert!(owners.len() > 1, "all entries in one third of the slots");

    // Hits, then the tenant's entries go and the other tenant's stay.
    for user in &users {
        let key = QuotasKey::key(user).for_tenant(tenant);
        let read = cache
            .get_or_load(&key, calls.load::<_, Infallible>(None))
            .await;
        assert_eq!(read, Ok(Some(quotas.clone())));
    }
    assert_eq!(calls.count(), 14, "every read hit");
    let removed = cache.invalidate_tenant(tenant).await.expect("invalidate");
    assert_eq!(removed, 13, "twelve users' quotas and the branding");
    for user in &users {
        let key = cache.redis_key(&QuotasKey::key(user));
        assert_eq!(cluster.cli(&["EXISTS", &key]).unwrap(), "0", "{key}");
    }
    assert_eq!(
        cluster
            .cli(&["EXISTS", &cache.redis_key(&branding)])
            .unwrap(),
        "0"
    );
    assert_eq!(
        cluster.cli(&["EXISTS", &cache.redis_key(&others)]).unwrap(),
        "1",
        "another tenant's entry stays"
    );
}
