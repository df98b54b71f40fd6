use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cache::{Cache, CacheConfig, KeyKind, LocalTierConfig, RedisSettings};
use fred::interfaces::KeysInterface;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub name: String,
    pub color: String,
}

impl Branding {
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            color: "#123456".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    pub messages_per_day: u32,
}

cache::key_type! {
    pub BrandingKey: Branding, id = Uuid, value = Branding, schema = 1
}
cache::key_type! {
    /// The same kind after a change of `Branding`'s shape.
    pub BrandingKeyV2: Branding, id = Uuid, value = Branding, schema = 2
}
cache::key_type! {
    pub StripeSettingsKey: StripeSettings, id = Uuid, value = String, schema = 1
}
cache::key_type! {
    pub QuotasKey: UserQuotas, id = Uuid, value = Quotas, schema = 1
}
cache::key_type! {
    pub FeaturesKey: UserFeatures, id = Uuid, value = Vec<String>, schema = 1
}
cache::key_type! {
    pub AgentsKey: SessionAgents, id = u64, value = Vec<String>, schema = 1
}
cache::key_type! {
    pub PrincipalKey: ApiKeyPrincipal, id = str, value = Uuid, schema = 1
}

/// The in-process tier for principals only.
fn redis_only_branding() -> LocalTierConfig {
    LocalTierConfig {
        kinds: vec![KeyKind::ApiKeyPrincipal],
        ..LocalTierConfig::default()
    }
}

/// A cache on the test Redis under a prefix of its own, whose keys go when it is dropped.
pub struct TestCache {
    pub cache: Cache,
    prefix: String,
}

impl TestCache {
    /// Commands get a generous timeout: these tests are about behaviour, not a loaded machine's
    /// latency.
    /// Branding (the kind most of these tests use) stays out of the in-process tier, so
    /// they exercise Redis; `local.rs` tests the tier.
    pub async fn new() -> Self {
        Self::with_config(CacheConfig {
            timeout: Duration::from_secs(2),
            local: redis_only_branding(),
            ..CacheConfig::default()
        })
        .await
    }

    pub async fn with_config(config: CacheConfig) -> Self {
        let prefix = format!("test-{}:", Uuid::new_v4());
        let config = CacheConfig {
            key_prefix: prefix.clone(),
            ..config
        };
        let cache = Cache::connect(&RedisSettings::single(REDIS_URL), config)
            .await
            .expect("cache");
        Self { cache, prefix }
    }

    /// Another process' cache on the same Redis and prefix (a second replica).
    pub async fn replica(&self) -> Cache {
        let config = CacheConfig {
            key_prefix: self.prefix.clone(),
            timeout: Duration::from_secs(2),
            local: redis_only_branding(),
            ..CacheConfig::default()
        };
        Cache::connect(&RedisSettings::single(REDIS_URL), config)
            .await
            .expect("replica cache")
    }

    pub async fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        let value: Option<fred::bytes::Bytes> = self.cache.client().get(key).await.unwrap();
        value.map(|b| b.to_vec())
    }

    pub async fn raw_set(&self, key: &str, value: &[u8]) {
        let () = self
            .cache
            .client()
            .set(
                key,
                value,
                Some(fred::types::Expiration::EX(60)),
                None,
                false,
            )
            .await
            .unwrap();
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        self.cache.client().pttl(key).await.unwrap()
    }

    pub async fn exists(&self, key: &str) -> bool {
        let n: u32 = self.cache.client().exists(key).await.unwrap();
        n == 1
    }
}

impl Drop for TestCache {
    fn drop(&mut self) {
        testkit::redis_keys::delete_prefixed_blocking(REDIS_URL, &self.prefix);
    }
}

/// A loader that counts its calls.
#[derive(Clone, Default)]
pub struct Calls(Arc<AtomicUsize>);

impl Calls {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn load<V, E>(&self, value: V) -> impl Future<Output = Result<V, E>> + Send + 'static
    where
        V: Send + 'static,
        E: 'static,
    {
        let calls = self.0.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(value)
        }
    }
}
