#![doc = include_str!("../README.md")]

mod batch;
pub mod config;

use std::time::Duration;

use common::proto::CampaignBatch;
use common::{CampaignId, CampaignStatus, QueueName};
use db::DatabaseConnection;
use db::secrets::SecretCipher;
use worker::{BuildJob, Done, Job, JobContext, JobError};
use wuzapi::WuzapiClient;

pub use batch::render;

use crate::config::CampaignConfig;

/// Sends campaigns, one batch per queue message.
pub struct CampaignJob {
    pub wuzapi: WuzapiClient,
    pub cipher: SecretCipher,
    pub batch_budget: Duration,
    pub max_group: u64,
    pub first_outage_probe: Duration,
    pub wuzapi_urls: common::wuzapi_url::WuzapiUrlPolicy,
}

impl Job for CampaignJob {
    const QUEUE: QueueName = QueueName::Campaign;
    type Message = CampaignBatch;

    async fn run(&self, ctx: JobContext, message: CampaignBatch) -> Result<Done, JobError> {
        self.run_batch(ctx, message).await
    }

    /// A campaign whose job failed for good shows `failed` with the reason.
    async fn on_failed(
        &self,
        db: &DatabaseConnection,
        job: &db::jobs::Job,
        reason: &str,
    ) -> Result<(), db::DbError> {
        if let Some(campaign_id) = job.subject_id {
            let sendable = CampaignStatus::ALL
                .into_iter()
                .filter(|s| !s.is_finished())
                .collect::<Vec<_>>();
            db::campaigns::transition(
                db::TenantScope::new(db, job.tenant_id),
                CampaignId::from(campaign_id),
                &sendable,
                CampaignStatus::Failed,
                Some(reason.to_owned()),
            )
            .await?;
        }
        Ok(())
    }
}

impl BuildJob for CampaignJob {
    type Config = CampaignConfig;

    fn build(config: CampaignConfig, _db: DatabaseConnection) -> anyhow::Result<Self> {
        Ok(Self {
            wuzapi: WuzapiClient::with_defaults()?,
            cipher: SecretCipher::from_setting(&config.secrets_key)?,
            batch_budget: config.batch_budget,
            max_group: config.max_group,
            first_outage_probe: config.first_outage_probe,
            wuzapi_urls: config.wuzapi_urls,
        })
    }
}
