//! The campaign job driven directly (no broker), against a fresh database and the fake WUZAPI.

use std::time::Duration;

use common::proto::CampaignBatch;
use common::{JobId, PhoneNumber, Plan, TenantId};
use db::DatabaseConnection;
use db::secrets::{DEVELOPMENT_KEY_HEX, TokenCipher};
use prost::Message;
use queue::HandlerError;
use worker_campaign::send::{CampaignSender, JobOutcome};
use wuzapi::{FakeWuzapi, WuzapiClient};

struct Fixture {
    _database: testkit::TestDatabase,
    db: DatabaseConnection,
    sender: CampaignSender,
    fake: FakeWuzapi,
}

async fn fixture() -> Fixture {
    let database = testkit::TestDatabase::create().await.unwrap();
    let db = db::connect(&database.url, 2).await.unwrap();
    let fake = FakeWuzapi::start("127.0.0.1:0").unwrap();
    let sender = CampaignSender {
        db: db.clone(),
        wuzapi: WuzapiClient::with_defaults().unwrap(),
        cipher: TokenCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap(),
        send_retries: 1,
        send_retry_base: Duration::from_millis(10),
        batch_size: 2,
    };
    Fixture {
        _database: database,
        db,
        sender,
        fake,
    }
}

/// A tenant with an inbox, `phones.len()` contacts and a campaign to them; returns the queue
/// message the gateway would have published.
async fn campaign(f: &Fixture, slug: &str, template: &str, phones: &[&str]) -> CampaignBatch {
    let (tenant, account) = db::tenants::create_tenant(
        &f.db,
        db::tenants::NewTenant {
            name: slug.into(),
            slug: slug.into(),
            plan: Plan::Free,
        },
    )
    .await
    .unwrap();
    let tenant_id = TenantId::from(tenant.id);
    let user = db::tenants::create_user(
        &f.db,
        db::tenants::NewUser {
            tenant_id: Some(tenant_id),
            account_id: Some(account.id.into()),
            email: format!("u@{slug}.example"),
            name: String::new(),
            role: common::Role::User,
        },
    )
    .await
    .unwrap();
    let inbox = db::inboxes::create(
        &f.db,
        &f.sender.cipher,
        tenant_id,
        db::inboxes::NewInbox {
            account_id: account.id.into(),
            name: "inbox".into(),
            wuzapi_url: f.fake.base_url(),
            token: format!("{slug}-token"),
        },
    )
    .await
    .unwrap();
    let mut contact_ids = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let contact = db::contacts::create(
            &f.db,
            tenant_id,
            db::contacts::NewContact {
                account_id: account.id.into(),
                phone: PhoneNumber::parse(phone).unwrap(),
                name: format!("N{i}"),
                fields: serde_json::Map::new(),
            },
        )
        .await
        .unwrap();
        contact_ids.push(contact.id.into());
    }
    let created = db::campaigns::create(
        &f.db,
        tenant_id,
        db::campaigns::NewCampaign {
            account_id: account.id.into(),
            inbox_id: inbox.id.into(),
            created_by: user.id.into(),
            name: "c".into(),
            template: template.into(),
            contact_ids,
            delay_min_ms: 0,
            delay_max_ms: 0,
            scheduled_at: None,
            max_attempts: 3,
        },
    )
    .await
    .unwrap();
    CampaignBatch {
        job_id: created.job.id.to_string(),
        tenant_id: tenant_id.to_string(),
        campaign_id: created.campaign.id.to_string(),
    }
}

#[tokio::test]
async fn sends_every_recipient_across_batches_and_ignores_a_duplicate_delivery() {
    let f = fixture().await;
    // Five recipients with a batch size of two: three database round trips.
    let phones = [
        "5511900000001",
        "5511900000002",
        "5511900000003",
        "5511900000004",
        "5511900000005",
    ];
    let message = campaign(&f, "batches", "Hi {{name}}", &phones).await;
    let outcome = f
        .sender
        .handle_message(&message.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(outcome, JobOutcome::Completed { sent: 5, failed: 0 });
    let mut bodies: Vec<String> = f.fake.sent_messages().into_iter().map(|m| m.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["Hi N0", "Hi N1", "Hi N2", "Hi N3", "Hi N4"]);

    // The broker may deliver the same message again: nobody is messaged twice.
    let again = f
        .sender
        .handle_message(&message.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(again, JobOutcome::Skipped);
    assert_eq!(f.fake.sent_messages().len(), 5);

    let job = db::jobs::latest_for_subject(
        &f.db,
        message.tenant_id.parse().unwrap(),
        common::QueueName::Campaign,
        message.campaign_id.parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(job.state, "completed");
    assert_eq!(job.attempts, 1);
    assert_eq!(job.result.unwrap()["sent"], 5);
}

#[tokio::test]
async fn a_redelivery_after_a_crash_sends_only_what_is_pending() {
    let f = fixture().await;
    let message = campaign(&f, "crash", "Hi", &["5511900000011", "5511900000012"]).await;
    // A first attempt that died after recording one recipient: the row says active, one sent.
    let campaign_id: common::CampaignId = message.campaign_id.parse().unwrap();
    let attempt = db::jobs::start_attempt(
        &f.db,
        message.job_id.parse::<JobId>().unwrap(),
        message.tenant_id.parse().unwrap(),
        campaign_id.into_uuid(),
    )
    .await
    .unwrap();
    assert!(matches!(attempt, db::jobs::Attempt::Started(_)));
    let first = db::campaigns::pending_recipients(&f.db, campaign_id, 1)
        .await
        .unwrap();
    db::campaigns::record_outcome(&f.db, first[0].id.into(), Ok(()))
        .await
        .unwrap();

    let outcome = f
        .sender
        .handle_message(&message.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(outcome, JobOutcome::Completed { sent: 2, failed: 0 });
    let sent = f.fake.sent_messages();
    assert_eq!(sent.len(), 1, "only the pending recipient");
    assert_eq!(sent[0].phone, "5511900000012");
}

#[tokio::test]
async fn malformed_or_mismatched_messages_fail_permanently() {
    let f = fixture().await;
    let err = f
        .sender
        .handle_message(b"\xff\xff not protobuf")
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Permanent(_)), "{err}");

    let bad_id = CampaignBatch {
        job_id: "nope".into(),
        tenant_id: "x".into(),
        campaign_id: "y".into(),
    };
    let err = f
        .sender
        .handle_message(&bad_id.encode_to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Permanent(_)), "{err}");

    // A message naming another tenant's campaign for this job: refused, nothing sent.
    let mine = campaign(&f, "mine", "Hi", &["5511900000021"]).await;
    let theirs = campaign(&f, "theirs", "Hi", &["5511900000022"]).await;
    let forged = CampaignBatch {
        campaign_id: theirs.campaign_id.clone(),
        tenant_id: theirs.tenant_id.clone(),
        ..mine.clone()
    };
    let err = f
        .sender
        .handle_message(&forged.encode_to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Permanent(_)), "{err}");
    assert!(f.fake.sent_messages().is_empty());
    let untouched = db::jobs::latest_for_subject(
        &f.db,
        mine.tenant_id.parse().unwrap(),
        common::QueueName::Campaign,
        mine.campaign_id.parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        (untouched.state.as_str(), untouched.attempts),
        ("waiting", 0),
        "a stray message changes no job"
    );
}
