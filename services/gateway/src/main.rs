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
    /// Set the sign-in password of a user (the superadmin without `--tenant`), read from the
    /// first line of standard input, so it stays out of the shell's history and `ps`.
    SetPassword {
        #[arg(long)]
        email: String,
        /// The user's tenant, by slug; left out for the superadmin.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Exit 0 when this machine's gateway answers /healthz (for container health checks).
    Healthcheck,
    /// Print the API's OpenAPI document (what `/api/openapi.json` serves) and exit; the web
    /// app generates its API types from it. Needs no configuration.
    Openapi,
}

#[tokio::main]
async fn main() {
    let ran = run().await;
    telemetry::process::exit_on_error("gateway", ran);
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
        println!(
            "{}",
            serde_json::to_string_pretty(&gateway::openapi::document())?
        );
        return Ok(());
    }
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
        Command::SetPassword { email, tenant } => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password =
                secrecy::SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned());
            let email = email.trim();
            common::password::check_new(&password, email)?;
            let db = db::connect(&config.core.database_url, 1).await?;
            let user = db::sessions::find_for_sign_in(&db, tenant.as_deref(), email)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no user {email} in {}",
                        tenant.as_deref().unwrap_or("the platform (superadmin)")
                    )
                })?;
            let hash =
                tokio::task::spawn_blocking(move || common::password::hash(&password)).await?;
            db::sessions::set_password(&db, user.user_id, &hash).await?;
            eprintln!("password set for {email} ({})", user.user_id);
            Ok(())
        }
        Command::Openapi => unreachable!("answered before configuration is read"),
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
