//! A three-node Redis Cluster on free loopback ports, as operators run Redis in production:
//! `redis-server --cluster-enabled yes` three times, then `redis-cli --cluster create`. The
//! nodes are this test's own processes, in a directory of their own; both go when the value is
//! dropped, also when the test panics.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct RedisCluster {
    /// `host:port` of each primary.
    pub nodes: Vec<String>,
    dir: PathBuf,
    processes: Vec<Child>,
}

impl RedisCluster {
    /// Starts three primaries (no replicas) and waits until the cluster serves every slot.
    /// Needs `redis-server` and `redis-cli` on the `PATH`.
    pub fn start() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("redis-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
            processes: Vec::new(),
        };
        // Redis Cluster also listens on port + 10000 (the cluster bus): pick ports whose bus
        // port is free too.
        for port in free_ports(3)? {
            let process = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("start redis-server (is it installed?)")?;
            cluster.processes.push(process);
            cluster.nodes.push(format!("127.0.0.1:{port}"));
        }
        for node in &cluster.nodes {
            wait_for(Duration::from_secs(10), || {
                cli(node, &["PING"]).is_ok_and(|r| r == "PONG")
            })
            .with_context(|| format!("redis-server {node} did not answer"))?;
        }
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&cluster.nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .context("run redis-cli --cluster create")?;
        if !created.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&created.stdout)
            );
        }
        for node in &cluster.nodes {
            wait_for(Duration::from_secs(10), || {
                cli(node, &["CLUSTER", "INFO"]).is_ok_and(|info| info.contains("cluster_state:ok"))
            })
            .with_context(|| format!("{node} never reported cluster_state:ok"))?;
        }
        Ok(cluster)
    }

    /// `redis://host:port` of the first node (a client discovers the others from it).
    pub fn url(&self) -> String {
        format!("redis://{}", self.nodes[0])
    }

    /// Runs `redis-cli -c` (following redirects) against the cluster; returns its output.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new("redis-cli")
            .arg("-c")
            .args(["-h", "127.0.0.1", "-p", port_of(&self.nodes[0])])
            .args(args)
            .output()?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port_of(node: &str) -> &str {
    node.rsplit(':').next().unwrap_or(node)
}

fn cli(node: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", port_of(node)])
        .args(args)
        .output()?;
    if !output.status.success() {
        bail!("redis-cli failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn wait_for(within: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !ready() {
        if Instant::now() > deadline {
            bail!("not ready within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `count` ports that are free, each with its cluster-bus port (+10000) free too.
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::new();
    let mut held = Vec::new();
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let Some(bus) = port.checked_add(10_000) else {
            continue;
        };
        if let Ok(bus_listener) = TcpListener::bind(("127.0.0.1", bus)) {
            ports.push(port);
            held.push(listener);
            held.push(bus_listener);
            if ports.len() == count {
                return Ok(ports);
            }
        }
    }
    bail!("no {count} free port pairs (port and port + 10000) on 127.0.0.1")
}
