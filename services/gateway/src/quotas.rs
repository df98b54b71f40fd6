//! Enforcing a user's subscription where things are created: `max_inboxes` on
//! `POST /api/inboxes`, `max_contacts` on `POST /api/contacts`, and `max_campaigns`,
//! `messages_per_day` and the `bulk_campaigns` feature on `POST /api/campaigns`.
//!
//! A handler opens an [`Admission`], writes through [`Admission::txn`] and commits it. The
//! admission has locked the account's row (when the quota is limited) and counted its usage in
//! that transaction, so concurrent creators of one account take turns and the count stays exact.
//! The limits are the creating user's; the usage is its account's.

use std::collections::BTreeSet;

use common::subscription::{Feature, Quota};
use common::{AccountId, ErrorCode, TenantId, UserId};
use db::plans::QuotaLimits;
use db::quotas::UsageChange;
use db::{DbError, TenantScope};
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::routes::plans::{features_of, limits_of};
use crate::state::AppState;

/// An open transaction in which the caller may create one more of something.
pub struct Admission {
    txn: DatabaseTransaction,
    tenant_id: TenantId,
    account_id: AccountId,
    user_id: UserId,
    limits: QuotaLimits,
    /// What this creation adds to limited quotas, announced at 80% and 100% on commit.
    changes: Vec<UsageChange>,
    /// Publishes the notification jobs of those announcements at once.
    relay_waker: outbox::RelayWaker,
    /// Read only for campaigns, the one creation a feature governs.
    features: BTreeSet<Feature>,
}

/// Admits one more of `quota` (an inbox or a contact) for the caller's account.
pub async fn admit(
    state: &AppState,
    user: &TenantUser,
    quota: Quota,
) -> Result<Admission, ApiError> {
    let mut admission = open(state, user, BTreeSet::new()).await?;
    admission.admit_one(quota).await?;
    Ok(admission)
}

/// Admits one more campaign; once it is written, [`Admission::admit_recipients`] checks its
/// recipients.
pub async fn admit_campaign(state: &AppState, user: &TenantUser) -> Result<Admission, ApiError> {
    let features = features_of(state, user, user.user_id()).await?;
    let mut admission = open(state, user, features).await?;
    admission.admit_one(Quota::MaxCampaigns).await?;
    // A campaign has at least one recipient: refuse before writing one when none is left.
    if let Some(limit) = admission.limits.messages_per_day {
        let used = admission.locked_usage(Quota::MessagesPerDay).await?;
        if used >= limit {
            return Err(exceeded(Quota::MessagesPerDay, limit, used));
        }
    }
    Ok(admission)
}

/// Reads the caller's limits (cached) and only then opens the transaction: a cache miss loads
/// through a pool connection of its own, which must not wait behind one this request holds.
async fn open(
    state: &AppState,
    user: &TenantUser,
    features: BTreeSet<Feature>,
) -> Result<Admission, ApiError> {
    let tenant_id = user.tenant_id();
    let account_id = user.account_id()?;
    let limits = limits_of(state, user, user.user_id()).await?;
    let txn = state.db.begin().await.map_err(DbError::from)?;
    Ok(Admission {
        txn,
        tenant_id,
        account_id,
        user_id: user.user_id(),
        limits,
        changes: Vec::new(),
        relay_waker: state.relay_waker.clone(),
        features,
    })
}

fn exceeded(quota: Quota, limit: i64, used: i64) -> ApiError {
    ApiError::new(
        ErrorCode::QuotaExceeded,
        format!("quota `{quota}` reached: {used} of {limit} used"),
    )
}

impl Admission {
    /// Where the creation is written; [`commit`](Self::commit) makes it stick.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    fn scope(&self) -> TenantScope<'_, DatabaseTransaction> {
        TenantScope::for_caller(&self.txn, self.tenant_id)
    }

    /// The account's usage of `quota` after locking the account (again: a no-op in the same
    /// transaction), counting this transaction's own rows.
    async fn locked_usage(&self, quota: Quota) -> Result<i64, ApiError> {
        db::quotas::lock_account(self.scope(), self.account_id).await?;
        Ok(db::quotas::usage(self.scope(), self.account_id, quota).await?)
    }

    async fn admit_one(&mut self, quota: Quota) -> Result<(), ApiError> {
        let Some(limit) = self.limits.get(quota) else {
            return Ok(());
        };
        let used = self.locked_usage(quota).await?;
        if used >= limit {
            return Err(exceeded(quota, limit, used));
        }
        self.changes.push(UsageChange {
            quota,
            limit,
            before: used,
            after: used + 1,
        });
        Ok(())
    }

    /// After the campaign is written in this transaction: more than one recipient needs
    /// `bulk_campaigns`, and its recipients must fit in what is left of `messages_per_day`.
    pub async fn admit_recipients(&mut self, recipients: i32) -> Result<(), ApiError> {
        if recipients > 1 && !self.features.contains(&Feature::BulkCampaigns) {
            return Err(ApiError::new(
                ErrorCode::FeatureNotEnabled,
                format!(
                    "feature `{}` is not enabled for this user: a campaign with more than one recipient needs it",
                    Feature::BulkCampaigns
                ),
            ));
        }
        let Some(limit) = self.limits.messages_per_day else {
            return Ok(());
        };
        let recipients = i64::from(recipients);
        // The count includes the campaign just written.
        let used = self.locked_usage(Quota::MessagesPerDay).await? - recipients;
        if used + recipients > limit {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "quota `{}` reached: {used} of {limit} used today, and this campaign has {recipients} recipient(s)",
                    Quota::MessagesPerDay
                ),
            ));
        }
        self.changes.push(UsageChange {
            quota: Quota::MessagesPerDay,
            limit,
            before: used,
            after: used + recipients,
        });
        Ok(())
    }

    /// Commits the creation, with a `quota.warning` or `quota.reached` event for each quota it
    /// took past 80% or 100%.
    pub async fn commit(self) -> Result<(), ApiError> {
        let mut announced = false;
        for change in &self.changes {
            announced |=
                app::quotas::announce_usage(self.scope(), self.user_id, self.account_id, *change)
                    .await?
                    .is_some();
        }
        self.txn.commit().await.map_err(DbError::from)?;
        if announced {
            self.relay_waker.wake();
        }
        Ok(())
    }
}
