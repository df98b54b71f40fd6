//! A worker process: probes, broker connection with reconnect, the consumer, heartbeats, the
//! outbox relay and the drain on shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use common::{JobKind, WorkerId};
use db::DatabaseConnection;
use db::workers::WorkerInfo;
use outbox::{Relay, RelayWaker};
use queue::Broker;
use tokio_util::sync::CancellationToken;

use crate::job::Job;
use crate::lifecycle::Lifecycle;
use crate::settings::WorkerSettings;

/// A worker for job type `J`, with its probe server bound. Tests build it exactly as `main`
/// does, on port 0.
pub struct Worker<J: Job> {
    settings: WorkerSettings,
    job: Arc<J>,
    db: DatabaseConnection,
    id: WorkerId,
    consuming: Arc<AtomicBool>,
    http_port: u16,
    http: Server,
}

impl<J: Job> Worker<J> {
    pub async fn build(
        settings: WorkerSettings,
        db: DatabaseConnection,
        job: J,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.queue == <J::Kind as JobKind>::QUEUE,
            "settings are for queue {} but the job consumes {}",
            settings.queue,
            <J::Kind as JobKind>::QUEUE
        );
        let metrics = telemetry::metrics();
        let consuming = Arc::new(AtomicBool::new(false));
        let listener = TcpListener::bind(&settings.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let http_port = listener.local_addr()?.port();
        let readiness = {
            let db = db.clone();
            let consuming = consuming.clone();
            telemetry::probes::Readiness::new()
                .check("postgres", move || {
                    let db = db.clone();
                    async move { db::ping(&db).await.is_ok() }
                })
                .check("rabbitmq", move || {
                    let consuming = consuming.load(Ordering::Relaxed);
                    async move { consuming }
                })
        };
        let probes = telemetry::probes::Probes { readiness, metrics };
        let http = HttpServer::new(move || {
            App::new().configure(|cfg| telemetry::probes::configure(cfg, probes.clone()))
        })
        .workers(1)
        .listen(listener)?
        .disable_signals()
        .run();
        Ok(Self {
            settings,
            job: Arc::new(job),
            db,
            id: WorkerId::new(),
            consuming,
            http_port,
            http,
        })
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn id(&self) -> WorkerId {
        self.id
    }

    /// Consumes the queue until `shutdown`, reconnecting to RabbitMQ whenever the connection
    /// drops; on shutdown, stops taking jobs, drains the ones in flight and deregisters.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let queue = self.settings.queue;
        let http_handle = self.http.handle();
        let http = tokio::spawn(self.http);
        let background = CancellationToken::new();
        let relay_waker = RelayWaker::default();
        let relay = self.settings.run_outbox_relay.then(|| {
            let relay = Relay::new(
                self.db.clone(),
                &self.settings.core.amqp_url,
                &self.settings.core.queue_prefix,
                self.settings.core.queue_type,
                relay_waker.clone(),
            );
            tokio::spawn(relay.run(background.clone()))
        });
        let in_flight = Arc::new(AtomicI32::new(0));
        let info = WorkerInfo {
            id: self.id,
            queue,
            host: hostname(),
            pid: std::process::id() as i32,
            concurrency: i32::from(self.settings.concurrency),
            heartbeat_ms: self.settings.heartbeat.as_millis() as i32,
        };
        let heartbeat = tokio::spawn(heartbeats(
            self.db.clone(),
            info,
            self.settings.heartbeat,
            in_flight.clone(),
            background.clone(),
        ));
        let handler = Arc::new(Lifecycle {
            job: self.job.clone(),
            db: self.db.clone(),
            settings: self.settings.clone(),
            worker_id: self.id,
            shutdown: shutdown.clone(),
            relay_waker,
            in_flight,
        });
        consume_until_stopped(&self.settings, self.id, &self.consuming, handler, &shutdown).await;
        // In-flight jobs are drained by now; their continuations may still sit in the outbox,
        // which the relay publishes before it stops (or another process's relay does).
        background.cancel();
        if let Some(relay) = relay {
            let _ = relay.await;
        }
        let _ = heartbeat.await;
        if let Err(e) = db::workers::deregister(&self.db, self.id).await {
            tracing::warn!(error = %e, "could not deregister; the worker drops out after 3 heartbeats");
        }
        http_handle.stop(true).await;
        http.await??;
        Ok(())
    }
}

/// Consumes `settings.queue` until `shutdown`, connecting to RabbitMQ again (with a backoff of
/// up to 10 s) whenever the connection drops or cannot be made; `consuming` says whether it is
/// connected (the readiness probe).
async fn consume_until_stopped<J: Job>(
    settings: &WorkerSettings,
    worker: WorkerId,
    consuming: &AtomicBool,
    handler: Arc<Lifecycle<J>>,
    shutdown: &CancellationToken,
) {
    let queue = settings.queue;
    let mut backoff = Duration::from_millis(200);
    let wait_delays = settings.wait_delays();
    while !shutdown.is_cancelled() {
        let core = &settings.core;
        match Broker::connect(&core.amqp_url, &core.queue_prefix, core.queue_type).await {
            Ok(broker) => {
                let result = async {
                    broker.declare(&[queue]).await?;
                    broker.declare_wait(queue, &wait_delays).await?;
                    consuming.store(true, Ordering::Relaxed);
                    backoff = Duration::from_millis(200);
                    tracing::info!(queue = queue.as_str(), worker = %worker, "consuming");
                    queue::run_consumer(
                        &broker,
                        queue,
                        settings.concurrency,
                        handler.clone(),
                        shutdown.clone(),
                    )
                    .await
                }
                .await;
                consuming.store(false, Ordering::Relaxed);
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
}

/// Reports the worker every `interval` until `stop`.
async fn heartbeats(
    db: DatabaseConnection,
    info: WorkerInfo,
    interval: Duration,
    in_flight: Arc<AtomicI32>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let jobs = in_flight.load(Ordering::Relaxed);
        if let Err(e) = db::workers::heartbeat(&db, &info, jobs).await {
            tracing::warn!(error = %e, "could not record a heartbeat");
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
