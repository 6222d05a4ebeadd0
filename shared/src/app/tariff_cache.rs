//! Each Lambda instance keeps the tariff table of a group for a few minutes: prices change twice a
//! year, and the read it saves is a third of a submission's DynamoDB requests. It caches; it
//! never prices anything (`domain::charge` does).

use crate::domain::account::TariffGroup;
use crate::domain::{TariffError, TariffTable};
use crate::ports::StoreError;
use crate::ports::readings::TariffReader;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a loaded table is trusted unless configured otherwise (`TARIFF_CACHE_SECS`). A new
/// price imported by the operator is in force everywhere at most this long after the import.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum TariffLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored prices do not make a table a charge could trust (a bad import).
    #[error("stored tariffs are inconsistent: {0}")]
    Invalid(#[from] TariffError),
}

pub struct TariffCache {
    ttl: Duration,
    tables: Mutex<HashMap<TariffGroup, (Instant, Arc<TariffTable>)>>,
}

impl TariffCache {
    /// A zero `ttl` reads the store on every call.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, tables: Mutex::new(HashMap::new()) }
    }

    /// The table of `group`: the cached one while fresh, else one Query through `reader`.
    pub async fn table<R: TariffReader>(
        &self,
        reader: &R,
        group: &TariffGroup,
    ) -> Result<Arc<TariffTable>, TariffLoadError> {
        if let Some(table) = self.fresh(group) {
            return Ok(table);
        }
        let table = Arc::new(TariffTable::new(reader.tariffs(group).await?)?);
        if !self.ttl.is_zero() {
            // A poisoned lock only means another request panicked mid-insert: the map is still a map.
            let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
            tables.insert(group.clone(), (Instant::now(), Arc::clone(&table)));
        }
        Ok(table)
    }

    fn fresh(&self, group: &TariffGroup) -> Option<Arc<TariffTable>> {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let (loaded, table) = tables.get(group)?;
        (loaded.elapsed() < self.ttl).then(|| Arc::clone(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Tariff, TariffBasis, Zone, ZoneSet};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountingReader {
        reads: AtomicUsize,
    }

    impl TariffReader for CountingReader {
        async fn tariffs(&self, group: &TariffGroup) -> Result<Vec<Tariff>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(vec![Tariff {
                group: group.clone(),
                zone_set: ZoneSet::Single,
                zone: Zone::T1,
                valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                valid_to: None,
                price: "8.00".parse().unwrap(),
                source: "a test price".into(),
                basis: TariffBasis::Published,
            }])
        }
    }

    fn gas() -> TariffGroup {
        TariffGroup("gas-stove".into())
    }

    #[tokio::test]
    async fn a_fresh_table_is_read_once_per_group() {
        let reader = CountingReader { reads: AtomicUsize::new(0) };
        let cache = TariffCache::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(cache.table(&reader, &gas()).await.unwrap().len(), 1);
        }
        assert_eq!(reader.reads.load(Ordering::SeqCst), 1);
        cache.table(&reader, &TariffGroup("rural".into())).await.unwrap();
        assert_eq!(reader.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_a_ttl_every_call_reads_the_store() {
        let reader = CountingReader { reads: AtomicUsize::new(0) };
        let cache = TariffCache::new(Duration::ZERO);
        cache.table(&reader, &gas()).await.unwrap();
        cache.table(&reader, &gas()).await.unwrap();
        assert_eq!(reader.reads.load(Ordering::SeqCst), 2);
    }
}
