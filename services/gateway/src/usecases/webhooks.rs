//! A tenant's webhook endpoints: created, changed and given a new secret.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use common::subscription::Feature;
use common::{ErrorCode, EventKind, WebhookEndpointId};
use db::webhooks::{Endpoint, EndpointChanges, NewEndpoint, WebhookSecret};

use super::FieldError;
use crate::auth::TenantAdmin;
use crate::error::ApiError;
use crate::routes::plans::features_of;
use crate::routes::webhooks::{CreateEndpoint, RotateSecret, UpdateEndpoint};
use crate::state::AppState;

/// Most characters of a description.
const MAX_DESCRIPTION: usize = 500;
/// Default and longest overlap of a rotation, in seconds.
const DEFAULT_OVERLAP_SECONDS: i64 = 24 * 3600;
const MAX_OVERLAP_SECONDS: i64 = 7 * 24 * 3600;

/// A new endpoint whose fields were checked, but for its URL's host, which [`create`] looks up.
#[derive(Debug)]
pub struct EndpointInput {
    pub url: String,
    pub event_types: Vec<EventKind>,
    pub description: Option<String>,
    pub enabled: bool,
}

impl EndpointInput {
    pub fn parse(body: CreateEndpoint) -> Result<Self, FieldError> {
        Ok(Self {
            event_types: event_types(body.event_types)?,
            description: description(body.description)?,
            url: body.url,
            enabled: body.enabled.unwrap_or(true),
        })
    }
}

/// Changes to an endpoint whose fields were checked (its URL's host is looked up by [`update`]).
#[derive(Debug)]
pub struct EndpointEdit {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventKind>>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

impl EndpointEdit {
    pub fn parse(body: UpdateEndpoint) -> Result<Self, FieldError> {
        Ok(Self {
            event_types: body.event_types.map(event_types).transpose()?,
            description: body.description.map(description).transpose()?,
            url: body.url,
            enabled: body.enabled,
        })
    }
}

/// Until when the secret a rotation replaces keeps signing (`None`: it stops at once).
pub fn overlap_until(
    body: RotateSecret,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    if !(0..=MAX_OVERLAP_SECONDS).contains(&overlap) {
        return Err(FieldError::new(
            "overlapSeconds",
            format!("`overlapSeconds` must be between 0 and {MAX_OVERLAP_SECONDS}"),
        ));
    }
    Ok((overlap > 0).then(|| now + TimeDelta::seconds(overlap)))
}

fn event_types(types: Vec<EventKind>) -> Result<Vec<EventKind>, FieldError> {
    if types.is_empty() {
        return Err(FieldError::new(
            "eventTypes",
            "`eventTypes` must name at least one event type",
        ));
    }
    let mut seen = BTreeSet::new();
    Ok(types
        .into_iter()
        .filter(|t| seen.insert(t.as_str()))
        .collect())
}

fn description(text: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(FieldError::new(
            "description",
            format!("`description` must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(Some(text))
}

/// 403 unless the caller has the `webhooks` feature (users without a plan have every feature).
pub async fn require_feature(state: &AppState, admin: &TenantAdmin) -> Result<(), ApiError> {
    let features = features_of(state, &admin.0, admin.0.user_id()).await?;
    if features.contains(&Feature::Webhooks) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::FeatureNotEnabled,
            format!(
                "feature `{}` is not enabled for this user",
                Feature::Webhooks
            ),
        ))
    }
}

/// The URL checked as a target: http(s), no credentials, and a host whose addresses pass the
/// egress check (looked up now; `worker-webhook` checks again at every connection).
async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let allow_private = state.config.webhook_allow_private;
    let target = egress::Target::parse(url, allow_private)
        .map_err(|e| ApiError::validation("url", format!("`url`: {e}")))?;
    let guard = egress::Guard::new(allow_private, Arc::new(egress::SystemLookup));
    guard
        .resolve(&target)
        .await
        .map_err(|e| ApiError::validation("url", format!("`url`: {e}")))?;
    Ok(target.as_str().to_owned())
}

