//! Operator's command line: import the billing system's export, and local demo helpers.

use admin::billing_export;

use clap::{Parser, Subcommand};
use energosbyt::ports::{AccountImport, ImportOutcome};
use energosbyt::store::DynamoStore;
use std::path::PathBuf;
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
    /// export (JSON, format in the README). Validates the whole file before writing anything;
    /// importing the same file again changes nothing.
    Import {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import { file, table } => import(&file, &table).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn import(file: &std::path::Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let export = billing_export::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let store = DynamoStore::from_env(table).await;
    let (mut written, mut current) = (0, 0);
    for account in &export.accounts {
        match store.import_account(account, export.exported_at).await.map_err(|e| e.to_string())? {
            ImportOutcome::Written => written += 1,
            ImportOutcome::AlreadyCurrent => current += 1,
        }
    }
    println!("accounts: {written} written, {current} already current (export of {})", export.exported_at);
    Ok(())
}
