//! One delivered message, start to finish: decode, lease, run, then complete, retry or
//! dead-letter, with the job row in Postgres always saying where the job is.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::proto::JobRef;
use common::{JobId, JobKind, LeaseToken, QueueName, WorkerId};
use db::jobs::{self, Attempt, Lease, SEQ_HEADER, TRACEPARENT_HEADER};
use db::{DatabaseConnection, DbError, TenantScope};
use outbox::RelayWaker;
use prost::Message;
use queue::{Delivery, Disposition, JobHandler};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::job::{Done, Job, JobContext, JobError, Params, Subject};
use crate::settings::WorkerSettings;

/// Runs deliveries of `J`'s queue through the job lifecycle.
pub struct Lifecycle<J: Job> {
    pub(crate) job: Arc<J>,
    pub(crate) db: DatabaseConnection,
    pub(crate) settings: WorkerSettings,
    pub(crate) worker_id: WorkerId,
    pub(crate) shutdown: CancellationToken,
    pub(crate) relay_waker: RelayWaker,
    pub(crate) in_flight: Arc<AtomicI32>,
}

impl<J: Job> JobHandler for Lifecycle<J> {
    async fn handle(&self, delivery: Delivery) -> Disposition {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let queue = Self::QUEUE.as_str();
        metrics::gauge!("worker_jobs_in_flight", "queue" => queue).increment(1.0);
        let started = Instant::now();
        let (disposition, outcome) = self.process(&delivery).await;
        metrics::gauge!("worker_jobs_in_flight", "queue" => queue).decrement(1.0);
        metrics::histogram!("queue_job_duration_seconds", "queue" => queue, "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        disposition
    }
}

/// Counts a job's move to `status` (`queue_jobs_total{queue,status}`).
pub(crate) fn count_transition(queue: &'static str, status: &'static str) {
    metrics::counter!("queue_jobs_total", "queue" => queue, "status" => status).increment(1);
}

impl<J: Job> Lifecycle<J> {
    const QUEUE: QueueName = <J::Kind as JobKind>::QUEUE;

    fn dead(&self, reason: String) -> Disposition {
        Disposition::DeadLetter { reason }
    }

    /// Comes back after about `wanted`, through the nearest wait queue.
    fn later(&self, wanted: Duration, delivery: &Delivery) -> Disposition {
        Disposition::Retry {
            delay: self.settings.wait_bucket(wanted),
            headers: delivery.headers.clone(),
        }
    }

