//! The in-process tier: encoded entries of the kinds read on every request (who an API key is),
//! kept in front of Redis and dropped on every replica when invalidated.
//!
//! Invalidation crosses replicas over Redis pub/sub: whoever invalidates publishes the Redis keys
//! on one channel, and each process' subscriber drops them. A process that is not subscribed may
//! have missed messages, so the tier is bypassed until the subscription is back and is emptied
//! when it comes back. Entries also expire after a short TTL, which bounds staleness should a
//! message be lost anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fred::bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Builder;
use tokio::task::JoinHandle;

use crate::config::LocalTierConfig;
use crate::key::KeyKind;

/// Separates the keys of one invalidation message.
const SEPARATOR: char = '\n';

pub(crate) struct LocalTier {
    entries: moka::sync::Cache<String, Bytes>,
    kinds: Vec<KeyKind>,
    /// Whether the subscriber is listening: only then may entries be served or stored.
    listening: AtomicBool,
    /// Bumped by every invalidation this process learns of. A read remembers it before asking
    /// Redis and stores what Redis said only if it has not moved, so an invalidation that
    /// arrives during the read is not undone by it.
    generation: AtomicU64,
    pub(crate) channel: String,
}

impl LocalTier {
    pub(crate) fn new(config: &LocalTierConfig, channel: String) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl)
                .build(),
            kinds: config.kinds.clone(),
            listening: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            channel,
        }
    }

    pub(crate) fn holds(&self, kind: KeyKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, redis_key: &str) -> Option<Bytes> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        self.entries.get(redis_key)
    }

    /// Keeps `bytes` unless an invalidation arrived since `generation` was read.
    pub(crate) fn put(&self, redis_key: &str, bytes: Bytes, generation: u64) {
        if self.listening.load(Ordering::Acquire) && self.generation() == generation {
            self.entries.insert(redis_key.to_owned(), bytes);
            // The check and the insert are two steps: look again, and undo if one slipped in.
            if self.generation() != generation {
                self.entries.invalidate(redis_key);
            }
        }
    }

    pub(crate) fn drop_keys<'a>(&self, redis_keys: impl IntoIterator<Item = &'a str>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in redis_keys {
            self.entries.invalidate(key);
        }
    }

    fn drop_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// The message that makes every replica drop `redis_keys`.
    pub(crate) fn message<'a>(redis_keys: impl IntoIterator<Item = &'a str>) -> String {
        redis_keys
            .into_iter()
            .collect::<Vec<_>>()
            .join(&SEPARATOR.to_string())
    }
}

/// Subscribes to the invalidation channel and applies what arrives until the process ends.
/// Returns at once; the subscriber connects and reconnects in the background, and the tier is
/// used only while it is subscribed.
pub(crate) fn listen(
    builder: &Builder,
    tier: Arc<LocalTier>,
) -> Result<JoinHandle<()>, fred::error::Error> {
    let subscriber: SubscriberClient = builder.build_subscriber_client()?;
    let mut messages = subscriber.message_rx();
    let mut reconnects = subscriber.reconnect_rx();
    let mut errors = subscriber.error_rx();
    subscriber.connect();
    Ok(tokio::spawn(async move {
        let subscribe = |subscriber: SubscriberClient, tier: Arc<LocalTier>| async move {
            if subscriber.wait_for_connect().await.is_ok()
                && subscriber.subscribe(tier.channel.as_str()).await.is_ok()
            {
                // Whatever was kept before may have been invalidated while we were not listening.
                tier.drop_all();
                tier.listening.store(true, Ordering::Release);
            }
        };
        subscribe(subscriber.clone(), tier.clone()).await;
        loop {
            tokio::select! {
                message = messages.recv() => match message {
                    Ok(message) => {
                        if let Some(text) = message.value.as_str() {
                            tier.drop_keys(text.split(SEPARATOR));
                        }
                    }
                    // Lagged behind the broadcast: some messages are gone, so everything goes.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => tier.drop_all(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                reconnected = reconnects.recv() => {
                    if reconnected.is_err() {
                        break;
                    }
                    tier.listening.store(false, Ordering::Release);
                    subscribe(subscriber.clone(), tier.clone()).await;
                }
                failed = errors.recv() => {
                    if failed.is_err() {
                        break;
                    }
                    // The connection failed: messages may be lost until the next reconnect.
                    tier.listening.store(false, Ordering::Release);
                    tier.drop_all();
                }
            }
        }
        tier.listening.store(false, Ordering::Release);
    }))
}
