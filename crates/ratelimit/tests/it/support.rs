//! What the limiter tests share: clients, a prefix of their own on the shared Redis, waiting.

use std::time::{Duration, Instant};

use common::clock::Clock;
use common::config::PlanLimit;
use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::Builder;
use fred::types::config::{Config, ReconnectPolicy, ServerConfig};
use ratelimit::{LimiterConfig, RateLimiter};
use uuid::Uuid;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

pub fn limit(per_minute: u32, burst: u32) -> PlanLimit {
    PlanLimit { per_minute, burst }
}

/// A client built as a gateway would build it: retried when Redis is down at start, and
/// reconnecting quickly (tests wait for it) after Redis went away.
pub fn build_client(config: Config) -> Client {
    let config = Config {
        fail_fast: false,
        ..config
    };
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 50, 500, 2));
    builder.build().expect("redis client")
}

pub async fn connect(config: Config) -> Client {
    let client = build_client(config);
    client.init().await.expect("connect to redis");
    client
}

pub async fn connect_url(url: &str) -> Client {
    connect(Config::from_url(url).expect("redis url")).await
}

pub async fn connect_cluster(nodes: &[String]) -> Client {
    let hosts = nodes
        .iter()
        .map(|node| {
            let (host, port) = node.rsplit_once(':').expect("host:port");
            (host.to_owned(), port.parse::<u16>().expect("port"))
        })
        .collect();
    connect(Config {
        server: ServerConfig::new_clustered(hosts),
        ..Config::default()
    })
    .await
}

/// Limiters on the shared test Redis under a prefix of their own, whose keys go when this is
/// dropped. Decisions get a generous timeout: these tests are about behaviour, not a loaded
/// machine's latency.
pub struct SharedRedis {
    pub prefix: String,
}

impl SharedRedis {
    pub fn new() -> Self {
        Self {
            prefix: format!("test-{}:", Uuid::new_v4()),
        }
    }

    pub fn config(&self) -> LimiterConfig {
        LimiterConfig {
            redis_timeout: Duration::from_secs(2),
            ..LimiterConfig::default()
        }
        .with_key_prefix(self.prefix.clone())
    }

    /// A limiter with a client of its own, as one gateway replica has.
    pub async fn limiter(&self) -> RateLimiter {
        RateLimiter::new(connect_url(REDIS_URL).await, self.config())
    }

    /// A limiter deciding at `clock`'s time (a test's manual clock) instead of Redis'.
    pub async fn limiter_at(&self, clock: &Clock) -> RateLimiter {
        RateLimiter::with_clock(connect_url(REDIS_URL).await, self.config(), clock.clone())
    }
}

impl Drop for SharedRedis {
    fn drop(&mut self) {
        testkit::redis_keys::delete_prefixed_blocking(REDIS_URL, &self.prefix);
    }
}

/// Polls `condition` every 50 ms until it holds or `within` has passed; whether it held.
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
