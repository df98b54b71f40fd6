#![doc = include_str!("../README.md")]

pub mod config;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use app::consent::OptedOut;
use chrono::{DateTime, Utc};
use common::consent::{ConsentReply, Keywords};
use common::jobs::kind::InboundDrain;
use common::{AccountId, CampaignStatus, EventKind, InboxId, UserId};
use db::consent::NewOptOut;
use db::events::NewEvent;
use db::inbound::{
    DeliveryMilestone, InboundKind, InboundOutcome, IncomingMessage, PendingEvent, Receipt, Reply,
};
use db::{DatabaseConnection, PlatformScope, TenantScope};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use tokio_util::sync::{CancellationToken, DropGuard};
use worker::{BuildJob, Done, Job, JobContext, JobError};

use crate::config::InboundConfig;

/// Applied events deleted per sweep statement.
const SWEEP_BATCH: u64 = 5_000;

/// Drains one inbox's recorded events per job, in batches, and deletes old applied events.
pub struct InboundJob {
    batch: u64,
    /// Stops the retention sweep when the job (the worker) is dropped, after its drain.
    _sweep: DropGuard,
}

impl BuildJob for InboundJob {
    type Config = InboundConfig;

    /// Also starts the retention sweep, every `INBOUND_SWEEP_SECONDS`, until the job is dropped.
    fn build(config: InboundConfig, db: DatabaseConnection) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        tokio::spawn(sweep_every(
            db,
            config.retention,
            config.sweep_every,
            stop.clone(),
        ));
        Ok(Self {
            batch: config.batch,
            _sweep: stop.drop_guard(),
        })
    }
}

impl Job for InboundJob {
    type Kind = InboundDrain;

    async fn run(&self, ctx: JobContext, inbox_id: InboxId, _: ()) -> Result<Done, JobError> {
        // From here on a newly recorded event queues the next drain; earlier ones are ours.
        db::inbound::begin_drain(ctx.scope(), inbox_id).await?;
        let inbox = db::inboxes::find(ctx.scope(), inbox_id).await?;
        let drain = Drain {
            inbox_id,
            account_id: inbox.account_id,
            keywords: db::consent::keywords(ctx.scope()).await?.keywords,
        };
        let mut applied = 0u64;
        let mut ignored = 0u64;
        loop {
            if ctx.lease_lost.is_cancelled() {
                return Err(JobError::LeaseLost);
            }
            if ctx.shutdown.is_cancelled() {
                // What is left waits for this job's next attempt (or the next drain).
                return Ok(Done::Deferred(Duration::from_secs(1)));
            }
            let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
            let scope = TenantScope::for_job(&txn, ctx.tenant_id());
            let events = db::inbound::claim_pending(scope, inbox_id, self.batch).await?;
            if events.is_empty() {
                txn.commit().await.map_err(db::DbError::from)?;
                break;
            }
            let outcomes = apply(scope, &drain, &events).await?;
            db::inbound::mark_processed(scope, &outcomes).await?;
            txn.commit().await.map_err(db::DbError::from)?;
            let now = Utc::now();
            for (event, (_, outcome)) in events.iter().zip(&outcomes) {
                metrics::counter!("inbound_events_processed_total", "type" => event.kind.as_str(), "outcome" => outcome.as_str())
                    .increment(1);
                let lag = (now - event.received_at).to_std().unwrap_or_default();
                metrics::histogram!("inbound_event_lag_seconds").record(lag.as_secs_f64());
                match outcome {
                    InboundOutcome::Applied => applied += 1,
                    InboundOutcome::Ignored => ignored += 1,
                }
            }
            if (events.len() as u64) < self.batch {
                break;
            }
        }
        Ok(Done::Completed(Some(
            json!({"applied": applied, "ignored": ignored}),
        )))
    }
}

/// What one recorded event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Receipts(Vec<Receipt>),
    Message {
        message: IncomingMessage,
        /// The text, for consent keywords.
        text: Option<String>,
    },
    /// The number lost its session for good (logged out, banned): its campaigns pause with
    /// this reason.
    BanSignal(String),
    /// Nothing to change, and why.
    Nothing(&'static str),
}

