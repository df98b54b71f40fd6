//! `gateway`: the HTTP API. Thin on purpose: configuration, telemetry, then the library.

use clap::{Parser, Subcommand};
use common::config::Env;
use gateway::Application;
use gateway::config::GatewayConfig;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(version, about = "WUZAPI Manager HTTP gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create a superadmin (or reuse the one with this email) and print a new API key for it.
    BootstrapSuperadmin {
        #[arg(long, env = "SUPERADMIN_EMAIL")]
        email: String,
    },
    /// Exit 0 when this machine's gateway answers /healthz (for container health checks).
    Healthcheck,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_tracing("gateway");
    let config = match GatewayConfig::from_env(&Env::system()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gateway: {e}");
            std::process::exit(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::BootstrapSuperadmin { email } => {
            let db = db::connect(&config.core.database_url, 1).await?;
            let (admin, key) = db::tenants::bootstrap_superadmin(&db, email.trim()).await?;
            eprintln!(
                "superadmin {} ({}) — new API key (shown once):",
                admin.email, admin.id
            );
            println!("{key}");
            Ok(())
        }
        Command::Healthcheck => {
            let port = config.listen.rsplit(':').next().unwrap_or("3000");
            let url = format!("http://127.0.0.1:{port}/healthz");
            let healthy = tokio::time::timeout(std::time::Duration::from_secs(3), async {
                let stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await?;
                healthcheck_get(stream, &url).await
            })
            .await;
            match healthy {
                Ok(Ok(true)) => Ok(()),
                _ => {
                    eprintln!("gateway: {url} did not answer 200");
                    std::process::exit(1);
                }
            }
        }
    }
}

async fn serve(config: GatewayConfig) -> anyhow::Result<()> {
    let app = Application::build(config.clone()).await?;
    tracing::info!(
        port = app.port(),
        "gateway listening on http://{}",
        config.listen
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}

/// A minimal HTTP/1.1 GET, so the health check needs no HTTP client in the image.
async fn healthcheck_get(mut stream: tokio::net::TcpStream, url: &str) -> std::io::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = url
        .split_once("/healthz")
        .map(|_| "/healthz")
        .unwrap_or("/");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    Ok(head.starts_with(b"HTTP/1.1 200"))
}
