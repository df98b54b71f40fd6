//! What every handler shares.

use std::sync::Arc;

use db::DatabaseConnection;
use db::secrets::SecretCipher;
use outbox::RelayWaker;

use crate::config::GatewayConfig;

pub struct AppState {
    pub config: GatewayConfig,
    pub db: DatabaseConnection,
    /// Redis cache-aside for everything the guide caches (see `crate::cached`).
    pub cache: cache::Cache,
    /// The tenants' rate limits, on the cache's Redis connection.
    pub limiter: ratelimit::RateLimiter,
    pub token_cipher: SecretCipher,
    pub relay_waker: RelayWaker,
    /// RabbitMQ for the job API (queue counts, dead-letter housekeeping).
    pub broker: Arc<crate::broker::BrokerHandle>,
    pub metrics: telemetry::Metrics,
    /// Uploads (contact files) and generated files.
    pub storage: storage::Storage,
    /// New notifications from every replica's Redis subscription, for the live streams.
    pub live: Arc<crate::live::LiveHub>,
    /// Tells WUZAPI servers where to post each inbox's events.
    pub wuzapi: wuzapi::WuzapiClient,
    /// The base WUZAPI servers reach this gateway at (`PUBLIC_URL`, or this process's port),
    /// without a trailing `/`.
    pub public_url: String,
    /// The bound on concurrent password hashing (`PASSWORD_HASH_CONCURRENCY`).
    pub password_gate: crate::password_gate::PasswordGate,
    /// Tags the known-browser cookie of sign-in (`crate::known_browser`).
    pub device_key: crate::known_browser::DeviceKey,
    /// Session tokens and webhook paths this replica has seen succeed: not charged to the
    /// anonymous budget again (`crate::anonymous`).
    pub known: crate::anonymous::KnownCredentials,
    /// Live notification streams open per user (`NOTIFICATIONS_STREAMS_PER_USER`).
    pub streams: crate::live::StreamSlots,
}
