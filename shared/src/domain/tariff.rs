//! Residential electricity tariffs as data: a price per kWh (VAT included) for each tariff group,
//! meter kind, zone and period. Prices change by order of the regional regulator, so they are
//! loaded like any other data and never written into code.

use super::account::TariffGroup;
use super::meter::{Zone, ZoneSet};
use super::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// One price: from `valid_from` on, a kWh registered in `zone` of a `zone_set` meter costs `price`
/// roubles (VAT included) to an account billed under `group`.
///
/// The key carries the meter kind because a zone's price depends on it: T1 of a single-rate meter
/// (all day), of a two-zone meter (day) and of a three-zone meter (peak) are three prices.
///
/// This is also the import format: a JSON array of these objects, for example
///
/// ```json
/// [
///   {"group": "gas-stove", "zoneSet": "single", "zone": "T1", "validFrom": "2026-10-01",
///    "price": "8.90", "basis": "published",
///    "source": "Приказ ДЭПиР г. Москвы от 24.12.2025 № ДПР-ТР-407/25"},
///   {"group": "gas-stove", "zoneSet": "twoZone", "zone": "T2", "validFrom": "2026-01-01",
///    "validTo": "2026-09-30", "price": "4.15", "basis": "derived",
///    "source": "2025-07-01 × 122/120 (НДС 22 %)"}
/// ]
/// ```
///
/// - `group`: the account's tariff group (`gas-stove`, `electric-stove`, `rural`, …);
/// - `zoneSet`: `single`, `twoZone` or `threeZone`; `zone`: `T1`, `T2` or `T3`, one the meter kind
///   has (in three-zone meters T2 is night and T3 half-peak);
/// - `validFrom`: the first day (Moscow calendar) the price applies;
/// - `validTo` (optional): the last day. Without it the price holds until a later `validFrom` of
///   the same key, and the table must then give every key of the group a row from each later
///   start date (see [`TariffError::StaleCarryOver`]);
/// - `price`: roubles per kWh as a decimal string with at most two places, above zero and at
///   most 1000.00;
/// - `source`: the regulator's order and/or the address of the page that quotes it; for a
///   derived price, how it was derived;
/// - `basis`: `published` (a figure read in the source) or `derived` (worked out by a stated rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tariff {
    pub group: TariffGroup,
    pub zone_set: ZoneSet,
    pub zone: Zone,
    pub valid_from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    pub price: Money,
    pub source: String,
    pub basis: TariffBasis,
}

/// Which price a row is, whatever it says: group, meter kind, zone and first day. The store keeps
/// one row per id; an import replaces or removes rows by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TariffId {
    pub group: TariffGroup,
    pub zone_set: ZoneSet,
    pub zone: Zone,
    pub valid_from: NaiveDate,
}

impl Tariff {
    pub fn id(&self) -> TariffId {
        TariffId { group: self.group.clone(), zone_set: self.zone_set, zone: self.zone, valid_from: self.valid_from }
    }
}

/// Whether a price was read in its source or worked out from other prices by a stated rule (the
/// VAT rise of 2026-01-01, a half-year the regulator left unchanged): a derived price is one to
/// replace as soon as the order is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TariffBasis {
    Published,
    Derived,
}

impl TariffBasis {
    /// The import format's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TariffBasis::Published => "published",
            TariffBasis::Derived => "derived",
        }
    }
}

