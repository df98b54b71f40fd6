#![doc = include_str!("../README.md")]

pub mod config;

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use common::jobs::kind::ReportGeneration;
use common::reports::{ReportFormat, ReportKind, ReportStatus};
use common::spreadsheet::csv_cell;
use common::{ContactId, ImportId, OptOutId, RecipientId, ReportId, TenantId};
use db::reports::{ReadyFile, Report};
use db::{DatabaseConnection, PlatformScope, TenantScope};
use futures_util::{Stream, StreamExt};
use sea_orm::TransactionTrait;
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};
use worker::{BuildJob, Done, Job, JobContext, JobError};

use crate::config::ReportConfig;

/// Rows fetched per query: one page is all a report holds in memory besides the upload's
/// parts.
pub const ROWS_PER_PAGE: u64 = 5_000;
/// Expired reports deleted per sweep transaction.
const SWEEP_BATCH: u64 = 100;

/// Generates reports, one report per job, and deletes expired ones.
pub struct ReportJob {
    pub storage: storage::Storage,
    /// How long a ready report is kept.
    pub ttl: Duration,
    /// Stops the expiry sweep when the job (the worker) is dropped, after its drain.
    _sweep: DropGuard,
}

impl Job for ReportJob {
    type Kind = ReportGeneration;

    async fn run(&self, ctx: JobContext, id: ReportId, _: ()) -> Result<Done, JobError> {
        self.generate(&ctx, id).await
    }

    /// A report whose job failed for good shows `failed` with the reason.
    async fn on_failed(
        &self,
        scope: TenantScope<'_, DatabaseConnection>,
        id: ReportId,
        reason: &str,
    ) -> Result<(), db::DbError> {
        db::reports::transition(
            scope,
            id,
            &[ReportStatus::Queued, ReportStatus::Running],
            ReportStatus::Failed,
            Some(reason.to_owned()),
        )
        .await
        .map(drop)
    }
}

impl BuildJob for ReportJob {
    type Config = ReportConfig;

    /// Also starts the expiry sweep, every `REPORT_SWEEP_SECONDS`, until the job is dropped.
    fn build(config: ReportConfig, db: DatabaseConnection) -> anyhow::Result<Self> {
        let storage = storage::Storage::open(&config.storage)?;
        let stop = CancellationToken::new();
        tokio::spawn(sweep_every(
            db,
            storage.clone(),
            config.sweep_every,
            stop.clone(),
        ));
        Ok(Self {
            storage,
            ttl: config.ttl,
            _sweep: stop.drop_guard(),
        })
    }
}

/// The key of a report's file: `reports/<tenant>/<report>/report.<ext>`.
pub fn report_key(
    tenant_id: TenantId,
    id: ReportId,
    format: ReportFormat,
) -> Result<storage::StorageKey, storage::KeyError> {
    storage::StorageKey::new([
        "reports".to_owned(),
        tenant_id.to_string(),
        id.to_string(),
        format!("report.{}", format.extension()),
    ])
}

