//! Campaign jobs on the real runtime, broker and database, sending to the fake WUZAPI.

mod crash;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::clock::Clock;
use common::config::Env;
use common::{
    AccountId, CampaignId, CampaignStatus, InboxId, JobId, JobState, Plan, RecipientStatus,
    TenantId, UserId,
};
use db::DatabaseConnection;
use db::secrets::{DEVELOPMENT_KEY_HEX, SecretCipher};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio_util::sync::CancellationToken;
use worker::BuildJob;
use worker_campaign::CampaignJob;
use wuzapi::FakeWuzapi;

/// Wait queues the test settings use: retries after 200 and 400 ms, deferrals of 1 s.
const WAITS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_secs(1),
];

pub struct Fixture {
    pub database: testkit::TestDatabase,
    pub queues: testkit::TestQueues,
    pub db: DatabaseConnection,
    pub fake: FakeWuzapi,
    shutdown: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A tenant with one inbox (token `{slug}-token` on the fake).
#[derive(Clone, Copy)]
pub struct Tenant {
    pub id: TenantId,
    pub account: AccountId,
    pub user: UserId,
    pub inbox: InboxId,
}

impl Fixture {
    pub async fn new() -> Self {
        telemetry::init_tracing("worker-campaign-tests");
        let database = testkit::TestDatabase::create().await.unwrap();
        let db = db::connect(&database.url, 4).await.unwrap();
        Self {
            database,
            queues: testkit::TestQueues::new(&WAITS),
            db,
            fake: FakeWuzapi::start("127.0.0.1:0").unwrap(),
            shutdown: CancellationToken::new(),
            workers: Vec::new(),
        }
    }

