#![doc = include_str!("../README.md")]

mod batch;
pub mod config;

use std::time::Duration;

use common::jobs::kind::CampaignBatch;
use common::{CampaignId, CampaignStatus};
use db::DatabaseConnection;
use db::secrets::SecretCipher;
use sea_orm::TransactionTrait;
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
    pub typing: config::Typing,
    /// Where the pacing calendar (the send window, the day a cap counts on) reads the time:
    /// the system clock; a test's manual clock to step through a window.
    pub clock: common::clock::Clock,
}

impl Job for CampaignJob {
    type Kind = CampaignBatch;

    async fn run(&self, ctx: JobContext, id: CampaignId, _: ()) -> Result<Done, JobError> {
        self.run_batch(ctx, id).await
    }

    /// A campaign whose job failed for good shows `failed` with the reason.
    async fn on_failed(
        &self,
        scope: db::TenantScope<'_, DatabaseConnection>,
        id: CampaignId,
        reason: &str,
    ) -> Result<(), db::DbError> {
        let sendable = CampaignStatus::ALL
            .into_iter()
            .filter(|s| !s.is_finished())
            .collect::<Vec<_>>();
        let txn = scope.conn().begin().await?;
        let campaign = db::campaigns::find(scope.on(&txn), id).await?;
        app::campaigns::transition_announced(
            scope.on(&txn),
            &campaign,
            &sendable,
            CampaignStatus::Failed,
            Some(reason.to_owned()),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl BuildJob for CampaignJob {
    type Config = CampaignConfig;

    fn build(config: CampaignConfig, _db: DatabaseConnection) -> anyhow::Result<Self> {
        Ok(Self {
            // Inboxes' servers through the egress guard: the operator's hosts are trusted,
            // other names must resolve to public addresses at every connection.
            wuzapi: WuzapiClient::trusting(config.wuzapi_urls.trusted_hosts())?,
            cipher: SecretCipher::from_setting(&config.secrets_key)?,
            batch_budget: config.batch_budget,
            max_group: config.max_group,
            first_outage_probe: config.first_outage_probe,
            wuzapi_urls: config.wuzapi_urls,
            typing: config.typing,
            clock: common::clock::Clock::system(),
        })
    }
}
