//! The gateway's use cases: each is one function that owns its transaction (validate, check
//! quota, feature and permission, write, enqueue, commit, wake the relay), so a handler is
//! extract -> call -> respond. A request body is first parsed into a validated type (pure: no
//! I/O, unit-tested), then handed to its use case.
//!
//! Use cases the workers share live in the `app` crate; these are the gateway's own. Moved
//! here so far: creating a campaign, importing opt-outs, a webhook endpoint's creation, changes
//! and secret rotation. (Planned: the other handlers that
//! still validate inline.)

pub mod campaigns;
pub mod consent;
pub mod webhooks;

use crate::error::ApiError;

/// Why a request body is not valid: the field to blame and what is wrong with it (the API
/// answers 422 `validation_failed` naming the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::validation(&error.field, error.message)
    }
}

/// Trims a required text field and checks its length.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("`{field}` must be at most {max_chars} characters"),
        ));
    }
    Ok(value.to_owned())
}
