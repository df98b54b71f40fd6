#![doc = include_str!("../README.md")]

pub mod probes;
pub mod process;
pub mod trace;

pub use trace::{
    TRACEPARENT, current_traceparent, set_remote_parent, shutdown_tracing, traceparent_of,
};

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Buckets for request and job durations, in seconds: fine below the 200 ms P95 target, coarse
/// up to the 2 s alert and beyond.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];

/// Installs the log subscriber once per process (later calls, as in tests, do nothing), with
/// OpenTelemetry export when the standard `OTEL_EXPORTER_OTLP_*` variables ask for it (see
/// [`trace`]). Call it inside the Tokio runtime; end the process with
/// [`trace::shutdown_tracing`] so the last spans are sent.
pub fn init_tracing(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    let mut export_error = None;
    let otel = if trace::export_wanted() {
        match trace::provider(service) {
            Ok(provider) => Some(
                tracing_opentelemetry::layer()
                    .with_tracer(trace::tracer(&provider, service))
                    .boxed(),
            ),
            Err(e) => {
                export_error = Some(e);
                None
            }
        }
    } else {
        None
    };
    let result = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(filter)
        .try_init();
    if result.is_ok() {
        if let Some(error) = export_error {
            tracing::error!(service, %error, "traces are not exported");
        }
        tracing::debug!(service, "tracing initialised");
    }
}

/// Buckets of `*_lag_seconds` histograms (how long work waited, e.g. an inbound event from its
/// receipt to its effect): from a few milliseconds to ten minutes, so an alert at 60 s has
/// buckets on both sides.
const LAG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The process-wide Prometheus recorder. The first call installs it; every later call (several
/// services in one test process) shares it.
pub fn metrics() -> Metrics {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    let handle = HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(Matcher::Suffix("_lag_seconds".into()), LAG_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then our handle renders nothing
        // that the other one records, which tests would show at once.
        let _ = metrics::set_global_recorder(recorder);
        handle
    });
    Metrics {
        handle: handle.clone(),
    }
}

/// Renders `/metrics`.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// The Prometheus text exposition, with process metrics refreshed first.
    pub fn render(&self) -> String {
        static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
        let collector = COLLECTOR.get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            collector
        });
        collector.collect();
        self.handle.render()
    }
}
