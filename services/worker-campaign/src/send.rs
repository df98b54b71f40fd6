//! One campaign job, start to finish. Public so tests can drive a job without a broker.

use std::collections::HashSet;
use std::time::Duration;

use common::proto::CampaignBatch;
use common::template::Template;
use common::{CampaignId, JobId, JobState, TenantId};
use db::DatabaseConnection;
use db::campaigns::status;
use db::entity::campaign_recipient;
use db::secrets::TokenCipher;
use prost::Message;
use queue::HandlerError;
use rand::Rng;
use wuzapi::{SendText, WuzapiClient, WuzapiError};

/// What processing a campaign job needs.
pub struct CampaignSender {
    pub db: DatabaseConnection,
    pub wuzapi: WuzapiClient,
    pub cipher: TokenCipher,
    pub send_retries: u32,
    pub send_retry_base: Duration,
    pub batch_size: u64,
}

/// How a job ended, for metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Completed {
        sent: i64,
        failed: i64,
    },
    /// The campaign was paused (e.g. its number disconnected); the job failed with `reason`.
    Paused {
        reason: String,
    },
    Failed {
        reason: String,
    },
    /// Already finished (a duplicate delivery) or the campaign was not sendable.
    Skipped,
}

impl CampaignSender {
    /// Decodes a queue message and runs its job. Malformed messages are permanent errors.
    pub async fn handle_message(&self, payload: &[u8]) -> Result<JobOutcome, HandlerError> {
        let message = CampaignBatch::decode(payload)
            .map_err(|e| HandlerError::Permanent(format!("undecodable campaign message: {e}")))?;
        let parse = |what: &str, value: &str| {
            value.parse::<uuid::Uuid>().map_err(|_| {
                HandlerError::Permanent(format!("campaign message has a bad {what}: `{value}`"))
            })
        };
        let job_id = JobId::from(parse("job_id", &message.job_id)?);
        let tenant_id = TenantId::from(parse("tenant_id", &message.tenant_id)?);
        let campaign_id = CampaignId::from(parse("campaign_id", &message.campaign_id)?);
        self.run_job(job_id, tenant_id, campaign_id).await
    }

    pub async fn run_job(
        &self,
        job_id: JobId,
        tenant_id: TenantId,
        campaign_id: CampaignId,
    ) -> Result<JobOutcome, HandlerError> {
        let transient = |e: db::DbError| HandlerError::Transient(format!("database: {e}"));
        let attempt = db::jobs::start_attempt(&self.db, job_id, tenant_id, campaign_id.into_uuid())
            .await
            .map_err(transient)?;
        let job = match attempt {
            db::jobs::Attempt::Started(job) => job,
            db::jobs::Attempt::AlreadyFinished => {
                tracing::info!(%job_id, "job already finished; duplicate delivery ignored");
                return Ok(JobOutcome::Skipped);
            }
            // The message must describe its own job: a job never works on another tenant's or
            // another campaign's data, and a stray message changes no job row.
            db::jobs::Attempt::NoSuchJob => {
                return Err(HandlerError::Permanent(format!(
                    "no job {job_id} of tenant {tenant_id} for campaign {campaign_id}"
                )));
            }
        };
        metrics::counter!("queue_jobs_total", "queue" => "campaign", "status" => "active")
            .increment(1);
        tracing::info!(%job_id, %campaign_id, attempt = job.attempts, "campaign job started");

        let outcome = match self.send_campaign(job_id, tenant_id, campaign_id).await {
            Ok(outcome) => outcome,
            Err(SendError::Database(e)) => return Err(transient(e)),
            Err(SendError::Fatal(reason)) => {
                db::campaigns::transition(
                    &self.db,
                    campaign_id,
                    &[status::QUEUED, status::SCHEDULED, status::RUNNING],
                    status::FAILED,
                    Some(reason.clone()),
                )
                .await
                .map_err(transient)?;
                JobOutcome::Failed { reason }
            }
        };
        let progress = db::campaigns::progress(&self.db, campaign_id)
            .await
            .map_err(transient)?;
        let (state, result, error) = match &outcome {
            JobOutcome::Completed { .. } | JobOutcome::Skipped => (
                JobState::Completed,
                Some(serde_json::to_value(progress).unwrap_or_default()),
                None,
            ),
            JobOutcome::Paused { reason } | JobOutcome::Failed { reason } => (
                JobState::Failed,
                Some(serde_json::to_value(progress).unwrap_or_default()),
                Some(reason.clone()),
            ),
        };
        db::jobs::finish(&self.db, job_id, state, result, error)
            .await
            .map_err(transient)?;
        metrics::counter!("queue_jobs_total", "queue" => "campaign", "status" => state.as_str())
            .increment(1);
        tracing::info!(%job_id, %campaign_id, ?outcome, "campaign job finished");
        Ok(outcome)
    }

