//! `/healthz`, `/readyz` and `/metrics`, the same for every service: the gateway mounts them
//! on its API, workers serve them on their own small server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::Metrics;

type CheckFuture = Pin<Box<dyn Future<Output = bool> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Named readiness checks; the service is ready when all of them pass.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
}

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check, e.g. `("postgres", || async { db::ping(&db).await.is_ok() })`.
    pub fn check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    /// Runs every check at once; returns each one's result in order.
    pub async fn run(&self) -> Vec<(&'static str, bool)> {
        let runs = self.checks.iter().map(|(name, check)| {
            let future = check();
            async move {
                let ok = matches!(tokio::time::timeout(CHECK_TIMEOUT, future).await, Ok(true));
                (*name, ok)
            }
        });
        futures_util::future::join_all(runs).await
    }
}

/// Shared state of the probe routes.
#[derive(Clone)]
pub struct Probes {
    pub readiness: Readiness,
    pub metrics: Metrics,
}

/// The paths [`configure`] mounts: probes and scrapes, which request logs and traces leave out.
pub const PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Mounts `/healthz`, `/readyz` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig, probes: Probes) {
    cfg.app_data(web::Data::new(probes))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: every dependency answers; 503 names the ones that do not.
pub async fn readyz(probes: web::Data<Probes>) -> HttpResponse {
    let results = probes.readiness.run().await;
    let ready = results.iter().all(|(_, ok)| *ok);
    let checks: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, ok)| (name.to_owned(), ok.into()))
        .collect();
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": checks,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(probes: web::Data<Probes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(probes.metrics.render())
}