/// Why the row stream stopped before its end.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("reading the rows failed: {0}")]
    Db(#[from] db::DbError),
    #[error("encoding a row failed: {0}")]
    Encode(#[from] csv::Error),
    #[error("the worker is stopping")]
    Stopping,
    #[error("the job's lease was taken over")]
    LeaseLost,
}

impl ReportJob {
    async fn generate(&self, ctx: &JobContext, id: ReportId) -> Result<Done, JobError> {
        let scope = ctx.scope();
        let report = db::reports::find(scope, id).await?;
        if report.status.is_finished() {
            return Ok(Done::Completed(Some(json!({"status": report.status}))));
        }
        let report = db::reports::transition(
            scope,
            id,
            &[ReportStatus::Queued, ReportStatus::Running],
            ReportStatus::Running,
            None,
        )
        .await?;
        if report.kind == ReportKind::CampaignDelivery {
            ensure_campaign_exists(scope, &report).await?;
        }

        let key = report_key(ctx.tenant_id(), id, report.format).map_err(JobError::permanent)?;
        let (bytes, rows) = match self.store_file(ctx, &report, &key).await? {
            ControlFlow::Continue(stored) => stored,
            ControlFlow::Break(done) => return Ok(done),
        };

        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        let ready = app::reports::mark_ready(
            scope.on(&txn),
            id,
            ReadyFile {
                storage_key: key.as_str().to_owned(),
                bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                rows,
                ttl: self.ttl,
            },
        )
        .await;
        let ready = match ready {
            Ok(ready) => ready,
            // No longer running (failed meanwhile): the file is no one's.
            Err(db::DbError::NotFound(_)) => {
                drop(txn);
                if let Err(e) = self.storage.delete(&key).await {
                    tracing::warn!(error = %e, %key, "report: cannot delete an unused file");
                }
                let now = db::reports::find(scope, id).await?;
                return Ok(Done::Completed(Some(json!({"status": now.status}))));
            }
            Err(e) => return Err(e.into()),
        };
        if !db::jobs::set_progress(&txn, ctx.lease, json!({"rows": rows, "bytes": bytes})).await? {
            return Err(JobError::LeaseLost);
        }
        txn.commit().await.map_err(db::DbError::from)?;
        // The report.ready event's notification and webhook jobs go out now.
        ctx.wake_relay();
        metrics::counter!(
            "reports_generated_total",
            "kind" => report.kind.as_str(),
            "format" => report.format.as_str()
        )
        .increment(1);
        metrics::counter!("report_rows_total").increment(u64::try_from(rows).unwrap_or(0));
        tracing::info!(report = %id, kind = %report.kind, rows, bytes, "report ready");
        Ok(Done::Completed(Some(json!({
            "status": ready.status,
            "rows": rows,
            "bytes": bytes,
        }))))
    }

    /// Stores the report's file under `key`; returns its size and rows, or (`Break`) how the
    /// job ends when the worker is stopping.
    async fn store_file(
        &self,
        ctx: &JobContext,
        report: &Report,
        key: &storage::StorageKey,
    ) -> Result<ControlFlow<Done, (u64, i64)>, JobError> {
        let rows = Arc::new(AtomicI64::new(0));
        let stream = rows_stream(ctx.clone(), report.clone(), rows.clone());
        // The file is visible under its key only once all of it is stored: an attempt that
        // stops half-way leaves nothing, and a retry replaces the whole file.
        let bytes = match self.storage.put_stream(key, stream, u64::MAX).await {
            Ok(bytes) => bytes,
            Err(storage::PutError::Read { source }) => {
                return Err(match source.downcast::<StreamError>() {
                    Ok(stopped) => match *stopped {
                        StreamError::Stopping => {
                            return Ok(ControlFlow::Break(Done::Deferred(Duration::from_secs(1))));
                        }
                        StreamError::LeaseLost => JobError::LeaseLost,
                        StreamError::Encode(e) => JobError::permanent(e),
                        StreamError::Db(e) => JobError::from(e),
                    },
                    Err(other) => JobError::Transient(other),
                });
            }
            Err(e) => return Err(JobError::transient(e)),
        };
        Ok(ControlFlow::Continue((bytes, rows.load(Ordering::Relaxed))))
    }
}

/// A campaign delivery report's campaign; a permanent failure when it is gone since the report
/// was asked for (deleted with its tenant's data).
async fn ensure_campaign_exists(
    scope: TenantScope<'_, DatabaseConnection>,
    report: &Report,
) -> Result<(), JobError> {
    let campaign_id = report
        .parameters
        .campaign_id
        .ok_or_else(|| JobError::permanent("a campaign delivery report without a campaign"))?;
    match db::campaigns::find(scope, campaign_id).await {
        Err(db::DbError::NotFound(_)) => Err(JobError::permanent("the campaign no longer exists")),
        other => {
            other?;
            Ok(())
        }
    }
}

/// Where the row stream is.
enum Cursor {
    Start,
    After(uuid::Uuid),
    /// The last page was read; the closing bytes are next.
    Last,
    Done,
}

struct StreamState {
    ctx: JobContext,
    report: Report,
    encoder: Encoder,
    cursor: Cursor,
    rows: Arc<AtomicI64>,
}

/// The report's file as a stream of chunks, one per page of rows, counting rows into `rows`.
fn rows_stream(
    ctx: JobContext,
    report: Report,
    rows: Arc<AtomicI64>,
) -> impl Stream<Item = Result<Bytes, StreamError>> + Send {
    let encoder = Encoder::new(report.format, columns(report.kind));
    let state = StreamState {
        ctx,
        report,
        encoder,
        cursor: Cursor::Start,
        rows,
    };
    futures_util::stream::try_unfold(state, |mut state| async move {
        let after = match state.cursor {
            Cursor::Done => return Ok(None),
            Cursor::Last => {
                state.cursor = Cursor::Done;
                let end = state.encoder.finish()?;
                return Ok(Some((end, state)));
            }
            Cursor::Start => None,
            Cursor::After(id) => Some(id),
        };
        if state.ctx.shutdown.is_cancelled() {
            return Err(StreamError::Stopping);
        }
        if state.ctx.lease_lost.is_cancelled() {
            return Err(StreamError::LeaseLost);
        }
        let (count, last) = next_page(&state.ctx, &state.report, &mut state.encoder, after).await?;
        state.rows.fetch_add(count as i64, Ordering::Relaxed);
        state.cursor = match last {
            Some(id) if count as u64 == ROWS_PER_PAGE => Cursor::After(id),
            _ => Cursor::Last,
        };
        let chunk = state.encoder.take()?;
        Ok(Some((chunk, state)))
    })
    .boxed()
}

/// The headers (CSV) and keys (JSON) of a kind's rows.
pub fn columns(kind: ReportKind) -> &'static [&'static str] {
    match kind {
        ReportKind::CampaignDelivery => &[
            "phone",
            "name",
            "status",
            "attempts",
            "sent_at",
            "error",
            "message_id",
            "delivered_at",
            "read_at",
            "replied_at",
        ],
        ReportKind::Contacts => &["phone", "name", "fields", "created_at"],
        ReportKind::OptOuts => &["phone", "opted_out_at", "message", "account_id", "inbox_id"],
        ReportKind::Usage => &[
            "day",
            "campaigns_created",
            "messages_sent",
            "messages_failed",
            "contacts_added",
            "imports",
            "imported_contacts",
        ],
    }
}

