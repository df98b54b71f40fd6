//! The same limiter on a three-node Redis Cluster: one key per tenant lives in one slot, so
//! the script runs unchanged and stays exact.

use std::collections::HashSet;
use std::time::Duration;

use common::TenantId;
use ratelimit::{LimiterConfig, RateLimiter};
use testkit::redis_cluster::RedisCluster;

use crate::replicas::admitted_at_once;
use crate::support::connect_cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_burst_is_exact_on_a_redis_cluster() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap()
        .expect("start a Redis Cluster");
    let config = LimiterConfig {
        redis_timeout: Duration::from_secs(2),
        ..LimiterConfig::default()
    };
    let replicas = [
        RateLimiter::new(connect_cluster(&cluster.nodes).await, config.clone()),
        RateLimiter::new(connect_cluster(&cluster.nodes).await, config),
    ];

    let tenants: Vec<_> = (0..12).map(|_| TenantId::new()).collect();
    for tenant in &tenants {
        assert_eq!(admitted_at_once(&replicas, *tenant, 100).await, 50);
    }

    // The tenants' keys really are spread over more than one node.
    let mut nodes = HashSet::new();
    for tenant in &tenants {
        let slot = cluster
            .cli(&["CLUSTER", "KEYSLOT", &replicas[0].key(*tenant)])
            .unwrap();
        nodes.insert(slot.parse::<u16>().unwrap() / 5462);
    }
    assert!(nodes.len() > 1, "all tenants in one third of the slots");
}
