//! `worker-campaign`: consumes the campaign queue. All but the domain logic is the shared
//! worker runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_campaign::CampaignJob>(
        "worker-campaign",
        worker_campaign::config::from_env,
    )
    .await
}
