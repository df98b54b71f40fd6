//! Counters: Prometheus-style ones through the `metrics` facade, plus the same totals per
//! [`Cache`](crate::Cache) handle for tests and diagnostics.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Unit, counter, describe_counter};

/// Every read answered by the cache, once, labelled by the tier that answered (`tier="local"`
/// for the in-process tier, `tier="redis"`), so `hits / (hits + misses)` is the cache's hit
/// rate (the guide's formula) and `sum by (tier)` shows each tier's share.
pub const HITS: &str = "redis_cache_hits_total";
pub const MISSES: &str = "redis_cache_misses_total";
pub const ERRORS: &str = "redis_cache_errors_total";
pub const FALLBACKS: &str = "redis_cache_fallbacks_total";
pub const LOADER_CALLS: &str = "cache_loader_calls_total";
pub const COALESCED: &str = "cache_coalesced_total";

/// The `tier` label of [`HITS`].
const TIER_LOCAL: &str = "local";
const TIER_REDIS: &str = "redis";

/// Registers the descriptions of the cache's metrics with the installed recorder. Building a
/// [`Cache`](crate::Cache) does it too; call it again if the recorder is installed later.
pub fn describe_metrics() {
    describe_counter!(
        HITS,
        Unit::Count,
        "Reads answered by the cache, absent-row markers included, each once (labels key_type, tier = local | redis)"
    );
    describe_counter!(
        MISSES,
        Unit::Count,
        "Reads neither tier had a usable entry for: missing, another version, or unreadable (label key_type)"
    );
    describe_counter!(
        ERRORS,
        Unit::Count,
        "Failed cache operations (labels key_type, kind = timeout | error | decode | version | encode)"
    );
    describe_counter!(
        FALLBACKS,
        Unit::Count,
        "Reads that went to the source because Redis failed or timed out (label key_type)"
    );
    describe_counter!(
        LOADER_CALLS,
        Unit::Count,
        "Loads from the source of truth (label key_type)"
    );
    describe_counter!(
        COALESCED,
        Unit::Count,
        "Reads answered by a concurrent read of the same key in this process (label key_type)"
    );
}

/// Why an operation failed, the `kind` label of `redis_cache_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Timeout,
    Redis,
    Decode,
    Version,
    Encode,
}

impl ErrorKind {
    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Redis => "error",
            Self::Decode => "decode",
            Self::Version => "version",
            Self::Encode => "encode",
        }
    }
}

/// Totals of one [`Cache`](crate::Cache) handle and its clones, over all key kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered by the in-process tier (`tier="local"`).
    pub local_hits: u64,
    /// Reads answered by Redis (`tier="redis"`); the hit rate is
    /// `(local_hits + hits) / (local_hits + hits + misses)`.
    pub hits: u64,
    pub misses: u64,
    pub loader_calls: u64,
    pub coalesced: u64,
    pub fallbacks: u64,
    pub timeouts: u64,
    pub redis_errors: u64,
    pub decode_errors: u64,
    pub version_mismatches: u64,
    pub encode_errors: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    local_hits: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    loader_calls: AtomicU64,
    coalesced: AtomicU64,
    fallbacks: AtomicU64,
    timeouts: AtomicU64,
    redis_errors: AtomicU64,
    decode_errors: AtomicU64,
    version_mismatches: AtomicU64,
    encode_errors: AtomicU64,
}

fn bump(total: &AtomicU64, name: &'static str, key_type: &'static str) {
    total.fetch_add(1, Ordering::Relaxed);
    counter!(name, "key_type" => key_type).increment(1);
}

impl Counters {
    pub(crate) fn local_hit(&self, key_type: &'static str) {
        self.local_hits.fetch_add(1, Ordering::Relaxed);
        counter!(HITS, "key_type" => key_type, "tier" => TIER_LOCAL).increment(1);
    }

    pub(crate) fn hit(&self, key_type: &'static str) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        counter!(HITS, "key_type" => key_type, "tier" => TIER_REDIS).increment(1);
    }

    pub(crate) fn miss(&self, key_type: &'static str) {
        bump(&self.misses, MISSES, key_type);
    }

    pub(crate) fn loader_call(&self, key_type: &'static str) {
        bump(&self.loader_calls, LOADER_CALLS, key_type);
    }

    pub(crate) fn coalesced(&self, key_type: &'static str) {
        bump(&self.coalesced, COALESCED, key_type);
    }

    pub(crate) fn fallback(&self, key_type: &'static str) {
        bump(&self.fallbacks, FALLBACKS, key_type);
    }

    pub(crate) fn error(&self, key_type: &'static str, error: ErrorKind) {
        let total = match error {
            ErrorKind::Timeout => &self.timeouts,
            ErrorKind::Redis => &self.redis_errors,
            ErrorKind::Decode => &self.decode_errors,
            ErrorKind::Version => &self.version_mismatches,
            ErrorKind::Encode => &self.encode_errors,
        };
        total.fetch_add(1, Ordering::Relaxed);
        counter!(ERRORS, "key_type" => key_type, "kind" => error.label()).increment(1);
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            local_hits: get(&self.local_hits),
            hits: get(&self.hits),
            misses: get(&self.misses),
            loader_calls: get(&self.loader_calls),
            coalesced: get(&self.coalesced),
            fallbacks: get(&self.fallbacks),
            timeouts: get(&self.timeouts),
            redis_errors: get(&self.redis_errors),
            decode_errors: get(&self.decode_errors),
            version_mismatches: get(&self.version_mismatches),
            encode_errors: get(&self.encode_errors),
        }
    }
}
