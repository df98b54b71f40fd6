use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fred::bytes::Bytes;
use fred::clients::Client;
use fred::error::{Error as RedisError, ErrorKind as RedisErrorKind};
use fred::interfaces::{ClientLike, KeysInterface, PubsubInterface, SetsInterface};
use fred::types::config::{Config as RedisClientConfig, ReconnectPolicy, ServerConfig};
use fred::types::{Builder, Expiration};
use futures_util::StreamExt;

use crate::codec::{self, Unreadable};
use crate::config::{CacheConfig, RedisSettings, RedisTopology};
use crate::flight::{self, Flights, Lead, Outcome, Role};
use crate::key::{Key, KeyKind, KeyRef, KeyType};
use crate::local::{self, LocalTier};
use crate::metrics::{CacheStats, Counters, ErrorKind, describe_metrics};
use common::warn_limiter::WarnLimiter;

/// The `key_type` label of operations on tenant indexes, which belong to no key kind.
const INDEX_LABEL: &str = "tenant_keys";
/// How long `connect` waits for a first connection before carrying on without one.
const CONNECT_WAIT: Duration = Duration::from_secs(2);
const WARN_INTERVAL: Duration = Duration::from_secs(30);
/// How many keys `invalidate_tenant` deletes at once: enough to hide round trips, few enough
/// that each DEL still answers within the command timeout.
const DELETE_CONCURRENCY: usize = 64;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A cache-aside handle over Redis; clones share the connection, the in-flight lookups and the
/// counters.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    config: CacheConfig,
    flights: Flights,
    counters: Counters,
    warn: WarnLimiter,
    /// The in-process tier and its invalidation listener, when configured.
    local: Option<(Arc<LocalTier>, tokio::task::JoinHandle<()>)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((_, listener)) = &self.local {
            listener.abort();
        }
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

enum Read<V> {
    /// The value, and the entry as stored (for the in-process tier).
    Hit(Option<V>, Bytes),
    Miss,
    /// Redis failed: the source answers, and nothing is written back.
    Failed,
}

