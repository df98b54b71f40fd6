//! `just bench` (second part): the cache, each figure next to a baseline from the same run.
//!
//! 1. A mixed workload over many tenants and users with Zipf popularity (s = 1.0): reads of a
//!    tenant's branding and of the principal behind an API key, and branding writes (replace in
//!    Postgres, then invalidate), from concurrent tasks. Run twice on the same data and the same
//!    sequence of operations: through `cache::Cache` (Redis, plus the in-process tier for
//!    principals), and straight to Postgres (the cache disabled). Reports the hit rate and the
//!    p50/p99 latency of reads in both.
//! 2. Authenticated `GET /api/branding` against `GET /healthz` on the same gateway.
//! 3. A burst of 1,000 concurrent reads of one key that is in no cache: how many loads it costs.

// A benchmark reads top to bottom as a script (set up, measure, report), like a test, so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cache::{Cache, CacheConfig, RedisSettings};
use common::{Plan, Role, TenantId};
use db::DatabaseConnection;
use db::TenantScope;
use db::branding::NewBranding;
use gateway::auth::CachedKeyPrincipal;
use gateway::routes::branding::Branding;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use reqwest::StatusCode;
use system_tests::TestSystem;

const TENANTS: usize = 200;
const USERS_PER_TENANT: usize = 5;
const TASKS: usize = 16;
const OPS_PER_TASK: usize = 2_500;
/// Percent of operations that write a tenant's branding; the rest read.
const WRITE_PERCENT: u32 = 2;
const ZIPF_EXPONENT: f64 = 1.0;
const BURST: usize = 1_000;
const HTTP_CLIENTS: usize = 32;
const LOAD_SECONDS: u64 = 5;

cache::key_type! {
    BrandingKey: Branding, id = TenantId, value = Branding, schema = 1
}
cache::key_type! {
    PrincipalKey: ApiKeyPrincipal, id = str, value = CachedKeyPrincipal, schema = 2
}

/// The data the workload runs over.
struct Fixture {
    tenants: Vec<TenantId>,
    /// SHA-256 of each API key.
    key_hashes: Vec<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Op {
    ReadBranding(usize),
    ReadPrincipal(usize),
    WriteBranding(usize),
}

#[tokio::main]
async fn main() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let db = db::connect(&system.db.url, TASKS as u32 + 2)
        .await
        .expect("connect");
    let fixture = fixture(&db).await;

    println!();
    println!("## Cache");
    println!();
    println!("| scenario | figure | baseline | ratio |");
    println!("|---|---|---|---|");

    let ops = workload(&fixture);
    let reads = ops
        .iter()
        .flatten()
        .filter(|op| !matches!(op, Op::WriteBranding(_)))
        .count();
    let uncached = run(&db, &fixture, &ops, None).await;
    let cache = connect_cache(&system).await;
    let cached = run(&db, &fixture, &ops, Some(&cache)).await;
    let stats = cache.stats();
    let hit_rate = 1.0 - cached.loads as f64 / reads as f64;
    println!(
        "| Zipf workload: {TENANTS} tenants, {} API keys, {} ops from {TASKS} tasks, {WRITE_PERCENT}% branding writes | hit rate {:.1}% ({} loads for {reads} reads; {} in process, {} from Redis) | | |",
        fixture.key_hashes.len(),
        TASKS * OPS_PER_TASK,
        hit_rate * 100.0,
        cached.loads,
        stats.local_hits,
        stats.hits,
    );
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        let (with, without) = (cached.percentile(p), uncached.percentile(p));
        println!(
            "| read latency {name}, cached vs straight to Postgres | {:.0} µs | {:.0} µs | {:.2} |",
            with.as_secs_f64() * 1e6,
            without.as_secs_f64() * 1e6,
            with.as_secs_f64() / without.as_secs_f64(),
        );
    }
    println!(
        "| workload wall time, cached vs straight to Postgres | {:.2} s | {:.2} s | {:.2} |",
        cached.wall.as_secs_f64(),
        uncached.wall.as_secs_f64(),
        cached.wall.as_secs_f64() / uncached.wall.as_secs_f64(),
    );

    let tenant = system.tenant_with_admin("bench-cache").await;
    let health = requests_per_second(&system, "/healthz", None).await;
    let branding = requests_per_second(&system, "/api/branding", Some(&tenant.key)).await;
    println!(
        "| authenticated `GET /api/branding` on one gateway, {HTTP_CLIENTS} clients | {branding:.0} req/s | {health:.0} req/s `GET /healthz` | {:.2} |",
        branding / health
    );

    let loads = burst(&db, &cache, fixture.tenants[TENANTS - 1]).await;
    println!(
        "| {BURST} concurrent reads of one uncached key, one process | {loads} load(s) | goal 1 | |"
    );
    db.close().await.expect("close");
    system.stop().await;
}

