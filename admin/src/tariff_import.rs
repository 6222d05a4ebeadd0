//! Loading the tariff file (`data/tariffs.json`; format in `energosbyt::domain::tariff::Tariff`)
//! into the store: `energosbyt-admin import-tariffs --file data/tariffs.json [--prune]`, or along
//! with the accounts: `energosbyt-admin import --file data/demo.json --tariffs data/tariffs.json`.
//!
//! The whole file is checked as a table a charge could trust (`TariffTable::new`) before anything
//! is written. Each price is written only when the store does not hold exactly it, so importing
//! the same file twice changes nothing. Prices of the file's groups that the file no longer lists
//! are reported and kept, unless `--prune` removes them (a corrected start date, for example); kept
//! ones are checked with the file's as the one table a charge will read, and an import that would
//! leave them contradicting it (a kept price open past the file's next period) writes nothing.

use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::tariff::TariffId;
use energosbyt::domain::{Tariff, TariffError, TariffTable};
use energosbyt::ports::readings::{TariffImport, TariffReader};
use energosbyt::ports::{ImportOutcome, StoreError};
use std::collections::HashSet;
use std::fmt;

#[derive(Debug)]
pub enum TariffFileError {
    /// Not a JSON array of tariffs (the parser says where).
    Format(serde_json::Error),
    /// Tariffs that do not make a trustworthy table: two prices for one day, a zero price, a price
    /// left open past the group's next period, …
    Table(TariffError),
    Empty,
}

impl fmt::Display for TariffFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TariffFileError::Format(e) => write!(f, "not a tariff file: {e}"),
            TariffFileError::Table(e) => write!(f, "refused: {e}"),
            TariffFileError::Empty => f.write_str("the file lists no tariffs"),
        }
    }
}

impl std::error::Error for TariffFileError {}

/// Reads and checks a tariff file.
pub fn parse(text: &str) -> Result<TariffTable, TariffFileError> {
    let tariffs: Vec<Tariff> = serde_json::from_str(text).map_err(TariffFileError::Format)?;
    if tariffs.is_empty() {
        return Err(TariffFileError::Empty);
    }
    TariffTable::new(tariffs).map_err(TariffFileError::Table)
}

/// Why an import wrote nothing, or stopped.
#[derive(Debug)]
pub enum TariffImportError {
    /// The prices the store keeps (not in the file, no `--prune`) and the file's would not make a
    /// table a charge could trust: every submission of the group would be refused.
    WithKept(TariffError),
    Store(StoreError),
}

impl fmt::Display for TariffImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TariffImportError::WithKept(e) => write!(
                f,
                "refused, nothing written: with the prices stored but not in the file, {e} \
                 (list them in the file with their validTo, or import with --prune to remove them)"
            ),
            TariffImportError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TariffImportError {}

impl From<StoreError> for TariffImportError {
    fn from(e: StoreError) -> Self {
        TariffImportError::Store(e)
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TariffImportSummary {
    pub written: usize,
    pub unchanged: usize,
    /// In the store for one of the file's groups, absent from the file.
    pub not_in_file: usize,
    /// Of those, removed (`prune`).
    pub removed: usize,
}

impl fmt::Display for TariffImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tariffs: {} written, {} already current", self.written, self.unchanged)?;
        match (self.not_in_file, self.removed) {
            (0, _) => Ok(()),
            (n, 0) => write!(f, ", {n} stored but not in the file (kept; --prune removes them)"),
            (_, removed) => write!(f, ", {removed} not in the file removed"),
        }
    }
}

pub async fn import<S: TariffImport + TariffReader>(
    store: &S,
    table: &TariffTable,
    prune: bool,
) -> Result<TariffImportSummary, TariffImportError> {
    let mut summary = TariffImportSummary::default();
    let groups: HashSet<&TariffGroup> = table.tariffs().map(|t| &t.group).collect();
    let listed: HashSet<TariffId> = table.tariffs().map(Tariff::id).collect();
    let mut stale = Vec::new();
    for &group in &groups {
        let stored = store.stored_tariff_ids(group).await?;
        stale.extend(stored.into_iter().filter(|id| !listed.contains(id)));
    }
    summary.not_in_file = stale.len();
    if !prune && !stale.is_empty() {
        // What the readings function will read once this is written: the file's prices and the kept.
        let mut after = table.tariffs().cloned().collect::<Vec<_>>();
        for &group in &groups {
            after.extend(store.tariffs(group).await?.into_iter().filter(|t| !listed.contains(&t.id())));
        }
        TariffTable::new(after).map_err(TariffImportError::WithKept)?;
    }
    // New prices first, removals last: an import cut short never leaves a period without a price.
    for tariff in table.tariffs() {
        match store.import_tariff(tariff).await? {
            ImportOutcome::Written => summary.written += 1,
            ImportOutcome::AlreadyCurrent => summary.unchanged += 1,
        }
    }
    if prune {
        for id in &stale {
            store.remove_tariff(id).await?;
            summary.removed += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_a_valid_table() {
        let table = parse(include_str!("../../data/tariffs.json")).unwrap();
        assert!(table.len() > 20, "{}", table.len());
    }

    #[test]
    fn a_bad_file_is_refused_before_anything_is_written() {
        let twice = r#"[
            {"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":"8.00","basis":"published","source":"s"},
            {"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":"8.01","basis":"published","source":"s"}]"#;
        assert!(matches!(parse(twice), Err(TariffFileError::Table(TariffError::Duplicate { .. }))));
        let float = r#"[{"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":8.0,"basis":"published","source":"s"}]"#;
        assert!(matches!(parse(float), Err(TariffFileError::Format(_))));
        assert!(matches!(parse("[]"), Err(TariffFileError::Empty)));
    }

    #[test]
    fn a_price_without_its_source_or_basis_is_refused() {
        let unsourced = r#"[{"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":"8.00","basis":"published"}]"#;
        assert!(matches!(parse(unsourced), Err(TariffFileError::Format(_))));
        let no_basis = r#"[{"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":"8.00","source":"s"}]"#;
        assert!(matches!(parse(no_basis), Err(TariffFileError::Format(_))));
    }

    #[test]
    fn a_zone_price_left_open_past_the_next_period_is_refused_with_its_group_zone_and_date() {
        let stale = r#"[
            {"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2026-01-01","price":"5.60","basis":"published","source":"s"},
            {"group":"rural","zoneSet":"twoZone","zone":"T1","validFrom":"2026-01-01","price":"6.40","basis":"published","source":"s"},
            {"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2026-10-01","price":"6.20","basis":"published","source":"s"}]"#;
        let err = parse(stale).unwrap_err();
        assert!(matches!(err, TariffFileError::Table(TariffError::StaleCarryOver { .. })), "{err}");
        let message = err.to_string();
        for part in ["rural", "TwoZone", "T1", "2026-10-01"] {
            assert!(message.contains(part), "{message}");
        }
    }
}