impl Cache {
    /// Starts connecting and waits up to two seconds for it. Redis being down is not an error:
    /// the client keeps reconnecting in the background and reads go to their loaders meanwhile.
    /// With an in-process tier configured, also subscribes to the invalidation channel.
    pub async fn connect(
        settings: &RedisSettings,
        config: CacheConfig,
    ) -> Result<Self, CacheError> {
        let builder = client_builder(settings, config.timeout)?;
        let client = builder.build()?;
        let local = if config.local.enabled() {
            let channel = format!("{}cache_invalidations", config.key_prefix);
            let tier = Arc::new(LocalTier::new(&config.local, channel));
            let listener = local::listen(&builder, tier.clone())?;
            Some((tier, listener))
        } else {
            None
        };
        client.connect();
        match tokio::time::timeout(CONNECT_WAIT, client.wait_for_connect()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis cache: not connected yet; reconnecting in the background");
            }
            Err(_) => {
                tracing::warn!("Redis cache: not answering yet; reconnecting in the background");
            }
        }
        Ok(Self::build(client, config, local))
    }

    /// Wraps a client built elsewhere, without an in-process tier (that needs
    /// [`connect`](Self::connect) to subscribe). Only `config.timeout` bounds its commands here,
    /// so a client that is disconnected queues them until it reconnects (or its own command
    /// timeout fires).
    pub fn from_client(client: Client, config: CacheConfig) -> Self {
        Self::build(client, config, None)
    }

    fn build(
        client: Client,
        config: CacheConfig,
        local: Option<(Arc<LocalTier>, tokio::task::JoinHandle<()>)>,
    ) -> Self {
        describe_metrics();
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                flights: Flights::default(),
                counters: Counters::default(),
                warn: WarnLimiter::new(WARN_INTERVAL),
                local,
            }),
        }
    }

    /// The in-process tier, if it holds `kind`.
    fn local_for(&self, kind: KeyKind) -> Option<&LocalTier> {
        self.inner
            .local
            .as_ref()
            .map(|(tier, _)| tier.as_ref())
            .filter(|tier| tier.holds(kind))
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> CacheStats {
        self.inner.counters.snapshot()
    }

    /// `{prefix}{name}:{id}`.
    pub fn redis_key<K: KeyType>(&self, key: &Key<K>) -> String {
        self.render(K::KIND, key.id())
    }

    /// `{prefix}tenant_keys:{tenantId}`: the set of keys stored for a tenant.
    pub fn tenant_index_key(&self, tenant_id: impl Display) -> String {
        format!("{}{INDEX_LABEL}:{tenant_id}", self.inner.config.key_prefix)
    }

    fn render(&self, kind: KeyKind, id: &str) -> String {
        format!("{}{}:{id}", self.inner.config.key_prefix, kind.name())
    }

    /// The cached value of `key`, or the loader's (then cached).
    ///
    /// `Ok(None)` from the loader means the row does not exist; that is cached too, for the
    /// negative TTL. Concurrent calls of one key in this process share one Redis read and at
    /// most one loader run; a loader error reaches every call that waited for it and is not
    /// cached. Redis failing or timing out never fails the call: the loader answers instead.
    pub async fn get_or_load<K, E, F>(&self, key: &Key<K>, loader: F) -> Result<Option<K::Value>, E>
    where
        K: KeyType,
        E: Clone + Send + Sync + 'static,
        F: Future<Output = Result<Option<K::Value>, E>>,
    {
        let redis_key = self.redis_key(key);
        let local = self.local_for(K::KIND);
        let generation = local.map(LocalTier::generation);
        if let Some(bytes) = local.and_then(|tier| tier.get(&redis_key))
            && let Ok(entry) = codec::decode::<K::Value>(K::SCHEMA_VERSION, &bytes)
        {
            self.inner.counters.local_hit(K::KIND.name());
            return Ok(entry.into_option());
        }
        loop {
            match self.inner.flights.join::<K::Value, E>(&redis_key) {
                Role::Leader(lead) => {
                    return self
                        .lead(key, &redis_key, generation, Some(lead), loader)
                        .await;
                }
                Role::Alone => return self.lead(key, &redis_key, generation, None, loader).await,
                Role::Follower(rx) => {
                    if let Some(outcome) = flight::wait(rx).await {
                        self.inner.counters.coalesced(K::KIND.name());
                        return outcome;
                    }
                    // The leader's future was dropped before it had an answer; ours takes over.
                }
            }
        }
    }

    async fn lead<K, E, F>(
        &self,
        key: &Key<K>,
        redis_key: &str,
        generation: Option<u64>,
        lead: Option<Lead<'_, K::Value, E>>,
        loader: F,
    ) -> Outcome<K::Value, E>
    where
        K: KeyType,
        E: Clone,
        F: Future<Output = Outcome<K::Value, E>>,
    {
        let read_failed = match self.read::<K>(redis_key).await {
            Read::Hit(value, bytes) => {
                self.keep_locally(K::KIND, redis_key, bytes, generation);
                let outcome = Ok(value);
                if let Some(lead) = &lead {
                    lead.publish(&outcome);
                }
                return outcome;
            }
            Read::Miss => false,
            Read::Failed => true,
        };
        self.inner.counters.loader_call(K::KIND.name());
        let outcome = loader.await;
        // Waiters need not wait for the write; calls arriving during it still share the outcome,
        // since the registration lasts until `lead` is dropped.
        if let Some(lead) = &lead {
            lead.publish(&outcome);
        }
        if let Ok(value) = &outcome
            && !read_failed
        {
            self.store(key, redis_key, value.as_ref(), generation).await;
        }
        drop(lead);
        outcome
    }

    async fn read<K: KeyType>(&self, redis_key: &str) -> Read<K::Value> {
        let label = K::KIND.name();
        let get = self.inner.client.get::<Option<Bytes>, _>(redis_key);
        let bytes = match self.command(label, "GET", redis_key, get).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.inner.counters.miss(label);
                return Read::Miss;
            }
            Err(_) => {
                self.inner.counters.fallback(label);
                return Read::Failed;
            }
        };
        match codec::decode(K::SCHEMA_VERSION, &bytes) {
            Ok(entry) => {
                self.inner.counters.hit(label);
                Read::Hit(entry.into_option(), bytes)
            }
            Err(Unreadable::Version) => {
                // Expected while two deploys overlap; the entry is simply replaced.
                self.inner.counters.error(label, ErrorKind::Version);
                self.inner.counters.miss(label);
                tracing::debug!(key = redis_key, "cache entry of another version; reloading");
                Read::Miss
            }
            Err(Unreadable::Garbage) => {
                self.inner.counters.miss(label);
                self.report(
                    label,
                    ErrorKind::Decode,
                    "GET",
                    redis_key,
                    &"unreadable entry",
                );
                Read::Miss
            }
        }
    }

    /// Keeps an entry in process if its kind is held there and no invalidation arrived since
    /// `generation` was read.
    fn keep_locally(&self, kind: KeyKind, redis_key: &str, bytes: Bytes, generation: Option<u64>) {
        if let (Some(tier), Some(generation)) = (self.local_for(kind), generation) {
            tier.put(redis_key, bytes, generation);
        }
    }

    async fn store<K: KeyType>(
        &self,
        key: &Key<K>,
        redis_key: &str,
        value: Option<&K::Value>,
        generation: Option<u64>,
    ) {
        let label = K::KIND.name();
        let bytes = match codec::encode(K::SCHEMA_VERSION, value) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.report(label, ErrorKind::Encode, "SET", redis_key, &e);
                return;
            }
        };
        let ttls = &self.inner.config.ttls;
        let ttl = match value {
            Some(_) => ttls.ttl(K::KIND),
            None => ttls.negative(),
        };
        // Indexed before written, and not written unless indexed: an entry that exists can always
        // be found by `invalidate_tenant`.
        if let Some(tenant) = key.tenant()
            && self.index(tenant, redis_key).await.is_err()
        {
            return;
        }
        let bytes = Bytes::from(bytes);
        let set = self.inner.client.set::<(), _, _>(
            redis_key,
            bytes.clone(),
            Some(Expiration::PX(millis(ttl))),
            None,
            false,
        );
        // A failure is counted and logged by `command`; the caller has its value anyway.
        if self.command(label, "SET", redis_key, set).await.is_ok() {
            self.keep_locally(K::KIND, redis_key, bytes, generation);
        }
    }

    async fn index(&self, tenant: &str, member: &str) -> Result<(), CacheError> {
        let index = self.tenant_index_key(tenant);
        // Whatever it indexes has expired once the index has not been written for the longest
        // TTL, so it expires then too instead of growing forever.
        let expiry = self.inner.config.ttls.longest() + Duration::from_secs(1);
        // One key, so one hash slot: a pipeline keeps SADD before PEXPIRE in one round trip.
        let pipeline = self.inner.client.pipeline();
        let write = async {
            let () = pipeline.sadd(&index, member).await?;
            let () = pipeline.pexpire(&index, millis(expiry), None).await?;
            pipeline.all::<()>().await
        };
        self.command(INDEX_LABEL, "SADD", &index, write).await
    }

    /// Deletes one entry, so its next read goes to the source.
    pub async fn invalidate(&self, key: impl Into<KeyRef>) -> Result<(), CacheError> {
        let key = key.into();
        let redis_key = self.render(key.kind(), key.id());
        let del = self.inner.client.del::<(), _>(&redis_key);
        self.command(key.kind().name(), "DEL", &redis_key, del)
            .await?;
        if self.local_for(key.kind()).is_some() {
            self.broadcast(key.kind().name(), [redis_key.as_str()])
                .await?;
        }
        Ok(())
    }

    /// Drops `redis_keys` from this process' tier and tells every other process to.
    async fn broadcast<'a>(
        &self,
        label: &'static str,
        redis_keys: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), CacheError> {
        let Some((tier, _)) = &self.inner.local else {
            return Ok(());
        };
        tier.drop_keys(redis_keys.clone());
        let message = LocalTier::message(redis_keys);
        let publish = self
            .inner
            .client
            .publish::<(), _, _>(tier.channel.as_str(), message);
        self.command(label, "PUBLISH", &tier.channel, publish).await
    }

    /// Deletes every entry given, one command each: on a cluster they may live in different hash
    /// slots. Every key is tried; the first failure is returned.
    pub async fn invalidate_many(
        &self,
        keys: impl IntoIterator<Item = KeyRef>,
    ) -> Result<(), CacheError> {
        futures_util::future::join_all(keys.into_iter().map(|key| self.invalidate(key)))
            .await
            .into_iter()
            .collect()
    }

    /// Deletes every entry stored for the tenant (its own keys and the user, account and API key
    /// entries stored with [`Key::for_tenant`]), using the tenant's index instead of scanning the
    /// keyspace. Returns how many entries were deleted; on an error, the ones not deleted stay in
    /// the index, so calling it again finishes the job.
    pub async fn invalidate_tenant(&self, tenant_id: impl Display) -> Result<usize, CacheError> {
        let index = self.tenant_index_key(tenant_id);
        let smembers = self.inner.client.smembers::<Vec<String>, _>(&index);
        let members = self
            .command(INDEX_LABEL, "SMEMBERS", &index, smembers)
            .await?;
        let results: Vec<(String, Result<(), CacheError>)> = futures_util::stream::iter(members)
            .map(|member| async move {
                let del = self.inner.client.del::<(), _>(&member);
                let result = self.command(INDEX_LABEL, "DEL", &member, del).await;
                (member, result)
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        let mut deleted = Vec::with_capacity(results.len());
        let mut first_error = None;
        for (member, result) in results {
            match result {
                Ok(()) => deleted.push(member),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let count = deleted.len();
        if !deleted.is_empty() {
            self.broadcast(INDEX_LABEL, deleted.iter().map(String::as_str))
                .await?;
            // SREM rather than DEL of the set: a key indexed meanwhile must stay indexed.
            let srem = self.inner.client.srem::<(), _, _>(&index, deleted);
            self.command(INDEX_LABEL, "SREM", &index, srem).await?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(count),
        }
    }

    /// Runs one Redis command under the cache's timeout; failures are counted and logged here.
    async fn command<T>(
        &self,
        label: &'static str,
        op: &'static str,
        redis_key: &str,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, CacheError> {
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let kind = match e.kind() {
                    RedisErrorKind::Timeout => ErrorKind::Timeout,
                    _ => ErrorKind::Redis,
                };
                self.report(label, kind, op, redis_key, &e);
                Err(CacheError::Redis(e))
            }
            Err(_) => {
                let e = CacheError::Timeout(timeout);
                self.report(label, ErrorKind::Timeout, op, redis_key, &e);
                Err(e)
            }
        }
    }

    fn report(
        &self,
        label: &'static str,
        kind: ErrorKind,
        op: &'static str,
        redis_key: &str,
        error: &dyn Display,
    ) {
        self.inner.counters.error(label, kind);
        tracing::debug!(key = redis_key, op, error = %error, "Redis cache operation failed");
        if let Some(suppressed) = self.inner.warn.allow() {
            tracing::warn!(
                key_type = label,
                op,
                error = %error,
                suppressed,
                "Redis cache operation failed; reads use the source meanwhile (similar warnings are suppressed for {}s)",
                WARN_INTERVAL.as_secs()
            );
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A fred client builder for `settings`, configured as the cache's own connections are
/// (reconnecting with back-off, never giving up at start; commands bounded by
/// `command_timeout`): for other Redis uses of a service, such as pub/sub.
pub fn client_builder(
    settings: &RedisSettings,
    command_timeout: Duration,
) -> Result<Builder, CacheError> {
    let mut config = match &settings.topology {
        RedisTopology::Single { url } => RedisClientConfig::from_url(url)?,
        RedisTopology::Cluster { nodes } => RedisClientConfig {
            server: ServerConfig::new_clustered(nodes.clone()),
            password: settings.password.clone(),
            ..RedisClientConfig::default()
        },
        RedisTopology::Sentinel { nodes, service } => RedisClientConfig {
            server: ServerConfig::new_sentinel(nodes.clone(), service.clone()),
            password: settings.password.clone(),
            ..RedisClientConfig::default()
        },
    };
    // With fail_fast (fred's default) a Redis that is down when the process starts is never
    // retried: the connection task gives up after its first attempt.
    config.fail_fast = false;
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = CONNECT_WAIT;
        })
        .with_performance_config(|p| {
            // Lets fred drop commands queued while disconnected once the caller gave up on them,
            // instead of sending them all when Redis comes back.
            p.default_command_timeout = command_timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    Ok(builder)
}
