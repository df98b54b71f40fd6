//! Probes and metrics.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use fred::interfaces::ClientLike;

use crate::state::AppState;

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: Postgres, Redis and RabbitMQ answer. 503 names what does not.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let timeout = Duration::from_secs(2);
    let postgres = matches!(
        tokio::time::timeout(timeout, db::ping(&state.db)).await,
        Ok(Ok(()))
    );
    let redis = matches!(
        tokio::time::timeout(timeout, state.redis.ping::<String>(None)).await,
        Ok(Ok(_))
    );
    let rabbitmq = state
        .broker_connected
        .as_ref()
        .is_none_or(|flag| flag.load(Ordering::Relaxed));
    let body = serde_json::json!({
        "status": if postgres && redis && rabbitmq { "ready" } else { "unavailable" },
        "checks": {"postgres": postgres, "redis": redis, "rabbitmq": rabbitmq},
    });
    if postgres && redis && rabbitmq {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
