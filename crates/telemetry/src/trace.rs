//! Distributed tracing: OpenTelemetry spans exported over OTLP/HTTP, and the W3C
//! `traceparent` that carries a trace from an HTTP request through the outbox and the broker to
//! the worker that finishes the job.
//!
//! Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//! set and `OTEL_SDK_DISABLED` is not `true`; the exporter reads the other standard `OTEL_*`
//! variables itself (headers, timeout, `OTEL_BSP_SCHEDULE_DELAY`, ...). Without it, spans are
//! only the context of log lines and [`current_traceparent`] answers `None`.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C trace-context header, in HTTP and in AMQP message headers alike.
pub const TRACEPARENT: &str = "traceparent";

/// Longest an export to the collector may take; a slow collector must not hold back shutdown.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether the standard variables ask for OTLP export.
pub(crate) fn export_wanted() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled =
        std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider that exports this process' spans as `service`, or why it cannot be
/// built. Installed once; the caller turns it into a `tracing` layer.
pub(crate) fn provider(service: &'static str) -> Result<SdkTracerProvider, String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "OTLP export needs a Tokio runtime; none is running".to_owned())?;
    let http = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(TokioHttpClient { http, runtime })
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let _ = PROVIDER.set(provider.clone());
    Ok(provider)
}

/// A tracer of `provider` for the `tracing` layer.
pub(crate) fn tracer(
    provider: &SdkTracerProvider,
    service: &'static str,
) -> opentelemetry_sdk::trace::SdkTracer {
    provider.tracer(service)
}

/// Exports the spans still buffered and stops exporting. Call once, as the process ends;
/// without export it does nothing.
pub async fn shutdown_tracing() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    // `shutdown` blocks until the exporter thread has sent the last batch, which it does
    // through a task on this runtime: block a thread of the blocking pool, not a worker.
    let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(e)) = result {
        eprintln!("telemetry: flushing traces at shutdown failed: {e}");
    }
}

/// The W3C `traceparent` of the current span, for a message that continues its work elsewhere;
/// `None` when spans are not exported (or the span is not recorded).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The W3C `traceparent` of `span` (see [`current_traceparent`]).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the remote span that `traceparent` names, as a worker does for the
/// request that enqueued its job. A malformed value leaves `span` a root (and is not an error:
/// the header comes from outside).
pub fn set_remote_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed; then there is nothing to link.
        let _ = span.set_parent(context);
    }
}

/// The exporter's HTTP client: the workspace's `reqwest`, run on the Tokio runtime that
/// installed tracing. The SDK exports from its own thread, outside any runtime, so the request
/// is spawned onto the runtime and only awaited from there.
#[derive(Debug)]
struct TokioHttpClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for TokioHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let request = reqwest::Request::try_from(request)?;
        let sent = self.runtime.spawn(async move {
            let response = http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