async fn connect_cache(system: &TestSystem) -> Cache {
    let config = CacheConfig {
        key_prefix: format!("{}:bench:", system.queue_prefix),
        ..CacheConfig::default()
    };
    let cache = Cache::connect(&RedisSettings::single("redis://127.0.0.1:6379"), config)
        .await
        .expect("cache");
    // The in-process tier is used once its subscriber is listening.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cache
}

async fn fixture(db: &DatabaseConnection) -> Fixture {
    let mut tenants = Vec::with_capacity(TENANTS);
    let mut key_hashes = Vec::with_capacity(TENANTS * USERS_PER_TENANT);
    for t in 0..TENANTS {
        let (tenant, account) = db::tenants::create_tenant(
            db::PlatformScope::new(db),
            db::tenants::NewTenant {
                name: format!("Tenant {t}"),
                slug: format!("bench-{t}"),
                plan: Plan::Pro,
            },
        )
        .await
        .expect("tenant");
        let tenant_id = tenant.id;
        db::branding::replace(TenantScope::for_test(db, tenant_id), branding(t, 0))
            .await
            .expect("branding");
        for u in 0..USERS_PER_TENANT {
            let user = db::tenants::create_user(
                db::TenantScope::for_test(db, tenant_id),
                db::tenants::NewUser {
                    account_id: Some(account.id),
                    email: format!("u{u}@t{t}.example"),
                    name: String::new(),
                    role: Role::User,
                },
            )
            .await
            .expect("user");
            let (_, raw) = db::tenants::create_api_key(db, &user, "bench")
                .await
                .expect("key");
            key_hashes.push(db::apikey::hash(&raw));
        }
        tenants.push(tenant_id);
    }
    Fixture {
        tenants,
        key_hashes,
    }
}

fn branding(tenant: usize, version: u64) -> NewBranding {
    NewBranding {
        app_name: format!("Tenant {tenant} v{version}"),
        logo_url: Some(format!("https://cdn.example/{tenant}.png")),
        primary_color: Some("#112233".into()),
        secondary_color: Some("#445566".into()),
        support_email: Some(format!("help@t{tenant}.example")),
        support_url: None,
        home_html: Some("<h1>Welcome</h1><p>Campaigns that reach people.</p>".into()),
        custom_host: None,
    }
}

/// Each task's operations, fixed in advance (seeded) so both runs do exactly the same.
fn workload(fixture: &Fixture) -> Vec<Vec<Op>> {
    let tenants = Zipf::new(fixture.tenants.len() as f64, ZIPF_EXPONENT).expect("zipf");
    let keys = Zipf::new(fixture.key_hashes.len() as f64, ZIPF_EXPONENT).expect("zipf");
    (0..TASKS)
        .map(|task| {
            let mut rng = StdRng::seed_from_u64(task as u64);
            (0..OPS_PER_TASK)
                .map(|_| {
                    // Zipf samples are 1..=n; rank 1 is the most popular.
                    let tenant = tenants.sample(&mut rng) as usize - 1;
                    let key = keys.sample(&mut rng) as usize - 1;
                    match rng.random_range(0..100) {
                        n if n < WRITE_PERCENT => Op::WriteBranding(tenant),
                        n if n < 50 => Op::ReadBranding(tenant),
                        _ => Op::ReadPrincipal(key),
                    }
                })
                .collect()
        })
        .collect()
}

struct Run {
    /// Latency of every read, sorted.
    reads: Vec<Duration>,
    loads: u64,
    wall: Duration,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.reads.len() as f64 * p).ceil() as usize).clamp(1, self.reads.len()) - 1;
        self.reads[index]
    }
}

