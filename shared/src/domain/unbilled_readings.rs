//! Readings the billing system has not billed yet. It bills a month once the month is over, and
//! its export made after that, once imported, brings the month's readings charges as debt. Until
//! then a submission's charge stands beside the imported balance — whatever the month now is, so
//! an unpaid charge does not vanish from what is due on the 1st while the import is still to come —
//! and its figures are the meter's last accepted readings, which the next month's use counts from.

use super::meter::{Meter, Reading, Zone};
use super::year_month::{YearMonth, billing_month};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Whether a submission of `month` stands beside the balance the billing system exported at
/// `billed_at` (`None`: a profile of the former layout, whose export time was not kept), in the
/// billing month `current`: this month's always; an earlier month's until an export made after
/// that month ended.
pub fn is_unbilled(month: YearMonth, current: YearMonth, billed_at: Option<DateTime<Utc>>) -> bool {
    month == current || (month < current && billed_at.is_some_and(|billed_at| billing_month(billed_at) <= month))
}

/// The meter's last accepted readings, with the customer's own `values` handed in on `on` (a
/// submission not billed yet) in place of the billing system's older ones.
pub fn last_accepted(meter: &Meter, values: &BTreeMap<Zone, u64>, on: NaiveDate) -> Meter {
    let mut meter = meter.clone();
    for (&zone, &value) in values {
        let newer = meter.last_readings.get(&zone).is_none_or(|billed| billed.date < on);
        if newer {
            meter.last_readings.insert(zone, Reading { value, date: on });
        }
    }
    meter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ZoneSet;
    use chrono::TimeZone;

    fn month(m: u32) -> YearMonth {
        YearMonth::new(2026, m).unwrap()
    }

    /// A Moscow wall-clock instant.
    fn moscow(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap() - chrono::Duration::hours(3)
    }

    #[test]
    fn given_this_months_submission_then_it_stands_beside_any_balance() {
        for billed_at in [None, Some(moscow(11, 1, 3)), Some(moscow(11, 20, 3))] {
            assert!(is_unbilled(month(11), month(11), billed_at), "{billed_at:?}");
        }
    }

    #[test]
    fn given_last_months_submission_when_the_export_billing_it_is_not_imported_yet_then_it_still_stands() {
        // November's readings, looked at in December: the balance is still October's export's.
        assert!(is_unbilled(month(11), month(12), Some(moscow(11, 1, 3))));
        assert!(is_unbilled(month(11), month(12), Some(moscow(11, 30, 23))), "an export before November ended");
        assert!(!is_unbilled(month(11), month(12), Some(moscow(12, 1, 0))), "the export made as December began");
        assert!(!is_unbilled(month(11), month(12), Some(moscow(12, 3, 9))));
        // A month the export two months on has billed, and the former layout's profile.
        assert!(!is_unbilled(month(10), month(12), Some(moscow(11, 2, 9))));
        assert!(!is_unbilled(month(11), month(12), None));
    }

    #[test]
    fn given_a_late_import_then_every_month_since_its_export_stands() {
        let billed_at = Some(moscow(10, 2, 9));
        let standing: Vec<u32> = (8..=12).filter(|&m| is_unbilled(month(m), month(12), billed_at)).collect();
        assert_eq!(standing, [10, 11, 12]);
    }

    #[test]
    fn given_readings_handed_in_after_the_billed_ones_then_they_are_the_last_accepted() {
        let billed = |value, day| Reading { value, date: NaiveDate::from_ymd_opt(2026, 10, day).unwrap() };
        let meter = Meter {
            id: crate::domain::MeterId("Меркурий201-1".into()),
            serial: None,
            zone_set: ZoneSet::TwoZone,
            digits: Some(6),
            automatic: false,
            faulty: false,
            window: None,
            last_readings: BTreeMap::from([(Zone::T1, billed(12_000, 22)), (Zone::T2, billed(4_000, 22))]),
        };
        let handed_in = BTreeMap::from([(Zone::T1, 12_300), (Zone::T2, 4_100)]);
        let on = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let last = last_accepted(&meter, &handed_in, on).last_readings;
        assert_eq!(last[&Zone::T1], Reading { value: 12_300, date: on });
        assert_eq!(last[&Zone::T2], Reading { value: 4_100, date: on });

        // The billing system's reading is as new or newer (taken by an inspector, say): it stands.
        let earlier = NaiveDate::from_ymd_opt(2026, 10, 22).unwrap();
        assert_eq!(last_accepted(&meter, &handed_in, earlier).last_readings, meter.last_readings);
    }
}
