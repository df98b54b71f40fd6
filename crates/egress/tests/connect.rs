//! The client against real sockets on 127.0.0.1: a name resolving to a refused address is
//! refused before any connection, redirects are answers, bodies are read up to the bound.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use egress::{Egress, EgressConfig, Lookup, Refusal, SendError, Target};
use reqwest::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Resolves every name to one address, as a rebinding attacker's DNS would.
struct Always(IpAddr);

impl Lookup for Always {
    fn lookup(
        &self,
        _: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let ip = self.0;
        Box::pin(async move { Ok(vec![ip]) })
    }
}

/// An HTTP server on 127.0.0.1 answering every request with `response`; counts connections.
async fn server(response: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                let mut read = 0;
                // Headers, then the declared body.
                loop {
                    let Ok(n) = socket.read(&mut buffer[read..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    read += n;
                    let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if read >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, connections)
}

fn config(allow_private: bool) -> EgressConfig {
    EgressConfig {
        allow_private,
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        max_response_bytes: 16,
        user_agent: "egress-tests".into(),
    }
}

fn ok_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_public_looking_name_resolving_to_loopback_is_refused_without_a_connection() {
    let (port, connections) = server(ok_response("hello")).await;
    let lookup = Arc::new(Always("127.0.0.1".parse().unwrap()));
    let egress = Egress::with_lookup(config(false), lookup.clone()).unwrap();
    let target = Target::parse(&format!("http://hooks.example.com:{port}/in"), false).unwrap();
    let refused = egress
        .post(&target, HeaderMap::new(), "{}".into())
        .await
        .unwrap_err();
    match refused {
        SendError::Refused(r) => {
            assert_eq!(r.reason, Refusal::Loopback);
            assert_eq!(r.host, "hooks.example.com");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same check at creation time.
    assert!(egress.guard().resolve(&target).await.is_err());
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing was connected to"
    );

    // Allowed, the same name connects to exactly the address the resolver returned.
    let allowed = Egress::with_lookup(config(true), lookup).unwrap();
    let answer = allowed
        .post(&target, HeaderMap::new(), "{}".into())
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.excerpt, "hello");
    assert!(!answer.truncated);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn ip_literals_and_localhost_are_checked_too() {
    let (port, connections) = server(ok_response("hello")).await;
    let egress = Egress::new(config(false)).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let target = Target::parse(&url, false).unwrap();
        let error = egress
            .post(&target, HeaderMap::new(), "{}".into())
            .await
            .unwrap_err();
        assert!(matches!(error, SendError::Refused(_)), "{url}: {error:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_answers_and_bodies_are_read_up_to_the_bound() {
    let (target_port, redirected_to) = server(ok_response("the redirect target")).await;
    let (port, _) = server(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target_port}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ))
    .await;
    let egress = Egress::new(config(true)).unwrap();
    let target = Target::parse(&format!("http://127.0.0.1:{port}/"), true).unwrap();
    let answer = egress
        .post(&target, HeaderMap::new(), "{}".into())
        .await
        .unwrap();
    assert_eq!(answer.status, 302);
    assert_eq!(redirected_to.load(Ordering::SeqCst), 0, "never followed");

    let (big, _) = server(ok_response(&"x".repeat(100_000))).await;
    let target = Target::parse(&format!("http://127.0.0.1:{big}/"), true).unwrap();
    let answer = egress
        .post(&target, HeaderMap::new(), "{}".into())
        .await
        .unwrap();
    assert_eq!(answer.excerpt, "x".repeat(16));
    assert!(answer.truncated);
}

#[tokio::test]
async fn a_guarded_client_refuses_untrusted_names_and_reaches_the_trusted_ones() {
    let (port, connections) = server(ok_response("hi")).await;
    let guard = egress::Guard::new(false, Arc::new(Always("127.0.0.1".parse().unwrap())))
        .trusting(["Wuzapi.Internal.".to_owned(), "[::1]".to_owned()]);
    let client = egress::guarded(reqwest::Client::builder(), &guard)
        .build()
        .unwrap();

    let refused = client
        .get(format!("http://tenant-chosen.example:{port}/"))
        .send()
        .await
        .unwrap_err();
    let refusal = egress::refusal_in(&refused).expect("refused by the guard");
    assert_eq!(refusal.reason, Refusal::Loopback);
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    let answer = client
        .get(format!("http://wuzapi.internal:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    // IP literals skip resolvers: the caller checks them, and trusted ones pass.
    let literal = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    assert_eq!(
        guard.check_literal(&literal).unwrap_err().reason,
        Refusal::Loopback
    );
    assert!(
        guard
            .check_literal(&url::Url::parse("http://[::1]:8080/").unwrap())
            .is_ok()
    );
}