/// Runs every task's operations at once; with `cache`, reads go through it.
async fn run(
    db: &DatabaseConnection,
    fixture: &Fixture,
    ops: &[Vec<Op>],
    cache: Option<&Cache>,
) -> Run {
    let loads = Arc::new(AtomicU64::new(0));
    let version = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let tasks = ops.iter().map(|ops| {
        let loads = loads.clone();
        let version = version.clone();
        async move {
            let mut latencies = Vec::with_capacity(ops.len());
            for op in ops {
                let start = Instant::now();
                match *op {
                    Op::ReadBranding(t) => {
                        let tenant = fixture.tenants[t];
                        let load = async {
                            loads.fetch_add(1, Ordering::Relaxed);
                            db::branding::find(TenantScope::for_test(db, tenant))
                                .await
                                .map(|found| found.map(Branding::from))
                                .map_err(|e| Arc::new(e.to_string()))
                        };
                        let found = match cache {
                            Some(cache) => {
                                cache.get_or_load(&BrandingKey::key(&tenant), load).await
                            }
                            None => load.await,
                        };
                        assert!(found.expect("branding").is_some());
                        latencies.push(start.elapsed());
                    }
                    Op::ReadPrincipal(k) => {
                        let hash = &fixture.key_hashes[k];
                        let load = async {
                            loads.fetch_add(1, Ordering::Relaxed);
                            db::auth::key_principal_for_hash(db, hash)
                                .await
                                .map(|found| found.map(CachedKeyPrincipal::from))
                                .map_err(|e| Arc::new(e.to_string()))
                        };
                        let found = match cache {
                            Some(cache) => {
                                cache
                                    .get_or_load(&PrincipalKey::key(&hex::encode(hash)), load)
                                    .await
                            }
                            None => load.await,
                        };
                        assert!(found.expect("principal").is_some());
                        latencies.push(start.elapsed());
                    }
                    Op::WriteBranding(t) => {
                        let tenant = fixture.tenants[t];
                        let v = version.fetch_add(1, Ordering::Relaxed);
                        db::branding::replace(TenantScope::for_test(db, tenant), branding(t, v))
                            .await
                            .expect("write");
                        if let Some(cache) = cache {
                            cache
                                .invalidate(&BrandingKey::key(&tenant))
                                .await
                                .expect("invalidate");
                        }
                    }
                }
            }
            latencies
        }
    });
    let mut reads: Vec<Duration> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let wall = started.elapsed();
    reads.sort_unstable();
    Run {
        reads,
        loads: loads.load(Ordering::Relaxed),
        wall,
    }
}

/// `BURST` concurrent reads of one key no cache holds; returns how many loads ran.
async fn burst(db: &DatabaseConnection, cache: &Cache, tenant: TenantId) -> u64 {
    let key = BrandingKey::key(&tenant);
    cache.invalidate(&key).await.expect("invalidate");
    let loads = AtomicU64::new(0);
    let reads = (0..BURST).map(|_| {
        cache.get_or_load(&key, async {
            loads.fetch_add(1, Ordering::Relaxed);
            db::branding::find(TenantScope::for_test(db, tenant))
                .await
                .map(|found| found.map(Branding::from))
                .map_err(|e| Arc::new(e.to_string()))
        })
    });
    for read in futures_util::future::join_all(reads).await {
        assert!(read.expect("read").is_some());
    }
    loads.load(Ordering::Relaxed)
}

/// Requests per second from `HTTP_CLIENTS` concurrent clients for `LOAD_SECONDS`.
async fn requests_per_second(system: &TestSystem, path: &str, key: Option<&str>) -> f64 {
    let url = format!("{}{path}", system.base_url);
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let done = Arc::new(AtomicU64::new(0));
    let clients = (0..HTTP_CLIENTS).map(|_| {
        let (url, done, http) = (url.clone(), done.clone(), system.http.clone());
        let key = key.map(str::to_owned);
        async move {
            while Instant::now() < deadline {
                let mut request = http.get(&url);
                if let Some(key) = &key {
                    request = request.bearer_auth(key);
                }
                let response = request.send().await.expect("request");
                assert_eq!(response.status(), StatusCode::OK, "{url}");
                response.bytes().await.expect("body");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    futures_util::future::join_all(clients).await;
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
