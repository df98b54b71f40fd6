//! The API-wide error envelope and its stable codes.
//!
//! Every error response has one shape, `{"success":false,"code":"...","error":"..."}`, matching the
//! scaling guide's rate-limit body. `code` is for machines and never changes meaning; `error` is
//! for people and says what to do.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Adding one is fine; renaming one breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// The body is not valid JSON.
    MalformedJson,
    /// The JSON is well-formed but a field is missing, has the wrong type or an invalid value.
    ValidationFailed,
    /// A query-string or path parameter is invalid.
    InvalidParameter,
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// No credentials, or credentials that match no active key.
    Unauthenticated,
    /// Authenticated, but the role may not do this.
    Forbidden,
    /// A request on a browser session that changes something carries no `X-CSRF-Token`
    /// header, or not the session's token; nothing was changed.
    CsrfFailed,
    /// No such object, or it belongs to another tenant.
    NotFound,
    /// The object conflicts with an existing one (e.g. duplicate phone or email), or is not in
    /// a state that allows the request (a report that is not ready yet).
    Conflict,
    /// The object existed but is gone for good (an expired report's file).
    Gone,
    /// The tenant exceeded its plan's request rate.
    RateLimited,
    /// The user's subscription plan allows no more of something (inboxes, contacts, campaigns,
    /// messages today); the message names the quota, its limit and its usage.
    QuotaExceeded,
    /// The user's subscription plan does not include the feature the request needs.
    FeatureNotEnabled,
    /// A signed request (a Stripe webhook) carries no valid signature; nothing was recorded.
    InvalidSignature,
    /// A dependency (database, broker) is not answering; retrying later may work.
    ServiceUnavailable,
    /// Something failed on our side; details are in the logs, never in the response.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is always sent with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidSignature => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed | ErrorCode::FeatureNotEnabled => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::Gone => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationFailed => 422,
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => 429,
            ErrorCode::Internal => 500,
            ErrorCode::ServiceUnavailable => 503,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    pub code: ErrorCode,
    /// What went wrong, in words a person can act on.
    pub error: String,
    /// The offending field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, error: impl Into<String>) -> Self {
        Self {
            success: false,
            code,
            error: error.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_documented_shape() {
        let body = ErrorBody::new(ErrorCode::NotFound, "campaign not found");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"success": false, "code": "not_found", "error": "campaign not found"})
        );
        let body = ErrorBody::new(ErrorCode::ValidationFailed, "bad").with_field("phone");
        assert_eq!(serde_json::to_value(&body).unwrap()["field"], "phone");
    }
}
