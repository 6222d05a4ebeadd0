//! The calendar month (`2026-11`) and the billing month a moment falls in: its Moscow calendar
//! month. A value type only; which readings belong to a month is `domain::readings`' business.

use super::readings_window::moscow_date;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The month a submission made at `now` is billed in: its Moscow calendar month.
pub fn billing_month(now: DateTime<Utc>) -> YearMonth {
    YearMonth::of(moscow_date(now))
}

/// A calendar month, written `2026-11` (in JSON too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a month of the form 2026-11")]
pub struct YearMonthError;

impl YearMonth {
    /// `month` is 1–12.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    pub fn of(date: NaiveDate) -> Self {
        Self { year: date.year(), month: date.month() }
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u32 {
        self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = YearMonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (year, month) = s.split_once('-').ok_or(YearMonthError)?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(YearMonthError);
        }
        let year = year.parse().map_err(|_| YearMonthError)?;
        let month = month.parse().map_err(|_| YearMonthError)?;
        YearMonth::new(year, month).ok_or(YearMonthError)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    // --- the billing month -----------------------------------------------------------------------

    #[test]
    fn given_the_last_evening_of_a_month_when_midnight_passes_in_moscow_then_the_billing_month_moves() {
        assert_eq!(billing_month(utc(2026, 11, 30, 20, 59)).to_string(), "2026-11");
        assert_eq!(billing_month(utc(2026, 11, 30, 21, 0)).to_string(), "2026-12");
        assert_eq!(billing_month(utc(2026, 12, 31, 21, 0)), YearMonth::new(2027, 1).unwrap());
        assert_eq!(billing_month(utc(2026, 12, 31, 21, 0)).to_string(), "2027-01");
    }

    #[test]
    fn given_month_text_when_parsed_then_only_the_yyyy_mm_form_is_a_month() {
        assert_eq!("2026-11".parse::<YearMonth>(), Ok(YearMonth::new(2026, 11).unwrap()));
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", "+026-11"] {
            assert_eq!(bad.parse::<YearMonth>(), Err(YearMonthError), "{bad:?}");
        }
        assert_eq!(YearMonth::new(2026, 13), None);
        let month = YearMonth::new(2026, 3).unwrap();
        assert_eq!(serde_json::to_string(&month).unwrap(), "\"2026-03\"");
        assert_eq!(serde_json::from_str::<YearMonth>("\"2026-03\"").unwrap(), month);
        assert!(YearMonth::new(2026, 12).unwrap() < YearMonth::new(2027, 1).unwrap());
    }
}
