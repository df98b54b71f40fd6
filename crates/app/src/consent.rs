//! Opting numbers out: recorded, and their pending messages skipped, together.

use common::{AccountId, InboxId};
use db::consent::{NewOptOut, SKIPPED_OPTED_OUT};
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

/// What opting numbers out did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptedOut {
    /// The phones that were not opted out before (a repeated opt-out keeps its first time).
    pub new_phones: Vec<String>,
    /// Pending recipients of the account's campaigns that will not be messaged now.
    pub recipients_skipped: u64,
}

/// Opts phones of an account out (the first time of each is kept) and skips their pending
/// recipients in the account's campaigns, those of phones opted out before included.
/// `inbox_id`: the number they wrote to, if any. Run it in a transaction: a committed opt-out
/// never leaves a pending message to its number.
pub async fn opt_out(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    inbox_id: Option<InboxId>,
    opt_outs: &[NewOptOut],
) -> DbResult<OptedOut> {
    if opt_outs.is_empty() {
        return Ok(OptedOut::default());
    }
    let new_phones = db::consent::insert_opt_outs(scope, account_id, inbox_id, opt_outs).await?;
    let mut phones: Vec<String> = opt_outs.iter().map(|o| o.phone.clone()).collect();
    phones.sort_unstable();
    phones.dedup();
    let recipients_skipped = db::campaigns::skip_pending_recipients_with_phones(
        scope,
        account_id,
        &phones,
        SKIPPED_OPTED_OUT,
    )
    .await?;
    Ok(OptedOut {
        new_phones,
        recipients_skipped,
    })
}
