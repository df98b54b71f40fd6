//! The caller's in-app notifications (written by `worker-notification`): list, unread count,
//! mark read, and a live stream (server-sent events). A user sees only its own: another
//! user's or tenant's notification is 404.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use common::{EventId, EventKind, NotificationId, TenantId, UserId};
use db::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiResult, Envelope, Routes, invalid_parameter, ok};
use crate::auth::TenantUser;
use crate::live::LiveNotification;
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(list)
        .service(unread_count)
        .service(stream)
        .service(read_all)
        .service(read);
}

/// A notification: as stored, as the API shows it, and as published on the live channel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    pub event_id: EventId,
    pub kind: EventKind,
    pub title: String,
    pub body: String,
    /// What the app links to: the subject's ids and, where there is one, its `url` path.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<db::notifications::Notification> for Notification {
    fn from(v: db::notifications::Notification) -> Self {
        Self {
            id: v.id,
            user_id: v.user_id,
            event_id: v.event_id,
            kind: v.kind,
            title: v.title,
            body: v.body,
            data: v.data,
            created_at: v.created_at,
            read_at: v.read_at,
        }
    }
}

/// What a stream replays from the database on `Last-Event-ID`, at most.
const RESUME_LIMIT: u64 = 500;

/// `?unread=true`: only unread notifications.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// `true`: only those not yet read.
    #[serde(default)]
    unread: bool,
}

pub const NOTIFICATIONS: ListSpec = ListSpec {
    name: "notifications",
    fields: &[
        "id",
        "userId",
        "eventId",
        "kind",
        "title",
        "body",
        "data",
        "createdAt",
        "readAt",
    ],
    default_fields: &["id", "kind", "title", "body", "createdAt", "readAt"],
};

/// The caller's notifications, newest first; `nextCursor` fetches older ones.
#[utoipa::path(
    tag = "notifications",
    params(ListParams, NotificationFilter),
    responses((status = 200, description = "A page of notifications", body = Page<Notification>)),
)]
#[get("/notifications")]
pub async fn list(
    state: web::Data<AppState>,
    user: TenantUser,
    query: ListQuery<NotificationFilter>,
) -> ApiResult {
    let page = query.page_within(&NOTIFICATIONS, user.user_id())?;
    let (rows, more) = db::notifications::page(
        user.scope(&state.db),
        user.user_id(),
        page.after(),
        query.filter.unread,
        page.limit(),
    )
    .await?;
    let rows = rows.into_iter().map(Notification::from).collect();
    page.respond(rows, more, |n| n.id.into_uuid())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    unread: i64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, description = "The unread count", body = Envelope<UnreadCount>)),
)]
#[get("/notifications/unread-count")]
pub async fn unread_count(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let unread = db::notifications::unread_count(user.scope(&state.db), user.user_id()).await?;
    Ok(ok(UnreadCount { unread }))
}

/// Marks one of the caller's notifications read (a second time keeps the first `readAt`).
#[utoipa::path(
    tag = "notifications",
    params(("notification_id" = uuid::Uuid, Path, description = "The notification")),
    responses((status = 200, description = "The notification", body = Envelope<Notification>)),
)]
#[post("/notifications/{notification_id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<NotificationId>,
) -> ApiResult {
    let notification =
        db::notifications::mark_read(user.scope(&state.db), user.user_id(), path.into_inner())
            .await?;
    Ok(ok(Notification::from(notification)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MarkedRead {
    /// How many were unread.
    marked: u64,
}

/// Marks every notification of the caller read.
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, description = "How many were marked", body = Envelope<MarkedRead>)),
)]
#[post("/notifications/read-all")]
pub async fn read_all(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let marked = db::notifications::mark_all_read(user.scope(&state.db), user.user_id()).await?;
    Ok(ok(MarkedRead { marked }))
}

