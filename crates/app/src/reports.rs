//! A report becoming ready, announced.

use common::{EventKind, ReportId};
use db::events::NewEvent;
use db::reports::{ReadyFile, Report};
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

use crate::events;

/// Makes a running report ready with its stored file (`db::reports::mark_ready`) and records
/// `report.ready`. Call it only after the upload finished, in the worker's transaction;
/// `NotFound` if the report is no longer running.
pub async fn mark_ready(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ReportId,
    file: ReadyFile,
) -> DbResult<Report> {
    let report = db::reports::mark_ready(scope, id, file).await?;
    events::emit(
        scope,
        NewEvent {
            kind: EventKind::ReportReady,
            subject_id: Some(report.id.into_uuid()),
            user_id: report.created_by,
            data: serde_json::json!({
                "reportId": report.id,
                "kind": report.kind,
                "format": report.format,
                "rows": report.rows,
                "bytes": report.bytes,
                "expiresAt": report.expires_at,
            }),
        },
    )
    .await?;
    Ok(report)
}
