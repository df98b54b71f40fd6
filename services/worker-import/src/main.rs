//! `worker-import`: consumes the import queue. All but the domain logic is the shared worker
//! runtime's.

// Most of an import's allocations are small and short-lived (a row's strings, its phone's
// parse) on several threads at once, where glibc's malloc spent a quarter of the worker's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    worker::main::<worker_import::ImportJob>("worker-import", worker_import::config::from_env).await
}
