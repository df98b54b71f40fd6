#![doc = include_str!("../README.md")]

pub mod config;
pub mod push;

use std::collections::HashSet;

use common::jobs::kind::EventNotification;
use common::{EventId, EventKind, UserId};
use db::DatabaseConnection;
use db::events::Event;
use db::notifications::{NewNotification, Notification};
use fred::interfaces::{ClientLike, PubsubInterface};
use serde_json::{Value, json};
use worker::{BuildJob, Done, Job, JobContext, JobError};

use crate::config::NotificationConfig;
use crate::push::{PushOutcome, Pusher};

/// `notifications_sent_total{channel,outcome}`: `in_app` `created` or `duplicate` (a retry found
/// it written), `web_push` `sent`, `gone` (404/410: subscription removed), `invalid` (keys that
/// cannot encrypt: removed) or `failed` (retried with the job).
pub const SENT_TOTAL: &str = "notifications_sent_total";

/// Tells a tenant's people about one event: in the app, on their live streams, by Web Push.
pub struct NotificationJob {
    redis: fred::clients::Client,
    key_prefix: String,
    pusher: Option<Pusher>,
}

impl Job for NotificationJob {
    type Kind = EventNotification;

    async fn run(&self, ctx: JobContext, id: EventId, _: ()) -> Result<Done, JobError> {
        let event = match db::events::find(ctx.scope(), id).await {
            Ok(event) => event,
            // Deleted with its tenant: nobody is left to tell.
            Err(db::DbError::NotFound(_)) => {
                return Ok(Done::Completed(Some(json!({"recipients": 0}))));
            }
            Err(e) => return Err(e.into()),
        };
        self.notify(&ctx, &event).await
    }
}

impl BuildJob for NotificationJob {
    type Config = NotificationConfig;

    fn build(config: NotificationConfig, _db: DatabaseConnection) -> anyhow::Result<Self> {
        let redis =
            cache::client_builder(&config.redis, std::time::Duration::from_secs(2))?.build()?;
        // Connects (and reconnects) in the background; a publish waits for it.
        redis.connect();
        metrics::describe_counter!(
            SENT_TOTAL,
            "Notifications written in the app and pushes sent, by channel and outcome"
        );
        Ok(Self {
            redis,
            key_prefix: config.key_prefix,
            pusher: config.push.as_ref().map(Pusher::new).transpose()?,
        })
    }
}

impl NotificationJob {
    async fn notify(&self, ctx: &JobContext, event: &Event) -> Result<Done, JobError> {
        let Some(message) = Message::of(event) else {
            return Ok(Done::Completed(Some(
                json!({"recipients": 0, "reason": "not notified"}),
            )));
        };
        let scope = ctx.scope();
        let recipients =
            db::notifications::recipients(scope, event.user_id, concerns_admins(event.kind))
                .await?;
        for user_id in &recipients {
            let written = db::notifications::insert(scope, message.to(*user_id, event)).await?;
            let outcome = match written {
                Some(notification) => {
                    self.publish(ctx.tenant_id(), &notification).await;
                    "created"
                }
                None => "duplicate",
            };
            metrics::counter!(SENT_TOTAL, "channel" => "in_app", "outcome" => outcome).increment(1);
        }
        let pushed = match &self.pusher {
            Some(pusher) => self.push(ctx, pusher, event).await?,
            None => 0,
        };
        Ok(Done::Completed(Some(
            json!({"recipients": recipients.len(), "pushed": pushed}),
        )))
    }

    /// Tells every gateway, which tells the user's open streams. A stream that misses it (Redis
    /// away) finds it in the database when it reconnects with `Last-Event-ID`.
    async fn publish(&self, tenant_id: common::TenantId, notification: &Notification) {
        let channel = db::notifications::live_channel(&self.key_prefix, tenant_id);
        let message = match serde_json::to_string(notification) {
            Ok(message) => message,
            Err(e) => {
                tracing::error!(error = %e, "notification not serialisable; not published");
                return;
            }
        };
        if let Err(e) = self.redis.publish::<(), _, _>(channel, message).await {
            tracing::warn!(error = %e, notification = %notification.id,
                "notification not published; open streams get it when they reconnect");
        }
    }

