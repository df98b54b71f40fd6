//! Inboxes: WhatsApp numbers reached through WUZAPI. Tokens go in, only hints come out.

use actix_web::{get, post, web};
use common::subscription::Quota;
use common::{AccountId, InboxId};
use db::inboxes::{EventsSetup, Inbox};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, created, ok, required_text};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create).service(list).service(connect);
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
    /// Whether WUZAPI posts this number's receipts, replies and session changes here.
    events: EventsView,
}

/// The number's event settings on its WUZAPI server.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsView {
    /// WUZAPI accepted our webhook: receipts and replies arrive.
    configured: bool,
    /// WUZAPI signs its posts (`x-hmac-signature`), and unsigned ones are refused. Older WUZAPI
    /// versions do not sign: the unguessable path alone authenticates them then.
    signed: bool,
    configured_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last attempt to configure them failed; `POST /api/inboxes/{id}/connect` retries.
    error: Option<String>,
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
            events: EventsView {
                configured: m.events_configured_at.is_some(),
                signed: m.signs_events,
                configured_at: m.events_configured_at,
                error: m.events_error,
            },
        }
    }
}

/// Adds an inbox: a WhatsApp number reached through WUZAPI.
///
/// Counts against the `max_inboxes` quota. For tenant users who belong to an account; the
/// inbox belongs to that account. Once it is stored, WUZAPI is told (in the background) to
/// post the number's receipts, replies and session changes to the gateway, signed with a key
/// of the inbox where the server can sign; the inbox's `events` in `GET /api/inboxes` says
/// whether that worked, and `POST /api/inboxes/{id}/connect` does it again and answers it.
/// The answer here is the same whether WUZAPI knows the token or not (`events` not yet
/// configured): creating inboxes is no way to test guessed tokens.
///
/// A (server, token) pair registered already, by this tenant or another, is 409 `conflict`
/// (whose is not said) and nothing is stored. A `wuzapiUrl` whose host resolves to a
/// non-public address the operator did not allow is 422 (see `WUZAPI_ALLOW_PRIVATE`).
#[utoipa::path(
    extensions(("x-permission" = json!("inboxes.write"))),
    tag = "inboxes",
    request_body = CreateInbox,
    responses(
        (status = 201, description = "The inbox, its `events` not yet configured (they are set up after this answer)", body = Envelope<InboxView>),
        (status = 409, description = "This WUZAPI token is already an inbox on this server, of this tenant or another (which is not said); nothing stored", body = common::ErrorBody),
        (status = 422, description = "Bad input, or a `wuzapiUrl` not allowed (`field` names it); nothing stored", body = common::ErrorBody),
    ),
)]
#[post("/inboxes")]
pub async fn create(
    state: web::Data<AppState>,
    user: Allowed<perm::InboxesWrite>,
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
        Some(url) => {
            let url = policy
                .check(&url)
                .map_err(|e| ApiError::validation("wuzapiUrl", e.to_string()))?;
            check_server(&state, &url).await?;
            url
        }
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
    // After answering: how WUZAPI takes the token must not show in this answer (nor in its
    // timing). A gateway stopping before it is done leaves `events` unconfigured without an
    // error; `connect` sets them up.
    let view = InboxView::from(inbox.clone());
    let background = state.clone();
    actix_web::rt::spawn(async move {
        let state = background;
        let id = inbox.id;
        let scope = db::TenantScope::for_caller(&state.db, tenant_id);
        if let Err(e) = configure_events(&state, scope, inbox, false).await {
            tracing::warn!(inbox = %id, error = %e.message, "could not record the inbox's event setup");
        }
    });
    Ok(created(view))
}

/// An allowed server's host must also pass the egress guard: a name the operator listed
/// resolves to public addresses only, unless the operator trusts it (`WUZAPI_ALLOW_PRIVATE`,
/// or the default server, or a listed IP address). The WUZAPI client checks again at every
/// connection; a name that does not resolve now is accepted (the setup then says WUZAPI was
/// unreachable).
async fn check_server(
    state: &AppState,
    url: &common::wuzapi_url::NormalisedUrl,
) -> Result<(), ApiError> {
    let Some(guard) = state.wuzapi.guard() else {
        return Ok(());
    };
    let host = url::Url::parse(url.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    match guard.resolve_host(&host).await {
        Ok(_) | Err(egress::ResolveError::Lookup { .. }) => Ok(()),
        Err(egress::ResolveError::Refused(refused)) => Err(ApiError::validation(
            "wuzapiUrl",
            format!(
                "`wuzapiUrl`: the host is {}, not a public address; ask the platform operator to allow it",
                refused.reason
            ),
        )),
    }
}

/// Reconnects a number and sets its events up again.
///
/// Asks its WUZAPI server to connect the session (subscribed to the events the manager uses)
/// and to post them to the gateway, with a new signing key where the server signs. Use it after
/// re-pairing a number, moving it to another server, or when `events.error` says the first
/// setup failed. Tenant users of the inbox's tenant.
#[utoipa::path(
    extensions(("x-permission" = json!("inboxes.write"))),
    tag = "inboxes",
    params(("inbox_id" = uuid::Uuid, Path, description = "The inbox's id")),
    responses((status = 200, description = "The inbox with its event settings", body = Envelope<InboxView>)),
)]
#[post("/inboxes/{inbox_id}/connect")]
pub async fn connect(
    state: web::Data<AppState>,
    user: Allowed<perm::InboxesWrite>,
    path: web::Path<InboxId>,
) -> ApiResult {
    let inbox = db::inboxes::find(user.scope(&state.db), path.into_inner()).await?;
    let inbox = configure_events(&state, user.scope(&state.db), inbox, true).await?;
    Ok(ok(InboxView::from(inbox)))
}