impl std::str::FromStr for TariffBasis {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "published" => Ok(TariffBasis::Published),
            "derived" => Ok(TariffBasis::Derived),
            _ => Err(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error(
        "no tariff for group {}, {zone_set:?} meter, zone {zone:?} on {date}",
        group.0
    )]
    NotFound { group: TariffGroup, zone_set: ZoneSet, zone: Zone, date: NaiveDate },
    #[error(
        "two tariffs for group {}, {zone_set:?} meter, zone {zone:?} from {valid_from}",
        group.0
    )]
    Duplicate { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate },
    #[error(
        "the tariff for group {}, {zone_set:?} meter, zone {zone:?} from {valid_from} is {price}: \
         a price must be above zero",
        group.0
    )]
    NonPositivePrice { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate, price: Money },
    #[error(
        "the tariff for group {}, {zone_set:?} meter, zone {zone:?} from {valid_from} is {price}: \
         above {} per kWh is a typing slip",
        group.0,
        MAX_PRICE_PER_KWH
    )]
    PriceTooHigh { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate, price: Money },
    #[error("a {zone_set:?} meter has no zone {zone:?} (tariff of group {} from {valid_from})", group.0)]
    ZoneNotOnMeterKind { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate },
    #[error(
        "the tariff for group {}, {zone_set:?} meter, zone {zone:?} ends on {valid_to}, before it \
         starts on {valid_from}",
        group.0
    )]
    EndsBeforeStart { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate, valid_to: NaiveDate },
    #[error(
        "the tariff for group {}, {zone_set:?} meter, zone {zone:?} from {valid_from} names no source",
        group.0
    )]
    NoSource { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate },
    /// Another key of the group starts a new period on `date` while this key's price of
    /// `valid_from` is still open: it would be charged after its period as if nothing had changed.
    #[error(
        "group {}: a new period starts on {date}, but the {zone_set:?} meter's zone {zone:?} price \
         from {valid_from} is still open then: end it the day before (validTo) or give that zone \
         a price from {date}",
        group.0
    )]
    StaleCarryOver { group: TariffGroup, zone_set: ZoneSet, zone: Zone, valid_from: NaiveDate, date: NaiveDate },
}

/// The highest credible household price per kWh, roubles: today's are 1.63–11.43, so kopecks typed
/// as roubles (1143) are caught, and any kWh count times a price stays inside `Decimal`'s range.
pub const MAX_PRICE_PER_KWH: Decimal = Decimal::ONE_THOUSAND;

/// `ZoneSet` is neither `Hash` nor `Ord`, so the index keys meter kinds by this stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum MeterKind {
    Single,
    TwoZone,
    ThreeZone,
}

impl From<ZoneSet> for MeterKind {
    fn from(zone_set: ZoneSet) -> Self {
        match zone_set {
            ZoneSet::Single => MeterKind::Single,
            ZoneSet::TwoZone => MeterKind::TwoZone,
            ZoneSet::ThreeZone => MeterKind::ThreeZone,
        }
    }
}

type TariffKey = (TariffGroup, MeterKind, Zone);

/// Every known tariff, indexed by (group, meter kind, zone) with each key's periods in date order.
#[derive(Clone, Debug, Default)]
pub struct TariffTable {
    periods: HashMap<TariffKey, Vec<Tariff>>,
}

impl TariffTable {
    /// Indexes `tariffs`, refusing a table a charge could not trust: two prices for one key and
    /// start date, a price of zero or below or above `MAX_PRICE_PER_KWH`, a zone the meter kind
    /// does not have, a period that ends before it starts, a price without a source, or a price
    /// left open past the start of the group's next period (a stale carry-over).
    pub fn new(tariffs: Vec<Tariff>) -> Result<Self, TariffError> {
        let mut periods: HashMap<TariffKey, Vec<Tariff>> = HashMap::new();
        for tariff in tariffs {
            check(&tariff)?;
            let key = (tariff.group.clone(), MeterKind::from(tariff.zone_set), tariff.zone);
            let entries = periods.entry(key).or_default();
            if entries.iter().any(|known| known.valid_from == tariff.valid_from) {
                return Err(TariffError::Duplicate {
                    group: tariff.group,
                    zone_set: tariff.zone_set,
                    zone: tariff.zone,
                    valid_from: tariff.valid_from,
                });
            }
            entries.push(tariff);
        }
        for entries in periods.values_mut() {
            entries.sort_by_key(|t| t.valid_from);
        }
        let table = Self { periods };
        table.check_no_stale_carry_over()?;
        Ok(table)
    }

