//! Logging shared by every binary: JSON lines on stdout, each carrying the spans it runs in —
//! the runtime's `requestId` and our `caller` (the verified user id). Personal data never goes
//! into a field: account numbers are logged masked, addresses and emails not at all.

use tracing_subscriber::EnvFilter;

/// Once, first thing in `main`. Level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging
/// controls), else `RUST_LOG`, else `info`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_ansi(false)
        .init();
}
