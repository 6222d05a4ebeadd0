//! When a meter accepts readings: its own day period or the 15th–26th, inclusive, on the Moscow
//! calendar whatever the clock zone of the machine, never for meters on automatic metering or
//! marked faulty.

use super::meter::{Meter, WindowDays};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Europe::Moscow;

/// Why a window is shut for good (not just outside its days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NeverOpen {
    AutomaticMetering,
    Faulty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowState {
    /// Readings are accepted now, until `to` inclusive.
    Open { from: NaiveDate, to: NaiveDate },
    /// Outside the days: the next window is `from`..=`to`.
    Closed { from: NaiveDate, to: NaiveDate },
    /// This meter never takes readings from customers.
    Never(NeverOpen),
}

impl WindowState {
    pub fn is_open(&self) -> bool {
        matches!(self, WindowState::Open { .. })
    }
}

/// The readings window rule.
pub struct ReadingsWindow;

impl ReadingsWindow {
    /// The state of `meter`'s window at the instant `now`.
    pub fn at(meter: &Meter, now: DateTime<Utc>) -> WindowState {
        if meter.automatic {
            return WindowState::Never(NeverOpen::AutomaticMetering);
        }
        if meter.faulty {
            return WindowState::Never(NeverOpen::Faulty);
        }
        Self::for_days(meter.window_days(), moscow_date(now))
    }

    /// The window of `days` as seen on the Moscow calendar day `today`.
    pub fn for_days(days: WindowDays, today: NaiveDate) -> WindowState {
        let (from, to) = dates_in_month(days, today);
        if today < from {
            WindowState::Closed { from, to }
        } else if today <= to {
            WindowState::Open { from, to }
        } else {
            let next = today.with_day(1).expect("day 1") + Months::new(1);
            let (from, to) = dates_in_month(days, next);
            WindowState::Closed { from, to }
        }
    }
}

/// The calendar day in Moscow (UTC+3 all year) at the instant `now`.
pub fn moscow_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Moscow).date_naive()
}

/// The window's dates in the month of `day`; a day past the month's end means its last day.
fn dates_in_month(days: WindowDays, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let last = last_day_of_month(day);
    let clamp = |d: u8| day.with_day(u32::from(d.clamp(1, 31)).min(last)).expect("valid day");
    (clamp(days.from_day), clamp(days.to_day))
}

fn last_day_of_month(day: NaiveDate) -> u32 {
    let first = day.with_day(1).expect("day 1");
    (first + Months::new(1)).pred_opt().expect("a previous day").day()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter::{MeterId, ZoneSet};
    use chrono::TimeZone;

    fn meter() -> Meter {
        Meter {
            id: MeterId("M-1".into()),
            serial: None,
            zone_set: ZoneSet::Single,
            digits: None,
            automatic: false,
            faulty: false,
            window: None,
            last_readings: Default::default(),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn opens_at_moscow_midnight_of_the_15th() {
        // 14th 20:59 UTC = 14th 23:59 Moscow: still closed.
        assert_eq!(
            ReadingsWindow::at(&meter(), utc(2026, 11, 14, 20, 59)),
            WindowState::Closed { from: date(2026, 11, 15), to: date(2026, 11, 26) }
        );
        // 14th 21:00 UTC = 15th 00:00 Moscow: open, though it is still the 14th in UTC.
        assert_eq!(
            ReadingsWindow::at(&meter(), utc(2026, 11, 14, 21, 0)),
            WindowState::Open { from: date(2026, 11, 15), to: date(2026, 11, 26) }
        );
    }

    #[test]
    fn closes_after_moscow_end_of_the_26th() {
        assert!(ReadingsWindow::at(&meter(), utc(2026, 11, 26, 20, 59)).is_open());
        assert_eq!(
            ReadingsWindow::at(&meter(), utc(2026, 11, 26, 21, 0)),
            WindowState::Closed { from: date(2026, 12, 15), to: date(2026, 12, 26) }
        );
    }

    #[test]
    fn after_the_window_the_next_one_is_next_month_even_across_the_year() {
        assert_eq!(
            ReadingsWindow::for_days(WindowDays::DEFAULT, date(2026, 12, 30)),
            WindowState::Closed { from: date(2027, 1, 15), to: date(2027, 1, 26) }
        );
    }

    #[test]
    fn a_meter_may_have_its_own_period_clamped_to_short_months() {
        let mut m = meter();
        m.window = Some(WindowDays { from_day: 20, to_day: 31 });
        assert_eq!(
            ReadingsWindow::at(&m, utc(2026, 2, 28, 12, 0)),
            WindowState::Open { from: date(2026, 2, 20), to: date(2026, 2, 28) }
        );
        assert!(!ReadingsWindow::at(&m, utc(2026, 3, 19, 12, 0)).is_open());
    }

    #[test]
    fn automatic_and_faulty_meters_never_open() {
        let mut m = meter();
        m.automatic = true;
        assert_eq!(ReadingsWindow::at(&m, utc(2026, 11, 20, 12, 0)), WindowState::Never(NeverOpen::AutomaticMetering));
        let mut m = meter();
        m.faulty = true;
        assert_eq!(ReadingsWindow::at(&m, utc(2026, 11, 20, 12, 0)), WindowState::Never(NeverOpen::Faulty));
    }
}
