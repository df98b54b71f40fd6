//! Consent: who opted out of an account's campaigns, and the keywords that opt in and out.
//!
//! An opt-out belongs to a phone within an account, not to a contact, so it outlives the
//! contact (deleting and re-importing a number does not opt it back in). It is recorded when
//! a contact replies an opt-out keyword (worker-inbound) or when a tenant imports the list it
//! kept elsewhere ([`insert_opt_outs`]); it is removed only by the contact replying an opt-in
//! keyword ([`opt_in`]). Recording one also skips the phone's pending recipients in the
//! account's unfinished campaigns, in the same transaction (`app::consent::opt_out` ties the
//! two); a new campaign skips opted-out phones as it is created ([`skip_opted_out`]).

use chrono::{DateTime, Utc};
use common::consent::Keywords;
use common::sql;
use common::{AccountId, CampaignId, InboxId, OptOutId, RecipientStatus};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::{DbResult, TenantScope};

/// What a skipped recipient's `error` says when the contact opted out.
pub const SKIPPED_OPTED_OUT: &str = "the contact opted out";
/// What a skipped recipient's `error` says when the campaign is limited to contacts who wrote
/// before and this one never did.
pub const SKIPPED_NEVER_WROTE: &str = "the contact has never written to this number";

/// A tenant's keywords as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKeywords {
    pub keywords: Keywords,
    /// False: the defaults ([`common::consent::DEFAULT_OPT_OUT`], ...).
    pub custom: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The tenant's keywords, or the defaults.
pub async fn keywords(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<TenantKeywords> {
    #[derive(FromQueryResult)]
    struct Row {
        opt_out: Vec<String>,
        opt_in: Vec<String>,
        updated_at: DateTime<Utc>,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT opt_out, opt_in, updated_at FROM consent_keywords WHERE tenant_id = $1"),
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?;
    Ok(match row {
        Some(row) => TenantKeywords {
            keywords: Keywords {
                opt_out: row.opt_out,
                opt_in: row.opt_in,
            },
            custom: true,
            updated_at: Some(row.updated_at),
        },
        None => TenantKeywords {
            keywords: Keywords::default(),
            custom: false,
            updated_at: None,
        },
    })
}

/// Replaces the tenant's keywords (checked and normalised by [`Keywords::new`]).
pub async fn set_keywords(
    scope: TenantScope<'_, impl ConnectionTrait>,
    keywords: &Keywords,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO consent_keywords (tenant_id, opt_out, opt_in) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE
                SET opt_out = EXCLUDED.opt_out, opt_in = EXCLUDED.opt_in, updated_at = now()"
            ),
            [
                scope.tenant_uuid().into(),
                keywords.opt_out.clone().into(),
                keywords.opt_in.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Goes back to the default keywords.
pub async fn reset_keywords(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("DELETE FROM consent_keywords WHERE tenant_id = $1"),
            [scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(())
}

/// One opted-out phone of an account.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct OptOut {
    pub id: OptOutId,
    pub account_id: AccountId,
    /// E.164 digits.
    pub phone: String,
    pub opted_out_at: DateTime<Utc>,
    /// What the contact wrote (empty for an imported opt-out without one).
    pub message: String,
    /// The number it was written to; `None` when imported or the inbox is gone.
    pub inbox_id: Option<InboxId>,
}

/// One opt-out to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOptOut {
    /// E.164 digits.
    pub phone: String,
    pub at: DateTime<Utc>,
    pub message: String,
}

/// Most opt-outs [`insert_opt_outs`] takes at once (each is three array elements).
pub const MAX_OPT_OUTS_PER_CALL: usize = 10_000;

/// Records opt-outs of an account's phones (the earliest one of each phone in the call; a
/// phone already opted out keeps its first time). Returns the phones opted out by this call.
/// Skipping their pending recipients is the caller's next step (`app::consent::opt_out`).
pub async fn insert_opt_outs(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    inbox_id: Option<InboxId>,
    opt_outs: &[NewOptOut],
) -> DbResult<Vec<String>> {
    if opt_outs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = opt_outs
        .iter()
        .map(|_| OptOutId::new().into_uuid())
        .collect();
    let phones: Vec<String> = opt_outs.iter().map(|o| o.phone.clone()).collect();
    let times: Vec<DateTime<Utc>> = opt_outs.iter().map(|o| o.at).collect();
    let messages: Vec<String> = opt_outs.iter().map(|o| o.message.clone()).collect();
    #[derive(FromQueryResult)]
    struct Row {
        phone: String,
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        // One row per phone (its earliest opt-out of the call): ON CONFLICT cannot touch a
        // row twice in one statement.
        sql!("INSERT INTO opt_outs (id, tenant_id, account_id, phone, opted_out_at, message, inbox_id)
         SELECT DISTINCT ON (u.phone) u.id, $1, $2, u.phone, u.at, u.message, $3
           FROM unnest($4::uuid[], $5::text[], $6::timestamptz[], $7::text[]) AS u(id, phone, at, message)
          ORDER BY u.phone, u.at
         ON CONFLICT (tenant_id, account_id, phone) DO NOTHING
         RETURNING phone"),
        [
            scope.tenant_uuid().into(),
            account_id.into_uuid().into(),
            inbox_id.map(InboxId::into_uuid).into(),
            ids.into(),
            phones.into(),
            times.into(),
            messages.into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    Ok(rows.into_iter().map(|row| row.phone).collect())
}

/// Opts phones of an account back in (a contact replied an opt-in keyword). Recipients
/// skipped before stay skipped; later campaigns message them again. Returns the phones that
/// were opted out.
pub async fn opt_in(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    phones: &[String],
) -> DbResult<Vec<String>> {
    if phones.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(FromQueryResult)]
    struct Row {
        phone: String,
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "DELETE FROM opt_outs WHERE tenant_id = $1 AND account_id = $2 AND phone = ANY($3)
         RETURNING phone"
        ),
        [
            scope.tenant_uuid().into(),
            account_id.into_uuid().into(),
            phones.to_vec().into(),
        ],
    ))
    .all(scope.conn())
    .await?;
    Ok(rows.into_iter().map(|r| r.phone).collect())
}

/// Up to `limit` of the tenant's opt-outs after `after`, in id order, and whether more follow.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    after: Option<OptOutId>,
    limit: u64,
) -> DbResult<(Vec<OptOut>, bool)> {
    crate::tenant_page_by_id::<OptOut, OptOut>(
        scope,
        sql!(
            "SELECT id, account_id, phone, opted_out_at, message, inbox_id FROM opt_outs
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3"
        ),
        after.map(OptOutId::into_uuid),
        limit,
    )
    .await
}

/// The account's opt-out of `phone`, if it opted out.
pub async fn find(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    phone: &str,
) -> DbResult<Option<OptOut>> {
    Ok(OptOut::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT id, account_id, phone, opted_out_at, message, inbox_id FROM opt_outs
          WHERE tenant_id = $1 AND account_id = $2 AND phone = $3"
        ),
        [
            scope.tenant_uuid().into(),
            account_id.into_uuid().into(),
            phone.into(),
        ],
    ))
    .one(scope.conn())
    .await?)
}

