//! The test cluster is a real one: three primaries sharing the 16384 slots, redirecting a
//! client to the node that owns a key.

use testkit::redis_cluster::RedisCluster;

#[test]
fn three_primaries_serve_every_slot_and_redirect() {
    let cluster = RedisCluster::start().expect("start the cluster");
    let info = cluster.cli(&["CLUSTER", "INFO"]).unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    // Keys in different slots live on different nodes; `-c` follows the MOVED redirects.
    for key in ["a", "b", "c", "d", "e", "f"] {
        assert_eq!(cluster.cli(&["SET", key, key]).unwrap(), "OK");
    }
    for key in ["a", "b", "c", "d", "e", "f"] {
        assert_eq!(cluster.cli(&["GET", key]).unwrap(), key);
    }
    let nodes = cluster.nodes.clone();
    drop(cluster);
    // Dropped: the nodes are gone.
    let port = nodes[0].rsplit(':').next().unwrap();
    let ping = std::process::Command::new("redis-cli")
        .args(["-p", port, "PING"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&ping.stdout).contains("PONG"));
}
