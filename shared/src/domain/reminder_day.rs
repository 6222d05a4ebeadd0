//! Which readings reminder, if any, is due on a Moscow calendar day: «Пора передать показания» on
//! the first day of the usual window (the 15th), and a last call the day before it closes (the
//! 25th), the latter only to those who have not handed readings in this month. Pure: the caller
//! passes the instant, the store decides who already had the month's reminder of that kind.

use super::meter::WindowDays;
use super::readings_window::moscow_date;
use super::year_month::YearMonth;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The two reminders of a month; each is sent to one user at most once a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReminderKind {
    /// The window has opened.
    Opening,
    /// The window closes tomorrow: sent only to users with an account that has nothing handed in.
    Closing,
}

impl ReminderKind {
    /// The name in stored keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opening => "opening",
            Self::Closing => "closing",
        }
    }

    /// The text VK shows (VK takes at most 254 characters).
    pub fn message(self) -> &'static str {
        match self {
            Self::Opening => "Пора передать показания: приём открыт до 26 числа",
            Self::Closing => "Пора передать показания: завтра последний день приёма",
        }
    }

    /// True when the reminder goes only to users whose remembered account has no readings this
    /// month.
    pub fn only_without_readings(self) -> bool {
        matches!(self, Self::Closing)
    }
}

/// The reminder due at `now`, with the billing month it is about; `None` on every other day.
/// The days follow the usual window (`WindowDays::DEFAULT`); a meter with a period of its own is
/// reminded on the usual days too.
pub fn reminder_due(now: DateTime<Utc>) -> Option<(ReminderKind, YearMonth)> {
    due_on(moscow_date(now)).map(|kind| (kind, YearMonth::of(moscow_date(now))))
}

/// The reminder due on the Moscow calendar day `today`.
pub fn due_on(today: NaiveDate) -> Option<ReminderKind> {
    let days = WindowDays::DEFAULT;
    let day = today.day();
    if day == u32::from(days.from_day) {
        Some(ReminderKind::Opening)
    } else if day + 1 == u32::from(days.to_day) {
        Some(ReminderKind::Closing)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn given_the_15th_in_moscow_when_asked_then_the_opening_reminder_is_due() {
        assert_eq!(
            reminder_due(utc(2026, 12, 15, 7, 0)),
            Some((ReminderKind::Opening, YearMonth::new(2026, 12).unwrap()))
        );
    }

    #[test]
    fn given_the_14th_in_utc_but_the_15th_in_moscow_when_asked_then_the_opening_reminder_is_due() {
        // 21:30 UTC on the 14th is 00:30 on the 15th in Moscow.
        assert_eq!(reminder_due(utc(2026, 12, 14, 21, 30)).map(|(kind, _)| kind), Some(ReminderKind::Opening));
        assert_eq!(reminder_due(utc(2026, 12, 14, 20, 59)), None);
    }

    #[test]
    fn given_the_day_before_the_window_closes_when_asked_then_the_closing_reminder_is_due() {
        let closing = WindowDays::DEFAULT.to_day - 1;
        let day = NaiveDate::from_ymd_opt(2026, 11, u32::from(closing)).unwrap();
        assert_eq!(due_on(day), Some(ReminderKind::Closing));
        assert!(ReminderKind::Closing.only_without_readings());
        assert!(!ReminderKind::Opening.only_without_readings());
    }

    #[test]
    fn given_any_other_day_of_the_year_when_asked_then_nothing_is_due() {
        let mut day = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let mut due = 0;
        while day.year() == 2027 {
            if due_on(day).is_some() {
                due += 1;
                assert!(day.day() == 15 || day.day() == 25, "{day}");
            }
            day = day.succ_opt().unwrap();
        }
        assert_eq!(due, 24);
    }

    #[test]
    fn given_the_last_moment_of_the_15th_in_moscow_when_asked_then_the_16th_has_none() {
        assert!(reminder_due(utc(2026, 12, 15, 20, 59)).is_some());
        assert_eq!(reminder_due(utc(2026, 12, 15, 21, 0)), None);
    }

    #[test]
    fn given_each_reminder_when_its_text_is_taken_then_it_fits_vk_s_254_characters() {
        for kind in [ReminderKind::Opening, ReminderKind::Closing] {
            assert!(kind.message().chars().count() <= 254);
            assert!(kind.message().starts_with("Пора передать показания"));
        }
    }
}