/// Encodes the next page of rows after `after`; returns how many and the last row's id.
async fn next_page(
    ctx: &JobContext,
    report: &Report,
    encoder: &mut Encoder,
    after: Option<uuid::Uuid>,
) -> Result<(usize, Option<uuid::Uuid>), StreamError> {
    let scope = ctx.scope();
    match report.kind {
        ReportKind::CampaignDelivery => delivery_page(scope, report, encoder, after).await,
        ReportKind::Contacts => contacts_page(scope, report, encoder, after).await,
        ReportKind::OptOuts => opt_outs_page(scope, encoder, after).await,
        ReportKind::Usage => usage_page(scope, report, encoder).await,
    }
}

async fn delivery_page(
    scope: TenantScope<'_, DatabaseConnection>,
    report: &Report,
    encoder: &mut Encoder,
    after: Option<uuid::Uuid>,
) -> Result<(usize, Option<uuid::Uuid>), StreamError> {
    let campaign_id = report
        .parameters
        .campaign_id
        .ok_or(db::DbError::NotFound("campaign"))?;
    let page = db::reports::delivery_page(
        scope,
        campaign_id,
        after.map(RecipientId::from),
        ROWS_PER_PAGE,
    )
    .await?;
    for r in &page {
        encoder.row(&[
            Cell::Text(&r.phone),
            Cell::Text(&r.name),
            Cell::Text(r.status.as_str()),
            Cell::Int(i64::from(r.attempts)),
            Cell::Time(r.sent_at),
            Cell::OptText(r.error.as_deref()),
            Cell::Text(&r.message_id),
            Cell::Time(r.delivered_at),
            Cell::Time(r.read_at),
            Cell::Time(r.replied_at),
        ])?;
    }
    Ok((page.len(), page.last().map(|r| r.id)))
}

async fn contacts_page(
    scope: TenantScope<'_, DatabaseConnection>,
    report: &Report,
    encoder: &mut Encoder,
    after: Option<uuid::Uuid>,
) -> Result<(usize, Option<uuid::Uuid>), StreamError> {
    let page = db::reports::contacts_page(
        scope,
        &report.parameters,
        after.map(ContactId::from),
        ROWS_PER_PAGE,
    )
    .await?;
    for c in &page {
        encoder.row(&[
            Cell::Text(&c.phone),
            Cell::Text(&c.name),
            Cell::Json(&c.fields),
            Cell::Time(Some(c.created_at)),
        ])?;
    }
    Ok((page.len(), page.last().map(|c| c.id)))
}

async fn opt_outs_page(
    scope: TenantScope<'_, DatabaseConnection>,
    encoder: &mut Encoder,
    after: Option<uuid::Uuid>,
) -> Result<(usize, Option<uuid::Uuid>), StreamError> {
    let (page, _) = db::consent::page(scope, after.map(OptOutId::from), ROWS_PER_PAGE).await?;
    for o in &page {
        let account = o.account_id.to_string();
        let inbox = o.inbox_id.map(|id| id.to_string());
        encoder.row(&[
            Cell::Text(&o.phone),
            Cell::Time(Some(o.opted_out_at)),
            Cell::Text(&o.message),
            Cell::Text(&account),
            Cell::OptText(inbox.as_deref()),
        ])?;
    }
    Ok((page.len(), page.last().map(|o| o.id.into_uuid())))
}

