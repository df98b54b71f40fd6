//! The REST API. Every handler that touches tenant data takes the tenant from the caller, never
//! from the request, so one tenant cannot name another's objects.

pub mod access;
pub mod admin_cache;
pub mod analytics;
pub mod branding;
pub mod campaign_control;
pub mod campaigns;
pub mod consent;
pub mod contacts;
pub mod imports;
pub mod inboxes;
pub mod invitations;
pub mod jobs;
pub mod notifications;
pub mod pacing;
pub mod paging;
pub mod plans;
pub mod push;
pub mod reports;
pub mod sessions;
pub mod stripe;
pub mod tenants;
pub mod webhooks;
pub mod wuzapi_events;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

pub type ApiResult = Result<HttpResponse, ApiError>;

/// `{"success":true,"data":...}`: the envelope of every answer but lists (see
/// [`paging::Page`]) and errors.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    success: bool,
    data: T,
}

impl<T> Envelope<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
        }
    }
}

/// 200 with `data` in the envelope.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope::new(data))
}

/// 201 with `data` in the envelope.
pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(Envelope::new(data))
}

/// 202 with `data` in the envelope: taken, and carried out by a worker.
pub fn accepted<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Accepted().json(Envelope::new(data))
}

/// `{"id":...,"deleted":true}`, the answer of a `DELETE`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted<I> {
    id: I,
    deleted: bool,
}

impl<I> Deleted<I> {
    pub fn new(id: I) -> Self {
        Self { id, deleted: true }
    }
}

/// 400 `invalid_parameter` blaming the query or path parameter `field`.
pub fn invalid_parameter(field: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        field: Some(field.to_owned()),
        ..ApiError::new(common::ErrorCode::InvalidParameter, message)
    }
}

/// The API under `/api`: each module mounts its routes through `utoipa-actix-web`, so a route
/// and its entry in the OpenAPI document are one registration and cannot drift apart.
pub fn api() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/api")
        .configure(sessions::routes)
        .configure(invitations::routes)
        .configure(tenants::routes)
        .configure(admin_cache::routes)
        .configure(branding::routes)
        .configure(stripe::routes)
        .configure(plans::routes)
        .configure(inboxes::routes)
        .configure(pacing::routes)
        .configure(access::routes)
        .configure(contacts::routes)
        .configure(consent::routes)
        .configure(imports::routes)
        .configure(reports::routes)
        .configure(campaigns::routes)
        .configure(campaign_control::routes)
        .configure(jobs::routes)
        .configure(analytics::routes)
        .configure(notifications::routes)
        .configure(push::routes)
        .configure(webhooks::routes)
        .configure(wuzapi_events::routes)
}

/// Where a route module mounts its routes.
pub type Routes<'a> = utoipa_actix_web::service_config::ServiceConfig<'a>;

/// The largest JSON body one endpoint takes, when it is not the gateway's `JSON_LIMIT_BYTES`.
pub trait BodyLimit {
    /// `None`: the gateway-wide limit.
    fn bytes(req: &HttpRequest) -> Option<usize>;
}

/// The gateway-wide body limit (`JSON_LIMIT_BYTES`).
pub struct GatewayLimit;

impl BodyLimit for GatewayLimit {
    fn bytes(_: &HttpRequest) -> Option<usize> {
        None
    }
}

/// Trims a required text field and checks its length.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    Ok(crate::usecases::required_text(field, value, max_chars)?)
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
///
/// `L` names an endpoint's own body limit (see [`BodyLimit`]).
pub struct ApiJson<T, L = GatewayLimit>(pub T, std::marker::PhantomData<L>);

impl<T, L> ApiJson<T, L> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static, L: BodyLimit> FromRequest for ApiJson<T, L> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Parsing into a `Value` first separates "not JSON" from "not this shape": serde_json
        // reports a number where an enum is expected as a syntax error ("expected value").
        let body: LocalBoxFuture<'static, Result<Value, actix_web::Error>> = match L::bytes(req) {
            None => {
                let json = web::Json::<Value>::from_request(req, payload);
                Box::pin(async move { Ok(json.await?.into_inner()) })
            }
            Some(limit) => {
                let json = web::JsonBody::<Value>::new(req, payload, None, true).limit(limit);
                let req = req.clone();
                Box::pin(async move {
                    json.await
                        .map_err(|e| crate::error::extractors::json_error(e, &req))
                })
            }
        };
        Box::pin(async move {
            Ok(ApiJson(
                decode_body(&body.await?)?,
                std::marker::PhantomData,
            ))
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