/// Creates an endpoint with a new secret (returned: the caller shows it once). The input is
/// judged after the feature check: a tenant without webhooks hears 403 whatever it sent.
pub async fn create(
    state: &AppState,
    admin: &TenantAdmin,
    input: Result<EndpointInput, FieldError>,
) -> Result<(Endpoint, WebhookSecret), ApiError> {
    require_feature(state, admin).await?;
    let input = input?;
    let url = checked_url(state, &input.url).await?;
    let secret = WebhookSecret::generate();
    let endpoint = db::webhooks::create(
        admin.0.scope(&state.db),
        NewEndpoint {
            url,
            description: input.description,
            event_types: input.event_types,
            enabled: input.enabled,
            created_by: admin.0.user_id(),
            sealed_secret: state.token_cipher.encrypt(secret.expose()),
        },
    )
    .await?;
    Ok((endpoint, secret))
}

/// Changes the fields given. Another tenant's endpoint is 404 before its input is judged.
pub async fn update(
    state: &AppState,
    admin: &TenantAdmin,
    id: WebhookEndpointId,
    edit: Result<EndpointEdit, FieldError>,
) -> Result<Endpoint, ApiError> {
    require_feature(state, admin).await?;
    db::webhooks::find(admin.0.scope(&state.db), id).await?;
    let edit = edit?;
    let url = match edit.url {
        Some(url) => Some(checked_url(state, &url).await?),
        None => None,
    };
    Ok(db::webhooks::update(
        admin.0.scope(&state.db),
        id,
        EndpointChanges {
            url,
            description: edit.description,
            event_types: edit.event_types,
            enabled: edit.enabled,
        },
    )
    .await?)
}

/// Replaces the endpoint's secret; the old one signs too until `previous_until`.
pub async fn rotate_secret(
    state: &AppState,
    admin: &TenantAdmin,
    id: WebhookEndpointId,
    previous_until: Option<DateTime<Utc>>,
) -> Result<(Endpoint, WebhookSecret), ApiError> {
    let secret = WebhookSecret::generate();
    let endpoint = db::webhooks::rotate_secret(
        admin.0.scope(&state.db),
        id,
        state.token_cipher.encrypt(secret.expose()),
        previous_until,
    )
    .await?;
    Ok((endpoint, secret))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn event_types_are_required_and_deduplicated_and_descriptions_trimmed() {
        let body =
            |value: serde_json::Value| -> CreateEndpoint { serde_json::from_value(value).unwrap() };
        let input = EndpointInput::parse(body(json!({
            "url": "https://example.com/hook",
            "eventTypes": ["campaign.completed", "campaign.completed", "import.completed"],
            "description": "  ops  ",
        })))
        .unwrap();
        assert_eq!(
            input.event_types,
            [EventKind::CampaignCompleted, EventKind::ImportCompleted]
        );
        assert_eq!(input.description.as_deref(), Some("ops"));
        assert!(input.enabled);
        let none = EndpointInput::parse(body(json!({"url": "https://e.com", "eventTypes": []})));
        assert_eq!(none.unwrap_err().field, "eventTypes");
        let long = EndpointInput::parse(body(json!({
            "url": "https://e.com", "eventTypes": ["campaign.completed"], "description": "x".repeat(501),
        })));
        assert_eq!(long.unwrap_err().field, "description");
    }

    #[test]
    fn a_rotation_overlaps_a_day_by_default_and_at_most_a_week() {
        let now = Utc::now();
        let rotate =
            |value: serde_json::Value| overlap_until(serde_json::from_value(value).unwrap(), now);
        assert_eq!(rotate(json!({})).unwrap(), Some(now + TimeDelta::days(1)));
        assert_eq!(rotate(json!({"overlapSeconds": 0})).unwrap(), None);
        assert_eq!(
            rotate(json!({"overlapSeconds": 604_801}))
                .unwrap_err()
                .field,
            "overlapSeconds"
        );
    }
}
