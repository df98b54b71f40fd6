//! Consent: the tenant's opt-out and opt-in keywords, and the list of opted-out numbers.
//!
//! worker-inbound applies the keywords to the replies WUZAPI posts: a reply that is an opt-out
//! keyword opts its number out of every campaign of the inbox's account, and only an opt-in
//! keyword from the same number reverses it, so the API can list, import and export opt-outs
//! (a `opt_outs` report) but never delete one. Another tenant's opt-outs are never seen.

use actix_web::{delete, get, post, put, web};
use chrono::{DateTime, Utc};
use common::consent::Keywords;
use common::{AccountId, InboxId, OptOutId};
use db::consent::OptOut;
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, Routes, ok};
use crate::auth::{TenantAdmin, TenantUser};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;
use crate::usecases::{self, consent::OptOutImport};

pub fn routes(cfg: &mut Routes) {
    cfg.service(get_keywords)
        .service(put_keywords)
        .service(reset_keywords)
        .service(list_opt_outs)
        .service(import_opt_outs);
}

/// The keywords replies are compared with (whole reply, case, accents and surrounding
/// punctuation ignored).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeywordsView {
    /// Replies that opt a number out, normalised (upper case, no accents).
    opt_out: Vec<String>,
    /// Replies that opt it back in.
    opt_in: Vec<String>,
    /// False while the tenant uses the defaults.
    custom: bool,
    updated_at: Option<DateTime<Utc>>,
}

impl From<db::consent::TenantKeywords> for KeywordsView {
    fn from(k: db::consent::TenantKeywords) -> Self {
        Self {
            opt_out: k.keywords.opt_out,
            opt_in: k.keywords.opt_in,
            custom: k.custom,
            updated_at: k.updated_at,
        }
    }
}

/// The tenant's consent keywords (the defaults until an admin sets its own).
#[utoipa::path(
    tag = "consent",
    responses((status = 200, description = "The keywords", body = Envelope<KeywordsView>)),
)]
#[get("/consent/keywords")]
pub async fn get_keywords(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let keywords = db::consent::keywords(user.scope(&state.db)).await?;
    Ok(ok(KeywordsView::from(keywords)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetKeywords {
    /// 1 to 50 words or short phrases, each at most 40 characters once normalised.
    #[schema(min_items = 1, max_items = 50)]
    opt_out: Vec<String>,
    /// Up to 50; none in `optOut`.
    #[serde(default)]
    #[schema(max_items = 50)]
    opt_in: Vec<String>,
}

/// Replaces the tenant's consent keywords. Tenant admins. A word that is empty once case,
/// accents and punctuation are removed, longer than 40 characters, in both lists, or more
/// than 50 words, is refused (422 naming `optOut` or `optIn`).
#[utoipa::path(
    tag = "consent",
    request_body = SetKeywords,
    responses((status = 200, description = "The keywords as stored", body = Envelope<KeywordsView>)),
)]
#[put("/consent/keywords")]
pub async fn put_keywords(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<SetKeywords>,
) -> ApiResult {
    let body = body.into_inner();
    let keywords = Keywords::new(&body.opt_out, &body.opt_in)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    let scope = admin.scope(&state.db);
    db::consent::set_keywords(scope, &keywords).await?;
    Ok(ok(KeywordsView::from(db::consent::keywords(scope).await?)))
}

/// Goes back to the default keywords. Tenant admins.
#[utoipa::path(
    tag = "consent",
    responses((status = 200, description = "The default keywords", body = Envelope<KeywordsView>)),
)]
#[delete("/consent/keywords")]
pub async fn reset_keywords(state: web::Data<AppState>, admin: TenantAdmin) -> ApiResult {
    let scope = admin.scope(&state.db);
    db::consent::reset_keywords(scope).await?;
    Ok(ok(KeywordsView::from(db::consent::keywords(scope).await?)))
}

/// An opted-out number.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptOutView {
    id: OptOutId,
    account_id: AccountId,
    /// E.164 digits, without `+`.
    phone: String,
    opted_out_at: DateTime<Utc>,
    /// What the contact wrote (empty when imported without one).
    message: String,
    /// The number it wrote to; `null` when imported.
    inbox_id: Option<InboxId>,
}

impl From<OptOut> for OptOutView {
    fn from(o: OptOut) -> Self {
        Self {
            id: o.id,
            account_id: o.account_id,
            phone: o.phone,
            opted_out_at: o.opted_out_at,
            message: o.message,
            inbox_id: o.inbox_id,
        }
    }
}

pub const OPT_OUTS: ListSpec = ListSpec {
    name: "opt_outs",
    fields: &[
        "id",
        "accountId",
        "phone",
        "optedOutAt",
        "message",
        "inboxId",
    ],
    default_fields: &["id", "phone", "optedOutAt", "message"],
};

/// The tenant's opted-out numbers, oldest first; `nextCursor` fetches the next page. The whole
/// list as a file: a report of kind `opt_outs`.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.read"))),
    tag = "consent",
    params(ListParams),
    responses((status = 200, description = "A page of opt-outs", body = Page<OptOutView>)),
)]
#[get("/consent/opt-outs")]
pub async fn list_opt_outs(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsRead>,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&OPT_OUTS)?;
    let (rows, more) = db::consent::page(
        user.scope(&state.db),
        page.after::<OptOutId>(),
        page.limit(),
    )
    .await?;
    let views: Vec<OptOutView> = rows.into_iter().map(OptOutView::from).collect();
    page.respond(views, more, |o| o.id.into_uuid())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportOptOuts {
    /// 1 to 10 000 numbers that opted out elsewhere (another tool, a paper form).
    #[schema(min_items = 1, max_items = 10_000)]
    pub opt_outs: Vec<ImportedOptOut>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportedOptOut {
    /// As people type it (`+55 11 98765-4321`).
    pub phone: String,
    /// When it opted out; now when absent. Not in the future.
    pub opted_out_at: Option<DateTime<Utc>>,
    /// What it wrote, if known (at most 200 characters).
    #[serde(default)]
    pub message: String,
}

/// What an import did.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedOptOuts {
    /// Distinct numbers in the request.
    received: usize,
    /// Numbers opted out by this import.
    opted_out: usize,
    /// Numbers that had opted out before (their first time is kept).
    already_opted_out: usize,
    /// Pending recipients of the account's campaigns that will not be messaged now.
    recipients_skipped: u64,
}

/// Opts numbers of the caller's account out, e.g. a list kept in another tool. All or
/// nothing: one bad entry refuses the request (422 naming `optOuts[i].phone`, ...). Their
/// pending recipients in running campaigns are skipped. For tenant users with an account.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.write"))),
    tag = "consent",
    request_body = ImportOptOuts,
    responses((status = 200, description = "What the import did", body = Envelope<ImportedOptOuts>)),
)]
#[post("/consent/opt-outs")]
pub async fn import_opt_outs(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsWrite>,
    body: ApiJson<ImportOptOuts>,
) -> ApiResult {
    let import = OptOutImport::parse(body.into_inner(), Utc::now())?;
    let done = usecases::consent::import(&state, &user, import).await?;
    Ok(ok(ImportedOptOuts {
        received: done.received,
        opted_out: done.opted_out,
        already_opted_out: done.received - done.opted_out,
        recipients_skipped: done.recipients_skipped,
    }))
}
