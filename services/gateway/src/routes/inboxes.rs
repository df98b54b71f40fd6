//! Inboxes: WhatsApp numbers reached through WUZAPI. Tokens go in, only hints come out.

use actix_web::{get, post, web};
use common::AccountId;
use db::inboxes::Inbox;
use db::plans::Quota;
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, created, required_text};
use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create).service(list);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInbox {
    /// At most 200 characters.
    name: String,
    /// The WUZAPI user token of this number (at most 512 characters). Stored encrypted; only a
    /// hint is shown.
    token: String,
    /// Defaults to `WUZAPI_URL`; otherwise its host must be allowed by `WUZAPI_ALLOWED_HOSTS`.
    wuzapi_url: Option<String>,
}

/// An inbox as the API shows it: never its token.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxView {
    id: common::InboxId,
    account_id: AccountId,
    name: String,
    /// The WUZAPI server this number is reached through.
    wuzapi_url: String,
    /// The token's last four characters (`…abcd`), to recognise it.
    token_hint: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Inbox> for InboxView {
    fn from(m: Inbox) -> Self {
        Self {
            id: m.id,
            account_id: m.account_id,
            name: m.name,
            wuzapi_url: m.wuzapi_url,
            token_hint: m.token_hint,
            created_at: m.created_at,
        }
    }
}

/// Adds an inbox: a WhatsApp number reached through WUZAPI.
///
/// Counts against the `max_inboxes` quota. For tenant users who belong to an account; the
/// inbox belongs to that account.
#[utoipa::path(
    tag = "inboxes",
    request_body = CreateInbox,
    responses((status = 201, description = "The inbox", body = Envelope<InboxView>)),
)]
#[post("/inboxes")]
pub async fn create(
    state: web::Data<AppState>,
    user: TenantUser,
    body: ApiJson<CreateInbox>,
) -> ApiResult {
    let tenant_id = user.tenant_id();
    let account_id = user.account_id()?;
    let body = body.into_inner();
    let name = required_text("name", &body.name, 200)?;
    let token = required_text("token", &body.token, 512)?;
    // Operator territory: only the default server and `WUZAPI_ALLOWED_HOSTS` (see
    // `common::wuzapi_url`); the worker checks the stored URL again before sending.
    let policy = &state.config.core.wuzapi_urls;
    let wuzapi_url = match body.wuzapi_url {
        Some(url) => policy
            .check(&url)
            .map_err(|e| ApiError::validation("wuzapiUrl", e.to_string()))?,
        None => policy.default_url().clone(),
    }
    .into_string();
    let admission = crate::quotas::admit(&state, &user, Quota::MaxInboxes).await?;
    let inbox = db::inboxes::create(
        user.scope(admission.txn()),
        &state.token_cipher,
        db::inboxes::NewInbox {
            account_id,
            name,
            wuzapi_url,
            token,
        },
    )
    .await?;
    admission.commit().await?;
    let list_key = super::access::inboxes_key(tenant_id, account_id);
    crate::cached::invalidate(&state, [cache::KeyRef::from(list_key)]).await;
    Ok(created(InboxView::from(inbox)))
}

pub const INBOXES: ListSpec = ListSpec {
    name: "inboxes",
    fields: &[
        "id",
        "accountId",
        "name",
        "wuzapiUrl",
        "tokenHint",
        "createdAt",
    ],
    default_fields: &["id", "name"],
};

/// The tenant's inboxes, oldest first; `nextCursor` fetches the next page.
#[utoipa::path(
    tag = "inboxes",
    params(ListParams),
    responses((status = 200, description = "A page of inboxes", body = Page<InboxView>)),
)]
#[get("/inboxes")]
pub async fn list(state: web::Data<AppState>, user: TenantUser, query: ListQuery) -> ApiResult {
    let page = query.page(&INBOXES)?;
    let (rows, more) = db::inboxes::page(user.scope(&state.db), page.after(), page.limit()).await?;
    let views: Vec<InboxView> = rows.into_iter().map(InboxView::from).collect();
    page.respond(views, more, |inbox| inbox.id.into_uuid())
}
