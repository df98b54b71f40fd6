#![doc = include_str!("../README.md")]

pub mod config;
pub mod phone;
pub mod read;

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::ImportId;
use common::imports::{ImportStatus, OnDuplicate};
use common::jobs::kind::ContactImport;
use common::subscription::Quota;
use db::DatabaseConnection;
use db::contacts::{BatchStrategy, ContactRow};
use db::imports::{ImportProgress, RowError};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use sea_orm::TransactionTrait;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use worker::{BuildJob, Done, Job, JobContext, JobError};

use crate::config::ImportConfig;
use crate::phone::{PhoneChecker, Phones};
use crate::read::{FileError, ReadOptions, Record, excerpt};

/// Records per batch: one transaction writes their contacts, errors and progress. (20,000
/// writes a million rows a third faster than 5,000; a crash repeats at most one batch's work.)
const BATCH_RECORDS: usize = 20_000;
/// Batches read ahead of those being written.
const READ_AHEAD: usize = 2;
/// Batches written at once, each on its own connection (committed in file order).
const WRITES_IN_FLIGHT: usize = 2;
/// Longest name a contact may have (as `POST /api/contacts`).
const MAX_NAME_CHARS: usize = 200;
/// Most fields a contact may have (as `POST /api/contacts`).
const MAX_FIELDS: usize = 50;
/// Most threads one batch's rows are checked on.
const MAX_CHECK_THREADS: usize = 4;
/// Fewer rows than this are checked on the reading thread alone (a thread costs more).
const MIN_PARALLEL_CHECK: usize = 2_000;

/// Imports contacts from uploaded files, one import per job.
pub struct ImportJob {
    pub storage: storage::Storage,
    /// The longest CSV record, NDJSON line or JSON array item (`IMPORT_MAX_RECORD_BYTES`).
    pub max_record_bytes: usize,
}

impl Job for ImportJob {
    type Kind = ContactImport;

    async fn run(&self, ctx: JobContext, id: ImportId, _: ()) -> Result<Done, JobError> {
        self.import(&ctx, id).await
    }

    /// An import whose job failed for good shows `failed` with the reason, and its file goes.
    async fn on_failed(
        &self,
        scope: db::TenantScope<'_, DatabaseConnection>,
        id: ImportId,
        reason: &str,
    ) -> Result<(), db::DbError> {
        let ended = end_import(
            scope,
            id,
            &[ImportStatus::Queued, ImportStatus::Running],
            ImportStatus::Failed,
            Some(reason.to_owned()),
        )
        .await;
        self.release_source(scope, id).await;
        ended.map(drop)
    }
}

impl BuildJob for ImportJob {
    type Config = ImportConfig;

    fn build(config: ImportConfig, _db: DatabaseConnection) -> anyhow::Result<Self> {
        Ok(Self {
            storage: storage::Storage::open(&config.storage)?,
            max_record_bytes: config.max_record_bytes,
        })
    }
}

/// Ends an import and records the event its end announces, in one transaction.
async fn end_import(
    scope: db::TenantScope<'_, DatabaseConnection>,
    id: ImportId,
    from: &[ImportStatus],
    to: ImportStatus,
    reason: Option<String>,
) -> Result<db::imports::ContactImport, db::DbError> {
    let txn = scope.conn().begin().await?;
    let ended = app::imports::transition(scope.on(&txn), id, from, to, reason).await?;
    txn.commit().await?;
    Ok(ended)
}

/// Why an ended import's source file was not deleted (the sweep tries again).
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