/// The usage report's days: at most USAGE_MAX_DAYS + 1 rows, so one query is one page.
async fn usage_page(
    scope: TenantScope<'_, DatabaseConnection>,
    report: &Report,
    encoder: &mut Encoder,
) -> Result<(usize, Option<uuid::Uuid>), StreamError> {
    let (Some(from), Some(to)) = (report.parameters.from, report.parameters.to) else {
        return Err(db::DbError::Invalid {
            field: "from",
            message: "a usage report without its time range".to_owned(),
        }
        .into());
    };
    let days = db::reports::usage_days(scope, from, to).await?;
    for d in &days {
        encoder.row(&[
            Cell::Date(d.day),
            Cell::Int(d.campaigns_created),
            Cell::Int(d.messages_sent),
            Cell::Int(d.messages_failed),
            Cell::Int(d.contacts_added),
            Cell::Int(d.imports),
            Cell::Int(d.imported_contacts),
        ])?;
    }
    Ok((days.len(), None))
}

/// One value of a row. Empty text in CSV stands for a missing value, `null` in JSON.
pub enum Cell<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    /// RFC 3339 in UTC, milliseconds.
    Time(Option<DateTime<Utc>>),
    /// `YYYY-MM-DD`.
    Date(NaiveDate),
    /// A JSON value: itself in JSON, its compact text in CSV.
    Json(&'a serde_json::Value),
}

/// Writes rows into a buffer that is taken after each page: a CSV header and records, or the
/// items of one JSON array written as they come.
pub struct Encoder {
    columns: &'static [&'static str],
    out: Out,
    /// The header (CSV) or the array's `[` (JSON) is written.
    started: bool,
    /// JSON: an item was written (the next one needs a comma).
    items: bool,
}

enum Out {
    /// A new writer (and its 8 KiB buffer) per page, not per row.
    Csv(Option<Box<csv::Writer<Vec<u8>>>>),
    Json(Vec<u8>),
}

fn csv_writer() -> Box<csv::Writer<Vec<u8>>> {
    Box::new(csv::Writer::from_writer(Vec::with_capacity(1 << 20)))
}

fn json_error(e: serde_json::Error) -> csv::Error {
    csv::Error::from(std::io::Error::other(e))
}

