//! Meters, their zones (registers) and the last accepted readings.
//!
//! Moscow labelling: a single-rate meter has T1; a two-zone meter T1 day (07–23) and T2 night
//! (23–07); a three-zone meter T1 peak, T2 night and T3 half-peak — in three-zone meters T2 is
//! night and T3 is half-peak.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One register of a meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Zone {
    T1,
    T2,
    T3,
}

impl Zone {
    pub const fn as_str(self) -> &'static str {
        match self {
            Zone::T1 => "T1",
            Zone::T2 => "T2",
            Zone::T3 => "T3",
        }
    }
}

impl std::str::FromStr for Zone {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "T1" => Ok(Zone::T1),
            "T2" => Ok(Zone::T2),
            "T3" => Ok(Zone::T3),
            _ => Err(()),
        }
    }
}

/// How many registers a meter has; the set of zones follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ZoneSet {
    Single,
    TwoZone,
    ThreeZone,
}

impl ZoneSet {
    pub const fn zones(self) -> &'static [Zone] {
        match self {
            ZoneSet::Single => &[Zone::T1],
            ZoneSet::TwoZone => &[Zone::T1, Zone::T2],
            ZoneSet::ThreeZone => &[Zone::T1, Zone::T2, Zone::T3],
        }
    }

    /// The zone's name on the customer's bill.
    pub const fn zone_name(self, zone: Zone) -> &'static str {
        match (self, zone) {
            (ZoneSet::Single, _) => "круглосуточно",
            (ZoneSet::TwoZone, Zone::T1) => "день",
            (ZoneSet::ThreeZone, Zone::T1) => "пик",
            (_, Zone::T2) => "ночь",
            (_, Zone::T3) => "полупик",
        }
    }

    pub fn has(self, zone: Zone) -> bool {
        self.zones().contains(&zone)
    }
}

/// The meter's number as the utility knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MeterId(pub String);

impl std::fmt::Display for MeterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A register value in whole kWh, with the day it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub value: u64,
    pub date: NaiveDate,
}

/// A day-of-month period in which a meter takes readings (the utility keeps one per meter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowDays {
    pub from_day: u8,
    pub to_day: u8,
}

impl WindowDays {
    /// 15th to 26th inclusive: the default for every meter without its own period.
    pub const DEFAULT: WindowDays = WindowDays { from_day: 15, to_day: 26 };
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meter {
    pub id: MeterId,
    pub zone_set: ZoneSet,
    /// Register size in digits, where known: needed to accept a rollover (99999 → 00012).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<u8>,
    /// On automatic metering (АСКУЭ): the utility reads it itself, customers never hand in readings.
    #[serde(default)]
    pub automatic: bool,
    /// Marked faulty: no readings until it is replaced or checked.
    #[serde(default)]
    pub faulty: bool,
    /// The meter's own readings period; `None` means the default 15–26.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowDays>,
    /// The last accepted reading of each zone.
    #[serde(default)]
    pub last_readings: BTreeMap<Zone, Reading>,
}

impl Meter {
    pub fn zones(&self) -> &'static [Zone] {
        self.zone_set.zones()
    }

    pub fn window_days(&self) -> WindowDays {
        self.window.unwrap_or(WindowDays::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_follow_moscow_labelling() {
        assert_eq!(ZoneSet::Single.zones(), &[Zone::T1]);
        assert_eq!(ZoneSet::TwoZone.zones(), &[Zone::T1, Zone::T2]);
        assert_eq!(ZoneSet::ThreeZone.zones(), &[Zone::T1, Zone::T2, Zone::T3]);
        assert_eq!(ZoneSet::ThreeZone.zone_name(Zone::T2), "ночь");
        assert_eq!(ZoneSet::ThreeZone.zone_name(Zone::T3), "полупик");
        assert_eq!(ZoneSet::TwoZone.zone_name(Zone::T1), "день");
        assert!(!ZoneSet::TwoZone.has(Zone::T3));
    }

    #[test]
    fn a_meter_without_its_own_period_uses_15_to_26() {
        let meter: Meter = serde_json::from_value(serde_json::json!({
            "id": "M-1", "zoneSet": "twoZone",
            "lastReadings": {"T1": {"value": 12000, "date": "2026-10-20"}}
        }))
        .unwrap();
        assert_eq!(meter.window_days(), WindowDays::DEFAULT);
        assert_eq!(meter.last_readings[&Zone::T1].value, 12000);
        assert!(!meter.automatic && !meter.faulty);
    }
}