/// Deletes the source file of an import that has ended (completed, failed or cancelled) and
/// records it deleted, which takes its bytes off the tenant's storage usage in the same
/// transaction. Returns whether there was a file to delete: `false` when the import has not
/// ended or its file is already gone. The import's row stays locked while the file is
/// deleted, so a concurrent sweep skips it; a delete that fails rolls back and leaves the file
/// to the sweep (`worker-report`), and deleting a file twice is harmless.
pub async fn release_source(
    storage: &storage::Storage,
    scope: db::TenantScope<'_, DatabaseConnection>,
    id: ImportId,
) -> Result<bool, ReleaseError> {
    let txn = scope.conn().begin().await.map_err(db::DbError::from)?;
    let Some(source) = db::imports::lock_ended_source(scope.on(&txn), id).await? else {
        return Ok(false);
    };
    match storage::StorageKey::parse(&source.source_key) {
        Ok(key) => storage.delete(&key).await?,
        // Never written by the gateway: nothing of ours to delete.
        Err(e) => tracing::warn!(import = %id, error = %e, "import: unreadable storage key"),
    }
    db::imports::mark_sources_deleted(db::PlatformScope::new(&txn), &[id]).await?;
    txn.commit().await.map_err(db::DbError::from)?;
    Ok(true)
}

/// Phone numbers already seen in this file, as integers (E.164 has at most 15 digits).
type Seen = HashSet<u64>;

/// How writing an import's batches ended.
struct WriteLoop {
    /// The import's progress after the last batch committed.
    total: ImportProgress,
    /// How the job ends when it stopped before the file's end (cancelled, or stopping).
    stopped: Option<Done>,
    cancelled: bool,
}

/// Reads the file on a blocking thread, skipping the `committed` records a previous attempt
/// wrote (only their phones are remembered, to find duplicates), and sends the rest in checked
/// batches; the thread ends at its next batch once the receiver is dropped.
fn spawn_reading(
    reader: storage::ObjectReader,
    options: ReadOptions,
    region: phonenumber::country::Id,
    committed: i64,
) -> (
    tokio::task::JoinHandle<Result<read::Detected, FileError>>,
    mpsc::Receiver<Batch>,
) {
    let (batches, received) = mpsc::channel::<Batch>(READ_AHEAD);
    let input = tokio_util::io::SyncIoBridge::new(reader);
    let reading = tokio::task::spawn_blocking(move || {
        let phones = Phones::new(region);
        let mut own_checker = phones.checker();
        let mut seen = Seen::new();
        let mut passed = 0i64;
        let mut pending = Vec::with_capacity(BATCH_RECORDS);
        let read = read::read_records(input, &options, |record| {
            // Records a previous attempt committed: only their phones matter (duplicates).
            if passed < committed {
                passed += 1;
                if let Record::Row(row) = record
                    && let Ok(phone) = own_checker.normalise(&row.phone)
                {
                    seen.insert(phone_key(&phone));
                }
                return true;
            }
            pending.push(record);
            pending.len() < BATCH_RECORDS
                || batches
                    .blocking_send(prepare(std::mem::take(&mut pending), &phones, &mut seen))
                    .is_ok()
        });
        if read.is_ok() && !pending.is_empty() {
            let _ = batches.blocking_send(prepare(pending, &phones, &mut seen));
        }
        read
    });
    (reading, received)
}

impl ImportJob {
    /// [`release_source`], its failure logged: the import's outcome does not depend on it, and
    /// the sweep deletes what is left.
    async fn release_source(&self, scope: db::TenantScope<'_, DatabaseConnection>, id: ImportId) {
        if let Err(e) = release_source(&self.storage, scope, id).await {
            tracing::warn!(import = %id, error = %e, "import: the source file stays for the sweep");
        }
    }

