//! The second stage of the request pipeline: the tenant's rate limit, per platform plan
//! (`RATE_LIMIT_<PLAN>` requests per minute, `RATE_LIMIT_<PLAN>_BURST`), shared by every gateway
//! replica through one Redis script per request (see the `ratelimit` crate).
//!
//! Every request of a tenant's user is counted, whatever it asks for; a refused one gets 429
//! with `Retry-After` and the guide's body, an admitted one the limit headers. Superadmins and
//! anonymous requests (public endpoints, probes) carry no tenant and are not limited here:
//! requests without a valid credential have the per-address budget of `crate::anonymous`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use db::auth::Principal;

use crate::state::AppState;

/// How long an HTTP worker waits for its own limiter connection when it starts; Redis being
/// down is not an error (the fallback decides until the connection is up).
pub const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let tenant = req
        .extensions()
        .get::<Principal>()
        .and_then(|principal| principal.tenant);
    let (Some(tenant), Some(state)) = (tenant, req.app_data::<web::Data<AppState>>().cloned())
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let plan_limit = state.config.rate_limits.for_plan(tenant.plan);
    // The worker thread's own limiter (`Application::build`), else the shared one.
    let limiter = req.app_data::<web::Data<ratelimit::RateLimiter>>();
    let limiter = limiter.map_or(&state.limiter, |own| own.get_ref());
    let decision = limiter.check(tenant.id, tenant.plan, plan_limit).await;
    let headers = decision.headers();
    if !decision.allowed {
        let mut refused = HttpResponse::TooManyRequests();
        refused.insert_header((CONTENT_TYPE, "application/json"));
        for (name, value) in &headers {
            refused.insert_header((*name, value.as_str()));
        }
        let response = refused.body(decision.exceeded_body());
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let response_headers = response.headers_mut();
    for (name, value) in headers {
        // Names as the specs spell them; `HeaderName` lower-cases them.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            response_headers.insert(name, value);
        }
    }
    Ok(response.map_into_left_body())
}
