//! Single flight: concurrent reads of one key in one process share one lookup.
//!
//! The first call of a key (the leader) registers a watch channel under the Redis key; calls that
//! find it registered subscribe and wait for the leader's outcome instead of reading Redis and
//! loading themselves. The registration is undone when the leader's [`Lead`] is dropped, whether
//! it finished or its future was cancelled; a waiter that sees the channel close without an
//! outcome tries again, and may become the leader with its own loader.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

pub(crate) type Outcome<V, E> = Result<Option<V>, E>;
type Slot<V, E> = watch::Sender<Option<Outcome<V, E>>>;

/// The keys being looked up right now. The channels are type-erased because one map serves every
/// key type and loader error type.
#[derive(Default)]
pub(crate) struct Flights {
    slots: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

pub(crate) enum Role<'a, V, E> {
    Leader(Lead<'a, V, E>),
    Follower(watch::Receiver<Option<Outcome<V, E>>>),
    /// A call whose loader has another error type is looking the key up: the outcomes cannot be
    /// shared, so this call looks it up alone.
    Alone,
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<dyn Any + Send + Sync>>> {
        // The map is consistent after every statement, so a panic elsewhere cannot have left it
        // half-updated.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn join<V, E>(&self, key: &str) -> Role<'_, V, E>
    where
        V: Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
    {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(key) {
            return match Arc::clone(slot).downcast::<Slot<V, E>>() {
                Ok(slot) => Role::Follower(slot.subscribe()),
                Err(_) => Role::Alone,
            };
        }
        let slot: Arc<Slot<V, E>> = Arc::new(watch::Sender::new(None));
        slots.insert(key.to_owned(), slot.clone());
        Role::Leader(Lead {
            flights: self,
            key: key.to_owned(),
            slot,
        })
    }
}

/// The leader's registration; dropping it lets the next call of the key look it up afresh.
pub(crate) struct Lead<'a, V, E> {
    flights: &'a Flights,
    key: String,
    slot: Arc<Slot<V, E>>,
}

impl<V: Clone, E: Clone> Lead<'_, V, E> {
    pub(crate) fn publish(&self, outcome: &Outcome<V, E>) {
        self.slot.send_replace(Some(outcome.clone()));
    }
}

impl<V, E> Drop for Lead<'_, V, E> {
    fn drop(&mut self) {
        let mut slots = self.flights.lock();
        let ours = slots
            .get(&self.key)
            .is_some_and(|slot| std::ptr::addr_eq(Arc::as_ptr(slot), Arc::as_ptr(&self.slot)));
        if ours {
            slots.remove(&self.key);
        }
    }
}

/// The leader's outcome, or `None` when it was dropped without one.
pub(crate) async fn wait<V: Clone, E: Clone>(
    mut rx: watch::Receiver<Option<Outcome<V, E>>>,
) -> Option<Outcome<V, E>> {
    loop {
        let current = rx.borrow_and_update().clone();
        if current.is_some() {
            return current;
        }
        if rx.changed().await.is_err() {
            // Closed: the leader is gone, maybe after publishing.
            return rx.borrow().clone();
        }
    }
}
