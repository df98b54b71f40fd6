//! A webhook receiver for tests and the benchmark: an HTTP server on 127.0.0.1 that records
//! every request and answers as the test tells it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 302 to this URL.
    Redirect(String),
    /// A status with this body.
    Body(u16, String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers as the `http` crate holds them (what `standardwebhooks` verifies).
    pub fn http_headers(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Replies for the next requests, in order; then `default`.
    plan: VecDeque<Reply>,
    default: Option<Reply>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let reply = {
        let mut state = state.lock().expect("receiver state");
        state.received.push(Received {
            at: Instant::now(),
            path: request.path().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        });
        state
            .plan
            .pop_front()
            .or_else(|| state.default.clone())
            .unwrap_or(Reply::Status(200))
    };
    let status = |code: u16| {
        actix_web::http::StatusCode::from_u16(code).expect("a valid status in the test")
    };
    match reply {
        Reply::Status(code) => HttpResponse::build(status(code)).body("ok"),
        Reply::Redirect(to) => HttpResponse::Found()
            .insert_header(("location", to))
            .finish(),
        Reply::Body(code, body) => HttpResponse::build(status(code)).body(body),
    }
}

impl Receiver {
    /// Starts on a free port of 127.0.0.1 with `workers` threads; answers 200 until told
    /// otherwise.
    pub fn start(workers: usize) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(receive))
        })
        .workers(workers)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind the receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The next requests get these replies, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().plan.extend(replies);
    }

    /// Every request after the planned ones gets `reply`.
    pub fn reply_always(&self, reply: Reply) {
        self.state.lock().unwrap().default = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    /// Waits until at least `n` requests came, for up to `within`; returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} requests within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Not awaited: the server stops on its own threads.
        drop(self.handle.stop(false));
    }
}
