//! `worker-webhook`: consumes the webhook queue. All but the domain logic is the shared worker
//! runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_webhook::WebhookJob>("worker-webhook", worker_webhook::config::from_env)
        .await
}
