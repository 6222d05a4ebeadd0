//! A synthetic billing export of any size, for measuring the import (BENCHMARKS.md, "City-scale
//! import") and for the chunked-import test: accounts with one to three meters of each kind,
//! debts, zeros and credits, as JSON Lines (or one document with `--document`) on standard output.

use clap::Parser;
use serde_json::json;
use std::io::{self, BufWriter, Write};

#[derive(Parser)]
#[command(name = "energosbyt-sample-export", about = "Write a synthetic billing export")]
struct Cli {
    /// How many accounts.
    #[arg(long)]
    accounts: u64,
    /// The first account number (ten digits); the others follow it.
    #[arg(long, default_value_t = 7_000_000_000)]
    first: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The export's date.
    #[arg(long, default_value = "2026-11-01T03:00:00+03:00")]
    exported_at: String,
    /// One JSON document instead of JSON Lines.
    #[arg(long)]
    document: bool,
}

const STREETS: [&str; 4] = ["ул. Тверская", "ул. Профсоюзная", "Ленинский пр-т", "Варшавское ш."];
const ZONE_SETS: [(&str, &[&str]); 3] =
    [("single", &["T1"]), ("twoZone", &["T1", "T2"]), ("threeZone", &["T1", "T2", "T3"])];

fn main() -> io::Result<()> {
    let cli = Cli::parse();
    assert!(cli.first + cli.accounts <= 9_999_999_999, "account numbers have ten digits");
    let mut rng = fastrand::Rng::with_seed(cli.seed);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    if cli.document {
        writeln!(out, "{{\"exportedAt\": {},\n\"accounts\": [", json!(cli.exported_at))?;
    } else {
        writeln!(out, "{}", json!({"exportedAt": cli.exported_at}))?;
    }
    for i in 0..cli.accounts {
        let number = cli.first + i;
        let meters: Vec<_> = (0..rng.usize(1..=3))
            .map(|m| {
                let (zone_set, zones) = ZONE_SETS[rng.usize(..ZONE_SETS.len())];
                let readings: serde_json::Map<_, _> = zones
                    .iter()
                    .map(|z| (z.to_string(), json!({"value": rng.u32(100..90_000), "date": "2026-10-20"})))
                    .collect();
                json!({"id": format!("СЕ101-{number}{m}"), "serial": format!("{number}{m}"), "zoneSet": zone_set,
                       "digits": 5, "lastReadings": readings})
            })
            .collect();
        let balance = format!("{}.{:02}", rng.i32(-9_000..3_000), rng.u8(..100));
        let record = json!({
            "account": number.to_string(),
            "address": {"town": "г. Москва", "street": STREETS[rng.usize(..STREETS.len())],
                        "house": format!("д. {}", rng.u32(1..200)), "flat": rng.u32(1..480).to_string()},
            "balance": balance,
            "tariffGroup": "gas-stove",
            "meters": meters,
        });
        if cli.document {
            let comma = if i + 1 < cli.accounts { "," } else { "" };
            writeln!(out, "{record}{comma}")?;
        } else {
            writeln!(out, "{record}")?;
        }
    }
    if cli.document {
        writeln!(out, "]}}")?;
    }
    out.flush()
}