    async fn import(&self, ctx: &JobContext, id: ImportId) -> Result<Done, JobError> {
        let scope = ctx.scope();
        let import = db::imports::find(scope, id).await?;
        if import.status.is_finished() {
            // Cancelled before it started, or a repeat of a job whose end was recorded.
            self.release_source(scope, id).await;
            return Ok(Done::Completed(Some(json!({"status": import.status}))));
        }
        let import = app::imports::transition(
            scope,
            id,
            &[ImportStatus::Queued, ImportStatus::Running],
            ImportStatus::Running,
            None,
        )
        .await?;
        let region = phonenumber::country::Id::from_str(&import.default_region).map_err(|_| {
            JobError::permanent(format!("unknown region {}", import.default_region))
        })?;
        let max_contacts = db::quotas::entitlements(scope, import.created_by)
            .await?
            .and_then(|e| e.limits.get(Quota::MaxContacts));

        let reader = match self.open_source(scope, &import).await? {
            ControlFlow::Continue(reader) => reader,
            ControlFlow::Break(done) => return Ok(done),
        };
        let options = ReadOptions {
            format: Some(import.format),
            encoding: import.encoding,
            separator: import.separator,
            phone_column: import.phone_column.clone(),
            name_column: import.name_column.clone(),
            max_record_bytes: self.max_record_bytes,
        };
        // The file is read, and each batch checked (phones normalised, duplicates found), on a
        // blocking thread while the previous batch is written.
        let (reading, received) = spawn_reading(reader, options, region, import.progress.read);
        let target = Target {
            import: &import,
            max_contacts,
            collided: AtomicBool::new(false),
        };
        let written = self.write_batches(ctx, &target, received).await?;
        let read = reading.await.map_err(JobError::transient)?;
        if written.cancelled {
            self.release_source(scope, id).await;
        }
        if let Some(done) = written.stopped {
            return Ok(done);
        }
        self.finish(ctx, id, read, written.total).await
    }

    /// A reader of the import's source file; `Break` when the file is gone because the import
    /// was cancelled meanwhile.
    async fn open_source(
        &self,
        scope: db::TenantScope<'_, DatabaseConnection>,
        import: &db::imports::ContactImport,
    ) -> Result<ControlFlow<Done, storage::ObjectReader>, JobError> {
        let id = import.id;
        let key = storage::StorageKey::parse(&import.source_key).map_err(JobError::permanent)?;
        match self.storage.get_reader(&key).await {
            Ok(reader) => Ok(ControlFlow::Continue(reader)),
            // Cancelled since it was read above: the cancel deleted the file. Done, not retried.
            Err(e) if e.is_not_found() => {
                let now = db::imports::find(scope, id).await?;
                if !now.status.is_finished() {
                    return Err(JobError::transient(e));
                }
                self.release_source(scope, id).await;
                Ok(ControlFlow::Break(Done::Completed(Some(
                    json!({"status": now.status}),
                ))))
            }
            Err(e) => Err(JobError::transient(e)),
        }
    }

    /// Writes the batches read as they arrive until the file ends, the import is cancelled or
    /// the worker is stopping.
    async fn write_batches(
        &self,
        ctx: &JobContext,
        target: &Target<'_>,
        mut received: mpsc::Receiver<Batch>,
    ) -> Result<WriteLoop, JobError> {
        // Up to WRITES_IN_FLIGHT batches are written at once, each in its own transaction on
        // its own connection; each commits after the one before it (`turn`), so the committed
        // progress always ends at a batch boundary in file order.
        let (first, mut turn) = oneshot::channel();
        let _ = first.send(target.import.progress);
        let mut writes = FuturesOrdered::new();
        let mut total = target.import.progress;
        let mut input_done = false;
        let mut stopping = false;
        let mut stopped = None;
        let mut cancelled = false;
        loop {
            let room = !input_done && !stopping && writes.len() < WRITES_IN_FLIGHT;
            tokio::select! {
                biased;
                written = writes.next(), if !writes.is_empty() => {
                    let (written, progress) = written.expect("a write in flight")?;
                    match written {
                        Written::Continue => total = progress,
                        Written::Cancelled => {
                            cancelled = true;
                            stopped = Some(Done::Completed(Some(
                                json!({"status": "cancelled", "progress": total}),
                            )));
                            break;
                        }
                    }
                }
                batch = received.recv(), if room => match batch {
                    None => input_done = true,
                    // Asked to stop: no new batch; those in flight finish first.
                    Some(_) if ctx.shutdown.is_cancelled() || ctx.lease_lost.is_cancelled() => {
                        stopping = true;
                    }
                    Some(batch) => {
                        let (done, next) = oneshot::channel();
                        let previous = std::mem::replace(&mut turn, next);
                        writes.push_back(self.write_batch(
                            ctx,
                            target,
                            batch,
                            previous,
                            done,
                        ));
                    }
                },
                else => break,
            }
        }
        if stopping && stopped.is_none() {
            stopped = Some(Done::Deferred(Duration::from_secs(1)));
        }
        // Writes still in flight after a cancel roll back.
        drop(writes);
        // Dropping the receiver ends the reading thread at its next batch.
        drop(received);
        Ok(WriteLoop {
            total,
            stopped,
            cancelled,
        })
    }