    /// A regulator's order prices every zone of a group from the same day, so when one key of a
    /// group starts a period, every other key must either start one that day too or have ended
    /// before it. A key that does neither would carry its old price into a period whose price for
    /// it is unknown.
    fn check_no_stale_carry_over(&self) -> Result<(), TariffError> {
        let mut keys: Vec<&TariffKey> = self.periods.keys().collect();
        keys.sort_by(|a, b| (a.0.0.as_str(), a.1, a.2).cmp(&(b.0.0.as_str(), b.1, b.2)));
        let mut starts: HashMap<&TariffGroup, BTreeSet<NaiveDate>> = HashMap::new();
        for (key, entries) in &self.periods {
            starts.entry(&key.0).or_default().extend(entries.iter().map(|t| t.valid_from));
        }
        for key in keys {
            let entries = &self.periods[key];
            for &date in &starts[&key.0] {
                let started = entries.partition_point(|t| t.valid_from < date);
                if entries.get(started).is_some_and(|t| t.valid_from == date) {
                    continue;
                }
                let Some(open) = started.checked_sub(1).map(|i| &entries[i]) else { continue };
                if open.valid_to.is_none_or(|to| to >= date) {
                    return Err(TariffError::StaleCarryOver {
                        group: open.group.clone(),
                        zone_set: open.zone_set,
                        zone: open.zone,
                        valid_from: open.valid_from,
                        date,
                    });
                }
            }
        }
        Ok(())
    }

    /// The price per kWh (VAT included) in force on the Moscow calendar day `date`: the entry of
    /// that group, meter kind and zone with the latest `valid_from` on or before `date`, unless
    /// that entry ended (`valid_to`) before `date`.
    ///
    /// A price is never charged after its period: a period whose price for a zone is unknown ends
    /// the previous entry the day before (enforced by [`TariffTable::new`]), so such a day is
    /// `NotFound` rather than priced at the last known, stale rate.
    pub fn price_on(
        &self,
        group: &TariffGroup,
        zone_set: ZoneSet,
        zone: Zone,
        date: NaiveDate,
    ) -> Result<Money, TariffError> {
        let not_found = || TariffError::NotFound { group: group.clone(), zone_set, zone, date };
        let entries = self.periods.get(&(group.clone(), MeterKind::from(zone_set), zone)).ok_or_else(not_found)?;
        let started = entries.partition_point(|t| t.valid_from <= date);
        let latest = started.checked_sub(1).map(|i| &entries[i]).ok_or_else(not_found)?;
        if latest.valid_to.is_some_and(|to| date > to) {
            return Err(not_found());
        }
        Ok(latest.price)
    }

    /// Every entry, grouped by key and in date order within a key.
    pub fn tariffs(&self) -> impl Iterator<Item = &Tariff> {
        self.periods.values().flatten()
    }

    pub fn len(&self) -> usize {
        self.periods.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }
}

