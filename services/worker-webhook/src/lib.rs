#![doc = include_str!("../README.md")]

pub mod config;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use common::WebhookDeliveryId;
use common::jobs::kind::WebhookDelivery;
use common::webhooks::DeliveryStatus;
use db::DatabaseConnection;
use db::events::Event;
use db::secrets::SecretCipher;
use db::webhooks::{AttemptRecord, DeliveryWork, WebhookSecret};
use egress::{Egress, EgressConfig, SendError, Target};
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use sea_orm::TransactionTrait;
use serde_json::json;
use sha2::Sha256;
use worker::{BuildJob, Done, Job, JobContext, JobError};

use crate::config::WebhookConfig;

/// Signs and sends deliveries, one attempt per job run.
pub struct WebhookJob {
    egress: Egress,
    cipher: SecretCipher,
    config: WebhookConfig,
}

impl BuildJob for WebhookJob {
    type Config = WebhookConfig;

    fn build(config: WebhookConfig, _db: DatabaseConnection) -> anyhow::Result<Self> {
        Self::with_lookup(config, Arc::new(egress::SystemLookup))
    }
}

impl WebhookJob {
    /// With another resolver (tests).
    pub fn with_lookup(
        config: WebhookConfig,
        lookup: Arc<dyn egress::Lookup>,
    ) -> anyhow::Result<Self> {
        let egress = Egress::with_lookup(
            EgressConfig {
                allow_private: config.allow_private,
                connect_timeout: config.timeout.min(Duration::from_secs(5)),
                timeout: config.timeout,
                max_response_bytes: config.excerpt_bytes,
                user_agent: "wuzapi-manager-webhooks/1".into(),
            },
            lookup,
        )?;
        let cipher = SecretCipher::from_setting(&config.secrets_key)?;
        Ok(Self {
            egress,
            cipher,
            config,
        })
    }
}