    /// The settings every worker of this test shares, plus `extra`.
    pub fn env_pairs(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = [
            ("DATABASE_URL", self.database.url.clone()),
            ("AMQP_URL", testkit::amqp_url()),
            ("QUEUE_PREFIX", self.queues.prefix.clone()),
            ("WUZAPI_URL", self.fake.base_url()),
            ("WORKER_HTTP_PORT", "0".into()),
            ("DATABASE_MAX_CONNECTIONS", "4".into()),
            ("WORKER_CAMPAIGN_BACKOFF_MS", "200".into()),
            ("JOB_LEASE_SECONDS", "3".into()),
            ("DEV_MODE", "true".into()),
            ("WORKER_HEARTBEAT_MS", "500".into()),
            ("CAMPAIGN_OUTAGE_PROBE_MS", "300".into()),
            ("CAMPAIGN_TYPING_MIN_MS", "0".into()),
            ("CAMPAIGN_TYPING_MS_PER_CHAR", "0".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            pairs.retain(|(key, _)| key != k);
            pairs.push(((*k).to_owned(), (*v).to_owned()));
        }
        pairs
    }

    /// Starts one campaign worker in this process (one more replica).
    pub async fn start_worker(&mut self, extra: &[(&str, &str)]) {
        self.start_worker_at(extra, Clock::system()).await;
    }

    /// A worker whose pacing calendar reads `clock` (a manual one steps through a window).
    pub async fn start_worker_at(&mut self, extra: &[(&str, &str)], clock: Clock) {
        let pairs = self.env_pairs(extra);
        let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (settings, config) = worker_campaign::config::from_env(&env).unwrap();
        let db = db::connect(&settings.core.database_url, 4).await.unwrap();
        let mut job = CampaignJob::build(config, db.clone()).unwrap();
        job.clock = clock;
        let worker = worker::Worker::build(settings, db, job).await.unwrap();
        self.workers.push(tokio::spawn(
            worker.run_until_stopped(self.shutdown.clone()),
        ));
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        for worker in self.workers.drain(..) {
            tokio::time::timeout(Duration::from_secs(30), worker)
                .await
                .expect("a worker stops within 30 s")
                .unwrap()
                .unwrap();
        }
    }

    pub async fn tenant(&self, slug: &str) -> Tenant {
        let (tenant, account) = db::tenants::create_tenant(
            db::PlatformScope::new(&self.db),
            db::tenants::NewTenant {
                name: slug.into(),
                slug: slug.into(),
                plan: Plan::Pro,
            },
        )
        .await
        .unwrap();
        let id = tenant.id;
        let user = db::tenants::create_user(
            db::TenantScope::for_test(&self.db, id),
            db::tenants::NewUser {
                account_id: Some(account.id),
                email: format!("owner@{slug}.example"),
                name: String::new(),
                role: common::Role::User,
            },
        )
        .await
        .unwrap();
        let inbox = db::inboxes::create(
            db::TenantScope::for_test(&self.db, id),
            &SecretCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap(),
            db::inboxes::NewInbox {
                account_id: account.id,
                name: "inbox".into(),
                wuzapi_url: self.fake.base_url(),
                token: format!("{slug}-token"),
            },
        )
        .await
        .unwrap();
        Tenant {
            id,
            account: account.id,
            user: user.id,
            inbox: inbox.id,
        }
    }

    /// A campaign to `count` new contacts (phones from `first_phone`), with this pacing.
    pub async fn campaign(
        &self,
        tenant: Tenant,
        count: i64,
        first_phone: i64,
        delay_ms: (i32, i32),
    ) -> (CampaignId, JobId) {
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO contacts (id, tenant_id, account_id, phone, name)
                 SELECT gen_random_uuid(), $1, $2, ($4 + g)::text, 'C' || g
                   FROM generate_series(0, $3 - 1) AS g",
                [
                    tenant.id.into(),
                    tenant.account.into(),
                    count.into(),
                    first_phone.into(),
                ],
            ))
            .await
            .unwrap();
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM contacts WHERE tenant_id = $1 AND phone::bigint >= $2 AND phone::bigint < $2 + $3",
                [tenant.id.into(), first_phone.into(), count.into()],
            ))
            .await
            .unwrap();
        let contact_ids = rows
            .iter()
            .map(|r| r.try_get::<uuid::Uuid>("", "id").unwrap().into())
            .collect();
        let created = db::campaigns::create(
            db::TenantScope::for_test(&self.db, tenant.id),
            db::campaigns::NewCampaign {
                account_id: tenant.account,
                inbox_id: tenant.inbox,
                created_by: tenant.user,
                name: "launch".into(),
                template: "{Hi|Hello} {{name}}!".into(),
                contact_ids,
                delay_min_ms: delay_ms.0,
                delay_max_ms: delay_ms.1,
                scheduled_at: None,
                audience: Default::default(),
            },
            |_| Ok(()),
        )
        .await
        .unwrap();
        let job = db::jobs::enqueue::<common::jobs::kind::CampaignBatch>(
            db::TenantScope::for_test(&self.db, tenant.id),
            created.campaign.id,
            &(),
            db::jobs::Enqueue::now(),
        )
        .await
        .unwrap();
        (created.campaign.id, job.id)
    }

    pub async fn campaign_row(&self, tenant: Tenant, id: CampaignId) -> db::campaigns::Campaign {
        db::campaigns::find(db::TenantScope::for_test(&self.db, tenant.id), id)
            .await
            .unwrap()
    }

    pub async fn job_row(&self, id: JobId) -> db::jobs::Job {
        db::jobs::find(db::PlatformScope::new(&self.db).into(), id)
            .await
            .unwrap()
    }

    /// Polls until the campaign is in `status` (at most `within`).
    pub async fn wait_status(
        &self,
        tenant: Tenant,
        id: CampaignId,
        status: CampaignStatus,
        within: Duration,
    ) -> db::campaigns::Campaign {
        let deadline = Instant::now() + within;
        loop {
            let campaign = self.campaign_row(tenant, id).await;
            if campaign.status == status {
                return campaign;
            }
            assert!(
                Instant::now() < deadline,
                "campaign still {} (wanted {status}): {:?}",
                campaign.status,
                campaign.status_reason
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the job is in `state`.
    pub async fn wait_job_state(&self, job: JobId, state: JobState, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let row = self.job_row(job).await;
            if row.state == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job still {:?} after {within:?} (wanted {state:?})",
                row.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until this process's workers have handled at least `count` deliveries of the
    /// campaign queue with `outcome` (`queue_job_duration_seconds{outcome}`, e.g. `duplicate`:
    /// a copy of a finished job's message, dropped).
    pub async fn wait_handled(&self, outcome: &str, count: u64) {
        let label = format!("outcome=\"{outcome}\"");
        let handled = || {
            telemetry::metrics()
                .render()
                .lines()
                .filter(|l| l.starts_with("queue_job_duration_seconds_count{"))
                .filter(|l| l.contains("queue=\"campaign\"") && l.contains(&label))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while handled() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries handled with {label} after 20 s",
                handled()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until nothing is left that could send: no outbox row to publish, no message in
    /// the campaign queue or its wait queues, and no campaign job running in this process's
    /// workers; seen twice in a row, so a message between the queue and its handler is not
    /// missed.
    pub async fn wait_idle(&self) {
        let broker = queue::Broker::connect(
            &testkit::amqp_url(),
            &self.queues.prefix,
            common::QueueType::Quorum,
        )
        .await
        .unwrap();
        let topology = broker.topology().clone();
        let mut queues = vec![topology.work_queue(common::QueueName::Campaign)];
        queues.extend(
            WAITS
                .iter()
                .map(|d| topology.wait_queue(common::QueueName::Campaign, *d)),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut idle_in_a_row = 0;
        while idle_in_a_row < 2 {
            let mut busy = Vec::new();
            let outbox = self
                .count("SELECT count(*) FROM outbox WHERE queue = 'campaign'")
                .await;
            if outbox > 0 {
                busy.push(format!("{outbox} outbox rows"));
            }
            for name in &queues {
                let messages = broker.queue_counts(name).await.unwrap().map_or(0, |c| c.0);
                if messages > 0 {
                    busy.push(format!("{messages} messages in {name}"));
                }
            }
            let running = in_flight_campaign_jobs();
            if running > 0 {
                busy.push(format!("{running} jobs running"));
            }
            idle_in_a_row = if busy.is_empty() {
                idle_in_a_row + 1
            } else {
                0
            };
            assert!(Instant::now() < deadline, "still busy after 20 s: {busy:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        broker.close().await;
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// Waits until the fake has accepted at least `count` messages for `token`.
    pub async fn wait_received(&self, token: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.received(token).len() < count {
            assert!(
                Instant::now() < deadline,
                "{token}: {} of {count} messages after 20 s",
                self.received(token).len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn recipients(&self, id: CampaignId) -> Vec<db::entity::campaign_recipient::Model> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        db::entity::campaign_recipient::Entity::find()
            .filter(db::entity::campaign_recipient::Column::CampaignId.eq(id))
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Messages the fake received per phone, for this token.
    pub fn received(&self, token: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for message in self.fake.sent_messages() {
            if message.token == token {
                *counts.entry(message.phone).or_default() += 1;
            }
        }
        counts
    }
}

/// Campaign jobs this process's workers are running (`worker_jobs_in_flight`).
fn in_flight_campaign_jobs() -> u64 {
    telemetry::metrics()
        .render()
        .lines()
        .filter(|l| l.starts_with("worker_jobs_in_flight{") && l.contains("queue=\"campaign\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn assert_each_once(received: &HashMap<String, usize>, expected: usize) {
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messaged more than once: {twice:?}");
    assert_eq!(received.len(), expected);
}

#[tokio::test]
async fn long_campaigns_are_chains_of_short_batches_and_each_recipient_gets_one_message() {
    let mut f = Fixture::new().await;
    f.start_worker(&[("CAMPAIGN_BATCH_SECONDS", "0.3")]).await;
    let tenant = f.tenant("chain").await;
    let (campaign, job) = f.campaign(tenant, 40, 5511900000000, (20, 30)).await;
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(30),
    )
    .await;
    // The campaign completes in the batch's last transaction; the runtime settles the job
    // right after it.
    f.wait_job_state(job, JobState::Completed, Duration::from_secs(10))
        .await;
    let job = f.job_row(job).await;
    assert!(job.seq >= 3, "sent in several batches, got {}", job.seq);
    assert!(job.attempts <= job.max_attempts);
    assert_each_once(&f.received("chain-token"), 40);
    let recipients = f.recipients(campaign).await;
    let ids: HashMap<String, String> = recipients
        .iter()
        .map(|r| (r.phone.clone(), r.message_id.clone()))
        .collect();
    for message in f.fake.sent_messages() {
        assert_eq!(
            ids[&message.phone], message.id,
            "sent with the recipient's id"
        );
        assert!(
            message.body.ends_with(&format!(
                "C{}!",
                message.phone.parse::<i64>().unwrap() - 5511900000000
            )),
            "{}",
            message.body
        );
    }
    assert!(recipients.iter().all(|r| r.status == RecipientStatus::Sent));
    f.stop().await;
}

#[tokio::test]
async fn pause_then_resume_goes_on_exactly_where_it_stopped() {
    let mut f = Fixture::new().await;
    f.start_worker(&[]).await;
    let tenant = f.tenant("pausing").await;
    let (campaign, job) = f.campaign(tenant, 30, 5511910000000, (40, 50)).await;
    f.wait_received("pausing-token", 5).await;
    app::campaigns::pause(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap();
    // Within one batch: the next claim sees the pause and the job waits without a message.
    f.wait_job_state(job, JobState::Delayed, Duration::from_secs(5))
        .await;
    let at_pause = f.received("pausing-token").len();
    // The paused job waits without a message: once nothing is left that could send, nothing
    // was sent after the pause.
    f.wait_idle().await;
    assert_eq!(
        f.received("pausing-token").len(),
        at_pause,
        "nothing sent while paused"
    );
    assert_eq!(
        f.campaign_row(tenant, campaign).await.status,
        CampaignStatus::Paused
    );
    app::campaigns::resume(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap();
    let again = app::campaigns::resume(db::TenantScope::for_test(&f.db, tenant.id), campaign).await;
    assert!(
        matches!(again, Err(db::DbError::Conflict(_))),
        "only a paused campaign resumes"
    );
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(30),
    )
    .await;
    assert_each_once(&f.received("pausing-token"), 30);
    let err = app::campaigns::pause(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap_err();
    assert!(matches!(err, db::DbError::Conflict(_)), "{err}");
    f.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_campaign_within_one_batch() {
    let mut f = Fixture::new().await;
    f.start_worker(&[]).await;
    let tenant = f.tenant("cancelling").await;
    let (campaign, job) = f.campaign(tenant, 30, 5511920000000, (40, 50)).await;
    f.wait_received("cancelling-token", 3).await;
    app::campaigns::cancel(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap();
    f.wait_job_state(job, JobState::Completed, Duration::from_secs(5))
        .await;
    let sent = f.received("cancelling-token").len();
    // Once nothing is left that could send, nothing was sent after the cancel.
    f.wait_idle().await;
    assert_eq!(
        f.received("cancelling-token").len(),
        sent,
        "nothing after the cancel"
    );
    let recipients = f.recipients(campaign).await;
    let cancelled = recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Cancelled)
        .count();
    assert_eq!(cancelled + sent, 30, "every other recipient is cancelled");
    assert_eq!(
        f.campaign_row(tenant, campaign).await.status,
        CampaignStatus::Cancelled
    );
    f.stop().await;
}

#[tokio::test]
async fn a_disconnected_number_pauses_the_campaign_with_a_reason_and_resumes_when_asked() {
    let mut f = Fixture::new().await;
    f.fake.add_user("offline-token");
    f.fake.disconnect("offline-token");
    f.start_worker(&[]).await;
    let tenant = f.tenant("offline").await;
    let (campaign, _) = f.campaign(tenant, 5, 5511930000000, (0, 5)).await;
    let paused = f
        .wait_status(
            tenant,
            campaign,
            CampaignStatus::Paused,
            Duration::from_secs(10),
        )
        .await;
    let reason = paused.status_reason.unwrap_or_default();
    assert!(reason.contains("disconnected"), "{reason}");
    assert!(f.received("offline-token").is_empty());
    f.fake.connect("offline-token");
    app::campaigns::resume(db::TenantScope::for_test(&f.db, tenant.id), campaign)
        .await
        .unwrap();
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(10),
    )
    .await;
    assert_each_once(&f.received("offline-token"), 5);
    f.stop().await;
}

#[tokio::test]
async fn a_wuzapi_outage_is_retried_then_parked_and_the_campaign_goes_on_by_itself() {
    let mut f = Fixture::new().await;
    // Three attempts fail (retries after 200 and 400 ms), then three probes (300, 600,
    // 1200 ms); the seventh try gets through.
    f.fake.fail_next_sends(6, 502);
    f.start_worker(&[]).await;
    let tenant = f.tenant("outage").await;
    let (campaign, job) = f.campaign(tenant, 4, 5511940000000, (0, 5)).await;
    let parked = f
        .wait_status(
            tenant,
            campaign,
            CampaignStatus::WaitingWuzapi,
            Duration::from_secs(10),
        )
        .await;
    assert!(
        parked
            .status_reason
            .unwrap_or_default()
            .contains("waiting for WUZAPI"),
        "the owner sees why"
    );
    assert_eq!(f.job_row(job).await.state, JobState::Delayed);
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(20),
    )
    .await;
    assert_each_once(&f.received("outage-token"), 4);
    let refused = f.fake.refused_send_times();
    assert_eq!(refused.len(), 6);
    let gaps: Vec<i64> = refused
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    // Retries wait the back-off; probes wait longer each time.
    for (gap, configured) in gaps.iter().zip([200, 400, 300, 600, 1200]) {
        assert!(
            *gap >= configured && *gap < configured + 600,
            "gaps {gaps:?}: expected about {configured} ms"
        );
    }
    f.stop().await;
}

#[tokio::test]
async fn two_campaigns_on_one_number_in_two_workers_keep_its_pace() {
    let mut f = Fixture::new().await;
    f.start_worker(&[]).await;
    f.start_worker(&[]).await;
    let tenant = f.tenant("paced").await;
    let (first, _) = f.campaign(tenant, 6, 5511950000000, (200, 250)).await;
    let (second, _) = f.campaign(tenant, 6, 5511950001000, (200, 250)).await;
    for campaign in [first, second] {
        f.wait_status(
            tenant,
            campaign,
            CampaignStatus::Completed,
            Duration::from_secs(60),
        )
        .await;
    }
    let mut times: Vec<_> = f.fake.sent_messages().into_iter().map(|m| m.at).collect();
    times.sort();
    assert_eq!(times.len(), 12);
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 200, "two messages {gap} ms apart on one number");
    }
    f.stop().await;
}

#[tokio::test]
async fn a_duplicate_message_of_a_running_campaign_sends_nothing_twice() {
    let mut f = Fixture::new().await;
    f.start_worker(&[("WORKER_CAMPAIGN_CONCURRENCY", "4")])
        .await;
    f.start_worker(&[]).await;
    let tenant = f.tenant("twice").await;
    let (campaign, job) = f.campaign(tenant, 20, 5511960000000, (10, 20)).await;
    // The same message twice more, as a relay that published it again would.
    let row = {
        use sea_orm::EntityTrait;
        db::entity::job::Entity::find_by_id(job)
            .one(&f.db)
            .await
            .unwrap()
            .unwrap()
    };
    let broker = queue::Broker::connect(
        &testkit::amqp_url(),
        &f.queues.prefix,
        common::QueueType::Quorum,
    )
    .await
    .unwrap();
    broker
        .declare(&[common::QueueName::Campaign])
        .await
        .unwrap();
    let mut headers = lapin::types::FieldTable::default();
    queue::headers::set_int(&mut headers, db::jobs::SEQ_HEADER, 0);
    let copies: Vec<queue::OutgoingMessage> = (0..2)
        .map(|_| queue::OutgoingMessage {
            queue: common::QueueName::Campaign,
            message_id: "dup",
            payload: &row.payload,
            headers: headers.clone(),
        })
        .collect();
    broker
        .publisher()
        .await
        .unwrap()
        .publish_all(&copies)
        .await
        .unwrap();
    broker.close().await;
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(30),
    )
    .await;
    // Both copies have been looked at and dropped as duplicates of a job already run.
    f.wait_handled("duplicate", 2).await;
    assert_each_once(&f.received("twice-token"), 20);
    f.stop().await;
}

#[tokio::test]
async fn one_tenants_big_campaign_does_not_hold_back_another_tenants_small_one() {
    let mut f = Fixture::new().await;
    f.start_worker(&[
        ("WORKER_CAMPAIGN_CONCURRENCY", "1"),
        ("CAMPAIGN_BATCH_SECONDS", "0.5"),
    ])
    .await;
    let big_tenant = f.tenant("big").await;
    let small_tenant = f.tenant("small").await;
    let (big, _) = f.campaign(big_tenant, 400, 5511970000000, (10, 15)).await;
    f.wait_received("big-token", 20).await;
    let asked = Instant::now();
    let (small, _) = f.campaign(small_tenant, 5, 5511980000000, (0, 5)).await;
    f.wait_status(
        small_tenant,
        small,
        CampaignStatus::Completed,
        Duration::from_secs(10),
    )
    .await;
    let waited = asked.elapsed();
    // At most the big campaign's batch under way, then the small one's turn.
    assert!(
        waited < Duration::from_millis(2500),
        "the small campaign waited {waited:?}"
    );
    assert_ne!(
        f.campaign_row(big_tenant, big).await.status,
        CampaignStatus::Completed,
        "the big one was still going"
    );
    f.stop().await;
}

#[tokio::test]
async fn a_network_cut_between_worker_and_broker_loses_nothing_and_repeats_nothing() {
    let mut f = Fixture::new().await;
    let broker: std::net::SocketAddr = "127.0.0.1:5672".parse().unwrap();
    let proxy = testkit::CuttableProxy::start(broker).await.unwrap();
    let through_proxy =
        testkit::amqp_url().replace("127.0.0.1:5672", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(
        through_proxy,
        testkit::amqp_url(),
        "AMQP_URL must name 127.0.0.1:5672"
    );
    f.start_worker(&[
        ("AMQP_URL", through_proxy.as_str()),
        ("CAMPAIGN_BATCH_SECONDS", "0.5"),
    ])
    .await;
    let tenant = f.tenant("cut").await;
    let (campaign, job) = f.campaign(tenant, 60, 5511975000000, (20, 30)).await;
    f.wait_received("cut-token", 10).await;
    // The link fails mid-campaign: the consumer's channel and the relay's publisher go with it.
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(60),
    )
    .await;
    // Messages redelivered after the cut have all been handled: nothing is left to repeat.
    f.wait_idle().await;
    assert_each_once(&f.received("cut-token"), 60);
    assert!(
        f.recipients(campaign)
            .await
            .iter()
            .all(|r| r.status == RecipientStatus::Sent)
    );
    assert_eq!(f.job_row(job).await.state, JobState::Completed);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_outside_its_send_window_waits_and_sends_once_the_window_opens() {
    let mut f = Fixture::new().await;
    // Monday 2026-12-07, a moment before nine in the tenant's zone (UTC): the window is
    // reached by stepping this clock, not by waiting for the morning.
    let before_nine = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:59:59.800Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Clock::manual(before_nine);
    f.start_worker_at(&[], clock.clone()).await;
    let tenant = f.tenant("window").await;
    let pacing: common::pacing::Pacing = serde_json::from_value(serde_json::json!({
        "window": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"},
        "typing": false,
    }))
    .unwrap();
    db::inboxes::set_pacing(
        db::TenantScope::for_test(&f.db, tenant.id),
        tenant.inbox,
        &pacing,
    )
    .await
    .unwrap();
    let (campaign, _) = f.campaign(tenant, 3, 5511970000000, (0, 0)).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = f.campaign_row(tenant, campaign).await;
        let waiting = row
            .status_reason
            .as_deref()
            .is_some_and(|r| r.contains("outside the number's send window"));
        if waiting {
            assert_eq!(row.status, CampaignStatus::Running);
            assert!(
                row.status_reason.unwrap().contains("Mon 2026-12-07 09:00"),
                "the reason names when sending resumes"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign never waited: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f.received("window-token").is_empty(), "nothing before nine");

    clock.advance(Duration::from_secs(1));
    f.wait_status(
        tenant,
        campaign,
        CampaignStatus::Completed,
        Duration::from_secs(30),
    )
    .await;
    assert_each_once(&f.received("window-token"), 3);
    f.stop().await;
}
