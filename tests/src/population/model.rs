//! The population test's own picture of a customer: an account as the billing system exports it
//! (README, "Import format"), in plain types of this crate, so the oracle never leans on the
//! service's domain types.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Moscow;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt;

/// The tariff groups the billing system exports.
pub const GROUPS: [&str; 3] = ["gas-stove", "electric-stove", "rural"];

/// A meter's kind: how many registers (zones) it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Single,
    TwoZone,
    ThreeZone,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Single, Kind::TwoZone, Kind::ThreeZone];

    /// The registers, in the order the bill lists them (in a three-zone meter T2 is night and T3
    /// half-peak: the names are the same whatever the hours).
    pub fn zones(self) -> &'static [&'static str] {
        match self {
            Kind::Single => &["T1"],
            Kind::TwoZone => &["T1", "T2"],
            Kind::ThreeZone => &["T1", "T2", "T3"],
        }
    }

    /// The export's `zoneSet`.
    pub fn wire(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::TwoZone => "twoZone",
            Kind::ThreeZone => "threeZone",
        }
    }

    pub fn from_wire(text: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.wire() == text)
    }
}

/// The last reading the billing system accepted for one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastReading {
    pub value: u64,
    pub date: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterModel {
    pub id: String,
    pub kind: Kind,
    /// The register's size in digits, when the billing system knows it.
    pub digits: Option<u32>,
    pub automatic: bool,
    pub faulty: bool,
    /// Its own readings period (`fromDay`, `toDay`); the default one when absent.
    pub window: Option<(u32, u32)>,
    pub last: BTreeMap<&'static str, LastReading>,
}

impl MeterModel {
    /// What the register can show: 10^digits.
    pub fn capacity(&self) -> Option<u64> {
        self.digits.map(|d| 10u64.pow(d))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub town: String,
    pub street: Option<String>,
    pub house: String,
    pub flat: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    /// The 10 digits of the account number.
    pub number: String,
    pub address: Address,
    /// Signed: + credit, − debt.
    pub balance: Decimal,
    pub group: &'static str,
    pub meters: Vec<MeterModel>,
}

/// A calendar month (the billing month of a submission is its Moscow calendar month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(date: NaiveDate) -> Self {
        Self { year: date.year(), month: date.month() }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    pub fn next(self) -> Self {
        if self.month == 12 { Self { year: self.year + 1, month: 1 } } else { Self { month: self.month + 1, ..self } }
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("a day before the first")
    }

    /// Months since year 0, to count calendar months between two dates.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The Moscow calendar day at an instant (the zone database, not a hard-coded offset).
pub fn moscow_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Moscow).date_naive()
}

/// The instant of a Moscow wall-clock time.
pub fn moscow_instant(date: NaiveDate, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = date.and_hms_opt(hour, minute, second).expect("a valid time of day");
    Moscow.from_local_datetime(&local).single().expect("Moscow has no daylight saving").with_timezone(&Utc)
}
