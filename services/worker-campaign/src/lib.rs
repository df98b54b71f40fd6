#![doc = include_str!("../README.md")]

pub mod config;
pub mod send;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use common::QueueName;
use db::secrets::TokenCipher;
use queue::{Broker, Delivery, HandlerError, JobHandler};
use tokio_util::sync::CancellationToken;
use wuzapi::WuzapiClient;

use crate::config::WorkerConfig;
use crate::send::CampaignSender;

/// The campaign worker, with its probe server bound. Tests build it exactly as `main` does.
pub struct Worker {
    config: WorkerConfig,
    sender: Arc<CampaignSender>,
    consuming: Arc<AtomicBool>,
    http_port: u16,
    http: Server,
}

struct Handler(Arc<CampaignSender>);

impl JobHandler for Handler {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        self.0.handle_message(&delivery.payload).await.map(|_| ())
    }
}

struct ProbeState {
    db: db::DatabaseConnection,
    consuming: Arc<AtomicBool>,
    metrics: telemetry::Metrics,
}

impl Worker {
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        let metrics = telemetry::metrics();
        let db = db::connect(&config.core.database_url, config.database_max_connections).await?;
        let cipher = TokenCipher::from_setting(config.inbox_token_key.as_deref())?;
        let sender = Arc::new(CampaignSender {
            db: db.clone(),
            wuzapi: WuzapiClient::with_defaults()?,
            cipher,
            send_retries: config.send_retries,
            send_retry_base: config.send_retry_base,
            batch_size: config.batch_size,
        });
        let consuming = Arc::new(AtomicBool::new(false));
        let listener = TcpListener::bind(&config.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let http_port = listener.local_addr()?.port();
        let probe = web::Data::new(ProbeState {
            db,
            consuming: consuming.clone(),
            metrics,
        });
        let http = HttpServer::new(move || {
            App::new()
                .app_data(probe.clone())
                .route(
                    "/healthz",
                    web::get().to(|| async {
                        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
                    }),
                )
                .route("/readyz", web::get().to(readyz))
                .route(
                    "/metrics",
                    web::get().to(|state: web::Data<ProbeState>| async move {
                        HttpResponse::Ok()
                            .content_type("text/plain; version=0.0.4")
                            .body(state.metrics.render())
                    }),
                )
        })
        .workers(1)
        .listen(listener)?
        .disable_signals()
        .run();
        Ok(Self {
            config,
            sender,
            consuming,
            http_port,
            http,
        })
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// Consumes the campaign queue until `shutdown`, reconnecting to RabbitMQ whenever the
    /// connection drops; on shutdown, stops taking jobs and drains the ones in flight.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let http_handle = self.http.handle();
        let http = tokio::spawn(self.http);
        let handler = Arc::new(Handler(self.sender.clone()));
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match Broker::connect(&self.config.core.amqp_url, &self.config.core.queue_prefix).await
            {
                Ok(broker) => {
                    let result = async {
                        broker.declare(&[QueueName::Campaign]).await?;
                        self.consuming.store(true, Ordering::Relaxed);
                        backoff = Duration::from_millis(200);
                        queue::run_consumer(
                            &broker,
                            QueueName::Campaign,
                            self.config.concurrency,
                            handler.clone(),
                            shutdown.clone(),
                        )
                        .await
                    }
                    .await;
                    self.consuming.store(false, Ordering::Relaxed);
                    broker.close().await;
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "lost RabbitMQ; reconnecting");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot reach RabbitMQ; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        http_handle.stop(true).await;
        http.await??;
        Ok(())
    }
}

async fn readyz(state: web::Data<ProbeState>) -> HttpResponse {
    let postgres = matches!(
        tokio::time::timeout(Duration::from_secs(2), db::ping(&state.db)).await,
        Ok(Ok(()))
    );
    let rabbitmq = state.consuming.load(Ordering::Relaxed);
    let body = serde_json::json!({
        "status": if postgres && rabbitmq { "ready" } else { "unavailable" },
        "checks": {"postgres": postgres, "rabbitmq": rabbitmq},
    });
    if postgres && rabbitmq {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