    async fn process(&self, delivery: &Delivery) -> (Disposition, &'static str) {
        let queue = Self::QUEUE.as_str();
        let seq = queue::headers::int(&delivery.headers, SEQ_HEADER).unwrap_or(0);
        let Ok(seq) = i32::try_from(seq) else {
            tracing::warn!(
                queue,
                seq,
                "message with an impossible generation dead-lettered"
            );
            return (
                self.dead(format!("impossible {SEQ_HEADER} {seq}")),
                "malformed",
            );
        };
        let message = match JobRef::decode(delivery.payload.as_slice()) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(queue, error = %e, "undecodable message dead-lettered");
                return (
                    self.dead(format!("undecodable {queue} message: {e}")),
                    "malformed",
                );
            }
        };
        let Ok(job_id) = message.job_id.parse::<JobId>() else {
            tracing::warn!(queue, "message with a malformed job id dead-lettered");
            return (
                self.dead(format!(
                    "message names job `{}`: not a UUID",
                    message.job_id
                )),
                "malformed",
            );
        };
        let span = tracing::info_span!(
            "job",
            otel.name = format!("{queue} job"),
            otel.kind = "consumer",
            queue,
            job_id = %job_id,
            // From the job row, once the attempt has started.
            tenant_id = tracing::field::Empty,
            seq
        );
        // The job's run continues the trace of the request that created it.
        if let Some(traceparent) = queue::headers::text(&delivery.headers, TRACEPARENT_HEADER) {
            telemetry::set_remote_parent(&span, &traceparent);
        }
        self.attempt(delivery, job_id, seq).instrument(span).await
    }

    async fn attempt(
        &self,
        delivery: &Delivery,
        job_id: JobId,
        seq: i32,
    ) -> (Disposition, &'static str) {
        let token = LeaseToken::new();
        match self.start_attempt(delivery, job_id, seq, token).await {
            Ok(job) => {
                self.run_attempt(delivery, job, Lease { job_id, token })
                    .await
            }
            Err(outcome) => outcome,
        }
    }

    /// Starts an attempt of the job under a new lease, or says what becomes of the message
    /// when none can start.
    async fn start_attempt(
        &self,
        delivery: &Delivery,
        job_id: JobId,
        seq: i32,
        token: LeaseToken,
    ) -> Result<jobs::Job, (Disposition, &'static str)> {
        let attempt = jobs::start_attempt(
            &self.db,
            job_id,
            seq,
            &delivery.payload,
            (token, self.worker_id),
            self.settings.lease_ttl,
        )
        .await;
        match attempt {
            Ok(Attempt::Started(job)) => Ok(*job),
            Ok(Attempt::Finished | Attempt::Stale) => {
                tracing::info!("duplicate or superseded message dropped");
                Err((Disposition::Ack, "duplicate"))
            }
            Ok(Attempt::Leased { remaining }) => {
                tracing::info!(
                    ?remaining,
                    "job is held by another worker; looking again later"
                );
                Err((self.later(remaining, delivery), "deferred"))
            }
            Ok(Attempt::NoSuchJob) => {
                tracing::warn!("message matches no job; dead-lettered");
                Err((
                    self.dead(format!(
                        "no job {job_id} with this message and generation {seq}"
                    )),
                    "malformed",
                ))
            }
            Ok(Attempt::OutOfAttempts(job)) => {
                Err(self.fail_out_of_attempts(delivery, job_id, seq, &job).await)
            }
            Err(e) => {
                // Postgres is down: the job cannot even be looked up. It waits, and no attempt
                // is used up, however long the outage.
                tracing::warn!(error = %e, "database unavailable; message comes back later");
                Err((
                    self.later(self.settings.retry.backoff_base, delivery),
                    "deferred",
                ))
            }
        }
    }

    /// A job whose every attempt ended with the worker stopping: it fails for good.
    async fn fail_out_of_attempts(
        &self,
        delivery: &Delivery,
        job_id: JobId,
        seq: i32,
        job: &jobs::Job,
    ) -> (Disposition, &'static str) {
        tracing::Span::current().record("tenant_id", tracing::field::display(job.tenant_id));
        let reason = format!(
            "the worker stopped during each of its {} attempts",
            job.max_attempts
        );
        match jobs::fail_unheld(&self.db, job_id, seq, &reason).await {
            Ok(_) => {
                tracing::error!(%reason, "job failed");
                self.subject_failed(job, &reason).await;
                count_transition(Self::QUEUE.as_str(), "failed");
                (self.dead(reason), "failed")
            }
            Err(e) => {
                tracing::warn!(error = %e, "database unavailable; message comes back later");
                (
                    self.later(self.settings.retry.backoff_base, delivery),
                    "deferred",
                )
            }
        }
    }

    /// Runs the started attempt while its lease is kept, then settles the job by its result.
    async fn run_attempt(
        &self,
        delivery: &Delivery,
        job: jobs::Job,
        lease: Lease,
    ) -> (Disposition, &'static str) {
        let queue = Self::QUEUE.as_str();
        tracing::Span::current().record("tenant_id", tracing::field::display(job.tenant_id));
        count_transition(queue, "active");
        let pickup = (job.updated_at - job.run_at).to_std().unwrap_or_default();
        metrics::histogram!("queue_job_pickup_seconds", "queue" => queue)
            .record(pickup.as_secs_f64());

        let lease_lost = CancellationToken::new();
        let keeper = tokio::spawn(keep_lease(
            self.db.clone(),
            lease,
            self.settings.lease_ttl,
            lease_lost.clone(),
        ));
        let attempts = job.attempts;
        let max_attempts = job.max_attempts;
        let ctx = JobContext {
            db: self.db.clone(),
            job,
            lease,
            lease_ttl: self.settings.lease_ttl,
            worker_id: self.worker_id,
            shutdown: self.shutdown.clone(),
            lease_lost,
            relay_waker: self.relay_waker.clone(),
        };
        let started = ctx.job.clone();
        let result = match typed_input::<J>(&started) {
            Ok((subject, params)) => self.job.run(ctx, subject, params).await,
            Err(malformed) => Err(JobError::permanent(malformed)),
        };
        keeper.abort();
        let (disposition, status) = self
            .settle(delivery, lease, attempts, max_attempts, result)
            .await;
        if let Disposition::DeadLetter { reason } = &disposition {
            self.subject_failed(&started, reason).await;
        }
        (disposition, status)
    }

    /// Tells the job's subject that the job failed for good ([`Job::on_failed`]); a subject
    /// that is gone has nothing to say.
    async fn subject_failed(&self, job: &jobs::Job, reason: &str) {
        let Ok((subject, _)) = typed_input::<J>(job) else {
            return;
        };
        let scope = TenantScope::for_job(&self.db, job.tenant_id);
        match self.job.on_failed(scope, subject, reason).await {
            Ok(()) | Err(DbError::NotFound(_)) => {}
            Err(e) => tracing::warn!(error = %e, "could not mark the job's subject failed"),
        }
    }

    async fn settle(
        &self,
        delivery: &Delivery,
        lease: Lease,
        attempts: i32,
        max_attempts: i32,
        result: Result<Done, JobError>,
    ) -> (Disposition, &'static str) {
        let queue = Self::QUEUE.as_str();
        let written = match result {
            Ok(Done::Settled) => {
                tracing::info!("job attempt done");
                return (Disposition::Ack, "settled");
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!("lease taken over by another worker; this attempt stopped");
                return (Disposition::Ack, "lease_lost");
            }
            Ok(Done::Completed(result)) => jobs::complete(&self.db, lease, result)
                .await
                .map(|held| (held, Disposition::Ack, "completed")),
            Ok(Done::Deferred(wait)) => {
                let run_at = Utc::now() + wait;
                jobs::defer(&self.db, lease, run_at)
                    .await
                    .map(|held| (held, self.later(wait, delivery), "waiting"))
            }
            Err(JobError::Permanent(error)) => {
                let reason = error_chain(&*error);
                tracing::error!(error = %reason, "job failed permanently");
                jobs::fail(&self.db, lease, &reason)
                    .await
                    .map(|held| (held, self.dead(reason), "failed"))
            }
            Err(JobError::Transient(error)) => {
                let reason = error_chain(&*error);
                if attempts < max_attempts {
                    let delay = self.settings.retry.delay_after(attempts);
                    tracing::warn!(error = %reason, attempt = attempts, retry_in = ?delay, "job attempt failed; retrying");
                    jobs::schedule_retry(&self.db, lease, &reason, Utc::now() + delay)
                        .await
                        .map(|held| {
                            (
                                held,
                                Disposition::Retry {
                                    delay,
                                    headers: delivery.headers.clone(),
                                },
                                "delayed",
                            )
                        })
                } else {
                    tracing::error!(error = %reason, attempts, "job failed after its last attempt");
                    jobs::fail(&self.db, lease, &reason).await.map(|held| {
                        (
                            held,
                            self.dead(format!("failed after {attempts} attempts: {reason}")),
                            "failed",
                        )
                    })
                }
            }
        };
        match written {
            Ok((true, disposition, status)) => {
                count_transition(queue, status);
                (disposition, status)
            }
            Ok((false, _, _)) => {
                tracing::warn!("lease taken over before the outcome was written; dropped");
                (Disposition::Ack, "lease_lost")
            }
            Err(e) => {
                // The outcome could not be written: leave the message to come back; the job
                // keeps its lease until it runs out, and the next attempt starts after that.
                tracing::warn!(error = %e, "database unavailable while settling; message comes back later");
                (self.later(self.settings.lease_ttl, delivery), "deferred")
            }
        }
    }
}

/// The error and its sources, as one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Renews the lease every third of its lifetime until aborted; cancels `lost` when the lease
/// is no longer this worker's. A database blip is retried: the lease only runs out after a
/// whole lifetime without a renewal.
async fn keep_lease(db: DatabaseConnection, lease: Lease, ttl: Duration, lost: CancellationToken) {
    let mut ticker = tokio::time::interval(ttl / 3);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match jobs::renew_lease(&db, lease, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not renew a job lease"),
        }
    }
}

/// A job row's subject and parameters as job `J` declares them; a row that does not fit
/// (written by hand, or by a release with another declaration) can never run.
fn typed_input<J: Job>(job: &jobs::Job) -> Result<(Subject<J>, Params<J>), String> {
    let subject = job
        .subject_id
        .map(Subject::<J>::from)
        .ok_or_else(|| format!("job {} has no subject", job.id))?;
    let params = serde_json::from_value(job.params.clone().unwrap_or_default())
        .map_err(|e| format!("job {} has parameters its type cannot read: {e}", job.id))?;
    Ok((subject, params))
}
