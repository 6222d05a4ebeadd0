//! Operator's command line: import the billing system's export and the tariffs, hand the month's
//! readings over to the billing system.

use admin::{billing_export, readings_export, tariff_import};

use clap::{Parser, Subcommand};
use energosbyt::domain::YearMonth;
use energosbyt::store::DynamoStore;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "energosbyt-admin", about = "Mosenergosbyt payment service: operator's tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load accounts (address, balance, tariff group, meters, last readings) from a billing
    /// export (JSON, format in the README), and with --tariffs the tariff file too. Validates
    /// every file before writing anything; importing the same files again changes nothing.
    Import {
        #[arg(long)]
        file: PathBuf,
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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import { file, tariffs, table } => import(&file, tariffs.as_deref(), &table).await,
        Command::ImportTariffs { file, prune, table } => import_tariffs(&file, prune, &table).await,
        Command::ExportReadings { month, out, all, table } => export_readings(month, out.as_deref(), all, &table).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn import(file: &Path, tariffs: Option<&Path>, table: &str) -> Result<(), String> {
    let text = read(file)?;
    let export = billing_export::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let tariff_table = tariffs.map(read_tariffs).transpose()?;
    let store = DynamoStore::from_env(table).await;
    let summary = billing_export::import(&store, &export).await.map_err(|e| e.to_string())?;
    println!(
        "accounts: {} written, {} already current (export of {})",
        summary.written, summary.already_current, export.exported_at
    );
    if let Some(tariff_table) = tariff_table {
        let summary = tariff_import::import(&store, &tariff_table, false).await.map_err(|e| e.to_string())?;
        println!("{summary}");
    }
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
