//! Where the gateway serves `/metrics`: on the API's port (the default, open as before), behind
//! a bearer token (`METRICS_TOKEN`), or on a listener of its own (`METRICS_LISTEN`, e.g. an
//! address only the scraper reaches). The probes `/healthz` and `/readyz` stay on the API's port.

use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use common::{ErrorBody, ErrorCode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The token `/metrics` asks for, if any.
#[derive(Clone)]
pub struct ScrapeToken(pub Option<SecretString>);

/// Mounts the probes, and `/metrics` unless it has a listener of its own.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    probes: telemetry::probes::Probes,
    token: ScrapeToken,
    metrics_here: bool,
) {
    cfg.app_data(web::Data::new(probes))
        .route("/healthz", web::get().to(telemetry::probes::healthz))
        .route("/readyz", web::get().to(telemetry::probes::readyz));
    if metrics_here {
        configure_metrics(cfg, token);
    }
}

/// Mounts `/metrics` alone (the separate listener; the probes' data must be there too).
pub fn configure_metrics(cfg: &mut web::ServiceConfig, token: ScrapeToken) {
    cfg.app_data(web::Data::new(token))
        .route("/metrics", web::get().to(scrape));
}

async fn scrape(
    req: HttpRequest,
    probes: web::Data<telemetry::probes::Probes>,
    token: web::Data<ScrapeToken>,
) -> HttpResponse {
    if let Some(expected) = &token.0
        && !bearer_matches(&req, expected)
    {
        return HttpResponse::Unauthorized()
            .insert_header((WWW_AUTHENTICATE, "Bearer"))
            .json(ErrorBody::new(
                ErrorCode::Unauthenticated,
                "/metrics needs `Authorization: Bearer <METRICS_TOKEN>`",
            ));
    }
    telemetry::probes::metrics(probes).await
}

/// Compares digests, so the time taken tells nothing about the token.
fn bearer_matches(req: &HttpRequest, expected: &SecretString) -> bool {
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    given.is_some_and(|given| {
        Sha256::digest(given.as_bytes()) == Sha256::digest(expected.expose_secret().as_bytes())
    })
}
