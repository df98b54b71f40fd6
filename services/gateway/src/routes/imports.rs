//! Contact imports: a file of any size streamed to storage, imported by `worker-import`.

use std::str::FromStr;

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use common::imports::{ImportFormat, ImportStatus, OnDuplicate, TextEncoding};
use common::spreadsheet::csv_cell;
use common::{AccountId, ErrorCode, ImportId, UserId};
use db::imports::{ContactImport, NewImport};
use db::jobs::Enqueue;
use futures_util::StreamExt;
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};

use super::campaigns::JobRef;
use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiResult, Envelope, Routes, accepted, invalid_parameter, ok};
use crate::auth::TenantUser;
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(cancel)
        .service(errors);
}

/// How to read the file; everything is optional.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `csv`, `json` (an array of objects) or `ndjson`; by default from `Content-Type`.
    format: Option<ImportFormat>,
    /// ISO 3166 region (`BR`, `US`) of numbers written without a country code; default
    /// `IMPORT_DEFAULT_REGION`.
    region: Option<String>,
    /// What a row whose phone is already a contact does: `update` (default) or `skip`.
    on_duplicate: Option<OnDuplicate>,
    /// `utf-8` or `latin-1`; detected when absent.
    encoding: Option<TextEncoding>,
    /// CSV separator: `,` `;` `|` or `tab`; detected from the header when absent.
    separator: Option<String>,
    /// The header (or key) holding phones, when it is not called phone, telefone, celular, ...
    phone_column: Option<String>,
    /// The header (or key) holding names, when it is not called name, nome, ...
    name_column: Option<String>,
    /// The file's name, kept to show.
    file_name: Option<String>,
}

/// How far an import got: every record read is exactly one of imported, updated, skipped or
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

impl From<db::imports::ImportProgress> for ImportProgress {
    fn from(v: db::imports::ImportProgress) -> Self {
        Self {
            read: v.read,
            imported: v.imported,
            updated: v.updated,
            skipped: v.skipped,
            failed: v.failed,
        }
    }
}

/// An import as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    id: ImportId,
    status: ImportStatus,
    /// Why it failed or was cancelled.
    status_reason: Option<String>,
    format: ImportFormat,
    default_region: String,
    on_duplicate: OnDuplicate,
    file_name: Option<String>,
    /// The file's size.
    bytes: i64,
    progress: ImportProgress,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<ContactImport> for ImportView {
    fn from(i: ContactImport) -> Self {
        Self {
            id: i.id,
            status: i.status,
            status_reason: i.status_reason,
            format: i.format,
            default_region: i.default_region,
            on_duplicate: i.on_duplicate,
            file_name: i.file_name,
            bytes: i.source_bytes,
            progress: i.progress.into(),
            created_at: i.created_at,
            started_at: i.started_at,
            finished_at: i.finished_at,
        }
    }
}

/// The import just created, and the job that runs it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedImport {
    import: ImportView,
    job: JobRef,
}

/// The format a `Content-Type` names, if any.
fn format_of(content_type: &str) -> Option<ImportFormat> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" | "application/csv" | "text/plain" => Some(ImportFormat::Csv),
        "application/json" => Some(ImportFormat::Json),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Some(ImportFormat::Ndjson),
        _ => None,
    }
}

fn separator_of(text: &str) -> Result<char, ApiError> {
    match text {
        "," => Ok(','),
        ";" => Ok(';'),
        "|" => Ok('|'),
        "tab" | "\t" => Ok('\t'),
        other => Err(invalid_parameter(
            "separator",
            format!("unknown separator `{other}`; one of `,` `;` `|` `tab`"),
        )),
    }
}

fn column(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() || v.chars().count() > 200 || v.contains('\0') => Err(
            invalid_parameter(field, format!("`{field}` must be 1 to 200 characters")),
        ),
        other => Ok(other),
    }
}

