//! The span of each API request: `tracing-actix-web`'s root span (OpenTelemetry's HTTP
//! conventions, a remote parent from an incoming `traceparent`), except for probes and
//! scrapes, which would bury real requests under one trace every few seconds.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};

pub struct ApiRootSpan;

impl RootSpanBuilder for ApiRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if telemetry::probes::PATHS.contains(&request.path()) {
            return Span::none();
        }
        tracing_actix_web::root_span!(request)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The middleware that opens [`ApiRootSpan`] around each request.
pub fn middleware() -> TracingLogger<ApiRootSpan> {
    TracingLogger::new()
}