/// What a drain needs to know about its inbox, read once per job.
struct Drain {
    inbox_id: InboxId,
    /// Opt-outs belong to the inbox's account.
    account_id: AccountId,
    keywords: Keywords,
}

/// Applies one batch in the caller's transaction: all receipts in one statement, all messages
/// in two, the consent replies in one or two, then the events they announce. Returns each
/// event's outcome, in the batch's order.
async fn apply(
    scope: TenantScope<'_, impl sea_orm::ConnectionTrait>,
    drain: &Drain,
    events: &[PendingEvent],
) -> Result<Vec<(i64, InboundOutcome)>, db::DbError> {
    let inbox_id = drain.inbox_id;
    let effects: Vec<Effect> = events.iter().map(effect_of).collect();
    let receipts: Vec<Receipt> = effects
        .iter()
        .flat_map(|e| match e {
            Effect::Receipts(r) => r.clone(),
            _ => Vec::new(),
        })
        .collect();
    let messages: Vec<IncomingMessage> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Message { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    let matched_ids = db::inbound::apply_receipts(scope, inbox_id, &receipts).await?;
    let milestones = db::inbound::reach_delivery_milestones(scope, &matched_ids).await?;
    let matched: HashSet<String> = matched_ids.into_iter().collect();
    let replies = db::inbound::apply_messages(scope, inbox_id, &messages).await?;
    let consent = consent_of(&drain.keywords, &effects);
    let opted_out =
        app::consent::opt_out(scope, drain.account_id, Some(inbox_id), &consent.opt_outs).await?;
    let opted_in = db::consent::opt_in(scope, drain.account_id, &consent.opt_ins).await?;
    announce(
        scope,
        drain,
        &milestones,
        &replies,
        &consent,
        &opted_out,
        &opted_in,
    )
    .await?;
    let mut paused_any = false;
    for effect in &effects {
        if let Effect::BanSignal(reason) = effect {
            paused_any |= pause_campaigns(scope, inbox_id, reason).await? > 0;
        }
    }
    Ok(events
        .iter()
        .zip(&effects)
        .map(|(event, effect)| {
            let outcome = match effect {
                Effect::Receipts(receipts)
                    if receipts.iter().any(|r| matched.contains(&r.message_id)) =>
                {
                    InboundOutcome::Applied
                }
                // Who wrote is always kept.
                Effect::Message { .. } => InboundOutcome::Applied,
                Effect::BanSignal(_) if paused_any => InboundOutcome::Applied,
                Effect::Receipts(_) | Effect::BanSignal(_) | Effect::Nothing(_) => {
                    InboundOutcome::Ignored
                }
            };
            (event.id, outcome)
        })
        .collect())
}

/// Pauses every campaign of the inbox that would still send, announcing each (its owner is
/// told why); returns how many.
async fn pause_campaigns(
    scope: TenantScope<'_, impl sea_orm::ConnectionTrait>,
    inbox_id: InboxId,
    reason: &str,
) -> Result<usize, db::DbError> {
    let sendable: Vec<CampaignStatus> = CampaignStatus::ALL
        .into_iter()
        .filter(|s| s.is_sendable())
        .collect();
    let mut paused = 0;
    for campaign in db::campaigns::sendable_of_inbox(scope, inbox_id).await? {
        if app::campaigns::transition_announced(
            scope,
            &campaign,
            &sendable,
            CampaignStatus::Paused,
            Some(reason.to_owned()),
        )
        .await?
        {
            paused += 1;
        }
    }
    if paused > 0 {
        tracing::warn!(%inbox_id, paused, %reason, "campaigns paused on a ban signal");
    }
    Ok(paused)
}

/// The consent replies of a batch: per phone, its last keyword reply decides (`STOP` then
/// `START` in one batch leaves the contact opted in).
#[derive(Debug, Default, PartialEq)]
pub struct ConsentReplies {
    pub opt_outs: Vec<NewOptOut>,
    pub opt_ins: Vec<String>,
}

pub fn consent_of(keywords: &Keywords, effects: &[Effect]) -> ConsentReplies {
    let mut last: HashMap<&str, (ConsentReply, &IncomingMessage, &str)> = HashMap::new();
    for effect in effects {
        if let Effect::Message {
            message,
            text: Some(text),
        } = effect
            && let Some(reply) = keywords.reply(text)
        {
            last.insert(&message.phone, (reply, message, text));
        }
    }
    let mut replies = ConsentReplies::default();
    for (phone, (reply, message, text)) in last {
        match reply {
            ConsentReply::OptOut => replies.opt_outs.push(NewOptOut {
                phone: phone.to_owned(),
                at: message.at,
                message: text.chars().take(MAX_KEPT_MESSAGE_CHARS).collect(),
            }),
            ConsentReply::OptIn => replies.opt_ins.push(phone.to_owned()),
        }
    }
    replies.opt_outs.sort_by(|a, b| a.phone.cmp(&b.phone));
    replies.opt_ins.sort();
    replies
}

/// Longest opt-out message kept (a keyword reply is short; this bounds a pathological one).
const MAX_KEPT_MESSAGE_CHARS: usize = 200;

/// Records the events a batch caused, in its transaction: delivery milestones, first replies,
/// opt-outs and opt-ins (the notification and webhook workers take them from there).
async fn announce(
    scope: TenantScope<'_, impl sea_orm::ConnectionTrait>,
    drain: &Drain,
    milestones: &[DeliveryMilestone],
    replies: &[Reply],
    consent: &ConsentReplies,
    opted_out: &OptedOut,
    opted_in: &[String],
) -> Result<(), db::DbError> {
    for m in milestones {
        app::events::emit(
            scope,
            NewEvent {
                kind: EventKind::CampaignDeliveryMilestone,
                subject_id: Some(m.campaign_id.into_uuid()),
                user_id: m.created_by.map(UserId::from),
                data: json!({
                    "campaignId": m.campaign_id, "name": m.name, "milestone": m.milestone,
                    "delivered": m.delivered, "read": m.read, "messaged": m.messaged,
                }),
            },
        )
        .await?;
    }
    for r in replies {
        app::events::emit(
            scope,
            NewEvent {
                kind: EventKind::CampaignReplied,
                subject_id: Some(r.campaign_id.into_uuid()),
                user_id: None,
                data: json!({
                    "campaignId": r.campaign_id, "recipientId": r.recipient_id,
                    "phone": r.phone, "inboxId": drain.inbox_id, "repliedAt": r.replied_at,
                }),
            },
        )
        .await?;
    }
    let new: HashSet<&str> = opted_out.new_phones.iter().map(String::as_str).collect();
    for o in consent
        .opt_outs
        .iter()
        .filter(|o| new.contains(o.phone.as_str()))
    {
        app::events::emit(
            scope,
            NewEvent {
                kind: EventKind::ContactOptedOut,
                subject_id: None,
                user_id: None,
                data: json!({
                    "phone": o.phone, "accountId": drain.account_id, "inboxId": drain.inbox_id,
                    "message": o.message, "optedOutAt": o.at,
                }),
            },
        )
        .await?;
    }
    for phone in opted_in {
        app::events::emit(
            scope,
            NewEvent {
                kind: EventKind::ContactOptedIn,
                subject_id: None,
                user_id: None,
                data: json!({"phone": phone, "accountId": drain.account_id, "inboxId": drain.inbox_id}),
            },
        )
        .await?;
    }
    Ok(())
}

/// Reads what an event asks for from its WUZAPI payload (`{"type", "state", "event"}` with
/// whatsmeow's event as JSON).
pub fn effect_of(event: &PendingEvent) -> Effect {
    let payload = &event.payload;
    let body = &payload["event"];
    match event.kind {
        InboundKind::Receipt => {
            let read = match receipt_state(payload) {
                Some(ReceiptState::Delivered) => false,
                Some(ReceiptState::Read) => true,
                None => return Effect::Nothing("not a delivery or read receipt"),
            };
            let at = timestamp(&body["Timestamp"]).unwrap_or(event.received_at);
            let receipts: Vec<Receipt> = body["MessageIDs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(|id| Receipt {
                    message_id: id.to_owned(),
                    at,
                    read,
                })
                .collect();
            if receipts.is_empty() {
                Effect::Nothing("a receipt without message ids")
            } else {
                Effect::Receipts(receipts)
            }
        }
        InboundKind::Message => {
            let info = &body["Info"];
            if info["IsFromMe"].as_bool() == Some(true) {
                return Effect::Nothing("our own message");
            }
            if info["IsGroup"].as_bool() == Some(true) {
                return Effect::Nothing("a group message");
            }
            let sender = info["Sender"]
                .as_str()
                .filter(|s| s.ends_with("@s.whatsapp.net"))
                .or_else(|| info["Chat"].as_str());
            let Some(phone) = sender.and_then(phone_of) else {
                return Effect::Nothing("a sender without a phone number");
            };
            let text = body["Message"]["conversation"]
                .as_str()
                .or_else(|| body["Message"]["extendedTextMessage"]["text"].as_str())
                .map(str::to_owned);
            Effect::Message {
                message: IncomingMessage {
                    phone,
                    at: timestamp(&info["Timestamp"]).unwrap_or(event.received_at),
                },
                text,
            }
        }
        InboundKind::Connection => match payload["type"].as_str() {
            Some("LoggedOut") => Effect::BanSignal(
                "the WhatsApp number was logged out (on the phone, or by WhatsApp); reconnect it with a new QR code, then resume the campaign".to_owned(),
            ),
            Some("TemporaryBan") => {
                let expires = body["Expire"]
                    .as_i64()
                    .filter(|s| *s > 0)
                    .map(|s| format!(" for about {} h", (s + 3599) / 3600))
                    .unwrap_or_default();
                Effect::BanSignal(format!(
                    "WhatsApp temporarily banned the number{expires}; wait for the ban to end and send less, then resume the campaign"
                ))
            }
            // whatsmeow reconnects by itself; a send without a session pauses the campaign.
            _ => Effect::Nothing("a session change that needs nothing"),
        },
        InboundKind::Other => Effect::Nothing("not an event the manager uses"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReceiptState {
    Delivered,
    Read,
}

/// `state` (`Delivered`, `Read`; `ReadSelf` is our own other device), else whatsmeow's
/// receipt `Type` (`""` delivered, `read`).
fn receipt_state(payload: &Value) -> Option<ReceiptState> {
    match payload["state"].as_str() {
        Some(state) if state.eq_ignore_ascii_case("delivered") => Some(ReceiptState::Delivered),
        Some(state) if state.eq_ignore_ascii_case("read") => Some(ReceiptState::Read),
        Some(_) => None,
        None => match payload["event"]["Type"].as_str() {
            Some("") => Some(ReceiptState::Delivered),
            Some("read") => Some(ReceiptState::Read),
            _ => None,
        },
    }
}

/// An RFC 3339 text or unix seconds.
fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        _ => None,
    }
}

/// The digits of a user JID (`5511999999999@s.whatsapp.net`, `5511999999999:3@...`).
fn phone_of(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    if server != "s.whatsapp.net" {
        return None;
    }
    let user = user.split(':').next().unwrap_or(user);
    (!user.is_empty() && user.len() <= 15 && user.bytes().all(|b| b.is_ascii_digit()))
        .then(|| user.to_owned())
}

/// Deletes applied events past their retention every `every` until `stop`.
async fn sweep_every(
    db: DatabaseConnection,
    retention: Duration,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let before = Utc::now() - retention;
        loop {
            let deleted = tokio::select! {
                () = stop.cancelled() => return,
                deleted = db::inbound::delete_processed_before(PlatformScope::new(&db), before, SWEEP_BATCH) => deleted,
            };
            match deleted {
                Ok(n) if n < SWEEP_BATCH => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "inbound event sweep failed; retried at the next one");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: InboundKind, payload: Value) -> PendingEvent {
        PendingEvent {
            id: 1,
            kind,
            payload,
            received_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn receipts_name_their_messages_and_read_implies_delivered() {
        let read = event(
            InboundKind::Receipt,
            json!({"type": "ReadReceipt", "state": "Read", "event": {
                "MessageIDs": ["3EB0A", "3EB0B"], "Timestamp": "2026-12-03T10:00:00Z"}}),
        );
        let Effect::Receipts(receipts) = effect_of(&read) else {
            panic!("a read receipt")
        };
        assert_eq!(receipts.len(), 2);
        assert!(receipts.iter().all(|r| r.read));
        assert_eq!(receipts[0].at.to_rfc3339(), "2026-12-03T10:00:00+00:00");

        let delivered = event(
            InboundKind::Receipt,
            json!({"type": "ReadReceipt", "event": {"MessageIDs": ["3EB0A"], "Type": ""}}),
        );
        let Effect::Receipts(receipts) = effect_of(&delivered) else {
            panic!("a delivery receipt")
        };
        assert!(!receipts[0].read);
        assert_eq!(
            receipts[0].at, delivered.received_at,
            "no timestamp: when received"
        );

        let own = event(
            InboundKind::Receipt,
            json!({"type": "ReadReceipt", "state": "ReadSelf", "event": {"MessageIDs": ["3EB0A"]}}),
        );
        assert!(matches!(effect_of(&own), Effect::Nothing(_)));
        let empty = event(
            InboundKind::Receipt,
            json!({"type": "ReadReceipt", "state": "Read"}),
        );
        assert!(matches!(effect_of(&empty), Effect::Nothing(_)));
    }

    #[test]
    fn a_logout_or_a_ban_is_a_ban_signal_and_a_dropped_connection_is_not() {
        let logout = event(
            InboundKind::Connection,
            json!({"type": "LoggedOut", "event": {}}),
        );
        let Effect::BanSignal(reason) = effect_of(&logout) else {
            panic!("a ban signal")
        };
        assert!(reason.contains("logged out"), "{reason}");
        let ban = event(
            InboundKind::Connection,
            json!({"type": "TemporaryBan", "event": {"Code": 101, "Expire": 7200}}),
        );
        let Effect::BanSignal(reason) = effect_of(&ban) else {
            panic!("a ban signal")
        };
        assert!(reason.contains("about 2 h"), "{reason}");
        let dropped = event(
            InboundKind::Connection,
            json!({"type": "Disconnected", "event": {}}),
        );
        assert!(matches!(effect_of(&dropped), Effect::Nothing(_)));
    }

    #[test]
    fn consent_follows_each_numbers_last_keyword_reply() {
        let keywords = Keywords::default();
        let message = |phone: &str, text: &str| Effect::Message {
            message: IncomingMessage {
                phone: phone.to_owned(),
                at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            },
            text: Some(text.to_owned()),
        };
        let replies = consent_of(
            &keywords,
            &[
                message("551100000001", "STOP"),
                message("551100000001", "voltar"),
                message("551100000002", "hello"),
                message("551100000003", "Sair!"),
            ],
        );
        assert_eq!(replies.opt_ins, ["551100000001"]);
        assert_eq!(replies.opt_outs.len(), 1);
        assert_eq!(replies.opt_outs[0].phone, "551100000003");
        assert_eq!(replies.opt_outs[0].message, "Sair!");
    }

    #[test]
    fn messages_name_their_sender_and_text() {
        let reply = event(
            InboundKind::Message,
            json!({"type": "Message", "event": {
                "Info": {"Sender": "5511987654321:4@s.whatsapp.net", "Chat": "5511987654321@s.whatsapp.net",
                         "IsFromMe": false, "IsGroup": false, "ID": "ABC", "Timestamp": 1_700_000_100},
                "Message": {"extendedTextMessage": {"text": "Stop"}}}}),
        );
        let Effect::Message { message, text } = effect_of(&reply) else {
            panic!("a message")
        };
        assert_eq!(message.phone, "5511987654321");
        assert_eq!(message.at.timestamp(), 1_700_000_100);
        assert_eq!(text.as_deref(), Some("Stop"));

        for info in [
            json!({"Sender": "5511987654321@s.whatsapp.net", "IsFromMe": true}),
            json!({"Sender": "5511987654321@s.whatsapp.net", "Chat": "1203@g.us", "IsGroup": true}),
            json!({"Sender": "1234@lid", "Chat": "1234@lid"}),
            json!({"Sender": "not-a-number@s.whatsapp.net"}),
        ] {
            let message = event(
                InboundKind::Message,
                json!({"type": "Message", "event": {"Info": info}}),
            );
            assert!(matches!(effect_of(&message), Effect::Nothing(_)), "{info}");
        }
    }
}