/// Uploads a contacts file and queues its import.
///
/// The body is the file itself (`text/csv`, `application/json` or `application/x-ndjson`), of
/// any size up to `IMPORT_MAX_BYTES`; it is streamed to storage, never held whole. The answer is
/// 202 with the import, whose progress `GET /contacts/imports/{import_id}` shows. For tenant
/// users who belong to an account. The file counts against the tenant's storage quota until
/// the import ends (it is deleted then): a file that does not fit in what is left gets 429
/// `quota_exceeded`, and nothing is stored.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.write"))),
    tag = "contacts",
    operation_id = "create_import",
    params(ImportQuery),
    request_body(description = "The file", content(
        (String = "text/csv"),
        (String = "application/json"),
        (String = "application/x-ndjson"),
    )),
    responses((status = 202, description = "The import and its queued job", body = Envelope<CreatedImport>)),
)]
#[post("/contacts/imports")]
pub async fn create(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsWrite>,
    request: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> ApiResult {
    let account_id = user.account_id()?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let settings = read_settings(
        query.into_inner(),
        content_type,
        &state.config.imports.default_region,
    )?;
    let max = state.config.imports.max_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(too_large(max));
    }
    // The tenant's storage quota: the upload may take what is left of it, no more. The stream
    // is cut there whatever `Content-Length` said, and the count is checked again, locked,
    // when the import is recorded (another upload may have taken the room meanwhile).
    let quota = state.config.imports.storage_quota.of(user.tenant.plan);
    let used = db::storage_usage::bytes_used(user.scope(&state.db)).await?;
    let room = quota.saturating_sub(u64::try_from(used).unwrap_or(0));
    if room == 0 || declared.is_some_and(|length| length > room) {
        return Err(storage_exceeded(quota, used, declared));
    }
    let limit = max.min(room);

    let id = ImportId::new();
    let key = storage::StorageKey::new([
        "imports".to_owned(),
        user.tenant_id().to_string(),
        id.to_string(),
        "source".to_owned(),
    ])
    .map_err(ApiError::internal)?;
    let bytes = store_upload(&state, &key, payload, limit, max, (quota, used)).await?;
    let new = settings.into_import(id, account_id, user.user_id(), &key, bytes);
    let (import, job) = match record_import(&state, &user, new, bytes, quota).await {
        Ok(created) => created,
        Err(e) => {
            // Nothing refers to the file: it goes.
            if let Err(cleanup) = state.storage.delete(&key).await {
                tracing::warn!(error = %cleanup, key = key.as_str(), "import: cannot delete an orphaned upload");
            }
            return Err(e);
        }
    };
    state.relay_waker.wake();
    Ok(accepted(CreatedImport {
        import: ImportView::from(import),
        job: JobRef::from(&job),
    }))
}

/// How the file is to be read, as the query (or its `Content-Type`) says, checked.
struct ReadSettings {
    format: ImportFormat,
    region: String,
    on_duplicate: OnDuplicate,
    encoding: Option<TextEncoding>,
    separator: Option<char>,
    phone_column: Option<String>,
    name_column: Option<String>,
    file_name: Option<String>,
}

fn read_settings(
    query: ImportQuery,
    content_type: &str,
    default_region: &str,
) -> Result<ReadSettings, ApiError> {
    let format = match (query.format, format_of(content_type)) {
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the file as text/csv, application/json or application/x-ndjson (or say `format=`)",
            ));
        }
    };
    let region = query
        .region
        .unwrap_or_else(|| default_region.to_owned())
        .to_ascii_uppercase();
    if region.len() != 2 || phonenumber::country::Id::from_str(&region).is_err() {
        return Err(invalid_parameter(
            "region",
            format!("unknown region `{region}`; an ISO 3166 code such as BR or US"),
        ));
    }
    let separator = query.separator.as_deref().map(separator_of).transpose()?;
    let phone_column = column("phoneColumn", query.phone_column)?;
    let name_column = column("nameColumn", query.name_column)?;
    let file_name = query
        .file_name
        .map(|n| n.replace('\0', "").chars().take(255).collect::<String>());
    Ok(ReadSettings {
        format,
        region,
        on_duplicate: query.on_duplicate.unwrap_or(OnDuplicate::Update),
        encoding: query.encoding,
        separator,
        phone_column,
        name_column,
        file_name,
    })
}

