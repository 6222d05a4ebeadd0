//! VAT on household electricity: the general rate, chosen by the payment date on the Moscow
//! calendar, and the dates it changes. Tariffs already include VAT, so receipts show the VAT
//! *inside* an amount. The change dates live here and nowhere else: the receipts, and the
//! deadline of a payment form (which must not outlive its rate), follow them.

use super::Money;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Moscow;
use rust_decimal::Decimal;

/// The general VAT rate in force on a given day.
///
/// Only the rates a payment made through this service can meet: 20 % (in force since 2019) and
/// 22 % (federal law 425-FZ of 28.11.2025, from 2026-01-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VatRate {
    Twenty,
    TwentyTwo,
}

/// Each rate from its first Moscow day, oldest first. A new change is one more line here.
const RATES: [((i32, u32, u32), VatRate); 2] = [((2019, 1, 1), VatRate::Twenty), ((2026, 1, 1), VatRate::TwentyTwo)];

fn first_day((y, m, d): (i32, u32, u32)) -> NaiveDate {
    // Constant dates: `from_ymd_opt` cannot fail for them.
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date")
}

/// The instant a Moscow calendar day begins (Moscow has no daylight saving: one instant each).
fn moscow_midnight(day: NaiveDate) -> DateTime<Utc> {
    Moscow
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("Moscow has no daylight saving")
        .with_timezone(&Utc)
}

impl VatRate {
    /// The rate on a Moscow calendar day (before the first change listed: the first rate).
    pub fn on(day: NaiveDate) -> Self {
        RATES.iter().rev().find(|(from, _)| day >= first_day(*from)).map_or(RATES[0].1, |(_, rate)| *rate)
    }

    /// The next instant after `instant` at which the rate changes (midnight in Moscow), if one is
    /// known.
    pub fn next_change_after(instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        RATES.iter().map(|(from, _)| moscow_midnight(first_day(*from))).find(|change| *change > instant)
    }

    /// The rate at an instant: a payment at 23:30 UTC on 31 December is already in January in
    /// Moscow, and the Moscow day is the one that counts.
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self::on(instant.with_timezone(&Moscow).date_naive())
    }

    pub fn percent(self) -> u32 {
        match self {
            Self::Twenty => 20,
            Self::TwentyTwo => 22,
        }
    }

    /// The VAT inside a VAT-inclusive amount: `gross × r / (100 + r)`, half-up to kopecks.
    pub fn included_in(self, gross: Money) -> Money {
        let rate = Decimal::from(self.percent());
        Money::rounded(gross.amount() * rate / (Decimal::ONE_HUNDRED + rate))
    }
}

impl std::fmt::Display for VatRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} %", self.percent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn rate_rises_to_22_on_the_first_of_january_2026() {
        assert_eq!(VatRate::on(day(2025, 7, 1)), VatRate::Twenty);
        assert_eq!(VatRate::on(day(2025, 12, 31)), VatRate::Twenty);
        assert_eq!(VatRate::on(day(2026, 1, 1)), VatRate::TwentyTwo);
        assert_eq!(VatRate::on(day(2027, 3, 15)), VatRate::TwentyTwo);
    }

    #[test]
    fn the_moscow_calendar_decides_around_midnight() {
        // 21:00 UTC on 31 December is 00:00 on 1 January in Moscow (UTC+3).
        let new_year_in_moscow = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
        assert_eq!(VatRate::at(new_year_in_moscow), VatRate::TwentyTwo);
        let still_2025 = Utc.with_ymd_and_hms(2025, 12, 31, 20, 59, 59).unwrap();
        assert_eq!(VatRate::at(still_2025), VatRate::Twenty);
    }

    #[test]
    fn the_next_change_is_moscow_midnight_of_1_january_2026_and_none_after_it() {
        let midnight = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
        assert_eq!(VatRate::next_change_after(Utc.with_ymd_and_hms(2025, 11, 20, 9, 0, 0).unwrap()), Some(midnight));
        assert_eq!(VatRate::next_change_after(midnight - chrono::TimeDelta::seconds(1)), Some(midnight));
        assert_eq!(VatRate::next_change_after(midnight), None, "the change itself is behind");
        assert_eq!(VatRate::next_change_after(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()), None);
        assert_eq!(VatRate::on(day(2018, 6, 1)), VatRate::Twenty, "before the first listed change");
    }

    #[test]
    fn vat_inside_an_amount_is_rounded_half_up_to_kopecks() {
        // 1200 × 20/120 = 200 exactly; 1220 × 22/122 = 220 exactly.
        assert_eq!(VatRate::Twenty.included_in(m("1200.00")), m("200.00"));
        assert_eq!(VatRate::TwentyTwo.included_in(m("1220.00")), m("220.00"));
        // 1500 × 20/120 = 250; 1500 × 22/122 = 270.4918… → 270.49.
        assert_eq!(VatRate::Twenty.included_in(m("1500.00")), m("250.00"));
        assert_eq!(VatRate::TwentyTwo.included_in(m("1500.00")), m("270.49"));
        // 0.03 × 20/120 = 0.005 → 0.01 (half-up, not banker's rounding).
        assert_eq!(VatRate::Twenty.included_in(m("0.03")), m("0.01"));
        // 0.61 × 22/122 = 0.11 exactly; 10.00 × 22/122 = 1.8032… → 1.80.
        assert_eq!(VatRate::TwentyTwo.included_in(m("0.61")), m("0.11"));
        assert_eq!(VatRate::TwentyTwo.included_in(m("10.00")), m("1.80"));
    }

    #[test]
    fn percent_and_display() {
        assert_eq!(VatRate::Twenty.percent(), 20);
        assert_eq!(VatRate::TwentyTwo.to_string(), "22 %");
    }

    proptest! {
        #[test]
        fn vat_is_never_more_than_the_rate_allows(k in 1i64..10_000_000_000i64) {
            let gross = Money::from_kopecks(k);
            for rate in [VatRate::Twenty, VatRate::TwentyTwo] {
                let vat = rate.included_in(gross);
                prop_assert!(!vat.is_negative());
                prop_assert!(vat < gross);
                // The net part times the rate gives the VAT back within half a kopeck.
                let net = gross - vat;
                let back = net.amount() * Decimal::from(rate.percent()) / Decimal::ONE_HUNDRED;
                prop_assert!((back - vat.amount()).abs() <= Decimal::new(1, 2));
            }
        }
    }
}
