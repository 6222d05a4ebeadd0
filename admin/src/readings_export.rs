//! The hand-over of customers' readings to the billing system:
//! `energosbyt-admin export-readings --month 2026-11 [--out FILE] [--all]`.
//!
//! Format: JSON Lines (UTF-8, one JSON object per line, `\n` after each), one line per meter and
//! billing month:
//!
//! ```json
//! {"readingsId":"2026-11-5f3a9c1e-8e7d6c5b4a39","account":"1000000002","meterId":"Меркурий200-3391024",
//!  "billingMonth":"2026-11","values":{"T1":18350,"T2":7490},"consumption":{"T1":120,"T2":80},
//!  "rollover":false,"tariffs":{"T1":"9.61","T2":"4.15"},
//!  "lines":{"T1":{"consumption":120,"price":"9.61","amount":"1153.20"},"T2":{"consumption":80,"price":"4.15","amount":"332.00"}},
//!  "charge":"1485.20","submittedAt":"2026-11-20T12:00:00Z","version":1}
//! ```
//! (shown wrapped; each record is one line). `account` is the 10 digits; zone values and
//! consumption are whole kWh; money is a decimal string in roubles with two places; `tariffs` are
//! roubles per kWh with VAT; `submittedAt` is UTC; `rollover` says a register passed its last
//! digit (confirmed by the customer); `version` counts the customer's corrections in the month.
//!
//! Only submissions not exported yet are written (`--all`: every submission of the month), each
//! then marked exported (`exported`, `exportedAt`). The month is read page by page from the
//! `READINGS#<month>` index, never scanned. Each page is written and flushed before it is marked,
//! so a run cut short loses nothing: at worst the next run writes some lines again. The billing
//! system therefore keeps, per account, meter and month, the line with the highest `version`, and
//! treats a `readingsId` it already has as a repeat. A customer who corrects readings after an
//! export gets a new `readingsId` and `version`, exported by the next run.

use chrono::{DateTime, Utc};
use energosbyt::domain::{ChargeLine, Money, YearMonth, Zone};
use energosbyt::ports::StoreError;
use energosbyt::ports::readings::{MarkOutcome, ReadingsExport, ReadingsId, SubmittedReadings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

/// Items read per page: small enough to write and mark promptly, large enough to be few requests.
pub const PAGE_SIZE: u32 = 200;

/// One line of the export.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLine<'a> {
    pub readings_id: &'a ReadingsId,
    pub account: &'a str,
    pub meter_id: &'a str,
    pub billing_month: YearMonth,
    pub values: &'a BTreeMap<Zone, u64>,
    pub consumption: &'a BTreeMap<Zone, u64>,
    pub rollover: bool,
    pub tariffs: BTreeMap<Zone, Money>,
    pub lines: &'a BTreeMap<Zone, ChargeLine>,
    pub charge: Money,
    pub submitted_at: DateTime<Utc>,
    pub version: u32,
}

impl<'a> ExportLine<'a> {
    pub fn new(r: &'a SubmittedReadings) -> Self {
        Self {
            readings_id: &r.readings_id,
            account: r.account.digits(),
            meter_id: &r.meter_id().0,
            billing_month: r.billing_month,
            values: &r.accepted.values,
            consumption: &r.accepted.consumption,
            rollover: r.accepted.rollover,
            tariffs: r.tariffs(),
            lines: &r.charge.lines,
            charge: r.charge.total,
            submitted_at: r.submitted_at,
            version: r.version,
        }
    }
}

#[derive(Debug)]
pub enum ExportError {
    Store(StoreError),
    Write(io::Error),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Store(e) => write!(f, "{e}"),
            ExportError::Write(e) => write!(f, "writing the export: {e}"),
        }
    }
}

impl std::error::Error for ExportError {}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        ExportError::Store(e)
    }
}

impl From<io::Error> for ExportError {
    fn from(e: io::Error) -> Self {
        ExportError::Write(e)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Lines written.
    pub exported: usize,
    /// Written, but corrected by the customer before they could be marked: the correction goes
    /// out with the next run.
    pub superseded: usize,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "readings: {} exported", self.exported)?;
        if self.superseded > 0 {
            write!(f, ", {} corrected meanwhile (the corrections go out with the next run)", self.superseded)?;
        }
        Ok(())
    }
}

/// Writes the submissions of `month` to `out` and marks them exported at `now`. `out.flush()`
/// must make the lines durable (for a file: sync it to disk) before they are marked.
pub async fn export<S: ReadingsExport, W: Write>(
    store: &S,
    month: YearMonth,
    include_exported: bool,
    page_size: u32,
    out: &mut W,
    now: DateTime<Utc>,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary::default();
    let mut after = None;
    loop {
        let page = store.readings_of_month(month, include_exported, page_size, after).await?;
        for readings in &page.readings {
            serde_json::to_writer(&mut *out, &ExportLine::new(readings)).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        for readings in &page.readings {
            summary.exported += 1;
            if store.mark_exported(readings, now).await? == MarkOutcome::Superseded {
                summary.superseded += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(summary),
        }
    }
}
