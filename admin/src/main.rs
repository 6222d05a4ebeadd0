//! Operator's command line: import the billing system's export and the tariffs, hand the month's
//! readings over to the billing system, and settle at the operator's desk what the service set
//! aside for a person.

use admin::account_import::{self, Malformed, Observer, Progress};
use admin::{readings_export, tariff_import};

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use clap::{Parser, Subcommand};
use energosbyt::app::operator_desk::Operator;
use energosbyt::domain::{Money, PaymentId, YearMonth};
use energosbyt::ports::operator_desk::DeskKind;
use energosbyt::store::DynamoStore;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "energosbyt-admin", about = "Mosenergosbyt payment service: operator's tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load accounts (address, balance, tariff group, meters, last readings) from a billing
    /// export (JSON document or JSON Lines, format in the README), and with --tariffs the tariff
    /// file too. Streams the file in batches; a malformed record is reported by its line and the
    /// rest imported. Importing the same file again writes nothing (a rerun resumes).
    Import {
        #[arg(long)]
        file: PathBuf,
        /// Read the whole file first and refuse the run if any record is malformed or repeated.
        #[arg(long)]
        strict: bool,
        /// Batches of 100 accounts written at once.
        #[arg(long, default_value_t = account_import::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// A tariff file (data/tariffs.json) to load as `import-tariffs` does.
        #[arg(long)]
        tariffs: Option<PathBuf>,
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// Load the tariffs (JSON array, format in the README). Validates the whole table before
    /// writing anything; importing the same file again changes nothing.
    ImportTariffs {
        #[arg(long)]
        file: PathBuf,
        /// Remove stored prices of the file's groups that the file no longer lists.
        #[arg(long)]
        prune: bool,
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// Split an export in JSON Lines into chunks for the AWS import: each chunk the export's
    /// `exportedAt` line and the next accounts, as `<out-dir>/chunk-00001.jsonl`, … (upload them
    /// under chunks/ of the import bucket, docs/deploy.md).
    SplitExport {
        #[arg(long)]
        file: PathBuf,
        /// A new or empty directory for the chunks.
        #[arg(long)]
        out_dir: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        accounts_per_chunk: usize,
    },
    /// Write a billing month's readings submissions for the billing system (JSON Lines, format
    /// in the README) and mark them exported. Only those not exported yet unless --all.
    ExportReadings {
        /// The billing month, e.g. 2026-11.
        #[arg(long)]
        month: YearMonth,
        /// A new file to write (an existing one is never overwritten); standard output without it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Every submission of the month, exported before or not.
        #[arg(long)]
        all: bool,
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// What the service set aside for a person, and settling it: list, credit, refund, review.
    /// Every action asks the bank first, is recorded on the payment (who, when, why) and changes
    /// nothing when run again.
    Desk {
        #[command(subcommand)]
        action: DeskCommand,
        #[arg(long, env = "TABLE_NAME", global = true)]
        table: Option<String>,
    },
}

#[derive(Subcommand)]
enum DeskCommand {
    /// The payments that need a person, oldest first: id, kinds, when, amount, status, account
    /// (masked).
    List {
        #[arg(long)]
        kind: Option<DeskKind>,
        /// Set aside on or after this day (UTC), e.g. 2026-11-01.
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Set aside on or before this day (UTC).
        #[arg(long)]
        until: Option<NaiveDate>,
    },
    /// Credits a payment the bank says is CONFIRMED, exactly once, with the customer's emails.
    Credit {
        payment: PaymentId,
        #[arg(long)]
        operator: String,
        #[arg(long)]
        reason: String,
    },
    /// Refunds a credited payment through the bank (all that is left, or --amount), with the
    /// refund receipt; the balance moves back once.
    Refund {
        payment: PaymentId,
        /// Roubles, e.g. 250.50; all that is left to refund without it.
        #[arg(long)]
        amount: Option<Money>,
        #[arg(long)]
        operator: String,
        #[arg(long)]
        reason: String,
    },
    /// Marks the payment reviewed: it leaves the list, nothing else changes.
    Review {
        payment: PaymentId,
        #[arg(long)]
        operator: String,
        #[arg(long)]
        reason: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import { file, strict, concurrency, tariffs, table } => {
            import(&file, strict, concurrency, tariffs.as_deref(), &table).await
        }
        Command::SplitExport { file, out_dir, accounts_per_chunk } => split_export(&file, &out_dir, accounts_per_chunk),
        Command::ImportTariffs { file, prune, table } => import_tariffs(&file, prune, &table).await,
        Command::ExportReadings { month, out, all, table } => export_readings(month, out.as_deref(), all, &table).await,
        Command::Desk { action, table } => match table {
            Some(table) => desk(action, &table).await,
            None => Err("--table (or TABLE_NAME) is required".to_owned()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn import(
    file: &Path,
    strict: bool,
    concurrency: usize,
    tariffs: Option<&Path>,
    table: &str,
) -> Result<(), String> {
    let open = || File::open(file).map_err(|e| format!("{}: {e}", file.display()));
    let tariff_table = tariffs.map(read_tariffs).transpose()?;
    if strict {
        let checked = account_import::check(open()?).map_err(|e| format!("{}: {e}", file.display()))?;
        if checked.exported_at.is_none() {
            return Err(format!("{}: the export has no exportedAt", file.display()));
        }
        let refused = checked.refused;
        let accounts = checked.accounts;
        if !refused.is_empty() {
            for malformed in &refused {
                eprintln!("{}:{}: {}", file.display(), malformed.line, malformed.message);
            }
            return Err(format!(
                "{} of {} records refused; nothing imported (--strict)",
                refused.len(),
                accounts + refused.len()
            ));
        }
    }
    let size = open()?.metadata().map(|m| m.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let reader = CountBytes { inner: open()?, read: read.clone() };
    let store = DynamoStore::from_env(table).await;
    let mut observer = Shown::new(file, size, read);
    let result = account_import::import(&store, reader, concurrency, &mut observer).await;
    observer.finish();
    let imported =
        result.map_err(|e| format!("{}: {e} (a rerun resumes: what is written is skipped)", file.display()))?;
    let p = imported.progress;
    let seconds = observer.started.elapsed().as_secs_f64();
    println!(
        "accounts: {} written, {} already current, {} malformed (export of {}) in {seconds:.1} s, {:.0}/s, {} DynamoDB requests",
        p.written,
        p.already_current,
        p.malformed,
        imported.exported_at,
        p.accounts() as f64 / seconds.max(1e-9),
        store.outside_calls().requests(),
    );
    if let Some(tariff_table) = tariff_table {
        let summary = tariff_import::import(&store, &tariff_table, false).await.map_err(|e| e.to_string())?;
        println!("{summary}");
    }
    if p.malformed > 0 {
        return Err(format!("{} records refused (lines above); the rest is imported", p.malformed));
    }
    Ok(())
}

/// Counts the bytes read, for the progress bar's position in the file.
struct CountBytes<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for CountBytes<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The import's progress: a bar with rate and ETA (by bytes of the file read) on a terminal,
/// a plain line every few seconds otherwise (a log, a CI job).
struct Shown {
    file: String,
    bar: Option<ProgressBar>,
    size: u64,
    read: Arc<AtomicU64>,
    started: Instant,
    last_line: Instant,
}

impl Shown {
    fn new(file: &Path, size: u64, read: Arc<AtomicU64>) -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(size);
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {percent:>3}% ETA {eta_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let now = Instant::now();
        Self { file: file.display().to_string(), bar, size, read, started: now, last_line: now }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Shown {
    fn malformed(&mut self, malformed: &Malformed) {
        let line = format!("{}:{}: {}", self.file, malformed.line, malformed.message);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn progress(&mut self, progress: &Progress) {
        let rate = progress.accounts() as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let read = self.read.load(Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_position(read);
                bar.set_message(format!(
                    "{} accounts, {rate:.0}/s ({} written, {} current, {} malformed)",
                    progress.accounts(),
                    progress.written,
                    progress.already_current,
                    progress.malformed
                ));
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                let percent = if self.size == 0 { 100.0 } else { read as f64 * 100.0 / self.size as f64 };
                let eta = if read == 0 {
                    0.0
                } else {
                    self.started.elapsed().as_secs_f64() * (self.size.saturating_sub(read)) as f64 / read as f64
                };
                eprintln!(
                    "import: {percent:.0}% of the file, {} accounts ({} written, {} current, {} malformed), {rate:.0}/s, ETA {eta:.0} s",
                    progress.accounts(),
                    progress.written,
                    progress.already_current,
                    progress.malformed
                );
            }
            None => {}
        }
    }
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

fn split_export(file: &Path, out_dir: &Path, per_chunk: usize) -> Result<(), String> {
    let input = io::BufReader::new(File::open(file).map_err(|e| format!("{}: {e}", file.display()))?);
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let chunks = admin::export_chunks::split(input, per_chunk, |i| {
        // Never over a chunk of another split: its accounts would be imported twice or not at all.
        File::create_new(out_dir.join(format!("chunk-{i:05}.jsonl"))).map(BufWriter::new)
    })
    .map_err(|e| format!("{}: {e}", file.display()))?;
    println!("{chunks} chunks of at most {per_chunk} accounts in {}", out_dir.display());
    Ok(())
}

async fn import_tariffs(file: &Path, prune: bool, table: &str) -> Result<(), String> {
    let tariff_table = read_tariffs(file)?;
    let store = DynamoStore::from_env(table).await;
    let summary = tariff_import::import(&store, &tariff_table, prune).await.map_err(|e| e.to_string())?;
    println!("{summary}");
    Ok(())
}

async fn export_readings(month: YearMonth, out: Option<&Path>, all: bool, table: &str) -> Result<(), String> {
    let store = DynamoStore::from_env(table).await;
    let now = chrono::Utc::now();
    let page = readings_export::PAGE_SIZE;
    let summary = match out {
        Some(path) => {
            // Never over a file not yet handed over: its lines are marked exported already.
            let file = File::create_new(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut out = SyncedFile(BufWriter::new(file));
            readings_export::export(&store, month, all, page, &mut out, now).await
        }
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            readings_export::export(&store, month, all, page, &mut out, now).await
        }
    }
    .map_err(|e| e.to_string())?;
    // Standard output may be the export itself: the summary goes to standard error.
    eprintln!("{summary} (month {month})");
    Ok(())
}

fn read(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))
}

fn read_tariffs(file: &Path) -> Result<energosbyt::domain::TariffTable, String> {
    tariff_import::parse(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))
}

/// A file whose `flush` reaches the disk, so lines are durable before they are marked exported.
struct SyncedFile(BufWriter<File>);

impl Write for SyncedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.0.get_ref().sync_data()
    }
}

async fn desk(action: DeskCommand, table: &str) -> Result<(), String> {
    let desk = admin::desk::from_env(table).await?;
    let who = |operator: String, reason: String| -> Result<Operator, String> {
        if operator.trim().is_empty() || reason.trim().is_empty() {
            return Err("--operator and --reason must not be empty".to_owned());
        }
        Ok(Operator { name: operator.trim().to_owned(), reason: reason.trim().to_owned() })
    };
    let outcome = match action {
        DeskCommand::List { kind, since, until } => {
            let day = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
            let since = since.map_or(chrono::DateTime::UNIX_EPOCH, day);
            let until = until.map_or_else(|| chrono::Utc::now() + TimeDelta::days(1), |d| day(d) + TimeDelta::days(1));
            let items = desk.list(since, until, kind).await.map_err(|e| e.to_string())?;
            let mut out = io::stdout().lock();
            for item in &items {
                // A closed pipe (`| head`) ends the list quietly.
                if writeln!(out, "{}", admin::desk::line(item)).is_err() {
                    return Ok(());
                }
            }
            eprintln!("{} payments need a person", items.len());
            return Ok(());
        }
        DeskCommand::Credit { payment, operator, reason } => desk.credit(&payment, &who(operator, reason)?).await,
        DeskCommand::Refund { payment, amount, operator, reason } => {
            desk.refund(&payment, amount, &who(operator, reason)?).await
        }
        DeskCommand::Review { payment, operator, reason } => desk.review(&payment, &who(operator, reason)?).await,
    };
    let outcome = outcome.map_err(|e| format!("refused: {e}"))?;
    println!("{}", admin::desk::done(&outcome));
    Ok(())
}
