//! Contact imports: the file's settings, the job's progress and the rows that failed.
//!
//! The worker commits each batch's contacts, the import's counters and `rows_read` in one
//! transaction ([`record_batch`]), after locking the import's row ([`lock`]); a restarted job
//! skips `rows_read` records, so no row is imported twice and none is lost. The caller owns every
//! transaction.

use chrono::{DateTime, Utc};
use common::imports::{ImportFormat, ImportStatus, OnDuplicate, TextEncoding};
use common::sql;
use common::{AccountId, ImportId, TenantId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use crate::{DbError, DbResult, PlatformScope, TenantScope, parse_stored};

/// [`ImportStatus::FINISHED`] as SQL text, written out for the one query that must match the
/// partial index `contact_imports_source_leftovers` (migration 20), whose predicate names
/// these literals: a bound array would not let the planner use the index.
const FINISHED_SQL: &str = "('completed', 'failed', 'cancelled')";

fn finished_names() -> Vec<String> {
    ImportStatus::FINISHED
        .map(|s| s.as_str().to_owned())
        .to_vec()
}

/// An import as stored.
#[derive(Debug, Clone)]
pub struct ContactImport {
    pub id: ImportId,
    pub account_id: AccountId,
    pub created_by: UserId,
    pub status: ImportStatus,
    pub status_reason: Option<String>,
    pub format: ImportFormat,
    pub default_region: String,
    pub on_duplicate: OnDuplicate,
    pub encoding: Option<TextEncoding>,
    pub separator: Option<char>,
    pub phone_column: Option<String>,
    pub name_column: Option<String>,
    pub file_name: Option<String>,
    pub source_key: String,
    pub source_bytes: i64,
    pub progress: ImportProgress,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How far an import got: every record read is exactly one of imported, updated, skipped or
/// failed. Serialised into the import job's result (`jobs.result`) when the import ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    /// Records of the file handled so far.
    pub read: i64,
    /// New contacts.
    pub imported: i64,
    /// Existing contacts updated (`onDuplicate: update`).
    pub updated: i64,
    /// Rows whose phone was already in the file, or already a contact (`onDuplicate: skip`).
    pub skipped: i64,
    /// Rows refused, each with its line and reason in the error file.
    pub failed: i64,
}

impl ImportProgress {
    pub fn add(&mut self, other: ImportProgress) {
        self.read += other.read;
        self.imported += other.imported;
        self.updated += other.updated;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

#[derive(FromQueryResult)]
struct Row {
    id: uuid::Uuid,
    account_id: uuid::Uuid,
    created_by: uuid::Uuid,
    status: String,
    status_reason: Option<String>,
    format: String,
    default_region: String,
    on_duplicate: String,
    encoding: Option<String>,
    separator: Option<String>,
    phone_column: Option<String>,
    name_column: Option<String>,
    file_name: Option<String>,
    source_key: String,
    source_bytes: i64,
    rows_read: i64,
    imported: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, account_id, created_by, status, status_reason, format, default_region, \
    on_duplicate, encoding, separator, phone_column, name_column, file_name, source_key, \
    source_bytes, rows_read, imported, updated, skipped, failed, created_at, updated_at, \
    started_at, finished_at";

impl TryFrom<Row> for ContactImport {
    type Error = DbError;

    fn try_from(r: Row) -> DbResult<Self> {
        Ok(Self {
            id: r.id.into(),
            account_id: r.account_id.into(),
            created_by: r.created_by.into(),
            status: parse_stored("contact_imports", "status", &r.status)?,
            status_reason: r.status_reason,
            format: parse_stored("contact_imports", "format", &r.format)?,
            default_region: r.default_region,
            on_duplicate: parse_stored("contact_imports", "on_duplicate", &r.on_duplicate)?,
            encoding: r
                .encoding
                .as_deref()
                .map(|e| parse_stored("contact_imports", "encoding", e))
                .transpose()?,
            separator: r.separator.and_then(|s| s.chars().next()),
            phone_column: r.phone_column,
            name_column: r.name_column,
            file_name: r.file_name,
            source_key: r.source_key,
            source_bytes: r.source_bytes,
            progress: ImportProgress {
                read: r.rows_read,
                imported: r.imported,
                updated: r.updated,
                skipped: r.skipped,
                failed: r.failed,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// An import to create, with its file already in storage at `source_key`.
pub struct NewImport {
    pub id: ImportId,
    pub account_id: AccountId,
    pub created_by: UserId,
    pub format: ImportFormat,
    pub default_region: String,
    pub on_duplicate: OnDuplicate,
    pub encoding: Option<TextEncoding>,
    pub separator: Option<char>,
    pub phone_column: Option<String>,
    pub name_column: Option<String>,
    pub file_name: Option<String>,
    pub source_key: String,
    pub source_bytes: i64,
}

/// Writes the import. Run it in the transaction that enqueues its job
/// (`jobs::enqueue::<ContactImport>`).
pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewImport,
) -> DbResult<ContactImport> {
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO contact_imports (id, tenant_id, account_id, created_by, format,
                 default_region, on_duplicate, encoding, separator, phone_column, name_column,
                 file_name, source_key, source_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            new.id.into_uuid().into(),
            scope.tenant_uuid().into(),
            new.account_id.into_uuid().into(),
            new.created_by.into_uuid().into(),
            new.format.as_str().into(),
            new.default_region.into(),
            new.on_duplicate.as_str().into(),
            new.encoding.map(|e| e.as_str().to_owned()).into(),
            new.separator.map(String::from).into(),
            new.phone_column.into(),
            new.name_column.into(),
            new.file_name.into(),
            new.source_key.into(),
            new.source_bytes.into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("import"))?;
    let import = ContactImport::try_from(row)?;
    Ok(import)
}

pub async fn find(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
) -> DbResult<ContactImport> {
    select_one(
        scope,
        id,
        &sql!(
            "SELECT {COLUMNS} FROM contact_imports WHERE tenant_id = $1 AND id = $2",
            COLUMNS
        ),
    )
    .await
}

/// The import, its row locked until the transaction ends (the worker's batches and a cancel
/// take turns).
pub async fn lock(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
) -> DbResult<ContactImport> {
    select_one(
        scope,
        id,
        &sql!(
            "SELECT {COLUMNS} FROM contact_imports WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            COLUMNS
        ),
    )
    .await
}

async fn select_one(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
    sql: &str,
) -> DbResult<ContactImport> {
    Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [scope.tenant_uuid().into(), id.into_uuid().into()],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("import"))?
    .try_into()
}

/// One page of the tenant's imports in creation order after `cursor`, and whether more follow.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cursor: Option<ImportId>,
    limit: u64,
) -> DbResult<(Vec<ContactImport>, bool)> {
    crate::tenant_page_by_id::<Row, _>(
        scope,
        &sql!(
            "SELECT {COLUMNS} FROM contact_imports
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3",
            COLUMNS
        ),
        cursor.map(ImportId::into_uuid),
        limit,
    )
    .await
}

/// Moves an import to `to` from one of `from`; `NotFound` if it is not in one of them (the
/// caller has read it and knows why). Sets `started_at` on the first start and `finished_at` on
/// an end. An end that is announced goes through `app::imports::transition`.
pub async fn transition(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
    from: &[ImportStatus],
    to: ImportStatus,
    reason: Option<String>,
) -> DbResult<ContactImport> {
    let from: Vec<String> = from.iter().map(|s| s.as_str().to_owned()).collect();
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "UPDATE contact_imports
                SET status = $3, status_reason = $4, updated_at = now(),
                    started_at = CASE WHEN $6 THEN coalesce(started_at, now())
                                      ELSE started_at END,
                    finished_at = CASE WHEN $7 THEN now() ELSE finished_at END
              WHERE tenant_id = $1 AND id = $2 AND status = ANY($5)
              RETURNING {COLUMNS}",
            COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            to.as_str().into(),
            reason.into(),
            from.into(),
            (to == ImportStatus::Running).into(),
            to.is_finished().into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("import"))?;
    ContactImport::try_from(row)
}

/// Cancels a queued or running import (the worker stops at its next batch); 409 once it ended.
pub async fn cancel(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
) -> DbResult<ContactImport> {
    let import = lock(scope.on(scope.conn()), id).await?;
    if import.status.is_finished() {
        return Err(DbError::Conflict(format!(
            "the import is already {}",
            import.status
        )));
    }
    transition(
        scope,
        id,
        &[ImportStatus::Queued, ImportStatus::Running],
        ImportStatus::Cancelled,
        Some("cancelled by a user".to_owned()),
    )
    .await
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct RowError {
    /// The line (CSV, NDJSON) or item (JSON array) the row starts at, from 1.
    pub line: i64,
    /// The row's phone as written, or the start of the row when that is what was wrong.
    pub value: String,
    pub reason: String,
}

/// Adds one batch's outcome to the import: its counters and `rows_read`, and its failed rows.
/// Run it in the transaction that wrote the batch's contacts, after [`lock`].
pub async fn record_batch(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
    outcome: ImportProgress,
    errors: &[RowError],
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE contact_imports
                SET rows_read = rows_read + $3, imported = imported + $4,
                    updated = updated + $5, skipped = skipped + $6, failed = failed + $7,
                    updated_at = now()
              WHERE tenant_id = $1 AND id = $2"
            ),
            [
                scope.tenant_uuid().into(),
                id.into_uuid().into(),
                outcome.read.into(),
                outcome.imported.into(),
                outcome.updated.into(),
                outcome.skipped.into(),
                outcome.failed.into(),
            ],
        ))
        .await?;
    if errors.is_empty() {
        return Ok(());
    }
    let lines: Vec<i64> = errors.iter().map(|e| e.line).collect();
    let values: Vec<String> = errors.iter().map(|e| e.value.clone()).collect();
    let reasons: Vec<String> = errors.iter().map(|e| e.reason.clone()).collect();
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO contact_import_errors (import_id, tenant_id, line, value, reason)
             SELECT $1, $2, line, value, reason
               FROM unnest($3::int8[], $4::text[], $5::text[]) AS e(line, value, reason)
             ON CONFLICT (import_id, line) DO NOTHING"
            ),
            [
                id.into_uuid().into(),
                scope.tenant_uuid().into(),
                lines.into(),
                values.into(),
                reasons.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Failed rows of an import by line, after `after_line`, at most `limit`.
pub async fn errors_page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
    after_line: i64,
    limit: u64,
) -> DbResult<Vec<RowError>> {
    Ok(RowError::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT line, value, reason FROM contact_import_errors
          WHERE tenant_id = $1 AND import_id = $2 AND line > $3
          ORDER BY line LIMIT $4"
        ),
        [
            scope.tenant_uuid().into(),
            id.into_uuid().into(),
            after_line.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(scope.conn())
    .await?)
}

/// An import's source file, still in storage after the import ended, locked until the
/// transaction ends.
#[derive(Debug, Clone, FromQueryResult)]
pub struct EndedSource {
    pub id: ImportId,
    pub tenant_id: TenantId,
    pub source_key: String,
}

/// The source file of the import if it has ended and its file was not deleted yet, its row
/// locked (a sweep or another end waits, then finds it deleted). Run it in a transaction,
/// delete the file, then [`mark_sources_deleted`] in the same transaction.
pub async fn lock_ended_source(
    scope: TenantScope<'_, impl ConnectionTrait>,
    id: ImportId,
) -> DbResult<Option<EndedSource>> {
    Ok(
        EndedSource::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT id, tenant_id, source_key FROM contact_imports
          WHERE tenant_id = $1 AND id = $2 AND source_deleted_at IS NULL
            AND status = ANY($3)
          FOR UPDATE"
            ),
            [
                scope.tenant_uuid().into(),
                id.into_uuid().into(),
                finished_names().into(),
            ],
        ))
        .one(scope.conn())
        .await?,
    )
}