/// Tells the inbox's WUZAPI server where to post its events (after connecting the session when
/// `reconnect`), and records how it went. A refusal is recorded on the inbox, not returned:
/// the number works for sending either way.
async fn configure_events(
    state: &AppState,
    scope: db::TenantScope<'_, db::DatabaseConnection>,
    inbox: Inbox,
    reconnect: bool,
) -> Result<Inbox, ApiError> {
    let token = state
        .token_cipher
        .decrypt(inbox.token.ciphertext())
        .map_err(|e| ApiError::internal(format!("inbox {}: token: {e}", inbox.id)))?;
    let token = token.expose_secret();
    // Only the hook token's hash is stored, so WUZAPI is told a new one each time: the old path
    // stops working now, before the server learns the new one (posts in between are lost, not
    // misrouted; a failed setup is retried by `connect`).
    let hook = db::inboxes::rotate_hook(scope, inbox.id).await?;
    let url = format!(
        "{}{}",
        state.public_url,
        super::wuzapi_events::hook_path(&hook)
    );
    let key = db::inboxes::new_event_key();
    let events = wuzapi::MANAGER_EVENTS;
    let setup = async {
        if reconnect {
            state
                .wuzapi
                .connect(&inbox.wuzapi_url, token, events)
                .await?;
        }
        state
            .wuzapi
            .set_webhook(&inbox.wuzapi_url, token, &url, events)
            .await?;
        let signed = state
            .wuzapi
            .set_hmac_key(&inbox.wuzapi_url, token, &key)
            .await?;
        Ok::<_, wuzapi::WuzapiError>(signed)
    }
    .await;
    let setup = match setup {
        Ok(signed) => EventsSetup::Configured {
            hmac_key: signed.then_some(key),
        },
        Err(e) => {
            tracing::warn!(inbox = %inbox.id, error = %e.detail(), "could not set the inbox's events up on WUZAPI");
            // The tenant reads it: the kind of failure and a status class, never the client's
            // error text or what the server wrote.
            EventsSetup::Failed(e.public_reason())
        }
    };
    Ok(db::inboxes::record_events_setup(scope, &state.token_cipher, inbox.id, setup).await?)
}

/// Digests the (server, token) pair of inboxes stored before digests existed (migration
/// 000019 cannot decrypt), so the uniqueness of pairs covers them too. Runs at every start and
/// does nothing once every row has its digest. A pair two inboxes already share is left to the
/// operator (logged with the inbox's id); failing, the gateway starts
/// anyway and tries again at its next start.
pub async fn backfill_token_digests(
    db: &db::DatabaseConnection,
    cipher: &db::secrets::SecretCipher,
) {
    match db::inboxes::backfill_token_digests(db::PlatformScope::new(db), cipher).await {
        Ok(done) => {
            if done.digested > 0 {
                tracing::info!(
                    inboxes = done.digested,
                    "digested the WUZAPI tokens of inboxes stored before token digests"
                );
            }
            for id in &done.duplicates {
                tracing::warn!(inbox = %id, "this inbox's WUZAPI server and token are another inbox's too: it is left without a digest; remove one of them");
            }
            for id in &done.unreadable {
                tracing::warn!(inbox = %id, "this inbox's WUZAPI token does not decrypt with SECRETS_KEY: it is left without a digest");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "could not digest the WUZAPI tokens of older inboxes; retried at the next start");
        }
    }
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
        "events",
    ],
    default_fields: &["id", "name"],
};

/// The tenant's inboxes, oldest first; `nextCursor` fetches the next page.
#[utoipa::path(
    extensions(("x-permission" = json!("inboxes.read"))),
    tag = "inboxes",
    params(ListParams),
    responses((status = 200, description = "A page of inboxes", body = Page<InboxView>)),
)]
#[get("/inboxes")]
pub async fn list(
    state: web::Data<AppState>,
    user: Allowed<perm::InboxesRead>,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&INBOXES)?;
    let (rows, more) = db::inboxes::page(user.scope(&state.db), page.after(), page.limit()).await?;
    let views: Vec<InboxView> = rows.into_iter().map(InboxView::from).collect();
    page.respond(views, more, |inbox| inbox.id.into_uuid())
}