    /// Pushes the event's notifications to their users' browsers, skipping subscriptions an
    /// earlier attempt reached. Any failure but a gone subscription retries the job.
    async fn push(
        &self,
        ctx: &JobContext,
        pusher: &Pusher,
        event: &Event,
    ) -> Result<usize, JobError> {
        let scope = ctx.scope();
        let delivered: HashSet<_> = db::notifications::delivered(scope, event.id)
            .await?
            .into_iter()
            .collect();
        let mut sent = 0;
        let mut failures = Vec::new();
        for notification in db::notifications::of_event(scope, event.id).await? {
            let payload = push_payload(&notification);
            for subscription in
                db::notifications::subscriptions_of(scope, notification.user_id).await?
            {
                if delivered.contains(&subscription.id) {
                    continue;
                }
                let outcome = pusher
                    .send(&subscription, &payload, urgency(event.kind))
                    .await;
                let label = match &outcome {
                    PushOutcome::Delivered => {
                        db::notifications::record_delivery(scope, event.id, subscription.id)
                            .await?;
                        sent += 1;
                        "sent"
                    }
                    PushOutcome::Gone(status) => {
                        tracing::info!(subscription = %subscription.id, status, "push subscription gone; removed");
                        db::notifications::remove_gone(scope, subscription.id).await?;
                        "gone"
                    }
                    PushOutcome::Invalid(reason) => {
                        tracing::warn!(subscription = %subscription.id, %reason, "push subscription unusable; removed");
                        db::notifications::remove_gone(scope, subscription.id).await?;
                        "invalid"
                    }
                    PushOutcome::Failed(reason) => {
                        // The job's error is the tenant's to read: generic reasons only.
                        failures.push(format!("{}: {reason}", subscription.id));
                        "failed"
                    }
                };
                metrics::counter!(SENT_TOTAL, "channel" => "web_push", "outcome" => label)
                    .increment(1);
            }
        }
        if !failures.is_empty() {
            return Err(JobError::transient(format!(
                "{} push(es) failed, retried: {}",
                failures.len(),
                failures.join("; ")
            )));
        }
        Ok(sent)
    }
}

/// Quota and webhook events are the tenant's business: its admins hear of them too.
fn concerns_admins(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::QuotaWarning | EventKind::QuotaReached | EventKind::WebhookEndpointDisabled
    )
}

/// How urgently a push service should wake a device for this kind.
fn urgency(kind: EventKind) -> web_push::Urgency {
    match kind {
        EventKind::CampaignFailed
        | EventKind::QuotaReached
        | EventKind::WebhookEndpointDisabled => web_push::Urgency::High,
        _ => web_push::Urgency::Normal,
    }
}

/// What a notification says about an event, the same for each recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    pub body: String,
    /// The API path of the event's subject, for the app to link to.
    pub url: Option<String>,
}

/// An event's data as a message reads it: what is missing or of another type reads as absent
/// (or zero).
struct Fields<'e>(&'e Event);

