//! `worker-report`: consumes the report queue. All but the domain logic is the shared worker
//! runtime's.

#[tokio::main]
async fn main() {
    worker::main::<worker_report::ReportJob>("worker-report", worker_report::config::from_env).await
}
