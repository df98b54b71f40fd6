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

/// A connection that reads across every tenant: the platform operator's (superadmin's) view.
/// Built by name, so each cross-tenant read is easy to find.
#[derive(Debug)]
pub struct PlatformScope<'c, C> {
    conn: &'c C,
}

impl<C> Clone for PlatformScope<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for PlatformScope<'_, C> {}

impl<'c, C: ConnectionTrait> PlatformScope<'c, C> {
    pub fn new(conn: &'c C) -> Self {
        Self { conn }
    }

    pub fn conn(&self) -> &'c C {
        self.conn
    }
}

/// What a query that serves both a tenant and the operator may see: one tenant's rows, or
/// every tenant's.
#[derive(Debug)]
pub enum Reach<'c, C> {
    Tenant(TenantScope<'c, C>),
    Platform(PlatformScope<'c, C>),
}

impl<C> Clone for Reach<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Reach<'_, C> {}

impl<'c, C: ConnectionTrait> Reach<'c, C> {
    pub fn conn(&self) -> &'c C {
        match self {
            Reach::Tenant(scope) => scope.conn(),
            Reach::Platform(scope) => scope.conn(),
        }
    }

    /// The tenant the rows must belong to; `None` for the platform.
    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            Reach::Tenant(scope) => Some(scope.tenant_id()),
            Reach::Platform(_) => None,
        }
    }

    /// The same reach on another connection (a transaction begun from this one's pool).
    pub fn on<'d, D: ConnectionTrait>(&self, conn: &'d D) -> Reach<'d, D> {
        match self {
            Reach::Tenant(scope) => Reach::Tenant(scope.on(conn)),
            Reach::Platform(_) => Reach::Platform(PlatformScope::new(conn)),
        }
    }
}

impl<'c, C> From<TenantScope<'c, C>> for Reach<'c, C> {
    fn from(scope: TenantScope<'c, C>) -> Self {
        Reach::Tenant(scope)
    }
}

impl<'c, C> From<PlatformScope<'c, C>> for Reach<'c, C> {
    fn from(scope: PlatformScope<'c, C>) -> Self {
        Reach::Platform(scope)
    }
}