    /// Records the import's end by how reading the file ended.
    async fn finish(
        &self,
        ctx: &JobContext,
        id: ImportId,
        read: Result<read::Detected, FileError>,
        total: ImportProgress,
    ) -> Result<Done, JobError> {
        let scope = ctx.scope();
        match read {
            Ok(_) => {
                end_import(
                    scope,
                    id,
                    &[ImportStatus::Running],
                    ImportStatus::Completed,
                    None,
                )
                .await?;
                ctx.wake_relay();
                self.release_source(scope, id).await;
                Ok(Done::Completed(Some(
                    json!({"status": "completed", "progress": total}),
                )))
            }
            Err(FileError::Io(e)) => Err(JobError::transient(e)),
            Err(e) => {
                let reason = e.to_string();
                end_import(
                    scope,
                    id,
                    &[ImportStatus::Running],
                    ImportStatus::Failed,
                    Some(reason.clone()),
                )
                .await?;
                ctx.wake_relay();
                self.release_source(scope, id).await;
                Err(JobError::permanent(reason))
            }
        }
    }

    /// Writes one batch with the import's progress in one transaction, committed in its turn:
    /// after `previous`, the batch before it, committed (its progress arrives on `previous`;
    /// nothing arrives when it did not). An account without a contacts quota has the batch's
    /// contacts written before the turn comes, so two batches' upserts run side by side; with a
    /// quota, the account's lock orders them anyway and the rows are counted in turn. Sends the
    /// progress after this batch on `done` once committed.
    async fn write_batch(
        &self,
        ctx: &JobContext,
        target: &Target<'_>,
        mut batch: Batch,
        previous: oneshot::Receiver<ImportProgress>,
        done: oneshot::Sender<ImportProgress>,
    ) -> Result<(Written, ImportProgress), JobError> {
        let Target {
            import,
            max_contacts,
            ref collided,
        } = *target;
        let txn = ctx.db.begin().await.map_err(db::DbError::from)?;
        let scope = ctx.scope().on(&txn);
        let update = import.on_duplicate == OnDuplicate::Update;
        let write = async |rows: Vec<(i64, ContactRow)>, strategy| {
            let rows: Vec<ContactRow> = rows.into_iter().map(|(_, row)| row).collect();
            let written =
                db::contacts::upsert_batch(scope, import.account_id, &rows, update, strategy)
                    .await?;
            if written.collided {
                collided.store(true, Ordering::Relaxed);
            }
            Ok::<_, db::DbError>((rows.len(), written))
        };
        let mut early = None;
        if max_contacts.is_none() {
            let strategy = if collided.load(Ordering::Relaxed) {
                BatchStrategy::Upsert
            } else {
                BatchStrategy::InsertFirst
            };
            early = Some(write(std::mem::take(&mut batch.rows), strategy).await?);
        }
        let Ok(before) = previous.await else {
            // The batch before did not commit (cancelled, or failed): neither does this one.
            return Ok((Written::Cancelled, ImportProgress::default()));
        };
        let current = db::imports::lock(scope, import.id).await?;
        if current.status != ImportStatus::Running {
            return Ok((Written::Cancelled, before));
        }
        let mut contacts_before = None;
        let mut strategy = BatchStrategy::Upsert;
        if let Some(limit) = max_contacts {
            let (within_quota, used) =
                fit_contacts_quota(scope, import.account_id, limit, &mut batch).await?;
            strategy = within_quota;
            contacts_before = Some((limit, used));
        }
        let (offered, written) = match early {
            Some(early) => early,
            None => write(batch.rows, strategy).await?,
        };
        let mut outcome = batch.outcome;
        outcome.imported = written.inserted;
        outcome.updated = written.updated;
        // Rows neither inserted nor updated were existing contacts left alone (`skip`).
        outcome.skipped += offered as i64 - written.inserted - written.updated;
        db::imports::record_batch(scope, import.id, outcome, &batch.errors).await?;
        let mut announced = false;
        if let Some((limit, before)) = contacts_before {
            announced =
                announce_contacts_usage(scope, import, limit, before, written.inserted).await?;
        }
        let mut progress = before;
        progress.add(outcome);
        if !db::jobs::set_progress(&txn, ctx.lease, json!(progress)).await? {
            return Err(JobError::LeaseLost);
        }
        txn.commit().await.map_err(db::DbError::from)?;
        if announced {
            ctx.wake_relay();
        }
        let _ = done.send(progress);
        Ok((Written::Continue, progress))
    }
}

