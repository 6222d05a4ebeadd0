//! Logging shared by every binary: JSON lines on stdout, each carrying the spans it runs in —
//! the runtime's `requestId` and our `caller` (the verified user id). Personal data never goes
//! into a field: account numbers are logged masked, addresses and emails not at all.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Once, first thing in `main`. Level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging
/// controls), else `RUST_LOG`, else `info`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    // A level, or per-module levels (`info,energosbyt::outside_calls=warn`): `Targets` reads
    // what is ever set here without a regular-expression engine in every binary, as `EnvFilter`
    // would bring.
    let filter = level.parse::<Targets>().unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .with_target(false)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .finish()
        .with(filter)
        .init();
}
