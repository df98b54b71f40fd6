//! What every service binary does around its work: stop on a signal, answer a health probe.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes and compose send), so the service
/// stops taking work and drains what it has.
pub async fn cancel_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight work");
    shutdown.cancel();
}

/// Whether `GET /healthz` on this machine's `port` answers 200 within 3 s. A bare HTTP/1.1
/// request, so container images need no curl for their health checks.
pub async fn healthz_answers(port: u16) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut status_line = [0u8; 12];
        stream.read_exact(&mut status_line).await?;
        Ok::<_, std::io::Error>(status_line.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), probe).await,
        Ok(Ok(true))
    )
}

/// Ends a service binary: on error, one line `service: error: cause: cause` on stderr and
/// exit status 1, instead of `main` returning the error (which prints `Debug`, with a stack
/// backtrace when `RUST_BACKTRACE` is set) to an operator who only needs to know what failed.
pub fn exit_on_error<E: std::fmt::Display>(service: &str, result: Result<(), E>) {
    if let Err(e) = result {
        eprintln!("{service}: {e:#}");
        std::process::exit(1);
    }
}
