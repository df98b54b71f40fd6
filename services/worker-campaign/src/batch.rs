//! One campaign batch: send what the pacing allows within the batch's time budget, record every
//! outcome, and schedule the next batch in the same transaction as the last record.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::pacing::WindowState;
use common::template::Template;
use common::{CampaignId, CampaignStatus, RecipientId};
use db::campaigns::{self, Claim, Outcome, Stopped};
use db::campaigns::{Campaign, Recipient};
use db::inboxes::Inbox;
use db::send_slots::{self, Slot};
use rand::{Rng, SeedableRng};
use sea_orm::TransactionTrait;
use secrecy::{ExposeSecret, SecretString};
use worker::{Done, JobContext, JobError};
use wuzapi::{SendText, WuzapiError};

use crate::CampaignJob;

/// Why the batch loop stopped.
enum Ended {
    /// No recipient is pending any more.
    AllSent,
    /// The time budget is used up (or the process is stopping): continue at `run_at`.
    Continue { after: Duration },
    /// The campaign stopped being sendable (paused, cancelled).
    Stopped,
    /// The number is disconnected, or the failure breaker opened: the campaign is paused with
    /// this reason.
    Pause(String),
    /// WUZAPI failed transiently.
    Outage(WuzapiError),
}

/// How much sending a claimed group may stand for, in milliseconds.
const UNCERTAINTY_WINDOW_MS: f64 = 250.0;

/// The longest wait between two probes of a campaign parked for a WUZAPI outage.
const MAX_PROBE_DELAY: Duration = Duration::from_secs(600);

/// What the number's pacing allows a batch.
struct Allowance {
    /// When the batch must end: its time budget, or the send window closing.
    deadline: Instant,
    /// Messages the number may still send today; `None`: no limit.
    remaining: Option<u32>,
    /// The tenant's day the sends count on.
    today: chrono::NaiveDate,
}

/// The batch's campaign; a permanent failure when it was deleted.
async fn find_campaign(ctx: &JobContext, campaign_id: CampaignId) -> Result<Campaign, JobError> {
    match campaigns::find(ctx.scope(), campaign_id).await {
        Ok(campaign) => Ok(campaign),
        Err(db::DbError::NotFound(_)) => Err(JobError::permanent("the campaign no longer exists")),
        Err(e) => Err(e.into()),
    }
}

