//! The bound on concurrent password hashing: argon2id takes tens of milliseconds of a core and
//! tens of MiB of memory per run, so unbounded parallel sign-ins (from many addresses, each
//! within its own limits) could exhaust both. Every verification and every new hash in the
//! gateway runs through [`PasswordGate::run`]: at most `PASSWORD_HASH_CONCURRENCY` at once, on
//! the blocking pool (never on the async threads). A request finding every permit taken is not
//! queued: it answers 503 `service_unavailable` with `Retry-After`, and has done no hashing and
//! changed nothing.

use std::sync::Arc;

use actix_web::HttpResponse;
use common::config::{ConfigError, Env};
use common::{ErrorBody, ErrorCode};
use tokio::sync::Semaphore;

/// What a refused request is told to wait, in seconds: one hash takes well under a second.
const RETRY_AFTER_SECS: u64 = 1;

/// `PASSWORD_HASH_CONCURRENCY`: unset, twice the cores this process may use (at least 2).
pub fn concurrency_from_env(env: &Env) -> Result<usize, ConfigError> {
    let default = std::thread::available_parallelism()
        .map_or(2, |cores| cores.get() * 2)
        .max(2);
    env.parse_in("PASSWORD_HASH_CONCURRENCY", default, 0..=4096)
}

/// The permits of password hashing, shared by every HTTP worker of the process.
#[derive(Debug, Clone)]
pub struct PasswordGate {
    permits: Arc<Semaphore>,
}

/// Every permit was taken: the request is answered 503 without hashing.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("every password-hashing permit is in use")]
pub struct Busy;

/// Why [`PasswordGate::run`] gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The blocking task panicked or was cancelled.
    #[error("password hashing failed")]
    Task(#[source] tokio::task::JoinError),
}

impl PasswordGate {
    /// `concurrency` permits; 0 refuses every sign-in (a maintenance switch, and how tests show
    /// the refusal without racing).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// Runs `work` (a verification or a new hash) on the blocking pool under a permit, or
    /// refuses at once when none is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, GateError> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| Busy)?;
        metrics::counter!("gateway_password_hashes_total").increment(1);
        tokio::task::spawn_blocking(move || {
            // Held until the work ends, even if the request that asked went away.
            let _permit = permit;
            work()
        })
        .await
        .map_err(GateError::Task)
    }

    /// Permits free right now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

impl GateError {
    /// The answer: 503 with `Retry-After` when busy, an opaque 500 (logged) otherwise.
    pub fn response(&self) -> HttpResponse {
        match self {
            Self::Busy(_) => {
                metrics::counter!("gateway_password_hashes_refused_total").increment(1);
                HttpResponse::ServiceUnavailable()
                    .insert_header((
                        actix_web::http::header::RETRY_AFTER,
                        RETRY_AFTER_SECS.to_string(),
                    ))
                    .json(ErrorBody::new(
                        ErrorCode::ServiceUnavailable,
                        format!(
                            "too many password checks are running; try again in \
                             {RETRY_AFTER_SECS} second"
                        ),
                    ))
            }
            Self::Task(_) => {
                actix_web::ResponseError::error_response(&crate::error::ApiError::internal(self))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_under_a_permit_and_none_free_is_busy() {
        let gate = PasswordGate::new(1);
        assert_eq!(gate.run(|| 2 + 2).await.unwrap(), 4);
        assert_eq!(gate.available(), 1, "the permit comes back");

        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let held = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        assert!(matches!(gate.run(|| ()).await, Err(GateError::Busy(_))));
        release_tx.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert_eq!(gate.available(), 1);

        let closed = PasswordGate::new(0);
        assert!(matches!(closed.run(|| ()).await, Err(GateError::Busy(_))));
    }

    #[test]
    fn the_setting_defaults_to_twice_the_cores_and_accepts_zero() {
        let default = concurrency_from_env(&Env::from_pairs([])).unwrap();
        assert!(default >= 2);
        let zero =
            concurrency_from_env(&Env::from_pairs([("PASSWORD_HASH_CONCURRENCY", "0")])).unwrap();
        assert_eq!(zero, 0);
        assert!(
            concurrency_from_env(&Env::from_pairs([("PASSWORD_HASH_CONCURRENCY", "many")]))
                .is_err()
        );
    }
}