/// The caller's new notifications as server-sent events (`text/event-stream`, never
/// compressed): each `event: notification` with `id:` the notification's id and `data:` the
/// notification as JSON, and a `: keep-alive` comment every `NOTIFICATIONS_KEEPALIVE_MS`. A
/// client reconnecting with `Last-Event-ID` first gets what it missed (up to 500, oldest
/// first), from the database. Every gateway serves every user's stream. A user holds at most
/// `NOTIFICATIONS_STREAMS_PER_USER` (5) streams open on one gateway: a new one ends the
/// user's oldest.
#[utoipa::path(
    tag = "notifications",
    params(("Last-Event-ID" = Option<uuid::Uuid>, Header, description = "The id of the last notification received")),
    responses((status = 200, description = "The stream", body = String, content_type = "text/event-stream")),
)]
#[get("/notifications/stream")]
pub async fn stream(state: web::Data<AppState>, user: TenantUser, req: HttpRequest) -> ApiResult {
    // Held by the stream until it ends; a user's oldest stream beyond the limit ends.
    let slot = state.streams.take(user.user_id());
    let last = match req.headers().get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<NotificationId>().ok())
                .ok_or_else(|| {
                    invalid_parameter("Last-Event-ID", "`Last-Event-ID` must be a notification id")
                })?,
        ),
    };
    // Listen before reading the backlog, so nothing written in between is lost; what both
    // yield is sent once.
    let live = state.live.subscribe();
    let backlog = match last {
        Some(last) => {
            db::notifications::since(user.scope(&state.db), user.user_id(), last, RESUME_LIMIT)
                .await?
        }
        None => Vec::new(),
    };
    let mut keepalive = tokio::time::interval(state.config.notifications_keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = Stream {
        db: state.db.clone(),
        tenant_id: user.tenant_id(),
        user_id: user.user_id(),
        sent: backlog.iter().map(|n| n.id).collect(),
        last: backlog.last().map(|n| n.id).or(last),
        pending: backlog.into(),
        live,
        keepalive,
        closing: state.live.closing.clone(),
        opened: false,
        slot,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies (nginx) would otherwise buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, Stream::next)))
}

/// One client's stream.
struct Stream {
    db: DatabaseConnection,
    tenant_id: TenantId,
    user_id: UserId,
    /// Ids sent so far from the backlog, so the live copy of one is not sent again.
    sent: HashSet<NotificationId>,
    last: Option<NotificationId>,
    pending: VecDeque<db::notifications::Notification>,
    live: broadcast::Receiver<Arc<LiveNotification>>,
    keepalive: tokio::time::Interval,
    closing: CancellationToken,
    opened: bool,
    /// This stream's place among its user's; freed when the stream is dropped.
    slot: crate::live::StreamSlot,
}

type Chunk = Result<web::Bytes, actix_web::Error>;

impl Stream {
    async fn next(mut self) -> Option<(Chunk, Self)> {
        if !self.opened {
            self.opened = true;
            // Sent at once so the client sees the stream open (and the headers) before any
            // notification; `retry` is how long a browser waits before reconnecting.
            return Some((
                Ok(web::Bytes::from_static(b"retry: 3000\n: connected\n\n")),
                self,
            ));
        }
        loop {
            if let Some(notification) = self.pending.pop_front() {
                self.last = Some(notification.id);
                let chunk = event(notification);
                return Some((chunk, self));
            }
            tokio::select! {
                () = self.closing.cancelled() => return None,
                // A newer stream of the same user took this one's place.
                () = self.slot.evicted.cancelled() => return None,
                _ = self.keepalive.tick() => {
                    return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), self));
                }
                received = self.live.recv() => match received {
                    Ok(live) => {
                        if live.tenant_id == self.tenant_id
                            && live.notification.user_id == self.user_id
                            && self.sent.insert(live.notification.id)
                        {
                            self.pending.push_back(live.notification.clone());
                        }
                    }
                    // Fell behind: what was dropped is in the database.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    async fn catch_up(&mut self) {
        let Some(last) = self.last else {
            return;
        };
        let scope = db::TenantScope::for_caller(&self.db, self.tenant_id);
        match db::notifications::since(scope, self.user_id, last, RESUME_LIMIT).await {
            Ok(missed) => {
                for notification in missed {
                    if self.sent.insert(notification.id) {
                        self.pending.push_back(notification);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification stream: catching up failed"),
        }
    }
}

fn event(notification: db::notifications::Notification) -> Chunk {
    let id = notification.id;
    let data = serde_json::to_string(&Notification::from(notification))
        .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(web::Bytes::from(format!(
        "id: {id}\nevent: notification\ndata: {data}\n\n"
    )))
}

/// How often an idle stream gets a keep-alive comment (`NOTIFICATIONS_KEEPALIVE_MS`, 15000).
pub fn keepalive_from_env(
    env: &common::config::Env,
) -> Result<Duration, common::config::ConfigError> {
    Ok(Duration::from_millis(env.parse_in(
        "NOTIFICATIONS_KEEPALIVE_MS",
        15_000,
        100..=300_000,
    )?))
}
