//! What accepted readings cost: each zone's consumption at that zone's tariff on the submission
//! day, each line rounded half-up to kopecks, the total the sum of the lines.

use super::account::TariffGroup;
use super::meter::{Zone, ZoneSet};
use super::money::Money;
use super::readings::AcceptedReadings;
use super::tariff::{TariffError, TariffTable};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One zone of the bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeLine {
    /// kWh since the last accepted reading.
    pub consumption: u64,
    /// Roubles per kWh, VAT included.
    pub price: Money,
    pub amount: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    pub lines: BTreeMap<Zone, ChargeLine>,
    pub total: Money,
}

/// Prices `accepted` for a `zone_set` meter of an account billed under `group`, at the tariffs in
/// force on `date` — the Moscow calendar day of the submission
/// (`readings_window::moscow_date(now)`).
pub fn charge(
    accepted: &AcceptedReadings,
    zone_set: ZoneSet,
    group: &TariffGroup,
    tariffs: &TariffTable,
    date: NaiveDate,
) -> Result<Charge, TariffError> {
    let lines = accepted
        .consumption
        .iter()
        .map(|(&zone, &consumption)| {
            let price = tariffs.price_on(group, zone_set, zone, date)?;
            // The tariff table caps prices, so any u64 of kWh times a price fits a Decimal.
            let amount = Money::rounded(Decimal::from(consumption) * price.amount());
            Ok((zone, ChargeLine { consumption, price, amount }))
        })
        .collect::<Result<BTreeMap<_, _>, TariffError>>()?;
    let total = lines.values().map(|line| line.amount).sum();
    Ok(Charge { lines, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter::MeterId;
    use crate::domain::tariff::Tariff;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn gas() -> TariffGroup {
        TariffGroup("gas-stove".into())
    }

    fn shipped() -> TariffTable {
        let tariffs: Vec<Tariff> = serde_json::from_str(include_str!("../../../data/tariffs.json")).unwrap();
        TariffTable::new(tariffs).unwrap()
    }

    fn used(consumption: &[(Zone, u64)]) -> AcceptedReadings {
        AcceptedReadings {
            meter_id: MeterId("M-1".into()),
            // The register values play no part in the price.
            values: consumption.iter().map(|&(z, kwh)| (z, kwh + 10_000)).collect(),
            consumption: consumption.iter().copied().collect(),
            rollover: false,
        }
    }

    fn line(consumption: u64, price: &str, amount: &str) -> ChargeLine {
        ChargeLine { consumption, price: money(price), amount: money(amount) }
    }

    #[test]
    fn given_a_three_zone_meter_in_november_2026_when_charged_then_each_zone_has_its_own_price() {
        let accepted = used(&[(Zone::T1, 123), (Zone::T2, 456), (Zone::T3, 78)]);
        let bill = charge(&accepted, ZoneSet::ThreeZone, &gas(), &shipped(), date(2026, 11, 20)).unwrap();
        // By hand: peak 123 × 11.43 = 1353 + 52.89 = 1405.89; night 456 × 4.15 = 1824 + 68.40 =
        // 1892.40; half-peak 78 × 8.00 = 624.00; total 1405.89 + 1892.40 + 624.00 = 3922.29.
        assert_eq!(bill.lines[&Zone::T1], line(123, "11.43", "1405.89"));
        assert_eq!(bill.lines[&Zone::T2], line(456, "4.15", "1892.40"));
        assert_eq!(bill.lines[&Zone::T3], line(78, "8.00", "624.00"));
        assert_eq!(bill.total, money("3922.29"));
    }

    #[test]
    fn given_the_same_usage_when_charged_either_side_of_the_vat_rise_then_the_new_price_starts_on_1_january() {
        let accepted = used(&[(Zone::T1, 350), (Zone::T2, 120)]);
        let tariffs = shipped();
        let before = charge(&accepted, ZoneSet::TwoZone, &gas(), &tariffs, date(2025, 12, 31)).unwrap();
        // 350 × 9.45 = 3307.50; 120 × 4.08 = 489.60; total 3797.10.
        assert_eq!(before.lines[&Zone::T1], line(350, "9.45", "3307.50"));
        assert_eq!(before.lines[&Zone::T2], line(120, "4.08", "489.60"));
        assert_eq!(before.total, money("3797.10"));
        let after = charge(&accepted, ZoneSet::TwoZone, &gas(), &tariffs, date(2026, 1, 1)).unwrap();
        // 350 × 9.61 = 3363.50; 120 × 4.15 = 498.00; total 3861.50.
        assert_eq!(after.lines[&Zone::T1], line(350, "9.61", "3363.50"));
        assert_eq!(after.lines[&Zone::T2], line(120, "4.15", "498.00"));
        assert_eq!(after.total, money("3861.50"));
    }

    #[test]
    fn given_a_single_rate_meter_when_charged_after_1_october_2026_then_the_new_8_90_applies() {
        let accepted = used(&[(Zone::T1, 217)]);
        let bill = charge(&accepted, ZoneSet::Single, &gas(), &shipped(), date(2026, 10, 1)).unwrap();
        // 217 × 8.90 = 1736 + 195.30 = 1931.30.
        assert_eq!(bill.lines[&Zone::T1], line(217, "8.90", "1931.30"));
        assert_eq!(bill.total, money("1931.30"));
    }

    #[test]
    fn given_small_and_large_usage_when_charged_then_every_line_and_the_total_are_exact_kopecks() {
        // A published price always has two places and usage is whole kWh, so a line is exact: the
        // half-up rounding of each line cannot make the total differ from the sum of exact
        // amounts. What the customer sees is that every line and the total are whole kopecks.
        let accepted = used(&[(Zone::T1, 1), (Zone::T2, 999_999)]);
        let bill = charge(&accepted, ZoneSet::TwoZone, &gas(), &shipped(), date(2026, 2, 1)).unwrap();
        // 1 × 9.61 = 9.61; 999 999 × 4.15 = 4 150 000 − 4.15 = 4 149 995.85; total 4 150 005.46.
        assert_eq!(bill.lines[&Zone::T1].amount.to_string(), "9.61");
        assert_eq!(bill.lines[&Zone::T2].amount.to_string(), "4149995.85");
        assert_eq!(bill.total.to_string(), "4150005.46");
    }

    #[test]
    fn given_a_zone_without_a_known_price_when_charged_then_no_charge_is_made() {
        // Gas-stove 2020 prices are known for single-rate and half-peak only.
        let accepted = used(&[(Zone::T1, 100), (Zone::T2, 50), (Zone::T3, 70)]);
        assert_eq!(
            charge(&accepted, ZoneSet::ThreeZone, &gas(), &shipped(), date(2020, 9, 1)),
            Err(TariffError::NotFound {
                group: gas(),
                zone_set: ZoneSet::ThreeZone,
                zone: Zone::T1,
                date: date(2020, 9, 1)
            })
        );
        // Electric-stove prices are known only for 2020 H2.
        let electric = TariffGroup("electric-stove".into());
        let single = used(&[(Zone::T1, 100)]);
        assert!(charge(&single, ZoneSet::Single, &electric, &shipped(), date(2026, 11, 20)).is_err());
        let bill = charge(&single, ZoneSet::Single, &electric, &shipped(), date(2020, 12, 31)).unwrap();
        assert_eq!(bill.total, money("487.00"));
    }

    #[test]
    fn given_a_charge_when_sent_to_the_mini_app_then_amounts_are_decimal_strings_by_zone() {
        let bill = charge(&used(&[(Zone::T1, 217)]), ZoneSet::Single, &gas(), &shipped(), date(2026, 10, 1)).unwrap();
        assert_eq!(
            serde_json::to_value(&bill).unwrap(),
            serde_json::json!({"lines": {"T1": {"consumption": 217, "price": "8.90", "amount": "1931.30"}}, "total": "1931.30"})
        );
    }
}