impl Fields<'_> {
    fn text(&self, key: &str) -> Option<String> {
        self.0
            .data
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn number(&self, key: &str) -> Option<i64> {
        self.0.data.get(key).and_then(Value::as_i64)
    }

    /// A count of the `progress` object.
    fn progress(&self, key: &str) -> i64 {
        self.0
            .data
            .get("progress")
            .and_then(|g| g.get(key))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    fn reason(&self) -> String {
        self.text("reason")
            .unwrap_or_else(|| "no reason given".to_owned())
    }

    /// "{reason} ({sent} of {total} sent)": why a campaign stopped, and how far it got.
    fn reason_and_sent(&self) -> String {
        format!(
            "{} ({} of {} sent)",
            self.reason(),
            self.progress("sent"),
            self.progress("total")
        )
    }

    /// The API path of the subject under `prefix`: its id from `key`, else the event's subject.
    fn path(&self, prefix: &str, key: &str) -> Option<String> {
        self.text(key)
            .or_else(|| self.0.subject_id.map(|s| s.to_string()))
            .map(|id| format!("{prefix}/{id}"))
    }

    fn campaign(&self) -> String {
        format!("Campaign “{}”", self.text("name").unwrap_or_default())
    }
}

impl Message {
    /// The text of `event`; `None` for kinds nobody is told about (a campaign starting: its
    /// owner just started it).
    pub fn of(event: &Event) -> Option<Self> {
        let data = Fields(event);
        let message = match event.kind {
            EventKind::CampaignStarted => return None,
            EventKind::CampaignCompleted => Self::new(
                "Campaign completed",
                format!(
                    "{} completed: {} sent, {} failed",
                    data.campaign(),
                    data.progress("sent"),
                    data.progress("failed")
                ),
                data.path("/api/campaigns", "campaignId"),
            ),
            EventKind::CampaignFailed => Self::new(
                "Campaign failed",
                format!("{} failed: {}", data.campaign(), data.reason_and_sent()),
                data.path("/api/campaigns", "campaignId"),
            ),
            EventKind::CampaignPaused => Self::new(
                "Campaign paused",
                format!("{} paused: {}", data.campaign(), data.reason_and_sent()),
                data.path("/api/campaigns", "campaignId"),
            ),
            EventKind::ImportCompleted | EventKind::ImportFailed => Self::import(&data),
            EventKind::ReportReady => {
                let what = data
                    .text("name")
                    .or_else(|| data.text("kind").map(|k| k.replace(['_', '-'], " ")))
                    .unwrap_or_else(|| "report".to_owned());
                Self::new(
                    "Report ready",
                    format!("Your {what} is ready to download"),
                    data.path("/api/reports", "reportId"),
                )
            }
            EventKind::QuotaWarning | EventKind::QuotaReached => Self::quota(&data),
            // Replies and opt-ins can be many during a campaign: webhooks carry them.
            EventKind::CampaignReplied | EventKind::ContactOptedIn => return None,
            EventKind::CampaignDeliveryMilestone => Self::new(
                "Campaign delivered",
                format!(
                    "{} reached {}% delivered: {} of {} messages",
                    data.campaign(),
                    data.number("milestone").unwrap_or(0),
                    data.number("delivered").unwrap_or(0),
                    data.number("messaged").unwrap_or(0),
                ),
                data.path("/api/campaigns", "campaignId"),
            ),
            EventKind::ContactOptedOut => Self::new(
                "Contact opted out",
                format!(
                    "+{} opted out of your campaigns, writing “{}”",
                    data.text("phone").unwrap_or_default(),
                    data.text("message").unwrap_or_default()
                ),
                None,
            ),
            EventKind::WebhookEndpointDisabled => {
                let endpoint = data
                    .text("url")
                    .unwrap_or_else(|| "a webhook endpoint".to_owned());
                Self::new(
                    "Webhook endpoint disabled",
                    format!(
                        "{endpoint} was disabled after failing deliveries: {}",
                        data.reason()
                    ),
                    data.path("/api/webhooks/endpoints", "endpointId"),
                )
            }
        };
        Some(message)
    }

    fn new(title: &str, body: String, url: Option<String>) -> Self {
        Self {
            title: title.to_owned(),
            body,
            url,
        }
    }

    /// An import finished or failed, with its counts.
    fn import(data: &Fields<'_>) -> Self {
        let import = match data.text("fileName") {
            Some(name) => format!("Import of “{name}”"),
            None => "Contact import".to_owned(),
        };
        let counts = format!(
            "{} imported, {} updated, {} skipped, {} failed",
            data.progress("imported"),
            data.progress("updated"),
            data.progress("skipped"),
            data.progress("failed"),
        );
        let url = data.path("/api/contacts/imports", "importId");
        if data.0.kind == EventKind::ImportCompleted {
            Self::new(
                "Import finished",
                format!("{import} finished: {counts}"),
                url,
            )
        } else {
            Self::new(
                "Import failed",
                format!("{import} failed: {} ({counts})", data.reason()),
                url,
            )
        }
    }

    /// A quota 80% used, or used up.
    fn quota(data: &Fields<'_>) -> Self {
        let quota = data.text("quota").unwrap_or_else(|| "a quota".to_owned());
        let usage = match (data.number("used"), data.number("limit")) {
            (Some(used), Some(limit)) => format!(": {used} of {limit} used"),
            _ => String::new(),
        };
        let url = Some("/api/me/quotas".to_owned());
        if data.0.kind == EventKind::QuotaWarning {
            Self::new(
                "Quota at 80%",
                format!("Quota `{quota}` is 80% used{usage}"),
                url,
            )
        } else {
            Self::new(
                "Quota reached",
                format!(
                    "Quota `{quota}` is used up{usage}; new ones are refused until it is raised"
                ),
                url,
            )
        }
    }

    fn to(&self, user_id: UserId, event: &Event) -> NewNotification {
        NewNotification {
            user_id,
            event_id: event.id,
            kind: event.kind,
            title: self.title.clone(),
            body: self.body.clone(),
            data: json!({"subjectId": event.subject_id, "url": self.url}),
        }
    }
}

/// What a browser's service worker receives: `{title, body, url?, kind, notificationId}`.
fn push_payload(notification: &Notification) -> Vec<u8> {
    let mut payload = json!({
        "title": notification.title,
        "body": notification.body,
        "kind": notification.kind,
        "notificationId": notification.id,
    });
    if let Some(url) = notification.data.get("url").filter(|u| u.is_string()) {
        payload["url"] = url.clone();
    }
    payload.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, data: Value) -> Event {
        Event {
            id: EventId::new(),
            tenant_id: common::TenantId::new(),
            kind,
            subject_id: Some(uuid_of(&data)),
            user_id: None,
            data,
            occurred_at: chrono::Utc::now(),
        }
    }

    fn uuid_of(data: &Value) -> uuid::Uuid {
        ["campaignId", "importId", "reportId", "endpointId"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_str))
            .and_then(|s| s.parse().ok())
            .unwrap_or_default()
    }

    const ID: &str = "0190f5b4-0000-7000-8000-000000000001";

    #[test]
    fn each_kind_reads_as_a_sentence() {
        let cases = [
            (
                EventKind::CampaignCompleted,
                json!({"campaignId": ID, "name": "Launch", "progress": {"total": 1000, "sent": 980, "failed": 20}}),
                "Campaign “Launch” completed: 980 sent, 20 failed",
            ),
            (
                EventKind::CampaignPaused,
                json!({"campaignId": ID, "name": "Launch", "reason": "paused by its owner", "progress": {"total": 10, "sent": 4}}),
                "Campaign “Launch” paused: paused by its owner (4 of 10 sent)",
            ),
            (
                EventKind::CampaignFailed,
                json!({"campaignId": ID, "name": "Launch", "reason": "inbox token rejected", "progress": {"total": 10, "sent": 0}}),
                "Campaign “Launch” failed: inbox token rejected (0 of 10 sent)",
            ),
            (
                EventKind::ImportCompleted,
                json!({"importId": ID, "fileName": "leads.csv", "progress": {"imported": 7, "updated": 2, "skipped": 1, "failed": 3}}),
                "Import of “leads.csv” finished: 7 imported, 2 updated, 1 skipped, 3 failed",
            ),
            (
                EventKind::ImportFailed,
                json!({"importId": ID, "reason": "no phone column", "progress": {}}),
                "Contact import failed: no phone column (0 imported, 0 updated, 0 skipped, 0 failed)",
            ),
            (
                EventKind::ReportReady,
                json!({"reportId": ID, "kind": "contacts_export"}),
                "Your contacts export is ready to download",
            ),
            (
                EventKind::QuotaWarning,
                json!({"quota": "max_contacts", "used": 8, "limit": 10}),
                "Quota `max_contacts` is 80% used: 8 of 10 used",
            ),
            (
                EventKind::QuotaReached,
                json!({"quota": "max_contacts", "used": 10, "limit": 10}),
                "Quota `max_contacts` is used up: 10 of 10 used; new ones are refused until it is raised",
            ),
            (
                EventKind::WebhookEndpointDisabled,
                json!({"endpointId": ID, "url": "https://hooks.example.com/in", "reason": "failing for 5 days"}),
                "https://hooks.example.com/in was disabled after failing deliveries: failing for 5 days",
            ),
            (
                EventKind::CampaignDeliveryMilestone,
                json!({"campaignId": ID, "name": "Launch", "milestone": 50, "delivered": 5, "messaged": 10}),
                "Campaign “Launch” reached 50% delivered: 5 of 10 messages",
            ),
            (
                EventKind::ContactOptedOut,
                json!({"phone": "5511987654321", "message": "Sair"}),
                "+5511987654321 opted out of your campaigns, writing “Sair”",
            ),
        ];
        for (kind, data, body) in cases {
            let message = Message::of(&event(kind, data)).expect("told");
            assert_eq!(message.body, body, "{kind}");
            assert!(!message.title.is_empty());
        }
        let completed = Message::of(&event(
            EventKind::CampaignCompleted,
            json!({"campaignId": ID, "name": "x", "progress": {}}),
        ))
        .unwrap();
        assert_eq!(
            completed.url.as_deref(),
            Some(&*format!("/api/campaigns/{ID}"))
        );
        assert!(Message::of(&event(EventKind::CampaignStarted, json!({}))).is_none());
        assert!(Message::of(&event(EventKind::CampaignReplied, json!({}))).is_none());
    }

    #[test]
    fn quota_and_webhook_events_reach_the_admins_too() {
        assert!(concerns_admins(EventKind::QuotaReached));
        assert!(concerns_admins(EventKind::WebhookEndpointDisabled));
        assert!(!concerns_admins(EventKind::CampaignCompleted));
    }
}
