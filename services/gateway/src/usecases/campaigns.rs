//! Creating a campaign.

use chrono::{DateTime, TimeDelta, Utc};
use common::jobs::kind::CampaignBatch;
use common::template::{MAX_TEMPLATE_LEN, Template};
use common::{CampaignAudience, ContactId, InboxId};
use db::campaigns::Campaign;
use db::jobs::{Enqueue, Job};

use super::{FieldError, required_text};
use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::routes::campaigns::CreateCampaign;
use crate::state::AppState;

/// Most recipients one campaign may have (bigger sends are several campaigns or an import).
pub const MAX_RECIPIENTS: usize = 100_000;
/// The longest pause between two messages: ten minutes.
const MAX_DELAY_MS: u32 = 10 * 60 * 1000;
/// How far in the past `scheduledAt` may be (clock skew, slow networks): it then starts now.
const SCHEDULE_SLACK: TimeDelta = TimeDelta::seconds(5);
/// How far ahead a campaign may be scheduled.
const SCHEDULE_HORIZON_DAYS: i64 = 365;

/// A campaign request whose every field was checked: what [`create`] writes.
#[derive(Debug)]
pub struct NewCampaign {
    pub name: String,
    pub inbox_id: InboxId,
    /// The template as written (stored), and parsed (checked against the contacts).
    pub template_text: String,
    pub template: Template,
    pub contact_ids: Vec<ContactId>,
    pub delay_min_ms: i32,
    pub delay_max_ms: i32,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub audience: CampaignAudience,
}

impl NewCampaign {
    /// Checks `body` as of `now`; the first field found wrong is blamed.
    pub fn parse(body: CreateCampaign, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let name = required_text("name", &body.name, 200)?;
        if body.template.len() > MAX_TEMPLATE_LEN {
            return Err(FieldError::new(
                "template",
                format!("`template` must be at most {MAX_TEMPLATE_LEN} bytes"),
            ));
        }
        let template = Template::parse(&body.template)
            .map_err(|e| FieldError::new("template", e.to_string()))?;
        if body.contact_ids.is_empty() {
            return Err(FieldError::new(
                "contactIds",
                "`contactIds` must name at least one contact",
            ));
        }
        if body.contact_ids.len() > MAX_RECIPIENTS {
            return Err(FieldError::new(
                "contactIds",
                format!("at most {MAX_RECIPIENTS} contacts per campaign"),
            ));
        }
        if body.delay_min_ms > body.delay_max_ms || body.delay_max_ms > MAX_DELAY_MS {
            return Err(FieldError::new(
                "delayMinMs",
                "`delayMinMs` must not exceed `delayMaxMs`, and delays are at most 600000 ms",
            ));
        }
        if let Some(at) = body.scheduled_at {
            check_schedule(at, now)?;
        }
        Ok(Self {
            name,
            inbox_id: body.inbox_id,
            template_text: body.template,
            template,
            contact_ids: body.contact_ids,
            // At most MAX_DELAY_MS, checked above.
            delay_min_ms: body.delay_min_ms as i32,
            delay_max_ms: body.delay_max_ms as i32,
            scheduled_at: body.scheduled_at,
            audience: body.audience,
        })
    }
}

/// `scheduledAt` must be between `now` minus [`SCHEDULE_SLACK`] and [`SCHEDULE_HORIZON_DAYS`]
/// ahead: earlier is a mistake, later would never run (and extreme years do not fit Postgres).
fn check_schedule(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), FieldError> {
    if at < now - SCHEDULE_SLACK {
        return Err(FieldError::new(
            "scheduledAt",
            "scheduledAt is in the past; leave it out to start now",
        ));
    }
    if at > now + TimeDelta::days(SCHEDULE_HORIZON_DAYS) {
        return Err(FieldError::new(
            "scheduledAt",
            format!("scheduledAt must be at most {SCHEDULE_HORIZON_DAYS} days ahead"),
        ));
    }
    Ok(())
}

