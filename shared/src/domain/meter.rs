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

/// Which of an account's meters: its position in the account's list as the utility exports it,
/// from 1. Not secret, stable while the export lists the meters in the same order, and all a page
/// needs to say which meter it means (the look-up's `ref`, the readings request's `meterRef`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "u16")]
pub struct MeterRef(std::num::NonZeroU16);

/// A whole JSON number from 1 to 65 535; written `3.0`, it is still the third meter (JSON has one
/// number type, and a client may send integers as floats).
impl<'de> Deserialize<'de> for MeterRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Position;
        impl serde::de::Visitor<'_> for Position {
            type Value = MeterRef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a meter's position from 1 to 65535")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MeterRef, E> {
                u16::try_from(v).ok().and_then(MeterRef::from_position).ok_or_else(|| E::custom(REF_RANGE))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MeterRef, E> {
                u64::try_from(v).map_err(|_| E::custom(REF_RANGE)).and_then(|v| self.visit_u64(v))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<MeterRef, E> {
                if v.fract() == 0.0 && (1.0..=f64::from(u16::MAX)).contains(&v) {
                    // Whole and in range: the cast is exact.
                    self.visit_u64(v as u64)
                } else {
                    Err(E::custom(REF_RANGE))
                }
            }
        }
        deserializer.deserialize_any(Position)
    }
}

const REF_RANGE: &str = "a meter reference is a whole number from 1 to 65535";

impl MeterRef {
    pub fn from_position(position: u16) -> Option<Self> {
        std::num::NonZeroU16::new(position).map(Self)
    }

    pub fn position(self) -> u16 {
        self.0.get()
    }

    /// The meter this reference names in `meters`, if there is one.
    pub fn of(self, meters: &[Meter]) -> Option<&Meter> {
        meters.get(usize::from(self.position()) - 1)
    }

    /// Every meter with its reference, in order.
    pub fn enumerate(meters: &[Meter]) -> impl Iterator<Item = (MeterRef, &Meter)> {
        meters.iter().enumerate().filter_map(|(i, meter)| {
            let position = u16::try_from(i + 1).ok()?;
            Some((Self::from_position(position)?, meter))
        })
    }
}

impl From<MeterRef> for u16 {
    fn from(reference: MeterRef) -> Self {
        reference.position()
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
    /// The utility's id of the meter; never shown to a caller (see `meter_number_mask`).
    pub id: MeterId,
    /// The number printed on the meter, where the utility's export gives it apart from the id
    /// (`id` `Меркурий200-3391024`, `serial` `3391024`). Without it the whole id is that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
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

    /// What the customer reads off the meter's case: the serial, or the id where there is none.
    pub fn printed_number(&self) -> &str {
        self.serial.as_deref().unwrap_or(&self.id.0)
    }

    pub fn window_days(&self) -> WindowDays {
        self.window.unwrap_or(WindowDays::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_reference_is_a_whole_number_from_1_written_as_an_integer_or_a_float() {
        let read = |json: &str| serde_json::from_str::<MeterRef>(json).ok().map(MeterRef::position);
        assert_eq!(read("3"), Some(3));
        assert_eq!(read("3.0"), Some(3));
        assert_eq!(read("65535"), Some(65_535));
        for refused in ["0", "-1", "3.5", "65536", "1e10", "\"3\"", "null", "true"] {
            assert_eq!(read(refused), None, "{refused}");
        }
        assert_eq!(serde_json::to_string(&MeterRef::from_position(2).unwrap()).unwrap(), "2");
    }

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
    fn given_meters_when_referenced_then_positions_count_from_1_and_0_is_no_reference() {
        let meters: Vec<Meter> = serde_json::from_value(serde_json::json!([
            {"id": "A-1", "zoneSet": "single"}, {"id": "B-2", "serial": "2", "zoneSet": "twoZone"}
        ]))
        .unwrap();
        let refs: Vec<u16> = MeterRef::enumerate(&meters).map(|(r, _)| r.position()).collect();
        assert_eq!(refs, [1, 2]);
        let second = MeterRef::from_position(2).unwrap();
        assert_eq!(second.of(&meters).unwrap().printed_number(), "2");
        assert_eq!(MeterRef::from_position(1).unwrap().of(&meters).unwrap().printed_number(), "A-1");
        assert!(MeterRef::from_position(3).unwrap().of(&meters).is_none());
        assert!(MeterRef::from_position(0).is_none());
        assert!(serde_json::from_value::<MeterRef>(serde_json::json!(0)).is_err());
        assert_eq!(serde_json::to_value(second).unwrap(), serde_json::json!(2));
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