impl Encoder {
    pub fn new(format: ReportFormat, columns: &'static [&'static str]) -> Self {
        let out = match format {
            ReportFormat::Csv => Out::Csv(Some(csv_writer())),
            ReportFormat::Json => Out::Json(Vec::with_capacity(1 << 20)),
        };
        Self {
            columns,
            out,
            started: false,
            items: false,
        }
    }

    fn start(&mut self) -> Result<(), csv::Error> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        match &mut self.out {
            Out::Csv(writer) => writer
                .get_or_insert_with(csv_writer)
                .write_record(self.columns),
            Out::Json(buffer) => {
                buffer.push(b'[');
                Ok(())
            }
        }
    }

    pub fn row(&mut self, cells: &[Cell<'_>]) -> Result<(), csv::Error> {
        self.start()?;
        match &mut self.out {
            Out::Csv(writer) => {
                let writer = writer.get_or_insert_with(csv_writer);
                for cell in cells {
                    // Every cell, whoever wrote it, goes through the one rule that keeps
                    // spreadsheets from running it (`common::spreadsheet`).
                    let text: Cow<'_, str> = match cell {
                        Cell::Text(text) => Cow::Borrowed(text),
                        Cell::OptText(text) => Cow::Borrowed(text.unwrap_or_default()),
                        Cell::Int(n) => Cow::Owned(n.to_string()),
                        Cell::Time(at) => Cow::Owned(at.map(time).unwrap_or_default()),
                        Cell::Date(day) => Cow::Owned(day.to_string()),
                        Cell::Json(value) => Cow::Owned(value.to_string()),
                    };
                    writer.write_field(csv_cell(&text).as_bytes())?;
                }
                writer.write_record(None::<&[u8]>)?;
            }
            Out::Json(buffer) => {
                if self.items {
                    buffer.push(b',');
                }
                self.items = true;
                buffer.extend_from_slice(b"\n{");
                for (i, (column, cell)) in self.columns.iter().zip(cells).enumerate() {
                    if i > 0 {
                        buffer.push(b',');
                    }
                    serde_json::to_writer(&mut *buffer, column).map_err(json_error)?;
                    buffer.push(b':');
                    match cell {
                        Cell::Text(text) => serde_json::to_writer(&mut *buffer, text),
                        Cell::OptText(text) => serde_json::to_writer(&mut *buffer, text),
                        Cell::Int(n) => serde_json::to_writer(&mut *buffer, n),
                        Cell::Time(at) => serde_json::to_writer(&mut *buffer, &at.map(time)),
                        Cell::Date(day) => serde_json::to_writer(&mut *buffer, &day.to_string()),
                        Cell::Json(value) => serde_json::to_writer(&mut *buffer, value),
                    }
                    .map_err(json_error)?;
                }
                buffer.push(b'}');
            }
        }
        Ok(())
    }

    /// What was written since the last take, as a chunk of exactly its size: the upload keeps
    /// chunks until their part is sent, so a chunk must not pin a larger buffer. The buffer is
    /// reused for the next page.
    pub fn take(&mut self) -> Result<Bytes, csv::Error> {
        match &mut self.out {
            Out::Csv(writer) => {
                let Some(full) = writer.take() else {
                    return Ok(Bytes::new());
                };
                let mut buffer = full
                    .into_inner()
                    .map_err(|e| csv::Error::from(e.into_error()))?;
                let chunk = Bytes::copy_from_slice(&buffer);
                buffer.clear();
                *writer = Some(Box::new(csv::Writer::from_writer(buffer)));
                Ok(chunk)
            }
            Out::Json(buffer) => {
                let chunk = Bytes::copy_from_slice(buffer);
                buffer.clear();
                Ok(chunk)
            }
        }
    }

    /// The rest of the file: the header of an empty CSV, the end of the JSON array.
    pub fn finish(&mut self) -> Result<Bytes, csv::Error> {
        self.start()?;
        if let Out::Json(buffer) = &mut self.out {
            buffer.extend_from_slice(b"\n]\n");
        }
        self.take()
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Sweeps expired reports every `every` until `stop`; the first sweep runs at once.
async fn sweep_every(
    db: DatabaseConnection,
    storage: storage::Storage,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // A sweep cut short by `stop` rolls back: its reports stay ready for the next one.
        tokio::select! {
            () = stop.cancelled() => return,
            swept = sweep(&db, &storage) => match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(reports = n, "expired reports deleted"),
                Err(e) => tracing::warn!(error = %e, "report sweep failed; retried at the next one"),
            },
        }
        // The same sweep deletes what imports left behind (one loop for every file that
        // outlived its use, on the worker that already deletes files on a schedule).
        tokio::select! {
            () = stop.cancelled() => return,
            swept = sweep_import_sources(&db, &storage) => match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "leftover import files deleted"),
                Err(e) => tracing::warn!(error = %e, "import file sweep failed; retried at the next one"),
            },
        }
    }
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