/// With a contacts quota, under the account's lock: the batch's new contacts beyond the room
/// left fail with a row error each. Returns how to write the batch (inserting first while none
/// of its phones exists yet) and the contacts the account had before it.
async fn fit_contacts_quota(
    scope: db::TenantScope<'_, impl sea_orm::ConnectionTrait>,
    account_id: common::AccountId,
    limit: i64,
    batch: &mut Batch,
) -> Result<(BatchStrategy, i64), db::DbError> {
    let mut strategy = BatchStrategy::Upsert;
    db::quotas::lock_account(scope, account_id).await?;
    let phones: Vec<String> = batch
        .rows
        .iter()
        .map(|(_, row)| row.phone.clone())
        .collect();
    let existing = db::contacts::existing_phones(scope, account_id, &phones).await?;
    if existing.is_empty() {
        strategy = BatchStrategy::InsertFirst;
    }
    let used = db::quotas::usage(scope, account_id, Quota::MaxContacts).await?;
    let mut room = (limit - used).max(0);
    let errors = &mut batch.errors;
    let failed = &mut batch.outcome.failed;
    batch.rows.retain(|(line, row)| {
        if existing.contains(&row.phone) {
            return true;
        }
        if room > 0 {
            room -= 1;
            return true;
        }
        *failed += 1;
        errors.push(RowError {
            line: *line,
            value: row.phone.clone(),
            reason: format!("the contacts quota ({limit}) is reached"),
        });
        false
    });
    Ok((strategy, used))
}

/// Records the event when the batch's new contacts crossed a threshold of the account's
/// contacts quota; returns whether it did.
async fn announce_contacts_usage(
    scope: db::TenantScope<'_, impl sea_orm::ConnectionTrait>,
    import: &db::imports::ContactImport,
    limit: i64,
    before: i64,
    inserted: i64,
) -> Result<bool, db::DbError> {
    let change = db::quotas::UsageChange {
        quota: Quota::MaxContacts,
        limit,
        before,
        after: before + inserted,
    };
    Ok(
        app::quotas::announce_usage(scope, import.created_by, import.account_id, change)
            .await?
            .is_some(),
    )
}

/// What every batch of one import is written for.
struct Target<'i> {
    import: &'i db::imports::ContactImport,
    /// The account's contacts quota, if its plan has one.
    max_contacts: Option<i64>,
    /// Batches are inserted as new contacts until one meets existing contacts; from then on
    /// they are upserted (see `BatchStrategy`).
    collided: AtomicBool,
}

enum Written {
    Continue,
    /// The import is no longer running (cancelled): nothing of this batch was written.
    Cancelled,
}

/// A batch checked on its own: rows to write (with their lines), and what failed or was a
/// duplicate within the file.
struct Batch {
    rows: Vec<(i64, ContactRow)>,
    errors: Vec<RowError>,
    outcome: ImportProgress,
}

