#![doc = include_str!("../README.md")]

pub mod anonymous;
pub mod auth;
pub mod broker;
pub mod cached;
pub mod client_address;
pub mod compression;
pub mod config;
pub mod custom_host;
pub mod error;
pub mod etag;
mod http_metrics;
pub mod known_browser;
pub mod live;
mod metrics_endpoint;
pub mod openapi;
pub mod password_gate;
pub mod permissions;
pub mod queue_stats;
pub mod quotas;
pub mod rate_limit;
pub mod redact;
mod request_span;
pub mod routes;
pub mod security;
pub mod session;
pub mod state;
pub mod usecases;
pub mod web_app;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use common::ErrorCode;
use db::secrets::SecretCipher;
use fred::interfaces::ClientLike;
use outbox::{Relay, RelayWaker};
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;
use crate::error::{ApiError, extractors};
use crate::state::AppState;

/// The gateway, bound and ready to run. Tests build it exactly as `main` does, on port 0.
pub struct Application {
    port: u16,
    server: Server,
    background: CancellationToken,
    relay: Option<tokio::task::JoinHandle<()>>,
    /// `/metrics` on `METRICS_LISTEN`, and the port it is bound to.
    metrics_server: Option<(Server, u16)>,
    gauges: tokio::task::JoinHandle<()>,
    sessions_sweep: tokio::task::JoinHandle<()>,
    live: std::sync::Arc<live::LiveHub>,
    broker: std::sync::Arc<broker::BrokerHandle>,
}

impl Application {
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let metrics = telemetry::metrics();
        let db = db::connect(&config.core.database_url, config.database_max_connections).await?;
        let token_cipher = SecretCipher::from_setting(&config.secrets_key)?;
        routes::inboxes::backfill_token_digests(&db, &token_cipher).await;
        let storage = storage::Storage::open(&config.storage)?;
        let cache = cache::Cache::connect(&config.redis, config.cache.clone())
            .await
            .map_err(|e| anyhow::anyhow!("invalid Redis settings: {e}"))?;

        let live = start_live(&config)?;
        let limiter = rate_limiter(&config, &cache);

        let background = CancellationToken::new();
        let relay_waker = RelayWaker::default();
        let (relay, broker_connected) = start_relay(&config, &db, &relay_waker, &background);