/// The body receivers get (Standard Webhooks): `{"type", "timestamp", "data"}`.
pub fn payload(event: &Event) -> Vec<u8> {
    let body = json!({
        "type": event.kind.as_str(),
        "timestamp": event.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": event.data,
    });
    serde_json::to_vec(&body).expect("a JSON value serialises")
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `key` (the secret's decoded
/// bytes).
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// How one attempt went.
enum Outcome {
    Delivered(u16),
    /// Answered, but not 2xx.
    Answered(u16),
    /// No answer: timeout, connection error.
    NoAnswer,
    /// The address is not allowed: nothing was sent, and retrying cannot help.
    Refused,
}

impl Outcome {
    /// How the attempt went, with what its log records: the status code, the answer's excerpt
    /// and the error.
    fn of(
        sent: Result<egress::Answer, SendError>,
        work: &DeliveryWork,
    ) -> (Self, Option<u16>, Option<String>, Option<String>) {
        match sent {
            Ok(answer) if (200..300).contains(&answer.status) => (
                Outcome::Delivered(answer.status),
                Some(answer.status),
                Some(answer.excerpt),
                None,
            ),
            Ok(answer) => (
                Outcome::Answered(answer.status),
                Some(answer.status),
                Some(answer.excerpt),
                Some(format!("answered {}", answer.status)),
            ),
            // The attempt log is the tenant's to read: the kind of failure only. The detail
            // (the address refused, the client's connection error) goes to the operator's log.
            Err(e @ (SendError::Refused(_) | SendError::Unsendable(_))) => {
                tracing::warn!(endpoint = %work.endpoint.id, error = %e, "webhook target refused");
                (Outcome::Refused, None, None, Some(e.public_text()))
            }
            Err(e) => {
                tracing::warn!(endpoint = %work.endpoint.id, error = %e, "webhook not delivered");
                (Outcome::NoAnswer, None, None, Some(e.public_text()))
            }
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Answered(_) | Outcome::NoAnswer => "failed",
            Outcome::Refused => "refused",
        }
    }
}

impl Job for WebhookJob {
    type Kind = WebhookDelivery;

    async fn run(&self, ctx: JobContext, id: WebhookDeliveryId, _: ()) -> Result<Done, JobError> {
        let work = match db::webhooks::work(ctx.scope(), id).await {
            Ok(work) => work,
            // The endpoint was deleted, and its deliveries with it.
            Err(db::DbError::NotFound(_)) => {
                return Ok(Done::Completed(Some(json!({"skipped": "deleted"}))));
            }
            Err(e) => return Err(e.into()),
        };
        if work.delivery.job_id != ctx.job.id || work.delivery.status != DeliveryStatus::Pending {
            return Ok(Done::Completed(Some(json!({"skipped": "superseded"}))));
        }
        if !work.endpoint.enabled {
            db::webhooks::fail_unattempted(ctx.scope(), id, "the endpoint is disabled").await?;
            return Ok(Done::Completed(Some(
                json!({"skipped": "the endpoint is disabled"}),
            )));
        }
        self.attempt(&ctx, work).await
    }
}

impl WebhookJob {
    /// The secrets that sign now, decrypted: the current one first.
    async fn keys(&self, ctx: &JobContext, work: &DeliveryWork) -> Result<Vec<Vec<u8>>, JobError> {
        let sealed = db::webhooks::signing_secrets(ctx.scope(), work.endpoint.id).await?;
        let mut keys = Vec::with_capacity(2);
        for stored in std::iter::once(sealed.secret).chain(sealed.previous_secret) {
            let secret = self.cipher.decrypt(&stored).map_err(JobError::permanent)?;
            let secret = WebhookSecret::from_stored(secret).map_err(JobError::permanent)?;
            keys.push(
                secret
                    .key()
                    .ok_or_else(|| JobError::permanent("a webhook secret is not base64"))?,
            );
        }
        Ok(keys)
    }

    async fn attempt(&self, ctx: &JobContext, work: DeliveryWork) -> Result<Done, JobError> {
        let keys = self.keys(ctx, &work).await?;
        let id = work.delivery.id.to_string();
        let body = payload(&work.event);
        let started_at = Utc::now();
        let timestamp = started_at.timestamp();
        let headers = signed_headers(&keys, &id, timestamp, &body)?;

        let sent = match Target::parse(&work.endpoint.url, self.config.allow_private) {
            Ok(target) => self.egress.post(&target, headers, body.into()).await,
            // Stored while allowed (a privileged port), refused by this worker's settings.
            Err(e) => Err(SendError::Unsendable(e.to_string())),
        };
        let elapsed = (Utc::now() - started_at).to_std().unwrap_or_default();
        let (outcome, status_code, excerpt, error) = Outcome::of(sent, &work);
        metrics::counter!("webhook_deliveries_total", "outcome" => outcome.label()).increment(1);
        metrics::histogram!("webhook_delivery_duration_seconds").record(elapsed.as_secs_f64());

        let attempt = ctx.attempt();
        let retries = i32::try_from(self.config.schedule.len()).unwrap_or(i32::MAX);
        let gone = matches!(outcome, Outcome::Answered(410));
        let last = attempt > retries || matches!(outcome, Outcome::Refused) || gone;
        let next_attempt_at = (!last && !matches!(outcome, Outcome::Delivered(_))).then(|| {
            let index = usize::try_from(attempt - 1).unwrap_or(0);
            let delay = self.config.schedule.get(index).copied().unwrap_or_default();
            started_at + delay
        });
        let status = match (&outcome, next_attempt_at) {
            (Outcome::Delivered(_), _) => DeliveryStatus::Delivered,
            (_, Some(_)) => DeliveryStatus::Pending,
            (_, None) => DeliveryStatus::Failed,
        };
        let record = AttemptRecord {
            started_at,
            duration_ms: i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX),
            status_code: status_code.map(i32::from),
            response_excerpt: excerpt,
            error: error.clone(),
            outcome: status,
            next_attempt_at,
        };

        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        let scope = ctx.scope().on(&txn);
        let failing_since = db::webhooks::record_attempt(scope, &work.delivery, record).await?;
        let disable = self.disable_reason(gone, failing_since, started_at);
        let mut disabled = false;
        if let Some(reason) = &disable {
            disabled = app::webhooks::disable_for_failing(scope, work.endpoint.id, reason).await?;
        }
        txn.commit().await.map_err(db::DbError::from)?;
        if disabled {
            metrics::counter!("webhook_endpoints_disabled_total").increment(1);
            tracing::warn!(endpoint = %work.endpoint.id, reason = disable.as_deref(), "webhook endpoint disabled");
            // Its `webhook.endpoint_disabled` event queued a notification job: publish it now.
            ctx.wake_relay();
        }

        let error = error.unwrap_or_default();
        match outcome {
            Outcome::Delivered(code) => Ok(Done::Completed(Some(json!({"status": code})))),
            _ if disabled => Err(JobError::permanent(format!(
                "{error}; the endpoint is disabled"
            ))),
            _ if next_attempt_at.is_some() => Err(JobError::transient(error)),
            Outcome::Refused => Err(JobError::permanent(error)),
            _ => Err(JobError::permanent(format!(
                "{error}; no retry left after {attempt} attempts"
            ))),
        }
    }
}

impl WebhookJob {
    /// Why the endpoint is disabled after this attempt, if it is: it answered 410 Gone, or
    /// every delivery failed for `disable_after` or longer.
    fn disable_reason(
        &self,
        gone: bool,
        failing_since: Option<DateTime<Utc>>,
        started_at: DateTime<Utc>,
    ) -> Option<String> {
        if gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else {
            failing_since
                .filter(|since| failing_for(*since, started_at) >= self.config.disable_after)
                .map(|since| {
                    format!(
                        "every delivery failed since {} ({} or longer)",
                        since.to_rfc3339_opts(SecondsFormat::Secs, true),
                        humanize(self.config.disable_after)
                    )
                })
        }
    }
}

/// The Standard Webhooks headers of a delivery: its id, its timestamp and one signature per
/// key (the current secret's, then the previous one's while it is kept).
fn signed_headers(
    keys: &[Vec<u8>],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<HeaderMap, JobError> {
    let signatures: Vec<String> = keys
        .iter()
        .map(|key| sign(key, id, timestamp, body))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let header = |text: String| HeaderValue::from_str(&text).map_err(JobError::permanent);
    headers.insert("webhook-id", header(id.to_owned())?);
    headers.insert("webhook-timestamp", header(timestamp.to_string())?);
    headers.insert("webhook-signature", header(signatures.join(" "))?);
    Ok(headers)
}

fn failing_for(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s if s > 0 => format!("{s}s"),
        _ => format!("{}ms", d.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_official_standard_webhooks_library() {
        let secret = WebhookSecret::generate();
        let body =
            br#"{"type":"campaign.completed","timestamp":"2026-12-02T10:00:00.000Z","data":{}}"#;
        let timestamp = Utc::now().timestamp();
        let ours = sign(&secret.key().unwrap(), "msg_1", timestamp, body);
        let official = standardwebhooks::Webhook::new(secret.expose()).unwrap();
        assert_eq!(official.sign("msg_1", timestamp, body).unwrap(), ours);
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        let other = WebhookSecret::generate();
        let both = format!(
            "{} {ours}",
            sign(&other.key().unwrap(), "msg_1", timestamp, body)
        );
        headers.insert("webhook-signature", both.parse().unwrap());
        official.verify(body, &headers).unwrap();
        standardwebhooks::Webhook::new(other.expose())
            .unwrap()
            .verify(body, &headers)
            .unwrap();
        let stranger = standardwebhooks::Webhook::new(WebhookSecret::generate().expose()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
    }

    #[test]
    fn durations_read_back_as_written() {
        assert_eq!(humanize(Duration::from_secs(432_000)), "5d");
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1s");
    }
}
