//! What accepted readings cost: each zone's consumption at that zone's tariff on the submission
//! day, each line rounded half-up to kopecks, the total the sum of the lines. A zone that used
//! nothing costs nothing whatever its tariff, so it needs none: a customer who was away hands in
//! the same readings again even while a zone's price for the day is unknown.

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
    /// Roubles per kWh, VAT included; `None` only for a zone that used nothing on a day with no
    /// price in force for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
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
            let price = tariffs.price_on(group, zone_set, zone, date);
            let line = match price {
                Err(_) if consumption == 0 => ChargeLine { consumption, price: None, amount: Money::ZERO },
                // The tariff table caps prices, so any u64 of kWh times a price fits a Decimal.
                price => {
                    let price = price?;
                    let amount = Money::rounded(Decimal::from(consumption) * price.amount());
                    ChargeLine { consumption, price: Some(price), amount }
                }
            };
            Ok((zone, line))
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
        ChargeLine { consumption, price: Some(money(price)), amount: money(amount) }
    }

    #[test]
    fn given_a_three_zone_meter_in_september_2026_when_charged_then_each_zone_has_its_own_price() {
        let accepted = used(&[(Zone::T1, 123), (Zone::T2, 456), (Zone::T3, 78)]);
        let bill = charge(&accepted, ZoneSet::ThreeZone, &gas(), &shipped(), date(2026, 9, 20)).unwrap();
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
        // No electric-stove price of 1 October 2026 is known: the 7.28 of January is not carried on.
        let electric = TariffGroup("electric-stove".into());
        let single = used(&[(Zone::T1, 100)]);
        assert_eq!(
            charge(&single, ZoneSet::Single, &electric, &shipped(), date(2026, 11, 20)),
            Err(TariffError::NotFound {
                group: electric.clone(),
                zone_set: ZoneSet::Single,
                zone: Zone::T1,
                date: date(2026, 11, 20)
            })
        );
        // 100 × 7.28 = 728.00 the day before.
        let bill = charge(&single, ZoneSet::Single, &electric, &shipped(), date(2026, 9, 30)).unwrap();
        assert_eq!(bill.total, money("728.00"));
    }

    #[test]
    fn given_a_two_zone_gas_stove_meter_on_15_october_2026_when_charged_then_it_is_refused_not_priced_at_january_rates()
    {
        // Regression: only the single-rate price of 1 October 2026 (8.90) is known; the zone meters
        // were priced at January's 9.61 / 4.15.
        let accepted = used(&[(Zone::T1, 120), (Zone::T2, 80)]);
        let result = charge(&accepted, ZoneSet::TwoZone, &gas(), &shipped(), date(2026, 10, 15));
        assert_eq!(
            result,
            Err(TariffError::NotFound {
                group: gas(),
                zone_set: ZoneSet::TwoZone,
                zone: Zone::T1,
                date: date(2026, 10, 15)
            })
        );
    }

    #[test]
    fn given_a_zone_that_used_nothing_when_its_price_is_unknown_then_it_costs_nothing_and_needs_none() {
        // Away in October 2026: the two-zone meter's registers are where they were, and no zone
        // price of the day is known — consumption 0, charge 0, not a refusal.
        let away = used(&[(Zone::T1, 0), (Zone::T2, 0)]);
        let bill = charge(&away, ZoneSet::TwoZone, &gas(), &shipped(), date(2026, 10, 15)).unwrap();
        assert_eq!(bill.lines[&Zone::T1], ChargeLine { consumption: 0, price: None, amount: Money::ZERO });
        assert_eq!(bill.lines[&Zone::T2], ChargeLine { consumption: 0, price: None, amount: Money::ZERO });
        assert_eq!(bill.total, Money::ZERO);
        // A zone that used something still needs its price, whatever the others used.
        let day_only = used(&[(Zone::T1, 5), (Zone::T2, 0)]);
        assert!(matches!(
            charge(&day_only, ZoneSet::TwoZone, &gas(), &shipped(), date(2026, 10, 15)),
            Err(TariffError::NotFound { zone: Zone::T1, .. })
        ));
        // With a price in force, a zone that used nothing shows it, as it always has.
        let bill = charge(&away, ZoneSet::TwoZone, &gas(), &shipped(), date(2026, 9, 30)).unwrap();
        assert_eq!(bill.lines[&Zone::T2], line(0, "4.15", "0.00"));
    }

    /// The Moscow usage every period is charged for: 123 kWh of T1, 45 of T2, 67 of T3.
    fn kwh(zone: Zone) -> u64 {
        match zone {
            Zone::T1 => 123,
            Zone::T2 => 45,
            Zone::T3 => 67,
        }
    }

    /// A period of data/TARIFFS.md for one group, on a day inside it: the six prices of
    /// data/tariffs.json as read in (or derived for) the source — single T1; two-zone T1 day and T2
    /// night; three-zone T1 peak, T2 night and T3 half-peak — `None` where no price is known.
    type Period = (&'static str, NaiveDate, [Option<&'static str>; 6]);

    #[test]
    fn given_each_group_meter_kind_and_period_when_charged_then_the_bill_is_usage_times_the_price_or_no_price() {
        let tariffs = shipped();
        let periods: [Period; 39] = [
            // electric-stove 2020 H2: single 123 × 4.87 = 599.01; two-zone 123 × 5.60 + 45 × 1.63 = 688.80 + 73.35;
            //   three-zone 123 × 5.84 + 45 × 1.63 + 67 × 4.87 = 718.32 + 73.35 + 326.29.
            (
                "electric-stove",
                date(2020, 9, 1),
                [Some("4.87"), Some("5.60"), Some("1.63"), Some("5.84"), Some("1.63"), Some("4.87")],
            ),
            // electric-stove 2021 H1: single 123 × 4.87 = 599.01; two-zone 123 × 5.60 + 45 × 1.63 = 688.80 + 73.35;
            //   three-zone 123 × 5.84 + 45 × 1.63 + 67 × 4.87 = 718.32 + 73.35 + 326.29.
            (
                "electric-stove",
                date(2021, 3, 1),
                [Some("4.87"), Some("5.60"), Some("1.63"), Some("5.84"), Some("1.63"), Some("4.87")],
            ),
            // electric-stove 2021 H2: single 123 × 5.15 = 633.45; two-zone 123 × 5.92 + 45 × 1.74 = 728.16 + 78.30;
            //   three-zone 123 × 6.18 + 45 × 1.74 + 67 × 5.15 = 760.14 + 78.30 + 345.05.
            (
                "electric-stove",
                date(2021, 9, 1),
                [Some("5.15"), Some("5.92"), Some("1.74"), Some("6.18"), Some("1.74"), Some("5.15")],
            ),
            // electric-stove 2022 H1: single 123 × 5.15 = 633.45; two-zone 123 × 5.92 + 45 × 1.74 = 728.16 + 78.30;
            //   three-zone 123 × 6.18 + 45 × 1.74 + 67 × 5.15 = 760.14 + 78.30 + 345.05.
            (
                "electric-stove",
                date(2022, 3, 1),
                [Some("5.15"), Some("5.92"), Some("1.74"), Some("6.18"), Some("1.74"), Some("5.15")],
            ),
            // electric-stove 2022-07-01: no price known.
            ("electric-stove", date(2022, 9, 1), [None, None, None, None, None, None]),
            // electric-stove 2022-12-01: single 123 × 5.66 = 696.18.
            ("electric-stove", date(2022, 12, 20), [Some("5.66"), None, None, None, None, None]),
            // electric-stove 2023: single 123 × 5.66 = 696.18.
            ("electric-stove", date(2023, 6, 1), [Some("5.66"), None, None, None, None, None]),
            // electric-stove 2024 H1: single 123 × 5.66 = 696.18.
            ("electric-stove", date(2024, 3, 1), [Some("5.66"), None, None, None, None, None]),
            // electric-stove 2024-07-01: single 123 × 6.15 = 756.45.
            ("electric-stove", date(2024, 9, 1), [Some("6.15"), None, None, None, None, None]),
            // electric-stove 2025 H1: single 123 × 6.15 = 756.45.
            ("electric-stove", date(2025, 3, 1), [Some("6.15"), None, None, None, None, None]),
            // electric-stove 2025-07-01: single 123 × 7.16 = 880.68.
            ("electric-stove", date(2025, 9, 1), [Some("7.16"), None, None, None, None, None]),
            // electric-stove 2026-01-01: single 123 × 7.28 = 895.44.
            ("electric-stove", date(2026, 3, 1), [Some("7.28"), None, None, None, None, None]),
            // electric-stove 2026-10-01: no price known.
            ("electric-stove", date(2026, 11, 20), [None, None, None, None, None, None]),
            // gas-stove 2020 H2: single 123 × 5.66 = 696.18.
            ("gas-stove", date(2020, 9, 1), [Some("5.66"), None, None, None, None, Some("5.66")]),
            // gas-stove 2021 H1: single 123 × 5.66 = 696.18.
            ("gas-stove", date(2021, 3, 1), [Some("5.66"), None, None, None, None, None]),
            // gas-stove 2021 H2: no price known.
            ("gas-stove", date(2021, 9, 1), [None, None, None, None, None, None]),
            // gas-stove 2022 H1: no price known.
            ("gas-stove", date(2022, 3, 1), [None, None, None, None, None, None]),
            // gas-stove 2022-07-01: no price known.
            ("gas-stove", date(2022, 9, 1), [None, None, None, None, None, None]),
            // gas-stove 2022-12-01: single 123 × 6.43 = 790.89.
            ("gas-stove", date(2022, 12, 20), [Some("6.43"), None, None, None, None, None]),
            // gas-stove 2023: single 123 × 6.43 = 790.89.
            ("gas-stove", date(2023, 6, 1), [Some("6.43"), None, None, None, None, None]),
            // gas-stove 2024 H1: single 123 × 6.43 = 790.89.
            ("gas-stove", date(2024, 3, 1), [Some("6.43"), None, None, None, None, None]),
            // gas-stove 2024-07-01: single 123 × 6.99 = 859.77; two-zone 123 × 8.47 + 45 × 3.43 = 1041.81 + 154.35;
            //   three-zone 123 × 10.16 + 45 × 3.43 + 67 × 6.99 = 1249.68 + 154.35 + 468.33.
            (
                "gas-stove",
                date(2024, 9, 1),
                [Some("6.99"), Some("8.47"), Some("3.43"), Some("10.16"), Some("3.43"), Some("6.99")],
            ),
            // gas-stove 2025 H1: single 123 × 6.99 = 859.77; two-zone 123 × 8.47 + 45 × 3.43 = 1041.81 + 154.35; three-
            //   zone 123 × 10.16 + 45 × 3.43 + 67 × 6.99 = 1249.68 + 154.35 + 468.33.
            (
                "gas-stove",
                date(2025, 3, 1),
                [Some("6.99"), Some("8.47"), Some("3.43"), Some("10.16"), Some("3.43"), Some("6.99")],
            ),
            // gas-stove 2025-07-01: single 123 × 7.87 = 968.01; two-zone 123 × 9.45 + 45 × 4.08 = 1162.35 + 183.60;
            //   three-zone 123 × 11.24 + 45 × 4.08 + 67 × 7.87 = 1382.52 + 183.60 + 527.29.
            (
                "gas-stove",
                date(2025, 9, 1),
                [Some("7.87"), Some("9.45"), Some("4.08"), Some("11.24"), Some("4.08"), Some("7.87")],
            ),
            // gas-stove 2026-01-01: single 123 × 8.00 = 984.00; two-zone 123 × 9.61 + 45 × 4.15 = 1182.03 + 186.75;
            //   three-zone 123 × 11.43 + 45 × 4.15 + 67 × 8.00 = 1405.89 + 186.75 + 536.00.
            (
                "gas-stove",
                date(2026, 3, 1),
                [Some("8.00"), Some("9.61"), Some("4.15"), Some("11.43"), Some("4.15"), Some("8.00")],
            ),
            // gas-stove 2026-10-01: single 123 × 8.90 = 1094.70.
            ("gas-stove", date(2026, 11, 20), [Some("8.90"), None, None, None, None, None]),
            // rural 2020 H2: single 123 × 3.96 = 487.08; two-zone 123 × 4.55 + 45 × 2.06 = 559.65 + 92.70; three-zone
            //   123 × 4.75 + 45 × 2.06 + 67 × 3.96 = 584.25 + 92.70 + 265.32.
            (
                "rural",
                date(2020, 9, 1),
                [Some("3.96"), Some("4.55"), Some("2.06"), Some("4.75"), Some("2.06"), Some("3.96")],
            ),
            // rural 2021 H1: single 123 × 3.96 = 487.08; two-zone 123 × 4.55 + 45 × 2.06 = 559.65 + 92.70; three-zone
            //   123 × 4.75 + 45 × 2.06 + 67 × 3.96 = 584.25 + 92.70 + 265.32.
            (
                "rural",
                date(2021, 3, 1),
                [Some("3.96"), Some("4.55"), Some("2.06"), Some("4.75"), Some("2.06"), Some("3.96")],
            ),
            // rural 2021 H2: no price known.
            ("rural", date(2021, 9, 1), [None, None, None, None, None, None]),
            // rural 2022 H1: no price known.
            ("rural", date(2022, 3, 1), [None, None, None, None, None, None]),
            // rural 2022-07-01: no price known.
            ("rural", date(2022, 9, 1), [None, None, None, None, None, None]),
            // rural 2022-12-01: single 123 × 4.50 = 553.50.
            ("rural", date(2022, 12, 20), [Some("4.50"), None, None, None, None, None]),
            // rural 2023: single 123 × 4.50 = 553.50.
            ("rural", date(2023, 6, 1), [Some("4.50"), None, None, None, None, None]),
            // rural 2024 H1: single 123 × 4.50 = 553.50.
            ("rural", date(2024, 3, 1), [Some("4.50"), None, None, None, None, None]),
            // rural 2024-07-01: no price known.
            ("rural", date(2024, 9, 1), [None, None, None, None, None, None]),
            // rural 2025 H1: no price known.
            ("rural", date(2025, 3, 1), [None, None, None, None, None, None]),
            // rural 2025-07-01: no price known.
            ("rural", date(2025, 9, 1), [None, None, None, None, None, None]),
            // rural 2026-01-01: no price known.
            ("rural", date(2026, 3, 1), [None, None, None, None, None, None]),
            // rural 2026-10-01: no price known.
            ("rural", date(2026, 11, 20), [None, None, None, None, None, None]),
        ];
        let kinds: [(ZoneSet, &[(Zone, usize)]); 3] = [
            (ZoneSet::Single, &[(Zone::T1, 0)]),
            (ZoneSet::TwoZone, &[(Zone::T1, 1), (Zone::T2, 2)]),
            (ZoneSet::ThreeZone, &[(Zone::T1, 3), (Zone::T2, 4), (Zone::T3, 5)]),
        ];
        for (group, day, prices) in periods {
            let group = TariffGroup(group.into());
            for (zone_set, zones) in kinds {
                let usage: Vec<(Zone, u64)> = zones.iter().map(|&(zone, _)| (zone, kwh(zone))).collect();
                let result = charge(&used(&usage), zone_set, &group, &tariffs, day);
                let known: Option<Vec<(Zone, Money)>> =
                    zones.iter().map(|&(zone, i)| prices[i].map(|p| (zone, money(p)))).collect();
                let Some(known) = known else {
                    assert!(
                        matches!(result, Err(TariffError::NotFound { .. })),
                        "{} {zone_set:?} on {day}: no price is known, got {result:?}",
                        group.0
                    );
                    continue;
                };
                let bill = result.unwrap_or_else(|e| panic!("{} {zone_set:?} on {day}: {e}", group.0));
                let expected: Vec<ChargeLine> = known
                    .iter()
                    .map(|&(zone, price)| ChargeLine {
                        consumption: kwh(zone),
                        price: Some(price),
                        amount: Money::rounded(Decimal::from(kwh(zone)) * price.amount()),
                    })
                    .collect();
                assert_eq!(
                    bill.lines.values().copied().collect::<Vec<_>>(),
                    expected,
                    "{} {zone_set:?} on {day}",
                    group.0
                );
                assert_eq!(bill.total, expected.iter().map(|l| l.amount).sum::<Money>(), "{} {zone_set:?}", group.0);
            }
        }
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