fn prepare(records: Vec<Record>, phones: &Phones, seen: &mut Seen) -> Batch {
    let mut batch = Batch {
        rows: Vec::with_capacity(records.len()),
        errors: Vec::new(),
        outcome: ImportProgress {
            read: records.len() as i64,
            ..ImportProgress::default()
        },
    };
    for (record, checked) in checked_in_parallel(records, phones) {
        let (line, value, reason) = match (record, checked) {
            (
                Record::Broken {
                    line,
                    value,
                    reason,
                },
                _,
            ) => (line, value, reason),
            (Record::Row(row), Some(Ok(phone))) => {
                if !seen.insert(phone_key(&phone)) {
                    batch.outcome.skipped += 1;
                } else {
                    batch.rows.push((
                        row.line,
                        ContactRow {
                            phone,
                            name: row.name,
                            fields: row.fields,
                        },
                    ));
                }
                continue;
            }
            (Record::Row(row), Some(Err(reason))) => (row.line, excerpt(&row.phone), reason),
            (Record::Row(_), None) => unreachable!("every row is checked"),
        };
        batch.outcome.failed += 1;
        batch.errors.push(RowError {
            line,
            value,
            reason,
        });
    }
    batch
}

/// Each record with, for a row, its checked phone ([`check`]), in order. Checking (mostly
/// libphonenumber) is most of the reading thread's work, so a batch is split over the cores:
/// the file is read on one thread while the other core serves Postgres anyway, and each
/// batch's check then takes half the time.
fn checked_in_parallel(
    records: Vec<Record>,
    phones: &Phones,
) -> Vec<(Record, Option<Result<String, String>>)> {
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_CHECK_THREADS));
    let check_all = |records: &[Record]| -> Vec<Option<Result<String, String>>> {
        let mut checker = phones.checker();
        records
            .iter()
            .map(|record| match record {
                Record::Row(row) => Some(check(row, &mut checker)),
                Record::Broken { .. } => None,
            })
            .collect()
    };
    let checked: Vec<_> = if threads < 2 || records.len() < MIN_PARALLEL_CHECK {
        check_all(&records)
    } else {
        let chunk = records.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = records
                .chunks(chunk)
                .map(|part| scope.spawn(move || check_all(part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().expect("checking a batch does not panic"))
                .collect()
        })
    };
    records.into_iter().zip(checked).collect()
}

/// The row's phone in E.164 digits, or why the row cannot be a contact.
fn check(row: &read::FileRow, phones: &mut PhoneChecker<'_>) -> Result<String, String> {
    if row.phone.trim().is_empty() {
        return Err("no phone".to_owned());
    }
    let phone = phones.normalise(&row.phone)?;
    if row.name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if row.fields.len() > MAX_FIELDS {
        return Err(format!("more than {MAX_FIELDS} fields"));
    }
    if let Some(key) = row
        .fields
        .keys()
        .find(|key| key.contains('\0'))
        .or_else(|| {
            row.fields
                .iter()
                .find(|(_, v)| v.as_str().is_some_and(|s| s.contains('\0')))
                .map(|(k, _)| k)
        })
    {
        return Err(format!("`{key}` holds the NUL character"));
    }
    if row.name.contains('\0') {
        return Err("the name holds the NUL character".to_owned());
    }
    Ok(phone)
}

fn phone_key(digits: &str) -> u64 {
    digits.parse().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_dedupes_within_the_file_and_keeps_failures_with_their_line() {
        let phones = Phones::new(phonenumber::country::Id::BR);
        let row = |line, phone: &str| {
            Record::Row(read::FileRow {
                line,
                phone: phone.to_owned(),
                name: String::new(),
                fields: serde_json::Map::new(),
            })
        };
        let mut seen = Seen::new();
        let batch = prepare(
            vec![
                row(2, "11 99999-0001"),
                row(3, "+55 (11) 99999-0001"),
                row(4, "abc"),
                Record::Broken {
                    line: 5,
                    value: "x".to_owned(),
                    reason: "3 columns".to_owned(),
                },
            ],
            &phones,
            &mut seen,
        );
        assert_eq!(batch.rows.len(), 1);
        assert_eq!(
            batch.outcome,
            ImportProgress {
                read: 4,
                imported: 0,
                updated: 0,
                skipped: 1,
                failed: 2
            }
        );
        assert_eq!(
            batch.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![4, 5]
        );
    }
}
