//! Opting numbers out by import (a list the tenant kept in another tool).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use common::PhoneNumber;
use db::consent::{MAX_OPT_OUTS_PER_CALL, NewOptOut};
use sea_orm::TransactionTrait;

use super::FieldError;
use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::routes::consent::ImportOptOuts;
use crate::state::AppState;

/// The longest message kept with an imported opt-out.
const MAX_IMPORTED_MESSAGE_CHARS: usize = 200;
/// How far in the future an opt-out's time may be (clock skew): beyond it, refused.
const FUTURE_SLACK: TimeDelta = TimeDelta::minutes(5);

/// An opt-out import whose every entry was checked: what [`import`] records.
#[derive(Debug)]
pub struct OptOutImport {
    pub opt_outs: Vec<NewOptOut>,
}

impl OptOutImport {
    /// Checks `body` as of `now`. All or nothing: the first wrong entry is blamed
    /// (`optOuts[i].phone`, ...).
    pub fn parse(body: ImportOptOuts, now: DateTime<Utc>) -> Result<Self, FieldError> {
        if body.opt_outs.is_empty() || body.opt_outs.len() > MAX_OPT_OUTS_PER_CALL {
            return Err(FieldError::new(
                "optOuts",
                format!("`optOuts` takes 1 to {MAX_OPT_OUTS_PER_CALL} numbers per request"),
            ));
        }
        let mut opt_outs = Vec::with_capacity(body.opt_outs.len());
        for (i, entry) in body.opt_outs.into_iter().enumerate() {
            let phone = PhoneNumber::parse(&entry.phone)
                .map_err(|e| FieldError::new(&format!("optOuts[{i}].phone"), e.to_string()))?;
            let at = entry.opted_out_at.unwrap_or(now);
            if at > now + FUTURE_SLACK {
                return Err(FieldError::new(
                    &format!("optOuts[{i}].optedOutAt"),
                    "`optedOutAt` is in the future",
                ));
            }
            if entry.message.chars().count() > MAX_IMPORTED_MESSAGE_CHARS {
                return Err(FieldError::new(
                    &format!("optOuts[{i}].message"),
                    format!("`message` must be at most {MAX_IMPORTED_MESSAGE_CHARS} characters"),
                ));
            }
            opt_outs.push(NewOptOut {
                phone: phone.digits().to_owned(),
                at,
                message: entry.message,
            });
        }
        Ok(Self { opt_outs })
    }

    /// Distinct numbers in the import.
    pub fn distinct_phones(&self) -> usize {
        self.opt_outs
            .iter()
            .map(|o| o.phone.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedOptOuts {
    /// Distinct numbers in the request.
    pub received: usize,
    /// Numbers opted out by this import.
    pub opted_out: usize,
    /// Pending recipients of the account's campaigns that will not be messaged now.
    pub recipients_skipped: u64,
}

/// Opts the numbers out of the caller's account and skips their pending recipients, in one
/// transaction.
pub async fn import(
    state: &AppState,
    user: &TenantUser,
    import: OptOutImport,
) -> Result<ImportedOptOuts, ApiError> {
    let account_id = user.account_id()?;
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let done = app::consent::opt_out(user.scope(&txn), account_id, None, &import.opt_outs).await?;
    txn.commit().await.map_err(db::DbError::from)?;
    Ok(ImportedOptOuts {
        received: import.distinct_phones(),
        opted_out: done.new_phones.len(),
        recipients_skipped: done.recipients_skipped,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(entries: serde_json::Value) -> ImportOptOuts {
        serde_json::from_value(json!({ "optOuts": entries })).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn numbers_are_normalised_and_dated_now_when_undated() {
        let import = OptOutImport::parse(
            body(json!([
                {"phone": "+55 11 98765-4321", "message": "PARE"},
                {"phone": "5511987654321", "optedOutAt": "2026-12-01T08:00:00Z"},
            ])),
            now(),
        )
        .unwrap();
        assert_eq!(import.opt_outs[0].phone, "5511987654321");
        assert_eq!(import.opt_outs[0].at, now());
        assert_eq!(import.opt_outs[0].message, "PARE");
        assert_eq!(import.distinct_phones(), 1);
    }

    #[test]
    fn the_first_wrong_entry_is_blamed_by_its_index() {
        let wrong = |entries: serde_json::Value| {
            OptOutImport::parse(body(entries), now()).unwrap_err().field
        };
        assert_eq!(wrong(json!([])), "optOuts");
        assert_eq!(
            wrong(json!([{"phone": "5511987654321"}, {"phone": "call me"}])),
            "optOuts[1].phone"
        );
        assert_eq!(
            wrong(json!([{"phone": "5511987654321", "optedOutAt": "2026-12-07T12:06:00Z"}])),
            "optOuts[0].optedOutAt"
        );
        assert_eq!(
            wrong(json!([{"phone": "5511987654321", "message": "x".repeat(201)}])),
            "optOuts[0].message"
        );
    }
}
