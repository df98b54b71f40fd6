#![doc = include_str!("../README.md")]

mod job;
mod lifecycle;
mod runtime;
pub mod settings;

pub use job::{BoxError, Done, Job, JobContext, JobError};
pub use runtime::Worker;
pub use settings::{RetryPolicy, WorkerSettings};

use common::config::Env;

/// The whole `main` of a worker binary: settings, telemetry, the runtime, until SIGTERM. A
/// `healthcheck` argument instead probes the running worker (for container health checks).
/// A bad setting exits with status 2, a failure to start or run with status 1, each with one
/// line naming what failed.
pub async fn main<J: BuildJob>(
    service: &'static str,
    settings_of: impl FnOnce(&Env) -> Result<(WorkerSettings, J::Config), common::config::ConfigError>,
) {
    let ran = run::<J>(service, settings_of).await;
    telemetry::process::exit_on_error(service, ran);
}

async fn run<J: BuildJob>(
    service: &'static str,
    settings_of: impl FnOnce(&Env) -> Result<(WorkerSettings, J::Config), common::config::ConfigError>,
) -> anyhow::Result<()> {
    telemetry::init_tracing(service);
    let env = Env::system();
    let (settings, config) = match settings_of(&env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{service}: {e}");
            std::process::exit(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        let port = settings
            .listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(9101);
        let healthy = telemetry::process::healthz_answers(port).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    let db = db::connect(
        &settings.core.database_url,
        settings.database_max_connections,
    )
    .await?;
    let job = J::build(config, db.clone())?;
    let worker = Worker::build(settings.clone(), db, job).await?;
    tracing::info!(
        queue = settings.queue.as_str(),
        concurrency = settings.concurrency,
        "{service} starting; probes on http://{}",
        settings.listen
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(telemetry::process::cancel_on_signal(shutdown.clone()));
    let ran = worker.run_until_stopped(shutdown).await;
    telemetry::shutdown_tracing().await;
    ran
}

/// A job built from its own settings and a database pool (what [`main`] needs).
pub trait BuildJob: Job + Sized {
    type Config;
    fn build(config: Self::Config, db: db::DatabaseConnection) -> anyhow::Result<Self>;
}
