//! The REST API. Every handler that touches tenant data takes the tenant from the caller, never
//! from the request, so one tenant cannot name another's objects.

pub mod access;
pub mod admin_cache;
pub mod branding;
pub mod campaign_control;
pub mod campaigns;
pub mod contacts;
pub mod inboxes;
pub mod jobs;
pub mod plans;
pub mod stripe;
pub mod tenants;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
            .route(
                "/admin/tenants/{tenant_id}",
                web::patch().to(tenants::update_tenant),
            )
            .route(
                "/admin/cache/invalidate",
                web::post().to(admin_cache::invalidate),
            )
            .route("/me", web::get().to(tenants::me))
            .route("/users/{user_id}", web::delete().to(tenants::delete_user))
            .route(
                "/api-keys/{key_id}",
                web::delete().to(tenants::revoke_api_key),
            )
            .route("/tenants/current", web::get().to(tenants::current_tenant))
            .route("/users", web::post().to(tenants::create_user))
            .route(
                "/users/{user_id}/api-keys",
                web::post().to(tenants::create_api_key),
            )
            .service(
                web::resource("/branding")
                    .app_data(
                        web::JsonConfig::default()
                            .limit(branding::JSON_LIMIT_BYTES)
                            .error_handler(crate::error::extractors::json_error),
                    )
                    .route(web::get().to(branding::get))
                    .route(web::put().to(branding::replace)),
            )
            .route("/public/branding", web::get().to(branding::public))
            .service(
                web::resource("/stripe/settings")
                    .route(web::get().to(stripe::get_settings))
                    .route(web::put().to(stripe::put_settings))
                    .route(web::delete().to(stripe::delete_settings)),
            )
            .route("/stripe/analytics", web::get().to(stripe::analytics))
            .route(
                "/webhooks/stripe/{tenant_id}",
                web::post().to(stripe::webhook),
            )
            .route("/plans", web::post().to(plans::create))
            .route("/plans", web::get().to(plans::list))
            .route("/plans/{plan_id}", web::get().to(plans::get))
            .route("/plans/{plan_id}", web::put().to(plans::replace))
            .route("/plans/{plan_id}", web::delete().to(plans::delete))
            .route(
                "/users/{user_id}/subscription",
                web::put().to(plans::subscribe),
            )
            .route(
                "/users/{user_id}/subscription",
                web::get().to(plans::subscription),
            )
            .route(
                "/users/{user_id}/overrides",
                web::put().to(plans::set_overrides),
            )
            .route("/me/subscription", web::get().to(plans::my_subscription))
            .route("/me/quotas", web::get().to(plans::my_quotas))
            .route("/me/features", web::get().to(plans::my_features))
            .route("/inboxes", web::post().to(inboxes::create))
            .route("/inboxes", web::get().to(inboxes::list))
            .route(
                "/accounts/{account_id}/roles",
                web::get().to(access::list_roles),
            )
            .route(
                "/accounts/{account_id}/roles",
                web::post().to(access::create_role),
            )
            .route(
                "/accounts/{account_id}/roles/{role_id}",
                web::put().to(access::update_role),
            )
            .route(
                "/accounts/{account_id}/roles/{role_id}",
                web::delete().to(access::delete_role),
            )
            .route(
                "/accounts/{account_id}/agents",
                web::get().to(access::list_agents),
            )
            .route(
                "/accounts/{account_id}/agents/{user_id}",
                web::put().to(access::assign_agent),
            )
            .route(
                "/accounts/{account_id}/agents/{user_id}",
                web::delete().to(access::remove_agent),
            )
            .route(
                "/accounts/{account_id}/teams",
                web::get().to(access::list_teams),
            )
            .route(
                "/accounts/{account_id}/teams",
                web::post().to(access::create_team),
            )
            .route(
                "/accounts/{account_id}/teams/{team_id}",
                web::put().to(access::rename_team),
            )
            .route(
                "/accounts/{account_id}/teams/{team_id}",
                web::delete().to(access::delete_team),
            )
            .route(
                "/accounts/{account_id}/teams/{team_id}/members",
                web::put().to(access::set_team_members),
            )
            .route(
                "/accounts/{account_id}/inboxes",
                web::get().to(access::list_inboxes),
            )
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

/// A JSON request body, checked before the handler runs. Use it instead of `web::Json` for
/// every body: it answers
/// - 400 `malformed_json` when the body is not JSON at all (syntax errors, truncation);
/// - 422 `validation_failed` when it is JSON but does not fit the endpoint: a missing, unknown,
///   wrongly typed or out-of-range field, or an unknown enum value, with `field` naming the
///   top-level field to blame;
/// - 422 `validation_failed` when any string or key, at any depth, holds a NUL character
///   (PostgreSQL cannot store it), with `field` its path such as `fields.city`.
///
/// Limits and the content type are `web::JsonConfig`'s, as for `web::Json`.
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Parsing into a `Value` first separates "not JSON" from "not this shape": serde_json
        // reports a number where an enum is expected as a syntax error ("expected value").
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            Ok(ApiJson(decode_body(&value)?))
        })
    }
}

/// The checks of [`ApiJson`] on a body that is already known to be JSON.
pub fn decode_body<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    if let Some(path) = common::text::nul_path(value) {
        let message = "text must not contain the NUL character (\\u0000); remove it";
        return Err(if path.is_empty() {
            ApiError::new(common::ErrorCode::ValidationFailed, message)
        } else {
            ApiError::validation(&path, format!("`{path}`: {message}"))
        });
    }
    T::deserialize(value).map_err(|e| shape_error::<T>(value, &e))
}

/// Names the field a deserialisation error is about. serde says it for missing and unknown
/// fields; for the others, the culprit is the first field whose addition to the object
/// reproduces the error, since derived `Deserialize` stops at the first bad value in map order.
fn shape_error<T: DeserializeOwned>(value: &Value, err: &serde_json::Error) -> ApiError {
    let Value::Object(map) = value else {
        return ApiError::new(
            common::ErrorCode::ValidationFailed,
            "the body must be a JSON object",
        );
    };
    // Every enum of the API is a string; serde's wording for a non-string is "string or map".
    let message = err
        .to_string()
        .replace("expected string or map", "expected a string");
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field `") {
        return ApiError::validation(&field, format!("`{field}` is required"));
    }
    if let Some(field) = quoted("unknown field `") {
        return ApiError::validation(&field, message);
    }
    let mut prefix = Value::Object(serde_json::Map::new());
    for (key, item) in map {
        if let Value::Object(fields) = &mut prefix {
            fields.insert(key.clone(), item.clone());
        }
        if let Err(e) = T::deserialize(&prefix)
            && e.to_string() == err.to_string()
        {
            return ApiError::validation(key, format!("invalid `{key}`: {message}"));
        }
    }
    ApiError::new(
        common::ErrorCode::ValidationFailed,
        format!("invalid body: {message}"),
    )
}
