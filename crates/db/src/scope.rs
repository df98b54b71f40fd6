//! Tenant scoping as a type.
//!
//! Tenant-owned data is read and written through a [`TenantScope`]: a connection bound to one
//! tenant. A query function takes the scope, not a bare connection and a loose tenant id, so it
//! cannot forget the tenant, and a handler can only build a scope from its authenticated caller.

use common::TenantId;
use sea_orm::ConnectionTrait;

/// A connection (a pool or an open transaction) bound to one tenant.
#[derive(Debug)]
pub struct TenantScope<'c, C> {
    conn: &'c C,
    tenant_id: TenantId,
}

// Derives would require `C: Clone`; the scope only holds a reference.
impl<C> Clone for TenantScope<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for TenantScope<'_, C> {}

impl<'c, C: ConnectionTrait> TenantScope<'c, C> {
    pub fn new(conn: &'c C, tenant_id: TenantId) -> Self {
        Self { conn, tenant_id }
    }

    /// The same tenant on another connection, e.g. a transaction begun from this one's pool.
    pub fn on<'d, D: ConnectionTrait>(&self, conn: &'d D) -> TenantScope<'d, D> {
        TenantScope::new(conn, self.tenant_id)
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The tenant's id as SQL sees it, for `WHERE tenant_id = $1`.
    pub fn tenant_uuid(&self) -> uuid::Uuid {
        self.tenant_id.into_uuid()
    }

    pub fn conn(&self) -> &'c C {
        self.conn
    }
}
