//! `worker-import`: consumes the import queue. All but the domain logic is the shared worker
//! runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_import::ImportJob>("worker-import", worker_import::config::from_env).await
}