/// Deletes the files of every ready report past its expiry and marks the reports expired;
/// returns how many. Each batch's rows stay locked (`FOR UPDATE SKIP LOCKED`) while its files
/// are deleted, so sweeps of several replicas at once take different reports; a failed delete
/// rolls its batch back for the next sweep (deleting a file twice is harmless).
pub async fn sweep(db: &DatabaseConnection, storage: &storage::Storage) -> Result<u64, SweepError> {
    let mut total = 0;
    loop {
        let txn = db.begin().await.map_err(db::DbError::from)?;
        let batch = db::reports::lock_expired(PlatformScope::new(&txn), SWEEP_BATCH).await?;
        for report in &batch {
            match storage::StorageKey::parse(&report.storage_key) {
                Ok(key) => storage.delete(&key).await?,
                // Never written by this worker: nothing of ours to delete.
                Err(e) => {
                    tracing::warn!(report = %report.id, error = %e, "report: unreadable storage key")
                }
            }
        }
        let ids: Vec<ReportId> = batch.iter().map(|r| r.id).collect();
        let expired = db::reports::mark_expired(PlatformScope::new(&txn), &ids).await?;
        txn.commit().await.map_err(db::DbError::from)?;
        metrics::counter!("reports_expired_total").increment(expired);
        total += expired;
        if (batch.len() as u64) < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

/// Deletes the source files of ended imports that are still in storage (worker-import
/// deletes each when its import ends; this catches a crash or a failed delete in between) and
/// records them deleted, which takes their bytes off their tenants' storage usage; returns
/// how many. Batches are locked `FOR UPDATE SKIP LOCKED` as for reports.
pub async fn sweep_import_sources(
    db: &DatabaseConnection,
    storage: &storage::Storage,
) -> Result<u64, SweepError> {
    let mut total = 0;
    loop {
        let txn = db.begin().await.map_err(db::DbError::from)?;
        let batch =
            db::imports::lock_leftover_sources(PlatformScope::new(&txn), SWEEP_BATCH).await?;
        for source in &batch {
            match storage::StorageKey::parse(&source.source_key) {
                Ok(key) => storage.delete(&key).await?,
                Err(e) => {
                    tracing::warn!(import = %source.id, error = %e, "import: unreadable storage key")
                }
            }
        }
        let ids: Vec<ImportId> = batch.iter().map(|s| s.id).collect();
        let deleted = db::imports::mark_sources_deleted(PlatformScope::new(&txn), &ids).await?;
        txn.commit().await.map_err(db::DbError::from)?;
        metrics::counter!("import_sources_swept_total").increment(deleted);
        total += deleted;
        if (batch.len() as u64) < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[Bytes]) -> String {
        bytes
            .iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn csv_quotes_what_needs_it_and_leaves_missing_values_empty() {
        let mut encoder = Encoder::new(ReportFormat::Csv, &["a", "b", "c"]);
        let fields = json!({"city": "São Paulo, SP"});
        encoder
            .row(&[Cell::Text("x\"y"), Cell::OptText(None), Cell::Json(&fields)])
            .unwrap();
        let first = encoder.take().unwrap();
        encoder
            .row(&[Cell::Int(3), Cell::Time(None), Cell::Text("line\nbreak")])
            .unwrap();
        let out = text(&[first, encoder.take().unwrap(), encoder.finish().unwrap()]);
        assert_eq!(
            out,
            "a,b,c\n\"x\"\"y\",,\"{\"\"city\"\":\"\"São Paulo, SP\"\"}\"\n3,,\"line\nbreak\"\n"
        );
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_start_with_a_quote_json_is_untouched() {
        let fields = json!({"k": "=1"});
        let cells = [
            Cell::Text("=HYPERLINK(\"http://x\",\"y\")"),
            Cell::OptText(Some("@SUM(A1)")),
            Cell::Int(-1),
            Cell::Text("\tx"),
            Cell::Json(&fields),
        ];
        let mut csv = Encoder::new(ReportFormat::Csv, &["a", "b", "c", "d", "e"]);
        csv.row(&cells).unwrap();
        assert_eq!(
            text(&[csv.take().unwrap()]),
            "a,b,c,d,e\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'@SUM(A1),'-1,'\tx,\"{\"\"k\"\":\"\"=1\"\"}\"\n"
        );
        let mut json = Encoder::new(ReportFormat::Json, &["a", "b", "c", "d", "e"]);
        json.row(&cells).unwrap();
        let parsed: serde_json::Value =
            serde_json::from_str(&text(&[json.take().unwrap(), json.finish().unwrap()])).unwrap();
        assert_eq!(
            parsed,
            json!([{"a": "=HYPERLINK(\"http://x\",\"y\")", "b": "@SUM(A1)", "c": -1, "d": "\tx", "e": {"k": "=1"}}])
        );
    }

    #[test]
    fn json_is_one_array_written_item_by_item() {
        let mut encoder = Encoder::new(ReportFormat::Json, &["a", "b"]);
        let fields = json!({"k": [1, 2]});
        encoder
            .row(&[Cell::Text("é\""), Cell::Json(&fields)])
            .unwrap();
        let first = encoder.take().unwrap();
        encoder.row(&[Cell::OptText(None), Cell::Int(-1)]).unwrap();
        let out = text(&[first, encoder.take().unwrap(), encoder.finish().unwrap()]);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            parsed,
            json!([{"a": "é\"", "b": {"k": [1, 2]}}, {"a": null, "b": -1}])
        );
    }

    #[test]
    fn an_empty_report_is_a_header_or_an_empty_array() {
        let mut csv = Encoder::new(ReportFormat::Csv, &["a", "b"]);
        assert_eq!(text(&[csv.finish().unwrap()]), "a,b\n");
        let mut json = Encoder::new(ReportFormat::Json, &["a", "b"]);
        let parsed: serde_json::Value =
            serde_json::from_str(&text(&[json.finish().unwrap()])).unwrap();
        assert_eq!(parsed, json!([]));
    }
}
