//! Cleaning up after a test that wrote to the shared Redis under a prefix of its own.

use fred::interfaces::{ClientLike, KeysInterface};
use fred::types::Builder;
use fred::types::config::Config;

/// Deletes every key of the Redis at `url` that starts with `prefix`, from a thread and runtime
/// of its own: callable from `Drop` (which cannot await), also while the test's runtime is
/// shutting down after a panic. A Redis that does not answer is left as it is.
pub fn delete_prefixed_blocking(url: &str, prefix: &str) {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    let cleanup = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(delete_prefixed(&url, &prefix));
    });
    let _ = cleanup.join();
}

/// SCAN is fine here: it only walks one test's own prefix.
async fn delete_prefixed(url: &str, prefix: &str) {
    let Ok(config) = Config::from_url(url) else {
        return;
    };
    let Ok(client) = Builder::from_config(config).build() else {
        return;
    };
    if client.init().await.is_err() {
        return;
    }
    let mut cursor = "0".to_owned();
    loop {
        let Ok((next, keys)) = client
            .scan_page::<(String, Vec<String>), _, _>(
                cursor,
                format!("{prefix}*"),
                Some(1000),
                None,
            )
            .await
        else {
            break;
        };
        for key in keys {
            let _: Result<(), _> = client.del(key).await;
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let _ = client.quit().await;
}
