//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use db::DatabaseConnection;
use db::secrets::TokenCipher;
use outbox::RelayWaker;

use crate::config::GatewayConfig;

pub struct AppState {
    pub config: GatewayConfig,
    pub db: DatabaseConnection,
    pub redis: fred::clients::Client,
    pub token_cipher: TokenCipher,
    pub relay_waker: RelayWaker,
    /// Whether the outbox relay holds a RabbitMQ connection; `None` when this process runs none.
    pub broker_connected: Option<Arc<AtomicBool>>,
    pub metrics: telemetry::Metrics,
}