/// The campaign's inbox; a permanent failure when it was deleted.
async fn find_inbox(ctx: &JobContext, campaign: &Campaign) -> Result<Inbox, JobError> {
    match db::inboxes::find(ctx.scope(), campaign.inbox_id).await {
        Ok(inbox) => Ok(inbox),
        Err(db::DbError::NotFound(_)) => {
            Err(JobError::permanent("the campaign's inbox no longer exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Recipients left mid-send by an earlier worker (claimed, never recorded) become uncertain.
async fn mark_abandoned_uncertain(
    ctx: &JobContext,
    campaign_id: CampaignId,
) -> Result<(), JobError> {
    let abandoned =
        campaigns::mark_abandoned_uncertain(ctx.scope(), campaign_id, ctx.lease.token).await?;
    if abandoned > 0 {
        tracing::warn!(
            abandoned,
            "recipients left mid-send by an earlier worker are now uncertain"
        );
        metrics::counter!("campaign_messages_total", "outcome" => "uncertain").increment(abandoned);
    }
    Ok(())
}

impl CampaignJob {
    pub(crate) async fn run_batch(
        &self,
        ctx: JobContext,
        campaign_id: CampaignId,
    ) -> Result<Done, JobError> {
        let campaign = find_campaign(&ctx, campaign_id).await?;
        if !campaign.status.is_sendable() {
            return self.stop(&ctx, campaign_id).await;
        }
        // A parked campaign's batch is a probe: one try, then back to waiting, longer.
        let probing = campaign.status == CampaignStatus::WaitingWuzapi;
        let inbox = find_inbox(&ctx, &campaign).await?;
        let Some(base_url) = self.allowed_server(&ctx, &campaign, &inbox).await? else {
            return self.stop(&ctx, campaign_id).await;
        };
        let token = self.cipher.decrypt(inbox.token.ciphertext()).map_err(|e| {
            JobError::permanent(format!(
                "the inbox token cannot be read ({e}); is INBOX_TOKEN_KEY the gateway's?"
            ))
        })?;
        let template = Template::parse(&campaign.template)
            .map_err(|e| JobError::permanent(format!("the template is invalid: {e}")))?;
        mark_abandoned_uncertain(&ctx, campaign_id).await?;

        let hold = self.batch_budget + ctx.lease_ttl;
        let since_last_send =
            match send_slots::acquire(&ctx.db, inbox.id, ctx.lease.token, hold).await? {
                Slot::Granted { since_last_send } => since_last_send,
                Slot::Busy { remaining } => {
                    tracing::debug!(?remaining, "inbox busy with another batch");
                    return Ok(Done::Deferred(remaining.min(Duration::from_secs(1))));
                }
            };
        self.announce_move(
            &ctx,
            &campaign,
            &[
                CampaignStatus::Queued,
                CampaignStatus::Scheduled,
                CampaignStatus::WaitingWuzapi,
            ],
            CampaignStatus::Running,
            None,
        )
        .await?;

        let allowance = match self.allowance(&ctx, &campaign, &inbox).await? {
            ControlFlow::Continue(allowance) => allowance,
            ControlFlow::Break(done) => return Ok(done),
        };

        let mut sender = Sender {
            job: self,
            ctx: &ctx,
            campaign: &campaign,
            inbox: &inbox,
            base_url: &base_url,
            token: &token,
            template: &template,
            last_send: since_last_send.map(|since| Instant::now() - since),
            deadline: allowance.deadline,
            remaining: allowance.remaining,
            today: allowance.today,
            sent_any: false,
            forgiven: false,
            // Until measured, assume a slow WUZAPI: small groups.
            send_ms: 25.0,
        };
        let ended = sender.send_until_done().await;
        let sent_any = sender.sent_any;
        let ended = match ended {
            Ok(ended) => ended,
            Err(e) => {
                self.release_slot(&ctx, &inbox).await;
                return Err(e);
            }
        };
        if sent_any && campaign.outage_probes > 0 {
            campaigns::outage_over(ctx.scope(), campaign_id).await?;
        }
        self.finish(&ctx, &campaign, &inbox, probing, ended).await
    }

    /// The inbox's WUZAPI server as the URL policy normalises it; `None` when the operator no
    /// longer allows it, and the campaign is then paused.
    async fn allowed_server(
        &self,
        ctx: &JobContext,
        campaign: &Campaign,
        inbox: &Inbox,
    ) -> Result<Option<String>, JobError> {
        match self.wuzapi_urls.check(&inbox.wuzapi_url) {
            Ok(url) => Ok(Some(url.into_string())),
            Err(refused) => {
                // The operator no longer allows this inbox's server: nothing is sent until the
                // owner points the inbox elsewhere and resumes.
                self.announce_move(
                    ctx,
                    campaign,
                    &[campaign.status],
                    CampaignStatus::Paused,
                    Some(format!(
                        "the inbox's WUZAPI server is not allowed: {refused}"
                    )),
                )
                .await?;
                Ok(None)
            }
        }
    }

    /// What the number's pacing allows this batch, in the tenant's calendar: the send window,
    /// then the day's cap. When it allows nothing now, the campaign waits (`Break`).
    async fn allowance(
        &self,
        ctx: &JobContext,
        campaign: &Campaign,
        inbox: &Inbox,
    ) -> Result<ControlFlow<Done, Allowance>, JobError> {
        let time_zone = db::tenants::time_zone(ctx.scope()).await?;
        let time_zone = common::pacing::time_zone(&time_zone).unwrap_or(chrono_tz::UTC);
        let local_now = self.clock.now().with_timezone(&time_zone).naive_local();
        let today = local_now.date();
        let pacing = &inbox.pacing;
        let mut deadline = Instant::now() + self.batch_budget;
        if let Some(window) = &pacing.window {
            match window.state(local_now) {
                WindowState::Closed { opens_in } => {
                    let opens =
                        local_now + chrono::TimeDelta::from_std(opens_in).unwrap_or_default();
                    let reason = format!(
                        "outside the number's send window; sending resumes {} ({time_zone})",
                        opens.format("%a %Y-%m-%d %H:%M")
                    );
                    return self
                        .wait(ctx, campaign, inbox, opens_in, reason)
                        .await
                        .map(ControlFlow::Break);
                }
                WindowState::Open { closes_in } => {
                    deadline = deadline.min(Instant::now() + closes_in);
                }
            }
        }
        let remaining = match pacing.allowance(today) {
            None => None,
            Some(allowed) => {
                let sent = send_slots::sent_on(&ctx.db, inbox.id, today).await?;
                if sent >= allowed {
                    let reason = format!(
                        "the number's daily limit of {allowed} messages is reached; sending resumes tomorrow ({time_zone})"
                    );
                    let after = common::pacing::until_next_day(local_now);
                    return self
                        .wait(ctx, campaign, inbox, after, reason)
                        .await
                        .map(ControlFlow::Break);
                }
                Some(allowed - sent)
            }
        };
        if campaign.status == CampaignStatus::Running && campaign.status_reason.is_some() {
            // It was waiting for its window or the next day: it sends again.
            campaigns::note_waiting(ctx.scope(), campaign.id, None).await?;
        }
        Ok(ControlFlow::Continue(Allowance {
            deadline,
            remaining,
            today,
        }))
    }

    /// Settles the batch by how its sending ended.
    async fn finish(
        &self,
        ctx: &JobContext,
        campaign: &Campaign,
        inbox: &Inbox,
        probing: bool,
        ended: Ended,
    ) -> Result<Done, JobError> {
        match ended {
            Ended::AllSent => {
                self.release_slot(ctx, inbox).await;
                let progress = campaigns::progress(ctx.scope(), campaign.id).await?;
                self.announce_move(ctx, campaign, IN_FLIGHT, CampaignStatus::Completed, None)
                    .await?;
                tracing::info!(?progress, "campaign completed");
                Ok(Done::Completed(serde_json::to_value(progress).ok()))
            }
            Ended::Continue { after } => self.continue_later(ctx, campaign.id, inbox, after).await,
            Ended::Stopped => {
                self.release_slot(ctx, inbox).await;
                self.stop(ctx, campaign.id).await
            }
            Ended::Pause(reason) => {
                self.release_slot(ctx, inbox).await;
                self.announce_move(
                    ctx,
                    campaign,
                    IN_FLIGHT,
                    CampaignStatus::Paused,
                    Some(reason),
                )
                .await?;
                self.stop(ctx, campaign.id).await
            }
            Ended::Outage(error) => self.outage(ctx, campaign.id, inbox, probing, error).await,
        }
    }

    /// WUZAPI failed transiently: the job retries, or once out of retries (or when it was a
    /// probe) the campaign is parked and probed later.
    async fn outage(
        &self,
        ctx: &JobContext,
        campaign_id: CampaignId,
        inbox: &Inbox,
        probing: bool,
        error: WuzapiError,
    ) -> Result<Done, JobError> {
        self.release_slot(ctx, inbox).await;
        if !ctx.is_last_attempt() && !probing {
            return Err(JobError::transient(error));
        }
        // Out of retries, but an outage is not the campaign's fault: park it and probe
        // with a growing back-off, for as long as the outage lasts.
        // Parked and scheduled together: the owner never sees a parked campaign whose
        // job is still running, nor a lost lease leave one parked with no probe.
        let reason = format!("waiting for WUZAPI: {error}");
        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        let failed_probes =
            campaigns::park_for_outage(ctx.scope().on(&txn), campaign_id, &reason).await?;
        let delay = self
            .first_outage_probe
            .saturating_mul(2u32.saturating_pow(failed_probes.clamp(0, 16) as u32))
            .min(MAX_PROBE_DELAY);
        let continued = db::jobs::continue_at(&txn, ctx.lease, Utc::now() + delay, None).await?;
        if !continued {
            return Err(JobError::LeaseLost);
        }
        txn.commit().await.map_err(db::DbError::from)?;
        tracing::warn!(error = %error, probe_in = ?delay, "WUZAPI outage; campaign parked");
        ctx.wake_relay();
        Ok(Done::Settled)
    }

    /// Frees the number and schedules the campaign's next batch `after` from now, with its
    /// progress so far.
    async fn continue_later(
        &self,
        ctx: &JobContext,
        campaign_id: CampaignId,
        inbox: &Inbox,
        after: Duration,
    ) -> Result<Done, JobError> {
        let progress = campaigns::progress(ctx.scope(), campaign_id).await?;
        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        send_slots::note_sent(&txn, inbox.id, ctx.lease.token, false, true).await?;
        let continued = db::jobs::continue_at(
            &txn,
            ctx.lease,
            Utc::now() + after,
            serde_json::to_value(progress).ok(),
        )
        .await?;
        if !continued {
            return Err(JobError::LeaseLost);
        }
        txn.commit().await.map_err(db::DbError::from)?;
        ctx.wake_relay();
        Ok(Done::Settled)
    }

    /// The number may not send now (outside its window, its day's cap reached): the campaign
    /// stays running, says why it waits, and its next batch runs when sending may go on.
    async fn wait(
        &self,
        ctx: &JobContext,
        campaign: &Campaign,
        inbox: &Inbox,
        after: Duration,
        reason: String,
    ) -> Result<Done, JobError> {
        tracing::info!(%reason, wait = ?after, "campaign waits for its number's pacing");
        campaigns::note_waiting(ctx.scope(), campaign.id, Some(&reason)).await?;
        metrics::counter!("campaign_pacing_waits_total", "reason" => if reason.starts_with("outside") { "window" } else { "daily_cap" })
            .increment(1);
        self.continue_later(ctx, campaign.id, inbox, after).await
    }

    /// The campaign is not sendable: park or finish the job (see `campaigns::stop_for_status`).
    /// Moves the campaign and records the event the move announces, in one transaction.
    async fn announce_move(
        &self,
        ctx: &JobContext,
        campaign: &Campaign,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<String>,
    ) -> Result<bool, JobError> {
        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        let moved =
            app::campaigns::transition_announced(ctx.scope().on(&txn), campaign, from, to, reason)
                .await?;
        txn.commit().await.map_err(db::DbError::from)?;
        if moved {
            ctx.wake_relay();
        }
        Ok(moved)
    }

    async fn stop(&self, ctx: &JobContext, campaign_id: CampaignId) -> Result<Done, JobError> {
        match campaigns::stop_for_status(ctx.scope(), ctx.lease, campaign_id).await? {
            Stopped::Parked(status) => {
                tracing::info!(%status, "campaign stopped; job waits for a resume");
                Ok(Done::Settled)
            }
            Stopped::Finished(status) => {
                tracing::info!(%status, "campaign finished");
                Ok(Done::Settled)
            }
            Stopped::LeaseLost => Err(JobError::LeaseLost),
            // Resumed meanwhile: go on in a new batch at once.
            Stopped::Sendable => {
                let continued = db::jobs::continue_at(&ctx.db, ctx.lease, Utc::now(), None).await?;
                if !continued {
                    return Err(JobError::LeaseLost);
                }
                ctx.wake_relay();
                Ok(Done::Settled)
            }
        }
    }

    async fn release_slot(&self, ctx: &JobContext, inbox: &Inbox) {
        if let Err(e) = send_slots::note_sent(&ctx.db, inbox.id, ctx.lease.token, false, true).await
        {
            // The hold runs out by itself.
            tracing::warn!(error = %e, "could not release the inbox's send slot");
        }
    }
}

/// How soon a batch whose claim found pending recipients but claimed none tries again.
const CONTENDED_RETRY: Duration = Duration::from_millis(100);

/// Where a batch that is sending finds its campaign: running, or queued again when its owner
/// paused and resumed it between two of the batch's sends (the batch then goes on by itself, see
/// `campaigns::resume`). Its end moves the campaign from either.
const IN_FLIGHT: &[CampaignStatus] = &[CampaignStatus::Running, CampaignStatus::Queued];

/// The state of one batch's sending loop.
struct Sender<'a> {
    job: &'a CampaignJob,
    ctx: &'a JobContext,
    campaign: &'a Campaign,
    inbox: &'a Inbox,
    /// The inbox's WUZAPI server, as the URL policy normalised it.
    base_url: &'a str,
    /// The inbox's WUZAPI user token, exposed only into the request header.
    token: &'a SecretString,
    template: &'a Template,
    /// When this number last sent (any campaign), if ever.
    last_send: Option<Instant>,
    deadline: Instant,
    /// Messages the number may still send today (its cap or warm-up); `None`: no limit.
    remaining: Option<u32>,
    /// The tenant's day the sends count on.
    today: chrono::NaiveDate,
    sent_any: bool,
    /// Earlier attempts that died were forgiven once this one made progress.
    forgiven: bool,
    /// Running average of a WUZAPI send's duration, in milliseconds.
    send_ms: f64,
}

impl Sender<'_> {
    /// Recipients claimed per round trip: about a quarter second of sending at this campaign's
    /// pace and WUZAPI's measured answer time, so a crash leaves at most that many recipients
    /// uncertain, while a campaign without delays still claims and records in bulk.
    fn group_size(&self) -> u64 {
        let average_delay =
            (f64::from(self.campaign.delay_min_ms) + f64::from(self.campaign.delay_max_ms)) / 2.0;
        let per_message_ms = (average_delay + self.send_ms).max(0.1);
        let size = ((UNCERTAINTY_WINDOW_MS / per_message_ms) as u64).clamp(1, self.job.max_group);
        match self.remaining {
            Some(remaining) => size.min(u64::from(remaining)).max(1),
            None => size,
        }
    }

    /// Folds one WUZAPI call's duration into the running average.
    fn observe_send(&mut self, took: Duration) {
        self.send_ms = 0.8 * self.send_ms + 0.2 * took.as_secs_f64() * 1000.0;
    }

    fn delay_range(&self) -> std::ops::RangeInclusive<u64> {
        self.campaign.delay_min_ms.max(0) as u64..=self.campaign.delay_max_ms.max(0) as u64
    }

    async fn send_until_done(&mut self) -> Result<Ended, JobError> {
        let campaign_id = self.campaign.id;
        loop {
            if self.ctx.shutdown.is_cancelled() || Instant::now() >= self.deadline {
                return Ok(Ended::Continue {
                    after: Duration::ZERO,
                });
            }
            if self.ctx.lease_lost.is_cancelled() {
                return Err(JobError::LeaseLost);
            }
            if self.remaining == Some(0) {
                // The day's allowance is used: the next batch waits for tomorrow.
                return Ok(Ended::Continue {
                    after: Duration::ZERO,
                });
            }
            let claim = campaigns::claim_next(
                self.ctx.scope(),
                self.ctx.lease,
                self.ctx.lease_ttl,
                campaign_id,
                self.group_size(),
            )
            .await?;
            let group = match claim {
                Claim::LeaseLost => return Err(JobError::LeaseLost),
                Claim::Stopped(_) => return Ok(Ended::Stopped),
                // Paused and resumed while claiming: the next batch claims again shortly.
                Claim::Contended => {
                    return Ok(Ended::Continue {
                        after: CONTENDED_RETRY,
                    });
                }
                Claim::Recipients(group) if group.is_empty() => return Ok(Ended::AllSent),
                Claim::Recipients(group) => group,
            };
            let (outcomes, ended) = self.send_group(&group).await;
            let sent = outcomes.iter().filter(|(_, o)| *o == Outcome::Sent).count();
            self.record(&outcomes, sent > 0).await?;
            count_outcomes(&outcomes);
            if let Some(ended) = ended {
                return Ok(ended);
            }
            if let Some(reason) = self.breaker_open(&outcomes).await? {
                return Ok(Ended::Pause(reason));
            }
        }
    }

    /// Records a group's outcomes and, when it sent anything, the inbox's last send: one
    /// statement, unless this attempt must first note its progress (once, after a dead
    /// attempt), which shares a transaction with it.
    /// After a group with refused sends: whether the number's failures within the breaker's
    /// window (all its campaigns, every replica: counted in the database) exceed its
    /// threshold, and then the reason the campaign pauses with.
    async fn breaker_open(
        &self,
        outcomes: &[(RecipientId, Outcome)],
    ) -> Result<Option<String>, JobError> {
        let refused = outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Failed(e) if e != campaigns::NOT_ON_WHATSAPP));
        if !refused {
            return Ok(None);
        }
        let breaker = self.inbox.pacing.breaker;
        let window = Duration::from_secs(u64::from(breaker.window_seconds));
        let failures =
            campaigns::recent_send_failures(self.ctx.scope(), self.inbox.id, window).await?;
        if failures <= i64::from(breaker.failures) {
            return Ok(None);
        }
        metrics::counter!("campaign_breaker_opened_total").increment(1);
        Ok(Some(format!(
            "paused by the failure breaker: WhatsApp refused {failures} messages from this number in the last {} s (more than {}); it may be restricted. Check the number, then resume the campaign",
            breaker.window_seconds, breaker.failures
        )))
    }

    async fn record(
        &mut self,
        outcomes: &[(RecipientId, Outcome)],
        sent: bool,
    ) -> Result<(), JobError> {
        let sent_from = sent.then_some(campaigns::SentFrom {
            inbox_id: self.inbox.id,
            day: self.today,
        });
        let forgive = !self.forgiven
            && self.ctx.attempt() > 1
            && outcomes.iter().any(|(_, o)| *o != Outcome::Unsent);
        if forgive {
            let txn = self.ctx.db.begin().await.map_err(db::DbError::from)?;
            campaigns::record_outcomes(
                self.ctx.scope().on(&txn),
                self.ctx.lease.token,
                outcomes,
                sent_from,
            )
            .await?;
            db::jobs::note_progress(&txn, self.ctx.lease).await?;
            txn.commit().await.map_err(db::DbError::from)?;
            self.forgiven = true;
        } else {
            campaigns::record_outcomes(self.ctx.scope(), self.ctx.lease.token, outcomes, sent_from)
                .await?;
        }
        self.sent_any |= sent;
        Ok(())
    }

    /// Waits the campaign's pause before a message, showing "typing..." for its end; when the
    /// pause does not fit in the batch (or the worker is stopping), waits nothing and returns
    /// how long the rest should wait.
    async fn pause_before(&mut self, recipient: &Recipient, text: &str) -> Result<(), Duration> {
        let typing = if self.inbox.pacing.typing {
            self.job.typing.for_message(text.chars().count())
        } else {
            Duration::ZERO
        };
        let delay = Duration::from_millis(rand::rng().random_range(self.delay_range()));
        let wait = self
            .last_send
            .map(|last| (last + delay).saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        let stop = self.ctx.shutdown.is_cancelled() || self.ctx.lease_lost.is_cancelled();
        // "typing..." shows during the pause, or longer when the pause is shorter.
        let wait = wait.saturating_sub(typing);
        if stop || Instant::now() + wait + typing > self.deadline {
            return Err(wait);
        }
        if !wait.is_zero() {
            // A zero sleep still waits for the next timer tick (about 1 ms): skip it.
            tokio::time::sleep(wait).await;
        }
        if !typing.is_zero() {
            self.show_typing(&recipient.phone, typing).await;
        }
        Ok(())
    }

    /// Sends the recipient's message (with its fixed id), timing the call.
    async fn send(
        &mut self,
        recipient: &Recipient,
        text: String,
    ) -> Result<wuzapi::SendOutcome, WuzapiError> {
        let request =
            SendText::new(recipient.phone.clone(), text).with_id(recipient.message_id.clone());
        let called = Instant::now();
        let result = self
            .job
            .wuzapi
            .send_text(self.base_url, self.token.expose_secret(), &request)
            .await;
        self.observe_send(called.elapsed());
        self.last_send = Some(Instant::now());
        result
    }

    /// Sends to a claimed group, one message at a time at the campaign's pace. Returns every
    /// claimed recipient's outcome and, when the batch must end, why.
    async fn send_group(
        &mut self,
        group: &[Recipient],
    ) -> (Vec<(RecipientId, Outcome)>, Option<Ended>) {
        let mut outcomes = Vec::with_capacity(group.len());
        let not_on_whatsapp = match self.numbers_not_on_whatsapp(group).await {
            Ok(numbers) => numbers,
            Err(e) if e.is_disconnected() => {
                unsent(group, &mut outcomes);
                return (outcomes, Some(Ended::Pause(disconnected_reason(&e))));
            }
            Err(e @ WuzapiError::Refused(_)) => {
                tracing::warn!(error = %e.detail(), "the inbox's WUZAPI server was refused by the egress guard");
                unsent(group, &mut outcomes);
                return (outcomes, Some(Ended::Pause(refused_reason(&e))));
            }
            Err(e) if e.is_transient() => {
                unsent(group, &mut outcomes);
                return (outcomes, Some(Ended::Outage(e)));
            }
            Err(e) => {
                // The check only saves sends; the sends themselves report bad numbers too.
                tracing::warn!(error = %e, "number check failed; sending without it");
                HashSet::new()
            }
        };
        for (index, recipient) in group.iter().enumerate() {
            if not_on_whatsapp.contains(&recipient.phone) {
                outcomes.push((
                    recipient.id,
                    Outcome::Failed(campaigns::NOT_ON_WHATSAPP.into()),
                ));
                continue;
            }
            let text = render(self.template, recipient);
            if let Err(after) = self.pause_before(recipient, &text).await {
                // This pause does not fit in the batch: the rest waits for the next batch,
                // which starts when the pause is over.
                unsent(&group[index..], &mut outcomes);
                return (outcomes, Some(Ended::Continue { after }));
            }
            let result = self.send(recipient, text).await;
            match result {
                Ok(_) => {
                    outcomes.push((recipient.id, Outcome::Sent));
                    if let Some(remaining) = &mut self.remaining {
                        *remaining = remaining.saturating_sub(1);
                        if *remaining == 0 {
                            // The day's allowance is used up: the rest waits for tomorrow.
                            unsent(&group[index + 1..], &mut outcomes);
                            return (
                                outcomes,
                                Some(Ended::Continue {
                                    after: Duration::ZERO,
                                }),
                            );
                        }
                    }
                }
                Err(e) if e.is_disconnected() => {
                    // `No session` and 401 answer before anything is sent.
                    unsent(&group[index..], &mut outcomes);
                    return (outcomes, Some(Ended::Pause(disconnected_reason(&e))));
                }
                // Nothing was sent, and nothing will be until the operator allows the address.
                Err(e @ WuzapiError::Refused(_)) => {
                    tracing::warn!(error = %e.detail(), "the inbox's WUZAPI server was refused by the egress guard");
                    unsent(&group[index..], &mut outcomes);
                    return (outcomes, Some(Ended::Pause(refused_reason(&e))));
                }
                Err(e) if e.is_transient() => {
                    let outcome = if matches!(e, WuzapiError::Timeout) {
                        // The request may have reached WhatsApp: never resent blindly.
                        Outcome::Uncertain(format!("{e}; it may or may not have been delivered"))
                    } else {
                        Outcome::Unsent
                    };
                    outcomes.push((recipient.id, outcome));
                    unsent(&group[index + 1..], &mut outcomes);
                    return (outcomes, Some(Ended::Outage(e)));
                }
                // This recipient can never succeed (refused message, bad number).
                Err(e) => outcomes.push((recipient.id, Outcome::Failed(e.to_string()))),
            }
        }
        (outcomes, None)
    }

    /// "typing..." in the recipient's chat for `typing`, then stopped. Presence is courtesy:
    /// a failure is logged and the message is sent anyway (a disconnected number shows on
    /// the send).
    async fn show_typing(&self, phone: &str, typing: Duration) {
        let token = self.token.expose_secret();
        let wuzapi = &self.job.wuzapi;
        if let Err(e) = wuzapi
            .chat_presence(self.base_url, token, phone, true)
            .await
        {
            tracing::debug!(error = %e, "typing presence not shown");
            return;
        }
        tokio::time::sleep(typing).await;
        if let Err(e) = wuzapi
            .chat_presence(self.base_url, token, phone, false)
            .await
        {
            tracing::debug!(error = %e, "typing presence not stopped");
        }
    }

    /// Which of the group's numbers WUZAPI says are not on WhatsApp (`POST /user/check`).
    /// Results are matched on `Query`: WUZAPI does not keep request order.
    async fn numbers_not_on_whatsapp(
        &self,
        group: &[Recipient],
    ) -> Result<HashSet<String>, WuzapiError> {
        let phones: Vec<String> = group.iter().map(|r| r.phone.clone()).collect();
        let checks = self
            .job
            .wuzapi
            .check_numbers(self.base_url, self.token.expose_secret(), &phones)
            .await?;
        Ok(checks
            .into_iter()
            .filter(|check| !check.is_in_whatsapp)
            .map(|check| check.query.trim_start_matches('+').to_owned())
            .collect())
    }
}

fn unsent(group: &[Recipient], outcomes: &mut Vec<(RecipientId, Outcome)>) {
    outcomes.extend(group.iter().map(|r| (r.id, Outcome::Unsent)));
}

fn disconnected_reason(error: &WuzapiError) -> String {
    format!("the WhatsApp number is disconnected; reconnect it, then resume the campaign ({error})")
}

fn refused_reason(error: &WuzapiError) -> String {
    format!("{error}; point the inbox at an allowed server, then resume the campaign")
}

fn count_outcomes(outcomes: &[(RecipientId, Outcome)]) {
    for (_, outcome) in outcomes {
        let label = match outcome {
            Outcome::Sent => "sent",
            Outcome::Failed(_) => "failed",
            Outcome::Uncertain(_) => "uncertain",
            Outcome::Unsent => continue,
        };
        metrics::counter!("campaign_messages_total", "outcome" => label).increment(1);
    }
}

/// The recipient's message. The `{a|b}` variation is drawn from a generator seeded by the
/// recipient's message id, so a resend (which the owner asked for) carries the same text.
pub fn render(template: &Template, recipient: &Recipient) -> String {
    let seed =
        u64::from_str_radix(recipient.message_id.get(4..20).unwrap_or("0"), 16).unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    template.render(&recipient.variables, &mut rng)
}
