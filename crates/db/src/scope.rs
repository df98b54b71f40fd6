//! Tenant scoping as a type.
//!
//! Tenant-owned data is read and written through a [`TenantScope`]: a connection bound to one
//! tenant. A query function takes the scope, not a bare connection and a loose tenant id, so it
//! cannot forget the tenant.
//!
//! Outside this crate a scope is built only by a constructor named after where its tenant came
//! from ([`TenantScope::for_caller`], [`TenantScope::for_job`],
//! [`TenantScope::for_signed_callback`], [`TenantScope::for_public_page`],
//! [`TenantScope::for_operator_action`]), so every place that picks a tenant says why it may,
//! and a search for one provenance finds them all:
//!
//! ```
//! # async fn scoped(conn: &db::DatabaseConnection, tenant: common::TenantId) {
//! let scope = db::TenantScope::for_caller(conn, tenant);
//! # }
//! ```
//!
//! The plain constructor is private to `db`, so this does not compile:
//!
//! ```compile_fail
//! # async fn unscoped(conn: &db::DatabaseConnection, tenant: common::TenantId) {
//! // error[E0624]: associated function `new` is private
//! let scope = db::TenantScope::new(conn, tenant);
//! # }
//! ```

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
    /// Inside `db` only: queries that derive a tenant from a row they already read (a job, an
    /// invitation) or from a change that names it.
    pub(crate) fn new(conn: &'c C, tenant_id: TenantId) -> Self {
        Self { conn, tenant_id }
    }

    /// The tenant of an authenticated API caller (an API key or a session resolved to its
    /// principal): the gateway's `Caller::scope` and what it hands on.
    pub fn for_caller(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
    }

    /// The tenant a job row belongs to: a worker running the job its lease holds, or the
    /// gateway acting on a job it read through the caller's reach (a replay).
    pub fn for_job(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
    }

    /// The tenant a callback from outside names (a WUZAPI event's inbox, a Stripe webhook's
    /// URL): nothing is written for it before the callback's signature or unguessable token
    /// is verified against this tenant's own secret, which this scope may read to verify it.
    pub fn for_signed_callback(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
    }

    /// The tenant a public page was looked up for (its slug or verified custom host): only
    /// what the tenant publishes (its branding) is read through it.
    pub fn for_public_page(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
    }

    /// The tenant the platform operator (a superadmin) names when acting on one tenant.
    pub fn for_operator_action(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
    }

    /// Any tenant a test or benchmark sets up: only with `db`'s `testing` feature.
    #[cfg(any(test, feature = "testing"))]
    pub fn for_test(conn: &'c C, tenant_id: TenantId) -> Self {
        Self::new(conn, tenant_id)
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
