//! `worker-inbound`: consumes the inbound queue. All but the domain logic is the shared worker
//! runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_inbound::InboundJob>("worker-inbound", worker_inbound::config::from_env)
        .await
}
