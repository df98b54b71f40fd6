//! An import's end, announced.

use common::imports::ImportStatus;
use common::{EventKind, ImportId};
use db::events::NewEvent;
use db::imports::ContactImport;
use db::{DbResult, TenantScope};
use sea_orm::ConnectionTrait;

use crate::events;

/// Moves an import like `db::imports::transition` and, when it completed or failed, records the
/// event that says so (with the import's progress). Run it in a transaction.
pub async fn transition(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
    from: &[ImportStatus],
    to: ImportStatus,
    reason: Option<String>,
) -> DbResult<ContactImport> {
    let import = db::imports::transition(scope, id, from, to, reason).await?;
    let announced = match to {
        ImportStatus::Completed => Some(EventKind::ImportCompleted),
        ImportStatus::Failed => Some(EventKind::ImportFailed),
        _ => None,
    };
    if let Some(kind) = announced {
        events::emit(
            scope,
            NewEvent {
                kind,
                subject_id: Some(import.id.into_uuid()),
                user_id: Some(import.created_by),
                data: serde_json::json!({
                    "importId": import.id,
                    "fileName": import.file_name,
                    "status": import.status,
                    "reason": import.status_reason,
                    "progress": import.progress,
                }),
            },
        )
        .await?;
    }
    Ok(import)
}
