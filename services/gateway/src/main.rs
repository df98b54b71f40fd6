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
async fn main() {
    let ran = run().await;
    telemetry::process::exit_on_error("gateway", ran);
}

async fn run() -> anyhow::Result<()> {
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
        Command::Serve => {
            let served = serve(config).await;
            telemetry::shutdown_tracing().await;
            served
        }
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
            let port = config
                .listen
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(3000);
            if telemetry::process::healthz_answers(port).await {
                Ok(())
            } else {
                eprintln!("gateway: http://127.0.0.1:{port}/healthz did not answer 200");
                std::process::exit(1);
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
    tokio::spawn(telemetry::process::cancel_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await
}
