//! `worker-campaign`: consumes the campaign queue. Thin: configuration, telemetry, the library.

use common::config::Env;
use tokio_util::sync::CancellationToken;
use worker_campaign::Worker;
use worker_campaign::config::WorkerConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_tracing("worker-campaign");
    let config = match WorkerConfig::from_env(&Env::system()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("worker-campaign: {e}");
            std::process::exit(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        let port = config
            .listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(9101);
        let healthy = telemetry::process::healthz_answers(port).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    let worker = Worker::build(config.clone()).await?;
    tracing::info!(
        concurrency = config.concurrency,
        "worker-campaign consuming; probes on http://{}",
        config.listen
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(telemetry::process::cancel_on_signal(shutdown.clone()));
    worker.run_until_stopped(shutdown).await
}
