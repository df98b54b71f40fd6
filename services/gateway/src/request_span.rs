//! The span of each API request: `tracing-actix-web`'s root span (OpenTelemetry's HTTP
//! conventions, a remote parent from an incoming `traceparent`), except for probes and
//! scrapes, which would bury real requests under one trace every few seconds.
//!
//! The span is the one `tracing_actix_web::root_span!` builds, field for field, but for
//! `http.target`, which holds the target as [`crate::redact::target`] writes it: some paths
//! carry a credential (an inbox's hook token, an invitation link), and every log line of the
//! request repeats its span's fields. The macro records the raw target and a span field cannot
//! be taken back, hence the copy; the helpers it calls are the macro's own.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::root_span_macro::private::{
    extract_otel_trace_id, get_request_id, http_flavor, http_method_str, http_scheme,
    set_otel_parent,
};
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};

pub struct ApiRootSpan;

impl RootSpanBuilder for ApiRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if telemetry::probes::PATHS.contains(&request.path()) {
            return Span::none();
        }
        root_span(request)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !span.is_none() {
            let status = match outcome {
                Ok(response) => response.status(),
                Err(error) => error.as_response_error().status_code(),
            };
            // The access log, off by default (traces and metrics cover requests): turned on
            // with `RUST_LOG=info,gateway::access=debug`. Its line carries the span's fields,
            // so the target it shows is the redacted one.
            span.in_scope(|| {
                tracing::debug!(target: "gateway::access", status = status.as_u16(), "request finished");
            });
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

fn root_span(request: &ServiceRequest) -> Span {
    let user_agent = request
        .headers()
        .get("User-Agent")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // The pattern (`/api/webhooks/wuzapi/{hook_token}`), never the path: no credential in it.
    let http_route: std::borrow::Cow<'static, str> = request
        .match_pattern()
        .map(Into::into)
        .unwrap_or_else(|| "default".into());
    let http_method = http_method_str(request.method());
    let target = crate::redact::target(
        request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(""),
    )
    .into_owned();
    let connection_info = request.connection_info();
    let request_id = get_request_id(request);
    let remote_trace_id = extract_otel_trace_id(request);
    let span = tracing::info_span!(
        "HTTP request",
        http.method = %http_method,
        http.route = %http_route,
        http.flavor = %http_flavor(request.version()),
        http.scheme = %http_scheme(connection_info.scheme()),
        http.host = %connection_info.host(),
        http.client_ip = %connection_info.realip_remote_addr().unwrap_or(""),
        http.user_agent = %user_agent,
        http.target = %target,
        http.status_code = Empty,
        otel.name = %format!("{http_method} {http_route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        trace_id = Empty,
        request_id = %request_id,
        exception.message = Empty,
        exception.details = Empty,
    );
    if let Some(trace_id) = remote_trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    drop(connection_info);
    set_otel_parent(request, &span);
    span
}

/// The middleware that opens [`ApiRootSpan`] around each request.
pub fn middleware() -> TracingLogger<ApiRootSpan> {
    TracingLogger::new()
}