        let broker = std::sync::Arc::new(broker::BrokerHandle::new(
            &config.core.amqp_url,
            &config.core.queue_prefix,
            config.core.queue_type,
        ));
        let gauges = tokio::spawn(queue_stats::export_gauges(
            db.clone(),
            broker.clone(),
            config.queue_metrics_interval,
            background.clone(),
        ));
        let sessions_sweep = tokio::spawn(session::sweep(db.clone(), background.clone()));
        let probes = telemetry::probes::Probes {
            readiness: readiness(&db, &cache, broker_connected),
            metrics: metrics.clone(),
        };
        let listener = TcpListener::bind(&config.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let port = listener.local_addr()?.port();
        let scrape_token = metrics_endpoint::ScrapeToken(config.security.metrics_token.clone());
        let metrics_server = match &config.security.metrics_listen {
            Some(address) => Some(serve_metrics(
                address,
                probes.clone(),
                scrape_token.clone(),
            )?),
            None => None,
        };
        let web_app = load_web_app(&config)?;
        let public_url = public_url(&config, port);
        let broker_to_close = broker.clone();
        let state = web::Data::new(AppState {
            db,
            cache,
            limiter,
            token_cipher,
            relay_waker,
            broker,
            metrics,
            storage,
            live: live.clone(),
            // Inboxes' servers through the egress guard (`common::wuzapi_url::trusted_hosts`).
            wuzapi: wuzapi::WuzapiClient::trusting(config.core.wuzapi_urls.trusted_hosts())?,
            public_url,
            password_gate: password_gate::PasswordGate::new(
                config.sign_in.password_hash_concurrency,
            ),
            device_key: known_browser::DeviceKey::derive(&config.secrets_key),
            known: anonymous::KnownCredentials::default(),
            streams: live::StreamSlots::new(config.streams_per_user),
            config,
        });
        let server = serve_api(state, listener, probes, scrape_token, web_app)?;
        Ok(Self {
            port,
            server,
            metrics_server,
            background,
            relay,
            gauges,
            sessions_sweep,
            live,
            broker: broker_to_close,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `/metrics`' own listener, when `METRICS_LISTEN` asked for one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests and stops the relay.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        let metrics_server = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        shutdown.cancelled().await;
        // Open notification streams never end by themselves: end them, so the graceful stop
        // waits only for ordinary requests.
        self.live.closing.cancel();
        handle.stop(true).await;
        if let Some((handle, server)) = metrics_server {
            handle.stop(true).await;
            server.await??;
        }
        self.background.cancel();
        if let Some(relay) = self.relay {
            let _ = relay.await;
        }
        let _ = self.gauges.await;
        let _ = self.sessions_sweep.await;
        self.broker.close().await;
        server.await??;
        Ok(())
    }
}

/// The hub of live updates, on its own Redis connection (it subscribes).
fn start_live(config: &GatewayConfig) -> anyhow::Result<std::sync::Arc<live::LiveHub>> {
    live::LiveHub::start(
        &cache::client_builder(&config.redis, config.cache.timeout)
            .map_err(|e| anyhow::anyhow!("invalid Redis settings: {e}"))?,
        &config.cache.key_prefix,
    )
}

/// The tenants' rate limiter, on the cache's Redis under its key prefix.
fn rate_limiter(config: &GatewayConfig, cache: &cache::Cache) -> ratelimit::RateLimiter {
    ratelimit::RateLimiter::new(
        cache.client().clone(),
        config
            .limiter
            .clone()
            .with_key_prefix(config.cache.key_prefix.clone()),
    )
}

/// The outbox relay, when this process runs one, and its flag for the readiness probe.
fn start_relay(
    config: &GatewayConfig,
    db: &db::DatabaseConnection,
    relay_waker: &RelayWaker,
    background: &CancellationToken,
) -> (
    Option<tokio::task::JoinHandle<()>>,
    Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) {
    if config.run_outbox_relay {
        let relay = Relay::new(
            db.clone(),
            &config.core.amqp_url,
            &config.core.queue_prefix,
            config.core.queue_type,
            relay_waker.clone(),
        );
        let flag = relay.connected_flag();
        (
            Some(tokio::spawn(relay.run(background.clone()))),
            Some(flag),
        )
    } else {
        (None, None)
    }
}

/// Ready when Postgres and Redis answer and the relay (if any) is connected to RabbitMQ.
fn readiness(
    db: &db::DatabaseConnection,
    cache: &cache::Cache,
    broker_connected: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> telemetry::probes::Readiness {
    let db = db.clone();
    let redis = cache.client().clone();
    telemetry::probes::Readiness::new()
        .check("postgres", move || {
            let db = db.clone();
            async move { db::ping(&db).await.is_ok() }
        })
        .check("redis", move || {
            let redis = redis.clone();
            async move { redis.ping::<String>(None).await.is_ok() }
        })
        .check("rabbitmq", move || {
            let connected = broker_connected
                .as_ref()
                .is_none_or(|flag| flag.load(std::sync::atomic::Ordering::Relaxed));
            async move { connected }
        })
}

/// `/metrics` on its own listener (`METRICS_LISTEN`), and the port it is bound to.
fn serve_metrics(
    address: &str,
    probes: telemetry::probes::Probes,
    scrape_token: metrics_endpoint::ScrapeToken,
) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(address)
        .map_err(|e| anyhow::anyhow!("cannot listen on {address} (METRICS_LISTEN): {e}"))?;
    let bound = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(probes.clone()))
            .configure(|cfg| metrics_endpoint::configure_metrics(cfg, scrape_token.clone()))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    tracing::info!(%bound, "serving /metrics on its own listener");
    Ok((server, bound.port()))
}

/// The web app's build in `WEB_DIR`, if there is one.
fn load_web_app(config: &GatewayConfig) -> anyhow::Result<Option<std::sync::Arc<web_app::WebApp>>> {
    let web_app = match web_app::WebApp::load(&config.web_dir)? {
        Some(app) => {
            tracing::info!(dir = %config.web_dir.display(), files = app.len(), "serving the web app at /");
            Some(std::sync::Arc::new(app))
        }
        None => {
            tracing::info!(dir = %config.web_dir.display(), "no web app build there: serving the API alone");
            None
        }
    };
    Ok(web_app)
}

/// Where WUZAPI servers post events to: `PUBLIC_URL`, else this gateway on the loopback.
fn public_url(config: &GatewayConfig, port: u16) -> String {
    match &config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => {
            tracing::warn!(
                "PUBLIC_URL is not set: WUZAPI servers are told to post events to http://127.0.0.1:{port}"
            );
            format!("http://127.0.0.1:{port}")
        }
    }
}