/// Creates the campaign for `user`'s account and queues its send, in one transaction: the
/// campaign and recipient quotas are admitted, the campaign and its recipients written (the
/// contacts checked against the template first), its job enqueued, and the relay woken after
/// the commit. Recipients skipped (opted out, outside the audience) do not count against the
/// recipient quota.
pub async fn create(
    state: &AppState,
    user: &TenantUser,
    new: NewCampaign,
) -> Result<(Campaign, Job), ApiError> {
    let account_id = user.account_id()?;
    let mut admission = crate::quotas::admit_campaign(state, user).await?;
    let template = new.template;
    let created = db::campaigns::create(
        user.scope(admission.txn()),
        db::campaigns::NewCampaign {
            account_id,
            inbox_id: new.inbox_id,
            created_by: user.user_id(),
            name: new.name,
            template: new.template_text,
            contact_ids: new.contact_ids,
            delay_min_ms: new.delay_min_ms,
            delay_max_ms: new.delay_max_ms,
            scheduled_at: new.scheduled_at,
            audience: new.audience,
        },
        |contacts| missing_template_variables(&template, contacts),
    )
    .await?;
    let job = db::jobs::enqueue::<CampaignBatch>(
        user.scope(admission.txn()),
        created.campaign.id,
        &(),
        Enqueue {
            max_attempts: Some(state.config.campaign_attempts),
            run_at: new.scheduled_at,
            trace_context: telemetry::current_traceparent(),
        },
    )
    .await?;
    let messaged = i64::from(created.campaign.total) - created.skipped as i64;
    admission
        .admit_recipients(i32::try_from(messaged).unwrap_or(i32::MAX))
        .await?;
    admission.commit().await?;
    state.relay_waker.wake();
    Ok((created.campaign, job))
}

/// Refuses a template whose variables (without a default) some contacts lack, naming a few of
/// those contacts, so no recipient gets a message with a hole in it.
fn missing_template_variables(
    template: &Template,
    contacts: &[(ContactId, serde_json::Map<String, serde_json::Value>)],
) -> Result<(), db::DbError> {
    let lacking: Vec<(ContactId, Vec<String>)> = contacts
        .iter()
        .filter_map(|(id, variables)| {
            let missing: Vec<String> = template
                .missing_variables(variables)
                .into_iter()
                .map(str::to_owned)
                .collect();
            (!missing.is_empty()).then_some((*id, missing))
        })
        .collect();
    let Some((_, first_missing)) = lacking.first() else {
        return Ok(());
    };
    let examples: Vec<String> = lacking
        .iter()
        .take(5)
        .map(|(id, missing)| format!("{id} (no {})", missing.join(", ")))
        .collect();
    Err(db::DbError::Invalid {
        field: "template",
        message: format!(
            "{} contact(s) lack template variable(s) {}: e.g. {}; give the variable a default such as `{{{{{}|there}}}}` or fill the contacts' fields",
            lacking.len(),
            first_missing.join(", "),
            examples.join("; "),
            first_missing[0],
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> CreateCampaign {
        serde_json::from_value(json).unwrap()
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "name": "  Launch  ",
            "inboxId": InboxId::new(),
            "template": "{Hi|Hello} {{name|there}}!",
            "contactIds": [ContactId::new()],
        })
    }

    fn blamed(json: serde_json::Value) -> String {
        NewCampaign::parse(body(json), Utc::now())
            .unwrap_err()
            .field
    }

    #[test]
    fn a_valid_body_is_trimmed_and_keeps_its_defaults() {
        let new = NewCampaign::parse(body(valid()), Utc::now()).unwrap();
        assert_eq!(new.name, "Launch");
        assert_eq!((new.delay_min_ms, new.delay_max_ms), (3_000, 8_000));
        assert_eq!(new.audience, CampaignAudience::Everyone);
        assert_eq!(new.template_text, "{Hi|Hello} {{name|there}}!");
    }

    #[test]
    fn each_wrong_field_is_blamed() {
        let with = |key: &str, value: serde_json::Value| {
            let mut json = valid();
            json[key] = value;
            json
        };
        assert_eq!(blamed(with("name", " ".into())), "name");
        assert_eq!(blamed(with("template", "{{unclosed".into())), "template");
        assert_eq!(
            blamed(with("template", "x".repeat(MAX_TEMPLATE_LEN + 1).into())),
            "template"
        );
        assert_eq!(
            blamed(with("contactIds", serde_json::json!([]))),
            "contactIds"
        );
        let too_many: Vec<ContactId> = (0..=MAX_RECIPIENTS).map(|_| ContactId::new()).collect();
        assert_eq!(
            blamed(with("contactIds", serde_json::json!(too_many))),
            "contactIds"
        );
        let mut slow = with("delayMinMs", 9_000.into());
        assert_eq!(
            blamed(slow.clone()),
            "delayMinMs",
            "min above the default max"
        );
        slow["delayMaxMs"] = (MAX_DELAY_MS + 1).into();
        assert_eq!(blamed(slow), "delayMinMs", "max above ten minutes");
    }

    #[test]
    fn a_schedule_is_between_a_few_seconds_ago_and_a_year_ahead() {
        let now = Utc::now();
        assert!(check_schedule(now - TimeDelta::seconds(4), now).is_ok());
        assert!(check_schedule(now + TimeDelta::days(365), now).is_ok());
        assert_eq!(
            check_schedule(now - TimeDelta::seconds(6), now)
                .unwrap_err()
                .field,
            "scheduledAt"
        );
        assert!(check_schedule(now + TimeDelta::days(366), now).is_err());
    }
}