/// Up to `limit` ended imports of any tenant whose source file is still in storage (their
/// end was not followed by the deletion: a crash, a failed delete), oldest end first, locked.
/// Rows another sweep or an ending import holds are skipped. Run it in a transaction, delete
/// the files, then [`mark_sources_deleted`] in the same transaction.
pub async fn lock_leftover_sources(
    platform: PlatformScope<'_, impl ConnectionTrait>,
    limit: u64,
) -> DbResult<Vec<EndedSource>> {
    Ok(
        EndedSource::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT id, tenant_id, source_key FROM contact_imports
                  WHERE source_deleted_at IS NULL AND status IN {FINISHED_SQL}
                  ORDER BY finished_at
                  LIMIT $1
                  FOR UPDATE SKIP LOCKED",
                FINISHED_SQL
            ),
            [i64::try_from(limit).unwrap_or(i64::MAX).into()],
        ))
        .all(platform.conn())
        .await?,
    )
}

/// Records that the source files of `ids` were deleted from storage; their bytes leave the
/// tenant's storage usage in this transaction (a trigger). Returns how many were still
/// recorded as present.
pub async fn mark_sources_deleted(
    platform: PlatformScope<'_, impl ConnectionTrait>,
    ids: &[ImportId],
) -> DbResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = platform
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "UPDATE contact_imports SET source_deleted_at = now()
              WHERE id = ANY($1) AND source_deleted_at IS NULL"
            ),
            [ids.iter()
                .map(|id| id.into_uuid())
                .collect::<Vec<_>>()
                .into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_list_of_finished_statuses_is_the_enums() {
        let listed = ImportStatus::FINISHED
            .map(|s| format!("'{}'", s.as_str()))
            .join(", ");
        assert_eq!(FINISHED_SQL, format!("({listed})"));
    }
}
