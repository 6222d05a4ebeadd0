//! Streams a billing export into the store: the records are read on a blocking thread, gathered
//! into batches of `store::IMPORT_BATCH` distinct accounts and written with a bounded number of
//! batches in flight. What `energosbyt-admin import` and the chunk-import function both run.
//!
//! A rerun is the resume: accounts the store holds at this export are skipped by the batch's one
//! read, so a second run of the same export writes nothing.

use crate::billing_export::{self, Record};
use chrono::{DateTime, Utc};
use energosbyt::domain::Account;
use energosbyt::ports::{AccountImport, ImportOutcome};
use energosbyt::store::IMPORT_BATCH;
use std::collections::HashSet;
use std::io::Read;
use std::ops::ControlFlow;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Batches in flight at once by default: enough to keep DynamoDB busy from one process without
/// a burst of throttled writes on a table with little provisioned capacity.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// A record refused, by its line in the file; the rest of the file is imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub message: String,
}

/// Running totals of an import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub written: usize,
    pub already_current: usize,
    pub malformed: usize,
}

impl Progress {
    pub fn accounts(&self) -> usize {
        self.written + self.already_current
    }
}

/// What an import did, with the export's date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Imported {
    pub exported_at: DateTime<Utc>,
    pub progress: Progress,
}

/// What the caller hears while an import runs: each refused record, and the totals after each
/// batch.
pub trait Observer: Send {
    fn malformed(&mut self, malformed: &Malformed);
    fn progress(&mut self, progress: &Progress);
}

/// An observer that hears nothing.
pub struct Silent;

impl Observer for Silent {
    fn malformed(&mut self, _: &Malformed) {}
    fn progress(&mut self, _: &Progress) {}
}

/// Imports every well-formed record of `reader` (either layout of `billing_export`). An error is
/// a store that failed (rerun to resume) or a file that could not be read on; accounts before
/// the failure are written and a rerun skips them.
pub async fn import<S, R>(
    store: &S,
    reader: R,
    concurrency: usize,
    observer: &mut dyn Observer,
) -> Result<Imported, String>
where
    S: AccountImport + Clone + Send + Sync + 'static,
    R: Read + Send + 'static,
{
    let (sender, mut records) = mpsc::channel::<Record>(4 * IMPORT_BATCH);
    let reading = tokio::task::spawn_blocking(move || {
        billing_export::stream(reader, &mut |record| match sender.blocking_send(record) {
            Ok(()) => ControlFlow::Continue(()),
            // The import stopped (a store failure): nothing more to read.
            Err(_) => ControlFlow::Break(()),
        })
    });
    let mut exported_at = None;
    let mut progress = Progress::default();
    let mut batch: Vec<Account> = Vec::with_capacity(IMPORT_BATCH);
    let mut in_batch = HashSet::new();
    let mut writing = JoinSet::new();
    let concurrency = concurrency.max(1);
    while let Some(record) = records.recv().await {
        match record {
            Record::ExportedAt(at) => exported_at = Some(at),
            Record::Account { line, account } => {
                // A batch's keys must be distinct; a repeat further apart is written again, the
                // later line last.
                if !in_batch.insert(account.number) {
                    let message = format!("{}: the account appears twice", account.number.masked());
                    refuse(&mut progress, observer, Malformed { line, message });
                    continue;
                }
                batch.push(account);
                if batch.len() == IMPORT_BATCH {
                    let at = exported_at.ok_or("the export has no exportedAt")?;
                    while writing.len() >= concurrency {
                        settle(&mut writing, &mut progress, observer).await?;
                    }
                    in_batch.clear();
                    write(&mut writing, store, std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH)), at);
                }
            }
            Record::Malformed { line, message } => refuse(&mut progress, observer, Malformed { line, message }),
        }
    }
    let read = reading.await.map_err(|e| format!("the reader stopped: {e}"))?;
    let exported_at = match (exported_at, read) {
        (Some(at), Ok(())) => at,
        (_, Err(e)) => {
            // Write what was read before the break, so a fixed file's rerun has less to do.
            if let Some(at) = exported_at.filter(|_| !batch.is_empty()) {
                write(&mut writing, store, std::mem::take(&mut batch), at);
            }
            while !writing.is_empty() {
                settle(&mut writing, &mut progress, observer).await?;
            }
            return Err(e);
        }
        (None, Ok(())) => return Err("the export has no exportedAt".to_owned()),
    };
    if !batch.is_empty() {
        write(&mut writing, store, batch, exported_at);
    }
    while !writing.is_empty() {
        settle(&mut writing, &mut progress, observer).await?;
    }
    Ok(Imported { exported_at, progress })
}

/// Reads the whole export without writing: every refused record, and the accounts that appear
/// more than once anywhere in it (`--strict` refuses the run on any). Keeps one set of account
/// numbers, so its memory grows with the export (some 16 bytes an account).
pub fn check(reader: impl Read) -> Result<Checked, String> {
    let mut seen = HashSet::new();
    let mut refused = Vec::new();
    let mut exported_at = None;
    billing_export::stream(reader, &mut |record| {
        match record {
            Record::ExportedAt(at) => exported_at = Some(at),
            Record::Account { line, account } => {
                if !seen.insert(account.number) {
                    refused.push(Malformed {
                        line,
                        message: format!("{}: the account appears twice", account.number.masked()),
                    });
                }
            }
            Record::Malformed { line, message } => refused.push(Malformed { line, message }),
        }
        ControlFlow::Continue(())
    })?;
    Ok(Checked { exported_at, accounts: seen.len(), refused })
}

/// What [`check`] found: the export's date, the distinct accounts, the records refused.
#[derive(Debug)]
pub struct Checked {
    pub exported_at: Option<DateTime<Utc>>,
    pub accounts: usize,
    pub refused: Vec<Malformed>,
}

fn refuse(progress: &mut Progress, observer: &mut dyn Observer, malformed: Malformed) {
    progress.malformed += 1;
    observer.malformed(&malformed);
}

fn write<S>(
    writing: &mut JoinSet<Result<Vec<ImportOutcome>, String>>,
    store: &S,
    batch: Vec<Account>,
    at: DateTime<Utc>,
) where
    S: AccountImport + Clone + Send + Sync + 'static,
{
    let store = store.clone();
    writing.spawn(async move { store.import_accounts(&batch, at).await.map_err(|e| e.to_string()) });
}

async fn settle(
    writing: &mut JoinSet<Result<Vec<ImportOutcome>, String>>,
    progress: &mut Progress,
    observer: &mut dyn Observer,
) -> Result<(), String> {
    let Some(done) = writing.join_next().await else { return Ok(()) };
    let outcomes = done.map_err(|e| format!("a batch stopped: {e}"))??;
    for outcome in outcomes {
        match outcome {
            ImportOutcome::Written => progress.written += 1,
            ImportOutcome::AlreadyCurrent => progress.already_current += 1,
        }
    }
    observer.progress(progress);
    Ok(())
}