/// Skips the pending recipients of a new campaign whose phones opted out of its account.
pub async fn skip_opted_out(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    account_id: AccountId,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE campaign_recipients r SET status = $4, error = $5, updated_at = now()
               FROM opt_outs o
              WHERE r.campaign_id = $1 AND r.tenant_id = $2 AND r.status = $6
                AND o.tenant_id = $2 AND o.account_id = $3 AND o.phone = r.phone"
            ),
            [
                campaign_id.into_uuid().into(),
                scope.tenant_uuid().into(),
                account_id.into_uuid().into(),
                RecipientStatus::Skipped.into(),
                SKIPPED_OPTED_OUT.into(),
                RecipientStatus::Pending.into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Skips the pending recipients of a campaign who never wrote to its inbox's number (a
/// campaign limited to contacts who wrote before).
pub async fn skip_never_written(
    scope: TenantScope<'_, impl ConnectionTrait>,
    campaign_id: CampaignId,
    inbox_id: InboxId,
) -> DbResult<u64> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("UPDATE campaign_recipients r SET status = $4, error = $5, updated_at = now()
              WHERE r.campaign_id = $1 AND r.tenant_id = $2 AND r.status = $6
                AND NOT EXISTS (SELECT 1 FROM inbox_conversations ic
                                 WHERE ic.inbox_id = $3 AND ic.tenant_id = $2 AND ic.phone = r.phone)"),
            [
                campaign_id.into_uuid().into(),
                scope.tenant_uuid().into(),
                inbox_id.into_uuid().into(),
                RecipientStatus::Skipped.into(),
                SKIPPED_NEVER_WROTE.into(),
                RecipientStatus::Pending.into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}
