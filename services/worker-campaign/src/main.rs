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
            .unwrap_or("9101")
            .to_owned();
        let ok = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await?;
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).await?;
            Ok::<_, std::io::Error>(head.starts_with(b"HTTP/1.1 200"))
        })
        .await;
        std::process::exit(if matches!(ok, Ok(Ok(true))) { 0 } else { 1 });
    }
    let worker = Worker::build(config.clone()).await?;
    tracing::info!(
        concurrency = config.concurrency,
        "worker-campaign consuming; probes on http://{}",
        config.listen
    );
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down: draining in-flight jobs");
        on_signal.cancel();
    });
    worker.run_until_stopped(shutdown).await
}
