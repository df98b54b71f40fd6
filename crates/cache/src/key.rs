//! What may be cached: the guide's key kinds, and typed keys that bind a kind to a value type.

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a kind of key is keyed by, and so whether it belongs to a tenant by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// Keyed by a tenant id: every such key is in its tenant's index.
    Tenant,
    /// Keyed by a user id: in a tenant's index only when stored with [`Key::for_tenant`].
    User,
    /// Keyed by an account id: in a tenant's index only when stored with [`Key::for_tenant`].
    Account,
    /// Keyed by an API key's hash: in a tenant's index only when stored with [`Key::for_tenant`].
    ApiKey,
}

/// Where the default of a kind's TTL comes from when its own variable is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TtlDefault {
    /// `CACHE_DEFAULT_TTL` (itself 300 s by default): the guide's five-minute keys.
    Shared,
    /// A fixed number of seconds, for the keys the guide gives another TTL.
    Fixed(u64),
}

macro_rules! key_kinds {
    ($($(#[$meta:meta])* $kind:ident => $name:literal, $var:literal, $default:expr, $owner:ident;)*) => {
        /// The cached things of the guide. The set is closed on purpose: every kind has exactly one
        /// documented name, TTL variable and default, whatever crate binds its value type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum KeyKind {
            $($(#[$meta])* $kind,)*
        }

        impl KeyKind {
            pub const ALL: &'static [KeyKind] = &[$(KeyKind::$kind,)*];

            /// The first part of the Redis key (`{name}:{id}`), also the `key_type` metrics label.
            pub const fn name(self) -> &'static str {
                match self {
                    $(KeyKind::$kind => $name,)*
                }
            }

            /// The environment variable that sets this kind's TTL, in seconds.
            pub const fn ttl_var(self) -> &'static str {
                match self {
                    $(KeyKind::$kind => $var,)*
                }
            }

            pub const fn owner(self) -> KeyOwner {
                match self {
                    $(KeyKind::$kind => KeyOwner::$owner,)*
                }
            }

            pub(crate) const fn ttl_default(self) -> TtlDefault {
                match self {
                    $(KeyKind::$kind => $default,)*
                }
            }
        }
    };
}

key_kinds! {
    /// `branding:{tenantId}`
    Branding => "branding", "CACHE_BRANDING_TTL", TtlDefault::Shared, Tenant;
    /// `stripe_settings:{tenantId}`
    StripeSettings => "stripe_settings", "CACHE_STRIPE_SETTINGS_TTL", TtlDefault::Shared, Tenant;
    /// `stripe_analytics:{tenantId}`
    StripeAnalytics => "stripe_analytics", "CACHE_STRIPE_ANALYTICS_TTL", TtlDefault::Fixed(120), Tenant;
    /// `user_subscription:{userId}`
    UserSubscription => "user_subscription", "CACHE_SUBSCRIPTION_TTL", TtlDefault::Shared, User;
    /// `session_agents:{accountId}`
    SessionAgents => "session_agents", "CACHE_SESSION_AGENTS_TTL", TtlDefault::Shared, Account;
    /// `session_teams:{accountId}`
    SessionTeams => "session_teams", "CACHE_SESSION_TEAMS_TTL", TtlDefault::Shared, Account;
    /// `session_roles:{accountId}`
    SessionRoles => "session_roles", "CACHE_SESSION_ROLES_TTL", TtlDefault::Fixed(600), Account;
    /// `session_inboxes:{accountId}`
    SessionInboxes => "session_inboxes", "CACHE_SESSION_INBOXES_TTL", TtlDefault::Shared, Account;
    /// `user_quotas:{userId}`
    UserQuotas => "user_quotas", "CACHE_USER_QUOTAS_TTL", TtlDefault::Shared, User;
    /// `user_features:{userId}`
    UserFeatures => "user_features", "CACHE_USER_FEATURES_TTL", TtlDefault::Fixed(600), User;
    /// `api_key_principal:{keyHash}`: who an API key authenticates as.
    ApiKeyPrincipal => "api_key_principal", "CACHE_API_KEY_PRINCIPAL_TTL", TtlDefault::Shared, ApiKey;
}

impl KeyKind {
    /// An untyped key of this kind, enough to invalidate it.
    pub fn key(self, id: impl Display) -> KeyRef {
        KeyRef {
            kind: self,
            id: id.to_string(),
        }
    }

    /// The TTL when no variable is set.
    pub fn default_ttl(self) -> Duration {
        match self.ttl_default() {
            TtlDefault::Shared => Duration::from_secs(crate::config::DEFAULT_TTL_SECS),
            TtlDefault::Fixed(secs) => Duration::from_secs(secs),
        }
    }
}

impl Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key type: one [`KeyKind`] (so one name and one TTL setting) bound to one id type and one
/// value type. Declare it with [`key_type!`](crate::key_type) in the crate that owns the value.
pub trait KeyType: 'static {
    const KIND: KeyKind;
    /// Bump it whenever `Value`'s serialized shape changes: entries written under another schema
    /// are read as misses instead of being misread.
    const SCHEMA_VERSION: u32;
    type Id: Display + ?Sized;
    type Value: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    fn key(id: &Self::Id) -> Key<Self>
    where
        Self: Sized,
    {
        Key::new(id)
    }
}

