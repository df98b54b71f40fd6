//! The gateway's error type: every failure becomes the API-wide envelope with a stable code.
//! Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use common::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::ValidationFailed,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// Logs `cause` and returns an opaque 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error; it has been logged")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = ErrorBody::new(self.code, self.message.clone());
        body.field = self.field.clone();
        HttpResponse::build(self.status_code()).json(body)
    }
}

impl From<db::DbError> for ApiError {
    fn from(err: db::DbError) -> Self {
        Self::from_shared_db_error(&err)
    }
}

impl ApiError {
    /// The answer to a database error, also one several requests share (one coalesced cache
    /// load); the cause is logged here.
    pub fn from_shared_db_error(err: &db::DbError) -> Self {
        match err {
            db::DbError::NotFound(what) => ApiError::not_found(what),
            db::DbError::Invalid { field, message } => ApiError::validation(field, message.clone()),
            db::DbError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message.clone()),
            db::DbError::Db(e) if is_unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::new(
                    ErrorCode::ServiceUnavailable,
                    "the database is not answering; try again shortly",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

fn is_unavailable(err: &db::DbErr) -> bool {
    matches!(err, db::DbErr::ConnectionAcquire(_) | db::DbErr::Conn(_))
}

/// Turns actix's JSON, path and query extractor failures into the envelope.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{Error, HttpRequest};
    use common::ErrorCode;

    use super::ApiError;

    /// The body could not be read as JSON. The rule: JSON that does not parse (syntax, cut
    /// short) is 400 `malformed_json`; JSON that parses but does not fit the endpoint (missing,
    /// unknown or wrongly typed field, unknown enum value) is 422 `validation_failed`.
    pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> Error {
        let api = match &err {
            JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body is {length} bytes; the limit is {limit}"),
            ),
            JsonPayloadError::Overflow { limit } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body exceeds the limit of {limit} bytes"),
            ),
            JsonPayloadError::ContentType => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            // Reached only through a plain `web::Json<T>`: `routes::ApiJson` reads a `Value`,
            // which fails on syntax alone, and then names the field of a data error itself.
            // Prefer `ApiJson`: serde_json calls some wrong types (a number where an enum is
            // expected) syntax errors, which this branch cannot tell apart.
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::new(ErrorCode::ValidationFailed, format!("invalid body: {e}"))
            }
            JsonPayloadError::Deserialize(e) => ApiError::new(
                ErrorCode::MalformedJson,
                format!("body is not valid JSON: {e}"),
            ),
            other => ApiError::new(
                ErrorCode::MalformedJson,
                format!("could not read the body: {other}"),
            ),
        };
        api.into()
    }

    pub fn path_error(err: PathError, _req: &HttpRequest) -> Error {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("invalid path parameter: {err}"),
        )
        .into()
    }

    pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> Error {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("invalid query parameter: {err}"),
        )
        .into()
    }
}