impl ReadSettings {
    fn into_import(
        self,
        id: ImportId,
        account_id: AccountId,
        created_by: UserId,
        key: &storage::StorageKey,
        bytes: u64,
    ) -> NewImport {
        NewImport {
            id,
            account_id,
            created_by,
            format: self.format,
            default_region: self.region,
            on_duplicate: self.on_duplicate,
            encoding: self.encoding,
            separator: self.separator,
            phone_column: self.phone_column,
            name_column: self.name_column,
            file_name: self.file_name,
            source_key: key.as_str().to_owned(),
            source_bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        }
    }
}

/// Streams the body to storage under `key`, cut at `limit` (the smaller of `max` and the room
/// left in the storage quota, given as its quota and use); returns the file's size.
async fn store_upload(
    state: &AppState,
    key: &storage::StorageKey,
    payload: web::Payload,
    limit: u64,
    max: u64,
    (quota, used): (u64, i64),
) -> Result<u64, ApiError> {
    let body = payload.map(|chunk| chunk.map_err(std::io::Error::other));
    match state.storage.put_stream(key, body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(storage::PutError::TooLarge { .. }) if limit == max => Err(too_large(max)),
        Err(storage::PutError::TooLarge { .. }) => Err(storage_exceeded(quota, used, None)),
        Err(storage::PutError::Empty) => Err(ApiError::validation("body", "the file is empty")),
        Err(storage::PutError::Read { source }) => Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("the upload was cut short: {source}"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Records the import and enqueues its job in one transaction, once the file is checked, under
/// the storage usage's lock, to still fit in the quota.
async fn record_import(
    state: &AppState,
    user: &TenantUser,
    new: NewImport,
    bytes: u64,
    quota: u64,
) -> Result<(ContactImport, db::jobs::Job), ApiError> {
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let used = db::storage_usage::lock(user.scope(&txn)).await?;
    if u64::try_from(used).unwrap_or(0).saturating_add(bytes) > quota {
        return Err(storage_exceeded(quota, used, Some(bytes)));
    }
    let import = db::imports::create(user.scope(&txn), new).await?;
    let job = db::jobs::enqueue::<common::jobs::kind::ContactImport>(
        user.scope(&txn),
        import.id,
        &(),
        Enqueue {
            max_attempts: Some(state.config.import_attempts),
            run_at: None,
            trace_context: telemetry::current_traceparent(),
        },
    )
    .await?;
    txn.commit().await.map_err(db::DbError::from)?;
    Ok((import, job))
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the file is larger than the limit of {max} bytes (IMPORT_MAX_BYTES)"),
    )
}

/// 429 `quota_exceeded`: the file does not fit in what is left of the tenant's storage.
fn storage_exceeded(quota: u64, used: i64, size: Option<u64>) -> ApiError {
    let size = size.map_or_else(String::new, |size| format!(" and the file has {size}"));
    ApiError::new(
        ErrorCode::QuotaExceeded,
        format!(
            "storage quota reached: {used} of {quota} bytes in use{size}; wait for running imports to end or reports to expire"
        ),
    )
}

/// Deletes an ended import's source file and records it deleted (its bytes leave the tenant's
/// storage usage in that transaction), as `worker-import` does when an import ends; a failure
/// leaves the file to the sweep of `worker-report`.
async fn release_source(state: &AppState, user: &TenantUser, id: ImportId) {
    let released = async {
        let txn = state.db.begin().await.map_err(db::DbError::from)?;
        let Some(source) = db::imports::lock_ended_source(user.scope(&txn), id).await? else {
            return Ok(());
        };
        let key = storage::StorageKey::parse(&source.source_key).map_err(ApiError::internal)?;
        state
            .storage
            .delete(&key)
            .await
            .map_err(ApiError::internal)?;
        db::imports::mark_sources_deleted(db::PlatformScope::new(&txn), &[id]).await?;
        txn.commit().await.map_err(db::DbError::from)?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = released {
        tracing::warn!(import = %id, error = ?e, "import: the source file stays for the sweep");
    }
}

pub const IMPORTS: ListSpec = ListSpec {
    name: "imports",
    fields: &[
        "id",
        "status",
        "statusReason",
        "format",
        "defaultRegion",
        "onDuplicate",
        "fileName",
        "bytes",
        "progress",
        "createdAt",
        "startedAt",
        "finishedAt",
    ],
    default_fields: &["id", "status", "fileName", "progress"],
};

/// The tenant's imports, oldest first.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.read"))),
    tag = "contacts",
    operation_id = "list_imports",
    params(ListParams),
    responses((status = 200, description = "A page of imports", body = Page<ImportView>)),
)]
#[get("/contacts/imports")]
pub async fn list(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsRead>,
    query: ListQuery,
) -> ApiResult {
    let page = query.page(&IMPORTS)?;
    let (rows, more) = db::imports::page(user.scope(&state.db), page.after(), page.limit()).await?;
    let views: Vec<ImportView> = rows.into_iter().map(ImportView::from).collect();
    page.respond(views, more, |i| i.id.into_uuid())
}

/// One import: its status and progress (read, imported, updated, skipped, failed).
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.read"))),
    tag = "contacts",
    params(("import_id" = uuid::Uuid, Path, description = "The import")),
    responses((status = 200, description = "The import", body = Envelope<ImportView>)),
)]
#[get("/contacts/imports/{import_id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsRead>,
    path: web::Path<ImportId>,
) -> ApiResult {
    let import = db::imports::find(user.scope(&state.db), path.into_inner()).await?;
    Ok(ok(ImportView::from(import)))
}