/// Declares a [`KeyType`]: a unit struct binding a [`KeyKind`] to an id type, a value type and a
/// schema version.
///
/// ```
/// # #[derive(Clone, serde::Serialize, serde::Deserialize)] pub struct Branding { name: String }
/// cache::key_type! {
///     /// A tenant's branding.
///     pub BrandingKey: Branding, id = str, value = Branding, schema = 1
/// }
/// let key = BrandingKey::key("8c1e");
/// assert_eq!(key.id(), "8c1e");
/// ```
#[macro_export]
macro_rules! key_type {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident : $kind:ident, id = $id:ty, value = $value:ty, schema = $schema:expr $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::KeyType for $name {
            const KIND: $crate::KeyKind = $crate::KeyKind::$kind;
            const SCHEMA_VERSION: u32 = $schema;
            type Id = $id;
            type Value = $value;
        }

        impl $name {
            /// The key of `id` (without having to import [`KeyType`]).
            #[allow(dead_code)]
            $vis fn key(id: &$id) -> $crate::Key<Self> {
                $crate::Key::new(id)
            }
        }
    };
}

/// A typed key: which entry, and which tenant's index it goes in when stored.
pub struct Key<K> {
    id: String,
    tenant: Option<String>,
    kind: PhantomData<fn() -> K>,
}

impl<K: KeyType> Key<K> {
    /// A key of a tenant-keyed kind is in that tenant's index; others in none until
    /// [`for_tenant`](Self::for_tenant).
    pub fn new(id: &K::Id) -> Self {
        let id = id.to_string();
        let tenant = (K::KIND.owner() == KeyOwner::Tenant).then(|| id.clone());
        Self {
            id,
            tenant,
            kind: PhantomData,
        }
    }

    /// The tenant whose [`invalidate_tenant`](crate::Cache::invalidate_tenant) must also drop
    /// this entry (a user's, an account's or an API key's).
    pub fn for_tenant(mut self, tenant_id: impl Display) -> Self {
        self.tenant = Some(tenant_id.to_string());
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}

// Derives would require `K: Clone`/`K: Debug` for a marker that is never stored.
impl<K> Clone for Key<K> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: KeyType> fmt::Debug for Key<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kind", &K::KIND)
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// A key without its value type: what invalidation needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    kind: KeyKind,
    id: String,
}

impl KeyRef {
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<K: KeyType> From<&Key<K>> for KeyRef {
    fn from(key: &Key<K>) -> Self {
        K::KIND.key(&key.id)
    }
}

impl<K: KeyType> From<Key<K>> for KeyRef {
    fn from(key: Key<K>) -> Self {
        Self {
            kind: K::KIND,
            id: key.id,
        }
    }
}