fn check(tariff: &Tariff) -> Result<(), TariffError> {
    let Tariff { group, zone_set, zone, valid_from, valid_to, price, source, basis: _ } = tariff.clone();
    if !zone_set.has(zone) {
        return Err(TariffError::ZoneNotOnMeterKind { group, zone_set, zone, valid_from });
    }
    if !price.is_positive() {
        return Err(TariffError::NonPositivePrice { group, zone_set, zone, valid_from, price });
    }
    if price.amount() > MAX_PRICE_PER_KWH {
        return Err(TariffError::PriceTooHigh { group, zone_set, zone, valid_from, price });
    }
    if let Some(valid_to) = valid_to.filter(|to| *to < valid_from) {
        return Err(TariffError::EndsBeforeStart { group, zone_set, zone, valid_from, valid_to });
    }
    if source.trim().is_empty() {
        return Err(TariffError::NoSource { group, zone_set, zone, valid_from });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn group(name: &str) -> TariffGroup {
        TariffGroup(name.into())
    }

    fn tariff(zone_set: ZoneSet, zone: Zone, from: NaiveDate, price: &str) -> Tariff {
        Tariff {
            group: group("gas-stove"),
            zone_set,
            zone,
            valid_from: from,
            valid_to: None,
            price: money(price),
            source: "a test price".into(),
            basis: TariffBasis::Published,
        }
    }

    fn ending(mut t: Tariff, to: NaiveDate) -> Tariff {
        t.valid_to = Some(to);
        t
    }

    fn not_found(g: &str, zone_set: ZoneSet, zone: Zone, on: NaiveDate) -> Result<Money, TariffError> {
        Err(TariffError::NotFound { group: group(g), zone_set, zone, date: on })
    }

    /// The table the service ships with.
    fn shipped() -> TariffTable {
        let tariffs: Vec<Tariff> =
            serde_json::from_str(include_str!("../../../data/tariffs.json")).expect("the shipped file parses");
        TariffTable::new(tariffs).expect("the shipped file is a valid table")
    }

    #[test]
    fn given_the_shipped_table_when_the_vat_rises_on_2026_01_01_then_prices_change_that_day() {
        let t = shipped();
        let gas = group("gas-stove");
        // 2025 H2 published prices, then the 2026 ones: single 8.00 published (ДПР-ТР-407/25), the
        // zones 2025 H2 × 122/120 rounded to kopecks (derived).
        let cases = [
            (ZoneSet::Single, Zone::T1, "7.87", "8.00"),
            (ZoneSet::TwoZone, Zone::T1, "9.45", "9.61"),
            (ZoneSet::TwoZone, Zone::T2, "4.08", "4.15"),
            (ZoneSet::ThreeZone, Zone::T1, "11.24", "11.43"),
            (ZoneSet::ThreeZone, Zone::T2, "4.08", "4.15"),
            (ZoneSet::ThreeZone, Zone::T3, "7.87", "8.00"),
        ];
        for (zone_set, zone, before, after) in cases {
            assert_eq!(
                t.price_on(&gas, zone_set, zone, date(2025, 12, 31)),
                Ok(money(before)),
                "{zone_set:?} {zone:?}"
            );
            assert_eq!(t.price_on(&gas, zone_set, zone, date(2026, 1, 1)), Ok(money(after)), "{zone_set:?} {zone:?}");
        }
    }

    #[test]
    fn given_the_shipped_table_when_a_period_starts_then_the_previous_one_ends_the_day_before() {
        let t = shipped();
        let gas = group("gas-stove");
        let single = |y, m, d| t.price_on(&gas, ZoneSet::Single, Zone::T1, date(y, m, d));
        assert_eq!(single(2021, 6, 30), Ok(money("5.66")));
        // 2021-07-01…2022-11-30: no figure found, so no price rather than 5.66 carried on.
        assert_eq!(single(2021, 7, 1), not_found("gas-stove", ZoneSet::Single, Zone::T1, date(2021, 7, 1)));
        assert_eq!(single(2022, 11, 30), not_found("gas-stove", ZoneSet::Single, Zone::T1, date(2022, 11, 30)));
        assert_eq!(single(2022, 12, 1), Ok(money("6.43")));
        assert_eq!(single(2024, 6, 30), Ok(money("6.43")));
        assert_eq!(single(2024, 7, 1), Ok(money("6.99")));
        assert_eq!(single(2025, 6, 30), Ok(money("6.99")));
        assert_eq!(single(2025, 7, 1), Ok(money("7.87")));
        assert_eq!(single(2026, 9, 30), Ok(money("8.00")));
        assert_eq!(single(2026, 10, 1), Ok(money("8.90")));
    }

    #[test]
    fn given_no_zone_prices_for_2026_10_when_a_two_zone_gas_stove_meter_is_priced_then_there_is_no_price_not_the_january_one()
     {
        // Regression: the 2026-01-01 zone prices (9.61 / 4.15, 11.43 / 4.15 / 8.00) used to be
        // carried past 1 October, when only the single-rate price of the new period is known.
        let t = shipped();
        let on = date(2026, 10, 15);
        for (zone_set, zone) in [
            (ZoneSet::TwoZone, Zone::T1),
            (ZoneSet::TwoZone, Zone::T2),
            (ZoneSet::ThreeZone, Zone::T1),
            (ZoneSet::ThreeZone, Zone::T2),
            (ZoneSet::ThreeZone, Zone::T3),
        ] {
            assert_eq!(
                t.price_on(&group("gas-stove"), zone_set, zone, on),
                not_found("gas-stove", zone_set, zone, on),
                "{zone_set:?} {zone:?}"
            );
            assert_eq!(t.price_on(&group("gas-stove"), zone_set, zone, date(2026, 9, 30)).map(|_| ()), Ok(()));
        }
        // The single-rate price of the same day is the new one.
        assert_eq!(t.price_on(&group("gas-stove"), ZoneSet::Single, Zone::T1, on), Ok(money("8.90")));
    }

    #[test]
    fn given_the_shipped_table_when_asked_for_2020_h2_then_each_group_and_meter_kind_has_its_price() {
        let t = shipped();
        let on = date(2020, 9, 1);
        let cases = [
            ("electric-stove", ZoneSet::Single, Zone::T1, "4.87"),
            ("electric-stove", ZoneSet::TwoZone, Zone::T1, "5.60"),
            ("electric-stove", ZoneSet::TwoZone, Zone::T2, "1.63"),
            ("electric-stove", ZoneSet::ThreeZone, Zone::T1, "5.84"),
            ("electric-stove", ZoneSet::ThreeZone, Zone::T2, "1.63"),
            ("electric-stove", ZoneSet::ThreeZone, Zone::T3, "4.87"),
            ("gas-stove", ZoneSet::Single, Zone::T1, "5.66"),
            ("gas-stove", ZoneSet::ThreeZone, Zone::T3, "5.66"),
            ("rural", ZoneSet::Single, Zone::T1, "3.96"),
            ("rural", ZoneSet::TwoZone, Zone::T1, "4.55"),
            ("rural", ZoneSet::TwoZone, Zone::T2, "2.06"),
            ("rural", ZoneSet::ThreeZone, Zone::T1, "4.75"),
            ("rural", ZoneSet::ThreeZone, Zone::T2, "2.06"),
            ("rural", ZoneSet::ThreeZone, Zone::T3, "3.96"),
        ];
        for (g, zone_set, zone, price) in cases {
            assert_eq!(t.price_on(&group(g), zone_set, zone, on), Ok(money(price)), "{g} {zone_set:?} {zone:?}");
        }
        // Unknown cells of 2020 are absent, not guessed.
        assert!(t.price_on(&group("gas-stove"), ZoneSet::TwoZone, Zone::T1, on).is_err());
    }

    #[test]
    fn given_the_shipped_table_every_price_is_sourced_and_every_derived_one_says_how() {
        let t = shipped();
        for tariff in t.tariffs() {
            assert!(!tariff.source.trim().is_empty(), "{tariff:?}");
        }
        let derived: Vec<&Tariff> = t.tariffs().filter(|t| t.basis == TariffBasis::Derived).collect();
        assert!(!derived.is_empty());
        // The VAT rise is the one rule that makes new figures; the others repeat a period's figures.
        let vat = derived.iter().filter(|t| t.source.contains("122/120")).count();
        assert_eq!(vat, 6, "five gas-stove zones and the electric-stove single rate of 2026-01-01");
    }

    #[test]
    fn given_a_zone_price_when_asked_for_another_meter_kind_then_the_kinds_do_not_mix() {
        let t = TariffTable::new(vec![
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"),
            tariff(ZoneSet::TwoZone, Zone::T1, date(2026, 1, 1), "9.61"),
        ])
        .unwrap();
        let gas = group("gas-stove");
        assert_eq!(t.price_on(&gas, ZoneSet::Single, Zone::T1, date(2026, 2, 1)), Ok(money("8.00")));
        assert_eq!(t.price_on(&gas, ZoneSet::TwoZone, Zone::T1, date(2026, 2, 1)), Ok(money("9.61")));
        assert_eq!(
            t.price_on(&gas, ZoneSet::ThreeZone, Zone::T1, date(2026, 2, 1)),
            not_found("gas-stove", ZoneSet::ThreeZone, Zone::T1, date(2026, 2, 1))
        );
        assert!(t.price_on(&group("rural"), ZoneSet::Single, Zone::T1, date(2026, 2, 1)).is_err());
    }

    #[test]
    fn given_entries_out_of_order_when_indexed_then_the_latest_start_on_or_before_the_day_wins() {
        let t = TariffTable::new(vec![
            tariff(ZoneSet::Single, Zone::T1, date(2026, 10, 1), "8.90"),
            tariff(ZoneSet::Single, Zone::T1, date(2025, 7, 1), "7.87"),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"),
        ])
        .unwrap();
        let gas = group("gas-stove");
        assert!(t.price_on(&gas, ZoneSet::Single, Zone::T1, date(2025, 6, 30)).is_err());
        assert_eq!(t.price_on(&gas, ZoneSet::Single, Zone::T1, date(2025, 12, 31)), Ok(money("7.87")));
        assert_eq!(t.price_on(&gas, ZoneSet::Single, Zone::T1, date(2026, 9, 30)), Ok(money("8.00")));
        assert_eq!(t.price_on(&gas, ZoneSet::Single, Zone::T1, date(2030, 1, 1)), Ok(money("8.90")));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn given_a_price_with_an_end_when_asked_the_day_after_then_it_is_not_found() {
        let t = TariffTable::new(vec![ending(
            tariff(ZoneSet::TwoZone, Zone::T2, date(2026, 1, 1), "4.15"),
            date(2026, 9, 30),
        )])
        .unwrap();
        let gas = group("gas-stove");
        assert_eq!(t.price_on(&gas, ZoneSet::TwoZone, Zone::T2, date(2026, 9, 30)), Ok(money("4.15")));
        assert_eq!(
            t.price_on(&gas, ZoneSet::TwoZone, Zone::T2, date(2026, 10, 1)),
            not_found("gas-stove", ZoneSet::TwoZone, Zone::T2, date(2026, 10, 1))
        );
        assert!(t.price_on(&gas, ZoneSet::TwoZone, Zone::T2, date(2031, 1, 1)).is_err());
    }

    #[test]
    fn given_a_zone_price_left_open_when_another_zone_starts_a_period_then_the_table_is_refused() {
        // The data error behind charging January's zone prices in November: single-rate gets a
        // price from 1 October, the two-zone day price of January is left open.
        let result = TariffTable::new(vec![
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"),
            tariff(ZoneSet::TwoZone, Zone::T1, date(2026, 1, 1), "9.61"),
            ending(tariff(ZoneSet::TwoZone, Zone::T2, date(2026, 1, 1), "4.15"), date(2026, 9, 30)),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 10, 1), "8.90"),
        ]);
        assert_eq!(
            result.unwrap_err(),
            TariffError::StaleCarryOver {
                group: group("gas-stove"),
                zone_set: ZoneSet::TwoZone,
                zone: Zone::T1,
                valid_from: date(2026, 1, 1),
                date: date(2026, 10, 1),
            }
        );
        // An end on or after the new start is still open at that date.
        let late_end = TariffTable::new(vec![
            ending(tariff(ZoneSet::TwoZone, Zone::T1, date(2026, 1, 1), "9.61"), date(2026, 10, 1)),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 10, 1), "8.90"),
        ]);
        assert!(matches!(late_end, Err(TariffError::StaleCarryOver { zone: Zone::T1, .. })), "{late_end:?}");
        let message = TariffTable::new(vec![
            tariff(ZoneSet::TwoZone, Zone::T1, date(2026, 1, 1), "9.61"),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 10, 1), "8.90"),
        ])
        .unwrap_err()
        .to_string();
        for part in ["gas-stove", "TwoZone", "T1", "2026-01-01", "2026-10-01"] {
            assert!(message.contains(part), "{message}");
        }
    }

    #[test]
    fn given_each_zone_ended_or_renewed_when_a_period_starts_then_the_table_is_accepted() {
        let t = TariffTable::new(vec![
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"),
            ending(tariff(ZoneSet::TwoZone, Zone::T1, date(2026, 1, 1), "9.61"), date(2026, 9, 30)),
            tariff(ZoneSet::TwoZone, Zone::T2, date(2026, 1, 1), "4.15"),
            tariff(ZoneSet::TwoZone, Zone::T2, date(2026, 10, 1), "4.60"),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 10, 1), "8.90"),
            // Another group starts nothing on 1 October, and may keep its price open.
            Tariff { group: group("rural"), ..tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "5.00") },
        ])
        .unwrap();
        assert_eq!(t.price_on(&group("rural"), ZoneSet::Single, Zone::T1, date(2026, 11, 20)), Ok(money("5.00")));
        assert_eq!(t.price_on(&group("gas-stove"), ZoneSet::TwoZone, Zone::T2, date(2026, 11, 20)), Ok(money("4.60")));
        assert!(t.price_on(&group("gas-stove"), ZoneSet::TwoZone, Zone::T1, date(2026, 11, 20)).is_err());
    }

    #[test]
    fn given_two_prices_for_one_key_and_day_when_building_then_the_table_is_refused() {
        let result = TariffTable::new(vec![
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"),
            tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.01"),
        ]);
        assert_eq!(
            result.unwrap_err(),
            TariffError::Duplicate {
                group: group("gas-stove"),
                zone_set: ZoneSet::Single,
                zone: Zone::T1,
                valid_from: date(2026, 1, 1)
            }
        );
        // The same zone and day under another meter kind is another key.
        assert!(
            TariffTable::new(vec![
                tariff(ZoneSet::TwoZone, Zone::T2, date(2026, 1, 1), "4.15"),
                tariff(ZoneSet::ThreeZone, Zone::T2, date(2026, 1, 1), "4.15"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn given_a_zero_or_negative_price_when_building_then_the_table_is_refused() {
        for price in ["0", "-8.00"] {
            let err = TariffTable::new(vec![tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), price)]).unwrap_err();
            assert!(matches!(err, TariffError::NonPositivePrice { price: p, .. } if p == money(price)), "{price}");
        }
        assert!(TariffTable::new(vec![tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "0.01")]).is_ok());
    }

    #[test]
    fn given_kopecks_typed_as_roubles_when_building_then_the_table_is_refused() {
        let err = TariffTable::new(vec![tariff(ZoneSet::ThreeZone, Zone::T1, date(2026, 1, 1), "1143")]).unwrap_err();
        assert!(matches!(err, TariffError::PriceTooHigh { price, .. } if price == money("1143")));
        assert!(TariffTable::new(vec![tariff(ZoneSet::ThreeZone, Zone::T1, date(2026, 1, 1), "1000.00")]).is_ok());
    }

    #[test]
    fn given_a_zone_the_meter_kind_lacks_when_building_then_the_table_is_refused() {
        let err = TariffTable::new(vec![tariff(ZoneSet::TwoZone, Zone::T3, date(2026, 1, 1), "8.00")]).unwrap_err();
        assert!(matches!(err, TariffError::ZoneNotOnMeterKind { zone: Zone::T3, zone_set: ZoneSet::TwoZone, .. }));
    }

    #[test]
    fn given_a_period_ending_before_it_starts_when_building_then_the_table_is_refused() {
        let t = ending(tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00"), date(2025, 12, 31));
        assert!(matches!(TariffTable::new(vec![t]), Err(TariffError::EndsBeforeStart { .. })));
    }

    #[test]
    fn given_a_price_without_a_source_when_building_then_the_table_is_refused() {
        let t = Tariff { source: "  ".into(), ..tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8.00") };
        assert!(matches!(TariffTable::new(vec![t]), Err(TariffError::NoSource { .. })));
    }

    #[test]
    fn given_the_import_format_when_read_then_prices_are_decimal_strings_and_typos_are_refused() {
        let t: Tariff = serde_json::from_str(
            r#"{"group":"rural","zoneSet":"threeZone","zone":"T3","validFrom":"2020-07-01","validTo":"2020-12-31",
                "price":"3.96","basis":"published","source":"Приказ ДЭПиР"}"#,
        )
        .unwrap();
        assert_eq!(t.zone_set, ZoneSet::ThreeZone);
        assert_eq!(t.valid_to, Some(date(2020, 12, 31)));
        assert_eq!(t.price, money("3.96"));
        assert_eq!((t.basis, t.source.as_str()), (TariffBasis::Published, "Приказ ДЭПиР"));
        let derived =
            Tariff { basis: TariffBasis::Derived, ..tariff(ZoneSet::Single, Zone::T1, date(2026, 1, 1), "8") };
        assert_eq!(
            serde_json::to_value(derived).unwrap(),
            serde_json::json!({"group":"gas-stove","zoneSet":"single","zone":"T1","validFrom":"2026-01-01",
                               "price":"8.00","source":"a test price","basis":"derived"})
        );
        // A float price, a misspelt field, a price with sub-kopecks, no source, no basis or an
        // unknown basis is not a tariff.
        let src = r#""basis":"published","source":"s""#;
        for bad in [
            format!(r#"{{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":3.96,{src}}}"#),
            format!(
                r#"{{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":"3.96","valid_to":"2020-12-31",{src}}}"#
            ),
            format!(r#"{{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":"3.965",{src}}}"#),
            r#"{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":"3.96","basis":"published"}"#
                .into(),
            r#"{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":"3.96","source":"s"}"#.into(),
            r#"{"group":"rural","zoneSet":"single","zone":"T1","validFrom":"2020-07-01","price":"3.96","source":"s","basis":"guessed"}"#
                .into(),
        ] {
            assert!(serde_json::from_str::<Tariff>(&bad).is_err(), "{bad}");
        }
    }
}
