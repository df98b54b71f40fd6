//! The REST API. Every handler that touches tenant data takes the tenant from the caller, never
//! from the request, so one tenant cannot name another's objects.

pub mod campaign_control;
pub mod campaigns;
pub mod contacts;
pub mod inboxes;
pub mod jobs;
pub mod tenants;

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::error::ApiError;

pub type ApiResult = Result<HttpResponse, ApiError>;

/// `{"success":true,"data":...}`, the success envelope.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"success": true, "data": data}))
}

pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({"success": true, "data": data}))
}

/// Mounts the API. `campaign_json_limit` is the body limit of campaign creation, which carries
/// up to 100 000 contact ids and so needs more than other endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, campaign_json_limit: usize) {
    cfg.service(
        web::scope("/api")
            .route("/admin/tenants", web::post().to(tenants::create_tenant))
            .route("/tenants/current", web::get().to(tenants::current_tenant))
            .route("/users", web::post().to(tenants::create_user))
            .route(
                "/users/{user_id}/api-keys",
                web::post().to(tenants::create_api_key),
            )
            .route("/inboxes", web::post().to(inboxes::create))
            .route("/inboxes", web::get().to(inboxes::list))
            .route("/contacts", web::post().to(contacts::create))
            .route("/contacts", web::get().to(contacts::list))
            .service(
                web::resource("/campaigns")
                    .app_data(
                        web::JsonConfig::default()
                            .limit(campaign_json_limit)
                            .error_handler(crate::error::extractors::json_error),
                    )
                    .route(web::post().to(campaigns::create)),
            )
            .route("/campaigns/{campaign_id}", web::get().to(campaigns::get))
            .route(
                "/campaigns/{campaign_id}/recipients",
                web::get().to(campaigns::recipients),
            )
            .route(
                "/campaigns/{campaign_id}/pause",
                web::post().to(campaign_control::pause),
            )
            .route(
                "/campaigns/{campaign_id}/resume",
                web::post().to(campaign_control::resume),
            )
            .route(
                "/campaigns/{campaign_id}/cancel",
                web::post().to(campaign_control::cancel),
            )
            .route(
                "/campaigns/{campaign_id}/resend-uncertain",
                web::post().to(campaign_control::resend_uncertain),
            )
            .route(
                "/jobs/campaign/{campaign_id}/status",
                web::get().to(jobs::campaign_status),
            )
            .route("/jobs/queues/stats", web::get().to(jobs::queue_stats))
            .route("/jobs/workers/status", web::get().to(jobs::workers_status))
            .route("/jobs/dead", web::get().to(jobs::dead_letters))
            .route("/jobs/dead/replay", web::post().to(jobs::replay_all))
            .route("/jobs/{job_id}/replay", web::post().to(jobs::replay)),
    );
}

/// The `limit` of a list endpoint: 50 by default, 1 to 500.
pub fn page_limit(limit: Option<u64>) -> Result<u64, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            common::ErrorCode::InvalidParameter,
            "`limit` must be between 1 and 500",
        ))
    }
}

/// Trims a required text field and checks its length.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must be at most {max_chars} characters"),
        ));
    }
    Ok(value.to_owned())
}
