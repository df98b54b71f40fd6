//! Live notifications across replicas: `worker-notification` publishes each new notification
//! on its tenant's Redis channel (`db::notifications::live_channel`); every gateway holds one
//! subscriber connection to all of them (a pattern subscription) and hands what arrives to its
//! local streams through a tokio broadcast channel. A stream keeps only its user's.
//!
//! Nothing here is durable: a stream that was not connected, lagged behind the broadcast, or
//! whose gateway lost Redis for a while catches up from the database (`Last-Event-ID`).

use std::collections::VecDeque;
use std::sync::Arc;

use common::TenantId;
use db::notifications::Notification;
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Notifications a stream may fall behind by before it re-reads the database.
const BROADCAST_CAPACITY: usize = 1024;

/// One notification as it arrived, with the tenant its channel names.
#[derive(Debug, Clone)]
pub struct LiveNotification {
    pub tenant_id: TenantId,
    pub notification: Notification,
}

/// The gateway's end of the live channels.
pub struct LiveHub {
    sender: broadcast::Sender<Arc<LiveNotification>>,
    /// Cancelled when the gateway stops: open streams end, so the graceful stop need not wait
    /// for them.
    pub closing: CancellationToken,
}

impl LiveHub {
    /// Subscribes in the background (reconnecting as the cache's connections do) and returns
    /// at once.
    pub fn start(builder: &fred::types::Builder, key_prefix: &str) -> anyhow::Result<Arc<Self>> {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        let hub = Arc::new(Self {
            sender,
            closing: CancellationToken::new(),
        });
        let subscriber: SubscriberClient = builder.build_subscriber_client()?;
        let pattern = db::notifications::live_channel_pattern(key_prefix);
        let key_prefix = key_prefix.to_owned();
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        subscriber.connect();
        let task_hub = hub.clone();
        tokio::spawn(async move {
            let subscribe = |subscriber: SubscriberClient, pattern: String| async move {
                if subscriber.wait_for_connect().await.is_ok()
                    && let Err(e) = subscriber.psubscribe(pattern).await
                {
                    tracing::warn!(error = %e, "live notifications: subscribing failed");
                }
            };
            subscribe(subscriber.clone(), pattern.clone()).await;
            loop {
                tokio::select! {
                    () = task_hub.closing.cancelled() => break,
                    message = messages.recv() => match message {
                        Ok(message) => {
                            let tenant =
                                db::notifications::live_channel_tenant(&key_prefix, &message.channel);
                            let notification = message
                                .value
                                .as_str()
                                .and_then(|text| serde_json::from_str::<Notification>(&text).ok());
                            if let (Some(tenant), Some(notification)) = (tenant, notification) {
                                // No stream listening is no error.
                                let _ = task_hub.sender.send(Arc::new(LiveNotification {
                                    tenant_id: tenant,
                                    notification,
                                }));
                            } else {
                                tracing::warn!(channel = %message.channel, "live notifications: unreadable message dropped");
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "live notifications: subscriber lagged; streams catch up on reconnect");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    reconnected = reconnects.recv() => {
                        if reconnected.is_err() {
                            break;
                        }
                        subscribe(subscriber.clone(), pattern.clone()).await;
                    }
                }
            }
            let _ = subscriber.quit().await;
        });
        Ok(hub)
    }

    /// A receiver of every notification this gateway hears of from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveNotification>> {
        self.sender.subscribe()
    }
}

/// The live streams each user holds open on this gateway, at most `limit` at once
/// (`NOTIFICATIONS_STREAMS_PER_USER`): each open stream holds a connection and a broadcast
/// receiver, so one user (or a stolen session) cannot hold thousands. A new stream beyond the
/// limit ends the user's oldest one rather than being refused: a browser's page loads each
/// open a stream, and the server only notices a closed one at its next write, so refusing
/// would lock a user who moves between pages quickly out of live notifications, while the
/// oldest stream is the one most likely gone. Per replica: a user's streams on other gateways
/// are not counted here.
#[derive(Clone)]
pub struct StreamSlots {
    limit: usize,
    open: Arc<std::sync::Mutex<OpenStreams>>,
}

#[derive(Default)]
struct OpenStreams {
    next_id: u64,
    /// Per user, oldest first: each stream's id and the token that ends it.
    by_user: std::collections::HashMap<common::UserId, VecDeque<(u64, CancellationToken)>>,
}

/// One open stream's place; dropping it (the stream ended or its client went away) frees it.
pub struct StreamSlot {
    slots: StreamSlots,
    user: common::UserId,
    id: u64,
    /// Cancelled when a newer stream of the same user takes this one's place.
    pub evicted: CancellationToken,
}

impl StreamSlots {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenStreams> {
        // Nothing panics while the lock is held, so a poisoned map is still a whole one.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for one more stream of `user`; when `user` holds `limit` already, its oldest
    /// stream is ended (its [`StreamSlot::evicted`] cancelled) and loses its place.
    pub fn take(&self, user: common::UserId) -> StreamSlot {
        let mut open = self.lock();
        open.next_id += 1;
        let id = open.next_id;
        let streams = open.by_user.entry(user).or_default();
        while streams.len() >= self.limit {
            if let Some((_, oldest)) = streams.pop_front() {
                oldest.cancel();
                metrics::counter!("gateway_notification_streams_evicted_total").increment(1);
            }
        }
        let evicted = CancellationToken::new();
        streams.push_back((id, evicted.clone()));
        StreamSlot {
            slots: self.clone(),
            user,
            id,
            evicted,
        }
    }

    /// Streams `user` holds open on this gateway.
    pub fn open_of(&self, user: common::UserId) -> usize {
        self.lock().by_user.get(&user).map_or(0, VecDeque::len)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(streams) = open.by_user.get_mut(&self.user) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                open.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_limit_the_oldest_making_room_and_a_dropped_slot_frees_one() {
        let slots = StreamSlots::new(2);
        let ana = common::UserId::new();
        let bia = common::UserId::new();
        let first = slots.take(ana);
        let second = slots.take(ana);
        let third = slots.take(ana);
        assert!(first.evicted.is_cancelled(), "the oldest made room");
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        assert_eq!(slots.open_of(ana), 2);
        let _other = slots.take(bia);
        assert!(
            !second.evicted.is_cancelled(),
            "another user's are counted apart"
        );
        drop(first);
        assert_eq!(slots.open_of(ana), 2, "an evicted stream no longer counted");
        drop(second);
        assert_eq!(slots.open_of(ana), 1);
        drop(third);
        assert_eq!(slots.open_of(ana), 0);
    }
}