/// The API (and the web app at /) on `listener`, through the request pipeline.
fn serve_api(
    state: web::Data<AppState>,
    listener: TcpListener,
    probes: telemetry::probes::Probes,
    scrape_token: metrics_endpoint::ScrapeToken,
    web_app: Option<std::sync::Arc<web_app::WebApp>>,
) -> anyhow::Result<Server> {
    let json_limit = state.config.json_limit_bytes;
    let cursor_key = web::Data::new(routes::paging::CursorKey::derive(&state.config.secrets_key));
    let document = openapi::document();
    let compression = compression::Compression::new(state.config.compression);
    let metrics_on_api_port = state.config.security.metrics_listen.is_none();
    let limiter = state.limiter.clone();
    let server = HttpServer::new(move || {
        let limiter = limiter.clone();
        App::new()
            .app_data(state.clone())
            // Each HTTP worker thread asks Redis on a connection its own runtime serves, so
            // a request's limiter call wakes no other thread (see `rate_limit`).
            .data_factory(move || {
                let limiter = limiter.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        limiter.on_own_connection(rate_limit::CONNECT_WAIT).await,
                    )
                }
            })
            .app_data(
                web::JsonConfig::default()
                    .limit(json_limit)
                    .error_handler(extractors::json_error),
            )
            .app_data(web::PathConfig::default().error_handler(extractors::path_error))
            .app_data(web::QueryConfig::default().error_handler(extractors::query_error))
            .app_data(cursor_key.clone())
            // The pipeline, innermost first: what the caller's account role holds (read
            // before any handler's extractors run), authentication, the tenant's rate limit,
            // then (on the way out) ETag / 304 and compression, all inside the metrics and
            // the request's span.
            .wrap(actix_web::middleware::from_fn(permissions::load))
            .wrap(actix_web::middleware::from_fn(rate_limit::limit))
            .wrap(actix_web::middleware::from_fn(auth::authenticate))
            .wrap(etag::Etag)
            .wrap(compression.clone())
            // HSTS and `no-store` on every answer, 304s and compressed ones included.
            .wrap(actix_web::middleware::from_fn(security::headers))
            .wrap(actix_web::middleware::from_fn(http_metrics::record))
            // Outermost: everything the request does, metrics included, is in its span.
            .wrap(request_span::middleware())
            .configure(|cfg| {
                metrics_endpoint::configure(
                    cfg,
                    probes.clone(),
                    scrape_token.clone(),
                    metrics_on_api_port,
                )
            })
            // Before the API's scope, which would otherwise answer its two paths with 404.
            .service(
                utoipa_swagger_ui::SwaggerUi::new(format!("{}{{_:.*}}", openapi::REFERENCE_PATH))
                    .external_url_unchecked(openapi::DOCUMENT_PATH, document.clone()),
            )
            .service(routes::api())
            // What no route took: a file of the web app, an app route (its index), else
            // the API's 404.
            .app_data(web::Data::new(web_app.clone()))
            .default_service(web::to(web_app_or_not_found))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

/// What no route took: a file of the web app, an app route (its index), else the API's 404.
async fn web_app_or_not_found(
    req: actix_web::HttpRequest,
    app: web::Data<Option<std::sync::Arc<web_app::WebApp>>>,
) -> Result<actix_web::HttpResponse, ApiError> {
    match app.as_ref().as_ref().and_then(|app| app.respond(&req)) {
        Some(response) => Ok(response),
        None => Err(ApiError::new(ErrorCode::NotFound, "no such endpoint")),
    }
}