    async fn send_campaign(
        &self,
        job_id: JobId,
        tenant_id: TenantId,
        campaign_id: CampaignId,
    ) -> Result<JobOutcome, SendError> {
        let campaign = match db::campaigns::find(&self.db, tenant_id, campaign_id).await {
            Ok(c) => c,
            Err(db::DbError::NotFound(_)) => {
                return Err(SendError::Fatal("campaign not found".into()));
            }
            Err(e) => return Err(SendError::Database(e)),
        };
        if ![status::QUEUED, status::SCHEDULED, status::RUNNING].contains(&campaign.status.as_str())
        {
            tracing::info!(%campaign_id, status = campaign.status, "campaign is not sendable; job skipped");
            return Ok(JobOutcome::Skipped);
        }
        db::campaigns::transition(
            &self.db,
            campaign_id,
            &[status::QUEUED, status::SCHEDULED],
            status::RUNNING,
            None,
        )
        .await?;

        let inbox = match db::inboxes::find(&self.db, tenant_id, campaign.inbox_id.into()).await {
            Ok(inbox) => inbox,
            Err(db::DbError::NotFound(_)) => {
                return Err(SendError::Fatal(
                    "the campaign's inbox no longer exists".into(),
                ));
            }
            Err(e) => return Err(SendError::Database(e)),
        };
        let token = self.cipher.decrypt(&inbox.token_ciphertext).map_err(|e| {
            SendError::Fatal(format!(
                "inbox token cannot be read: {e} (is INBOX_TOKEN_KEY the gateway's?)"
            ))
        })?;
        let template = Template::parse(&campaign.template)
            .map_err(|e| SendError::Fatal(format!("template is invalid: {e}")))?;
        let delay_range = campaign.delay_min_ms.max(0) as u64..=campaign.delay_max_ms.max(0) as u64;

        let mut first = true;
        loop {
            let batch =
                db::campaigns::pending_recipients(&self.db, campaign_id, self.batch_size).await?;
            if batch.is_empty() {
                break;
            }
            let not_on_whatsapp = match self
                .numbers_not_on_whatsapp(&inbox.wuzapi_url, &token, &batch)
                .await
            {
                Ok(numbers) => numbers,
                Err(e) if e.is_disconnected() => return self.pause(campaign_id, &e).await,
                Err(e) => {
                    // The check only saves sends; the sends themselves report bad numbers too.
                    tracing::warn!(error = %e, "number check failed; sending without it");
                    HashSet::new()
                }
            };
            for recipient in batch {
                if not_on_whatsapp.contains(&recipient.phone) {
                    self.record(&recipient, Err("the number is not on WhatsApp".to_owned()))
                        .await?;
                    continue;
                }
                let pause = rand::rng().random_range(delay_range.clone());
                // A zero sleep still waits for the next timer tick (about 1 ms): skip it.
                if !first && pause > 0 {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                first = false;
                let variables = recipient.variables.as_object();
                let body = template.render(
                    |name| variables.and_then(|v| v.get(name)).and_then(|v| v.as_str()),
                    &mut rand::rng(),
                );
                let request = SendText::new(recipient.phone.clone(), body)
                    .with_id(recipient.message_id.clone());
                match self
                    .send_with_retries(&inbox.wuzapi_url, &token, &request)
                    .await
                {
                    Ok(()) => self.record(&recipient, Ok(())).await?,
                    // Retrying is useless (disconnected) or was already done (transient): stop
                    // here and keep the remaining recipients pending for a resume.
                    Err(e) if e.is_disconnected() || e.is_transient() => {
                        return self.pause(campaign_id, &e).await;
                    }
                    // This recipient can never succeed (invalid number, refused message).
                    Err(e) => self.record(&recipient, Err(e.to_string())).await?,
                }
            }
            let progress = db::campaigns::progress(&self.db, campaign_id).await?;
            db::jobs::set_progress(
                &self.db,
                job_id,
                serde_json::to_value(progress).unwrap_or_default(),
            )
            .await?;
        }
        let progress = db::campaigns::progress(&self.db, campaign_id).await?;
        db::campaigns::transition(
            &self.db,
            campaign_id,
            &[status::RUNNING],
            status::COMPLETED,
            None,
        )
        .await?;
        Ok(JobOutcome::Completed {
            sent: progress.sent,
            failed: progress.failed,
        })
    }

    /// Records one recipient's outcome and counts it.
    async fn record(
        &self,
        recipient: &campaign_recipient::Model,
        outcome: Result<(), String>,
    ) -> Result<(), SendError> {
        let label = if outcome.is_ok() { "sent" } else { "failed" };
        db::campaigns::record_outcome(&self.db, recipient.id.into(), outcome).await?;
        metrics::counter!("campaign_messages_total", "outcome" => label).increment(1);
        Ok(())
    }

    /// Pauses a running campaign because WUZAPI cannot take its messages now.
    async fn pause(
        &self,
        campaign_id: CampaignId,
        cause: &WuzapiError,
    ) -> Result<JobOutcome, SendError> {
        let reason = if cause.is_disconnected() {
            format!("WhatsApp number disconnected: {cause}")
        } else {
            format!("WUZAPI kept failing: {cause}")
        };
        db::campaigns::transition(
            &self.db,
            campaign_id,
            &[status::RUNNING],
            status::PAUSED,
            Some(reason.clone()),
        )
        .await?;
        Ok(JobOutcome::Paused { reason })
    }

    /// Which of the batch's numbers WUZAPI says are not on WhatsApp (`POST /user/check`), so they
    /// fail without a send. Results are matched on `Query`: WUZAPI does not keep request order.
    async fn numbers_not_on_whatsapp(
        &self,
        base_url: &str,
        token: &str,
        batch: &[campaign_recipient::Model],
    ) -> Result<HashSet<String>, WuzapiError> {
        let phones: Vec<String> = batch.iter().map(|r| r.phone.clone()).collect();
        let checks = self.wuzapi.check_numbers(base_url, token, &phones).await?;
        Ok(checks
            .into_iter()
            .filter(|check| !check.is_in_whatsapp)
            .map(|check| check.query.trim_start_matches('+').to_owned())
            .collect())
    }

    /// Sends once, retrying transient failures with exponential back-off (base, 2×base, 4×base…).
    async fn send_with_retries(
        &self,
        base_url: &str,
        token: &str,
        request: &SendText,
    ) -> Result<(), WuzapiError> {
        let mut delay = self.send_retry_base;
        let mut retries_left = self.send_retries;
        loop {
            match self.wuzapi.send_text(base_url, token, request).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_transient() && retries_left > 0 => {
                    tracing::warn!(error = %e, retry_in = ?delay, "transient WUZAPI failure; retrying the send");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    retries_left -= 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

enum SendError {
    /// The job cannot succeed; the campaign fails with this reason.
    Fatal(String),
    Database(db::DbError),
}

impl From<db::DbError> for SendError {
    fn from(e: db::DbError) -> Self {
        SendError::Database(e)
    }
}
