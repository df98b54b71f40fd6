//! Live notifications across replicas: `worker-notification` publishes each new notification
//! on its tenant's Redis channel (`db::notifications::live_channel`); every gateway holds one
//! subscriber connection to all of them (a pattern subscription) and hands what arrives to its
//! local streams through a tokio broadcast channel. A stream keeps only its user's.
//!
//! Nothing here is durable: a stream that was not connected, lagged behind the broadcast, or
//! whose gateway lost Redis for a while catches up from the database (`Last-Event-ID`).

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
/// receiver, so one user (or a stolen session) cannot hold thousands. Per replica: a user's
/// streams on other gateways are not counted here.
#[derive(Clone)]
pub struct StreamSlots {
    limit: usize,
    open: Arc<std::sync::Mutex<std::collections::HashMap<common::UserId, usize>>>,
}

/// One open stream's place; dropping it (the stream ended or its client went away) frees it.
pub struct StreamSlot {
    slots: StreamSlots,
    user: common::UserId,
}

impl StreamSlots {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A place for one more stream of `user`, or `None` when it holds `limit` already.
    pub fn take(&self, user: common::UserId) -> Option<StreamSlot> {
        // Nothing panics while the lock is held, so a poisoned map is still a whole one.
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(user).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user,
        })
    }

    /// Streams `user` holds open on this gateway.
    pub fn open_of(&self, user: common::UserId) -> usize {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&user)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_limit_and_a_dropped_slot_frees_one() {
        let slots = StreamSlots::new(2);
        let ana = common::UserId::new();
        let bia = common::UserId::new();
        let first = slots.take(ana).unwrap();
        let _second = slots.take(ana).unwrap();
        assert!(slots.take(ana).is_none());
        assert!(
            slots.take(bia).is_some(),
            "another user's are counted apart"
        );
        drop(first);
        assert_eq!(slots.open_of(ana), 1);
        assert!(slots.take(ana).is_some());
    }
}