/// Cancels a queued or running import: the worker stops at its next batch (what it imported
/// stays) and the uploaded file is deleted. 409 once the import has ended.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.write"))),
    tag = "contacts",
    params(("import_id" = uuid::Uuid, Path, description = "The import")),
    responses((status = 200, description = "The cancelled import", body = Envelope<ImportView>)),
)]
#[post("/contacts/imports/{import_id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsWrite>,
    path: web::Path<ImportId>,
) -> ApiResult {
    let txn = state.db.begin().await.map_err(db::DbError::from)?;
    let import = db::imports::cancel(user.scope(&txn), path.into_inner()).await?;
    txn.commit().await.map_err(db::DbError::from)?;
    // A running import's worker may still be reading the file: it has it open (a local file)
    // or streaming (S3), and stops at its next batch either way.
    release_source(&state, &user, import.id).await;
    Ok(ok(ImportView::from(import)))
}

/// Rows fetched per query while streaming the error file.
const ERRORS_PER_QUERY: u64 = 5_000;

/// The rows that failed, as CSV (`line,value,reason`), streamed.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.read"))),
    tag = "contacts",
    params(("import_id" = uuid::Uuid, Path, description = "The import")),
    responses((status = 200, description = "The failed rows", body = String, content_type = "text/csv")),
)]
#[get("/contacts/imports/{import_id}/errors")]
pub async fn errors(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsRead>,
    path: web::Path<ImportId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    // Another tenant's import is not found before anything is streamed.
    db::imports::find(user.scope(&state.db), id).await?;
    let tenant = user.tenant_id();
    let db = state.db.clone();
    let header = Some(web::Bytes::from_static(b"line,value,reason\n"));
    let rows = futures_util::stream::unfold(Some(0i64), move |after| {
        let db = db.clone();
        async move {
            let after = after?;
            let scope = db::TenantScope::for_caller(&db, tenant);
            match db::imports::errors_page(scope, id, after, ERRORS_PER_QUERY).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map_or(after, |r| r.line);
                    let more = rows.len() as u64 == ERRORS_PER_QUERY;
                    Some((csv_rows(&rows), more.then_some(last)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "import errors: the stream stopped");
                    Some((Err(std::io::Error::other(e)), None))
                }
            }
        }
    });
    let body = futures_util::stream::iter(header.map(Ok)).chain(rows);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{id}-errors.csv\""),
        ))
        .streaming(body))
}

fn csv_rows(rows: &[db::imports::RowError]) -> Result<web::Bytes, std::io::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // The value is the tenant's file and the reason may quote it: no cell a spreadsheet
        // would run (`common::spreadsheet`).
        let line = row.line.to_string();
        let cells = [&line, &row.value, &row.reason].map(|cell| csv_cell(cell));
        writer
            .write_record(cells.iter().map(|cell| cell.as_bytes()))
            .map_err(std::io::Error::other)?;
    }
    writer
        .into_inner()
        .map(web::Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}
