//! What a job type provides, and what it gets while it runs.

use std::future::Future;
use std::time::Duration;

use common::{JobKind, TenantId, WorkerId};
use db::jobs::Job as JobRow;
use db::jobs::Lease;
use db::{DatabaseConnection, TenantScope};
use outbox::RelayWaker;
use tokio_util::sync::CancellationToken;

/// A boxed error that keeps its source chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How one declared job type runs. Its [`JobKind`] says the queue, the subject's id type and
/// the parameters; the runtime reads the job row a message names and hands `run` the typed
/// subject and parameters from it.
pub trait Job: Send + Sync + 'static {
    /// The declaration this handler runs (`common::jobs::kind::*`).
    type Kind: JobKind;

    /// Runs one attempt. The job row is already `active` and leased to this worker.
    fn run(
        &self,
        ctx: JobContext,
        subject: Subject<Self>,
        params: Params<Self>,
    ) -> impl Future<Output = Result<Done, JobError>> + Send;

    /// Called once the job has failed for good (after its last attempt, or at once for a
    /// permanent error), so the job's subject can say so (a campaign shows `failed`). A subject
    /// that is gone (`DbError::NotFound`: deleted, or already ended) is not an error; the
    /// runtime logs any other error once. Does nothing unless a job type says otherwise.
    fn on_failed(
        &self,
        scope: TenantScope<'_, DatabaseConnection>,
        subject: Subject<Self>,
        reason: &str,
    ) -> impl Future<Output = Result<(), db::DbError>> + Send {
        let _ = (scope, subject, reason);
        async { Ok(()) }
    }
}

/// The subject id type of job `J`.
pub type Subject<J> = <<J as Job>::Kind as JobKind>::Subject;
/// The parameters of job `J`.
pub type Params<J> = <<J as Job>::Kind as JobKind>::Params;

/// How an attempt that did not fail ended.
#[derive(Debug)]
pub enum Done {
    /// The job is complete, with this result on its row.
    Completed(Option<serde_json::Value>),
    /// The handler already wrote the job's next state with its lease (a continuation, a
    /// pause): the runtime only acknowledges the message.
    Settled,
    /// The job could not start its work yet (e.g. its inbox is busy): the attempt is given
    /// back, and the message comes back after about this long.
    Deferred(Duration),
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Can never succeed: the job fails at once and its message is dead-lettered.
    #[error("{0}")]
    Permanent(#[source] BoxError),
    /// Might succeed later: retried after the queue's back-off while attempts remain.
    #[error("{0}")]
    Transient(#[source] BoxError),
    /// Another worker took the job over: stop, change nothing.
    #[error("the job's lease was taken over by another worker")]
    LeaseLost,
}

impl JobError {
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        JobError::Permanent(error.into())
    }

    pub fn transient(error: impl Into<BoxError>) -> Self {
        JobError::Transient(error.into())
    }
}

impl From<db::DbError> for JobError {
    /// A database error while working is transient: the database may be back soon.
    fn from(error: db::DbError) -> Self {
        JobError::Transient(Box::new(error))
    }
}

/// What a running attempt may use.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    /// The job row as this attempt started it.
    pub job: JobRow,
    pub lease: Lease,
    pub lease_ttl: Duration,
    pub worker_id: WorkerId,
    /// Cancelled when the process is asked to stop: a long job should end early and leave the
    /// rest to a continuation.
    pub shutdown: CancellationToken,
    /// Cancelled when the lease keeper finds the lease taken over.
    pub lease_lost: CancellationToken,
    pub(crate) relay_waker: RelayWaker,
}

impl JobContext {
    pub fn tenant_id(&self) -> TenantId {
        self.job.tenant_id
    }

    /// The job's tenant as a query scope: the tenant on the job row.
    pub fn scope(&self) -> TenantScope<'_, DatabaseConnection> {
        TenantScope::for_job(&self.db, self.job.tenant_id)
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> i32 {
        self.job.attempts
    }

    pub fn is_last_attempt(&self) -> bool {
        self.job.attempts >= self.job.max_attempts
    }

    /// Publishes outbox rows the job just committed (its continuation) without waiting for the
    /// relay's next poll.
    pub fn wake_relay(&self) {
        self.relay_waker.wake();
    }
}
