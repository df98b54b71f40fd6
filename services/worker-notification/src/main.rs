//! `worker-notification`: consumes the notification queue. All but the domain logic is the
//! shared worker runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_notification::NotificationJob>(
        "worker-notification",
        worker_notification::config::from_env,
    )
    .await
}
