//! Cached reads and the invalidation that follows writes: the one way handlers use the cache.
//!
//! A handler reads through [`read`] with a typed key and the query that answers a miss, and
//! after a committed write calls [`invalidate`] with exactly the keys the write affects. Redis
//! being down never fails either: reads go to Postgres, and a failed invalidation is logged and
//! counted (the entry then expires with its TTL).

use std::future::Future;
use std::sync::Arc;

use cache::{Key, KeyRef, KeyType};
use db::DbError;

use crate::error::ApiError;
use crate::state::AppState;

/// The cached value of `key`, or `load`'s answer (then cached). `Ok(None)`: no such row.
pub async fn read<K, F>(
    state: &AppState,
    key: &Key<K>,
    load: F,
) -> Result<Option<K::Value>, ApiError>
where
    K: KeyType,
    F: Future<Output = Result<Option<K::Value>, DbError>>,
{
    state
        .cache
        .get_or_load(key, async { load.await.map_err(Arc::new) })
        .await
        // Every caller that waited for this load gets the error; each answers its request.
        .map_err(|shared: Arc<DbError>| ApiError::from_shared_db_error(&shared))
}

/// Drops `keys` after a write, so the next read on any replica sees it.
pub async fn invalidate(state: &AppState, keys: impl IntoIterator<Item = KeyRef>) {
    let keys: Vec<KeyRef> = keys.into_iter().collect();
    if let Err(e) = state.cache.invalidate_many(keys.iter().cloned()).await {
        tracing::warn!(error = %e, keys = ?keys, "cache invalidation failed; entries expire with their TTL");
    }
}

/// Drops every cached entry of a tenant.
pub async fn invalidate_tenant(state: &AppState, tenant_id: impl std::fmt::Display) {
    if let Err(e) = state.cache.invalidate_tenant(&tenant_id).await {
        tracing::warn!(error = %e, tenant = %tenant_id, "tenant cache invalidation failed; entries expire with their TTL");
    }
}

/// A key of `K` for `id`, filed under `tenant_id` so tenant-wide invalidation reaches it.
pub fn tenant_key<K: KeyType>(id: &K::Id, tenant_id: impl std::fmt::Display) -> Key<K> {
    Key::new(id).for_tenant(tenant_id)
}
