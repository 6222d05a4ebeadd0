//! A customer's readings for one meter, checked the way the utility checks them: inside the
//! meter's window, one whole-kWh value for each of the meter's zones, each at or above the last
//! accepted one (or past a confirmed rollover of a register of known size), and no implausible jump.
//!
//! Every rule is one function; `validate` runs them in the order a customer would fix things:
//! the window, then the zones, then each value. Error messages are Russian, fit for the mini app.

use super::meter::{Meter, MeterId, Zone, ZoneSet};
use super::readings_window::{NeverOpen, ReadingsWindow, WindowState, moscow_date};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// No household register shows more than this many kWh: a longer figure is a typing slip.
pub const MAX_READING_KWH: u64 = 1_000_000_000;

/// The values of one submission as they arrived: zone names and JSON values unchecked, in the
/// order sent, a repeated zone kept (so it can be refused rather than silently overwritten).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubmittedValues(Vec<(String, Value)>);

impl From<BTreeMap<Zone, u64>> for SubmittedValues {
    fn from(values: BTreeMap<Zone, u64>) -> Self {
        Self(values.into_iter().map(|(zone, kwh)| (zone.as_str().to_owned(), Value::from(kwh))).collect())
    }
}

impl From<serde_json::Map<String, Value>> for SubmittedValues {
    fn from(values: serde_json::Map<String, Value>) -> Self {
        Self(values.into_iter().collect())
    }
}

impl<'de> Deserialize<'de> for SubmittedValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = SubmittedValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"readings by zone, such as {"T1": 12500, "T2": 6800}"#)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(SubmittedValues(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Readings for one meter as the customer sent them. In JSON:
/// `{"values": {"T1": 12500, "T2": 6800}, "confirmRollover": false}` (`confirmRollover` optional).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    pub values: SubmittedValues,
    /// The customer confirmed that a register went past its last digit and started from zero.
    #[serde(default)]
    pub confirm_rollover: bool,
}

impl Submission {
    pub fn new(values: BTreeMap<Zone, u64>, confirm_rollover: bool) -> Self {
        Self { values: values.into(), confirm_rollover }
    }
}

/// How much a zone may plausibly use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadingsLimits {
    /// kWh per zone per month since the last accepted reading; more is refused as a likely typo.
    pub max_kwh_per_month: u64,
}

impl Default for ReadingsLimits {
    fn default() -> Self {
        Self { max_kwh_per_month: 10_000 }
    }
}

/// Readings that passed every rule, with what each zone used since the last accepted reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedReadings {
    pub meter_id: MeterId,
    pub values: BTreeMap<Zone, u64>,
    pub consumption: BTreeMap<Zone, u64>,
    /// At least one register went past its last digit (confirmed by the customer).
    pub rollover: bool,
}

/// A zone as the customer's bill names it, e.g. `T2 (ночь)` on a three-zone meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneLabel {
    pub zone: Zone,
    pub zone_set: ZoneSet,
}

impl fmt::Display for ZoneLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.zone.as_str(), self.zone_set.zone_name(self.zone))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadingsError {
    #[error("Показания принимаются с {} по {} по московскому времени", ru_date(*from), ru_date(*to))]
    WindowClosed { from: NaiveDate, to: NaiveDate },
    #[error("Показания этого счётчика не принимаются: {}", never_reason(*reason))]
    NeverAccepted { reason: NeverOpen },
    #[error("«{name}» — не зона счётчика. Нужны показания: {}", zone_list(*expected))]
    UnknownZone { name: String, expected: ZoneSet },
    #[error("У этого счётчика нет зоны {}. Нужны показания: {}", zone.as_str(), zone_list(*expected))]
    ZoneNotOnMeter { zone: Zone, expected: ZoneSet },
    #[error("Показание {zone} указано дважды")]
    DuplicateZone { zone: ZoneLabel },
    #[error("Не хватает показаний: {}. Нужны показания: {}", label_list(missing, *expected), zone_list(*expected))]
    MissingZones { missing: Vec<Zone>, expected: ZoneSet },
    #[error("Показание {zone} нужно ввести числом")]
    ValueIsText { zone: ZoneLabel },
    #[error("Показание {zone} должно быть числом")]
    ValueNotANumber { zone: ZoneLabel },
    #[error("Показание {zone} вводится в целых кВт·ч, без цифр после запятой")]
    Fractional { zone: ZoneLabel },
    #[error("Показание {zone} не может быть отрицательным")]
    Negative { zone: ZoneLabel },
    #[error("Показание {zone} больше {max} кВт·ч: проверьте, нет ли лишних цифр")]
    TooLarge { zone: ZoneLabel, max: u64 },
    #[error("В показании {zone} больше цифр, чем на табло счётчика ({digits})")]
    MoreDigitsThanRegister { zone: ZoneLabel, digits: u8 },
    #[error("Для зоны {zone} нет принятых показаний: передайте их через Мосэнергосбыт")]
    NoPreviousReading { zone: ZoneLabel },
    #[error("Показание {zone} ({given}) меньше последнего принятого ({last})")]
    LowerThanLast { zone: ZoneLabel, last: u64, given: u64 },
    #[error(
        "Показание {zone} ({given}) меньше последнего принятого ({last}). Если счётчик дошёл до \
         предела в {digits} цифр и начал счёт с нуля, подтвердите это"
    )]
    RolloverNotConfirmed { zone: ZoneLabel, last: u64, given: u64, digits: u8 },
    #[error(
        "Расход по зоне {zone} — {consumption} кВт·ч — больше правдоподобного ({limit} кВт·ч за \
         {months} мес.): проверьте показание"
    )]
    ImplausibleJump { zone: ZoneLabel, consumption: u64, limit: u64, months: u32 },
}

fn ru_date(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

fn never_reason(reason: NeverOpen) -> &'static str {
    match reason {
        NeverOpen::AutomaticMetering => "их передаёт система автоматического учёта",
        NeverOpen::Faulty => "счётчик отмечен как неисправный",
    }
}

fn label_list(zones: &[Zone], zone_set: ZoneSet) -> String {
    zones.iter().map(|&zone| ZoneLabel { zone, zone_set }.to_string()).collect::<Vec<_>>().join(", ")
}

fn zone_list(zone_set: ZoneSet) -> String {
    label_list(zone_set.zones(), zone_set)
}

/// Checks `raw` against every rule for `meter` at the instant `now`.
pub fn validate(
    meter: &Meter,
    raw: &Submission,
    limits: &ReadingsLimits,
    now: DateTime<Utc>,
) -> Result<AcceptedReadings, ReadingsError> {
    check_window(meter, now)?;
    let given = check_zones(meter.zone_set, &raw.values)?;
    let capacity = register_capacity(meter.digits);
    let today = moscow_date(now);
    let mut accepted = AcceptedReadings {
        meter_id: meter.id.clone(),
        values: BTreeMap::new(),
        consumption: BTreeMap::new(),
        rollover: false,
    };
    for (zone, value) in given {
        let label = ZoneLabel { zone, zone_set: meter.zone_set };
        let kwh = whole_kwh(label, value, capacity)?;
        let last = meter.last_readings.get(&zone).ok_or(ReadingsError::NoPreviousReading { zone: label })?;
        let usage = usage_since(label, last.value, kwh, capacity, raw.confirm_rollover)?;
        check_jump(label, usage.kwh, months_between(last.date, today), limits)?;
        accepted.values.insert(zone, kwh);
        accepted.consumption.insert(zone, usage.kwh);
        accepted.rollover |= usage.rollover;
    }
    Ok(accepted)
}

/// The meter's window must be open now.
fn check_window(meter: &Meter, now: DateTime<Utc>) -> Result<(), ReadingsError> {
    match ReadingsWindow::at(meter, now) {
        WindowState::Open { .. } => Ok(()),
        WindowState::Closed { from, to } => Err(ReadingsError::WindowClosed { from, to }),
        WindowState::Never(reason) => Err(ReadingsError::NeverAccepted { reason }),
    }
}

/// Exactly one value for each of the meter's zones, named exactly `T1`/`T2`/`T3`; returns them in
/// zone order.
fn check_zones(zone_set: ZoneSet, values: &SubmittedValues) -> Result<Vec<(Zone, &Value)>, ReadingsError> {
    let mut given: BTreeMap<Zone, &Value> = BTreeMap::new();
    for (name, value) in &values.0 {
        let zone = Zone::from_str(name)
            .map_err(|()| ReadingsError::UnknownZone { name: name.chars().take(20).collect(), expected: zone_set })?;
        if !zone_set.has(zone) {
            return Err(ReadingsError::ZoneNotOnMeter { zone, expected: zone_set });
        }
        if given.insert(zone, value).is_some() {
            return Err(ReadingsError::DuplicateZone { zone: ZoneLabel { zone, zone_set } });
        }
    }
    let missing: Vec<Zone> = zone_set.zones().iter().copied().filter(|z| !given.contains_key(z)).collect();
    if !missing.is_empty() {
        return Err(ReadingsError::MissingZones { missing, expected: zone_set });
    }
    Ok(given.into_iter().collect())
}

/// A reading is a whole, non-negative number of kWh that fits the register. A JSON number with a
/// zero fraction (`12500.0`) is whole; text, even of digits, is not a number.
fn whole_kwh(zone: ZoneLabel, value: &Value, capacity: Option<(u64, u8)>) -> Result<u64, ReadingsError> {
    let kwh = match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(kwh), _, _) => kwh,
            (None, Some(_), _) => return Err(ReadingsError::Negative { zone }),
            (None, None, Some(f)) if f < 0.0 => return Err(ReadingsError::Negative { zone }),
            (None, None, Some(f)) if f.fract() != 0.0 => {
                return Err(ReadingsError::Fractional { zone });
            }
            (None, None, Some(f)) if f <= MAX_READING_KWH as f64 => f as u64,
            _ => {
                return Err(ReadingsError::TooLarge { zone, max: MAX_READING_KWH });
            }
        },
        Value::String(_) => return Err(ReadingsError::ValueIsText { zone }),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
            return Err(ReadingsError::ValueNotANumber { zone });
        }
    };
    if kwh > MAX_READING_KWH {
        return Err(ReadingsError::TooLarge { zone, max: MAX_READING_KWH });
    }
    if let Some((_, digits)) = capacity.filter(|(capacity, _)| kwh >= *capacity) {
        return Err(ReadingsError::MoreDigitsThanRegister { zone, digits });
    }
    Ok(kwh)
}

/// What a register can show (10^digits) and its digit count, when the digit count is known and
/// sensible.
fn register_capacity(digits: Option<u8>) -> Option<(u64, u8)> {
    let digits = digits?;
    10u64.checked_pow(u32::from(digits)).filter(|_| digits > 0).map(|capacity| (capacity, digits))
}

/// kWh used by a zone since its last accepted reading.
struct Usage {
    kwh: u64,
    rollover: bool,
}

/// The new value must be at or above the last accepted one: the same value is a month without
/// consumption (a customer who was away), charged nothing. Below it, only a register of known
/// size whose rollover the customer confirmed: then the register went past 10^digits − 1 to zero.
fn usage_since(
    zone: ZoneLabel,
    last: u64,
    given: u64,
    capacity: Option<(u64, u8)>,
    confirmed: bool,
) -> Result<Usage, ReadingsError> {
    if given >= last {
        return Ok(Usage { kwh: given - last, rollover: false });
    }
    match capacity {
        // A stored reading that does not fit the register cannot have rolled over.
        Some((capacity, _)) if last >= capacity => Err(ReadingsError::LowerThanLast { zone, last, given }),
        Some((_, digits)) if !confirmed => Err(ReadingsError::RolloverNotConfirmed { zone, last, given, digits }),
        // `given < capacity` was checked with the value, `last < capacity` just above.
        Some((capacity, _)) => Ok(Usage { kwh: given + (capacity - last), rollover: true }),
        None => Err(ReadingsError::LowerThanLast { zone, last, given }),
    }
}

/// Usage above the monthly limit, times the months since the last reading, is refused: readings
/// missed for a few months legitimately add up, a slipped digit does not.
fn check_jump(zone: ZoneLabel, consumption: u64, months: u32, limits: &ReadingsLimits) -> Result<(), ReadingsError> {
    let limit = limits.max_kwh_per_month.saturating_mul(u64::from(months));
    if consumption > limit {
        return Err(ReadingsError::ImplausibleJump { zone, consumption, limit, months });
    }
    Ok(())
}

/// Calendar months from the last reading's month to today's, at least one.
fn months_between(last: NaiveDate, today: NaiveDate) -> u32 {
    let index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    u32::try_from(index(today) - index(last)).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter::{Reading, WindowDays};
    use chrono::Days;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Mid-window: 20 November 2026, 12:00 Moscow.
    fn now() -> DateTime<Utc> {
        utc(2026, 11, 20, 9, 0)
    }

    /// A meter whose last readings were accepted on 20 October 2026.
    fn meter(zone_set: ZoneSet, last: &[(Zone, u64)]) -> Meter {
        Meter {
            id: MeterId("M-1".into()),
            serial: None,
            zone_set,
            digits: None,
            automatic: false,
            faulty: false,
            window: None,
            last_readings: last.iter().map(|&(z, value)| (z, Reading { value, date: date(2026, 10, 20) })).collect(),
        }
    }

    fn single(last: u64) -> Meter {
        meter(ZoneSet::Single, &[(Zone::T1, last)])
    }

    fn five_digit(last: u64) -> Meter {
        Meter { digits: Some(5), ..single(last) }
    }

    fn submission(values: Value, confirm_rollover: bool) -> Submission {
        serde_json::from_value(json!({"values": values, "confirmRollover": confirm_rollover})).unwrap()
    }

    fn check(meter: &Meter, values: Value) -> Result<AcceptedReadings, ReadingsError> {
        validate(meter, &submission(values, false), &ReadingsLimits::default(), now())
    }

    fn label(zone_set: ZoneSet, zone: Zone) -> ZoneLabel {
        ZoneLabel { zone, zone_set }
    }

    const T1_SINGLE: ZoneLabel = ZoneLabel { zone: Zone::T1, zone_set: ZoneSet::Single };

    // --- the happy path -------------------------------------------------------------------------

    #[test]
    fn given_a_two_zone_meter_when_both_values_rise_then_each_zone_uses_the_difference() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000), (Zone::T2, 6_500)]);
        let accepted = check(&m, json!({"T1": 12_500, "T2": 6_800})).unwrap();
        assert_eq!(
            accepted,
            AcceptedReadings {
                meter_id: MeterId("M-1".into()),
                values: BTreeMap::from([(Zone::T1, 12_500), (Zone::T2, 6_800)]),
                consumption: BTreeMap::from([(Zone::T1, 500), (Zone::T2, 300)]),
                rollover: false,
            }
        );
    }

    #[test]
    fn given_typed_values_when_submitted_then_they_are_checked_like_json_ones() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000), (Zone::T2, 6_500)]);
        let raw = Submission::new(BTreeMap::from([(Zone::T2, 6_501), (Zone::T1, 12_001)]), false);
        let accepted = validate(&m, &raw, &ReadingsLimits::default(), now()).unwrap();
        assert_eq!(accepted.consumption, BTreeMap::from([(Zone::T1, 1), (Zone::T2, 1)]));
        let raw = Submission::new(BTreeMap::from([(Zone::T1, 12_000)]), false);
        assert!(matches!(
            validate(&m, &raw, &ReadingsLimits::default(), now()),
            Err(ReadingsError::MissingZones { .. })
        ));
    }

    // --- the window, in Moscow time --------------------------------------------------------------

    #[test]
    fn given_2359_moscow_on_the_14th_when_submitting_then_the_window_opens_at_the_next_minute() {
        let m = single(100);
        let at = |t| validate(&m, &submission(json!({"T1": 150}), false), &ReadingsLimits::default(), t);
        // 14th 20:59 UTC is 23:59 in Moscow: closed, the window is the 15th–26th.
        assert_eq!(
            at(utc(2026, 11, 14, 20, 59)),
            Err(ReadingsError::WindowClosed { from: date(2026, 11, 15), to: date(2026, 11, 26) })
        );
        // 14th 21:00 UTC is already the 15th in Moscow.
        assert_eq!(at(utc(2026, 11, 14, 21, 0)).unwrap().consumption[&Zone::T1], 50);
    }

    #[test]
    fn given_the_end_of_the_26th_in_moscow_when_submitting_then_the_next_window_is_next_month() {
        let m = single(100);
        let at = |t| validate(&m, &submission(json!({"T1": 150}), false), &ReadingsLimits::default(), t);
        assert!(at(utc(2026, 11, 26, 20, 59)).is_ok());
        let closed = at(utc(2026, 11, 26, 21, 0)).unwrap_err();
        assert_eq!(closed, ReadingsError::WindowClosed { from: date(2026, 12, 15), to: date(2026, 12, 26) });
        assert_eq!(closed.to_string(), "Показания принимаются с 15.12.2026 по 26.12.2026 по московскому времени");
    }

    #[test]
    fn given_a_closed_window_when_the_values_are_also_wrong_then_the_window_is_reported_first() {
        let err = validate(
            &single(100),
            &submission(json!({"T9": "x"}), false),
            &ReadingsLimits::default(),
            utc(2026, 11, 5, 12, 0),
        );
        assert!(matches!(err, Err(ReadingsError::WindowClosed { .. })));
    }

    #[test]
    fn given_an_automatic_or_faulty_meter_when_submitting_then_readings_are_never_accepted() {
        let automatic = Meter { automatic: true, ..single(100) };
        let err = check(&automatic, json!({"T1": 150})).unwrap_err();
        assert_eq!(err, ReadingsError::NeverAccepted { reason: NeverOpen::AutomaticMetering });
        assert!(err.to_string().contains("автоматического учёта"), "{err}");
        let faulty = Meter { faulty: true, ..single(100) };
        let err = check(&faulty, json!({"T1": 150})).unwrap_err();
        assert_eq!(err, ReadingsError::NeverAccepted { reason: NeverOpen::Faulty });
        assert!(err.to_string().contains("неисправный"), "{err}");
    }

    // --- zones -----------------------------------------------------------------------------------

    #[test]
    fn given_zone_names_that_are_not_exactly_t1_t2_t3_when_submitting_then_each_is_refused_by_name() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000), (Zone::T2, 6_500)]);
        for name in ["T4", "t1", "day", "", " T1"] {
            let err = check(&m, json!({name: 12_500, "T2": 6_800})).unwrap_err();
            assert_eq!(err, ReadingsError::UnknownZone { name: name.into(), expected: ZoneSet::TwoZone }, "{name:?}");
        }
        let err = check(&m, json!({"day": 12_500, "T2": 6_800})).unwrap_err();
        assert_eq!(err.to_string(), "«day» — не зона счётчика. Нужны показания: T1 (день), T2 (ночь)");
    }

    #[test]
    fn given_a_very_long_unknown_name_when_refused_then_the_message_quotes_only_its_start() {
        let name = "Т".repeat(500);
        let err = check(&single(100), json!({name: 1})).unwrap_err();
        assert!(matches!(&err, ReadingsError::UnknownZone { name, .. } if name.chars().count() == 20));
    }

    #[test]
    fn given_a_single_rate_meter_when_a_night_value_is_added_then_it_is_refused_naming_the_one_zone() {
        let err = check(&single(100), json!({"T1": 150, "T2": 10})).unwrap_err();
        assert_eq!(err, ReadingsError::ZoneNotOnMeter { zone: Zone::T2, expected: ZoneSet::Single });
        assert_eq!(err.to_string(), "У этого счётчика нет зоны T2. Нужны показания: T1 (круглосуточно)");
    }

    #[test]
    fn given_a_two_zone_meter_when_a_half_peak_t3_is_sent_then_it_is_refused() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000), (Zone::T2, 6_500)]);
        let err = check(&m, json!({"T1": 12_500, "T3": 6_800})).unwrap_err();
        assert_eq!(err, ReadingsError::ZoneNotOnMeter { zone: Zone::T3, expected: ZoneSet::TwoZone });
    }

    #[test]
    fn given_a_three_zone_meter_when_half_peak_is_missing_then_t3_is_named_half_peak_and_t2_night() {
        let m = meter(ZoneSet::ThreeZone, &[(Zone::T1, 5_000), (Zone::T2, 3_000), (Zone::T3, 4_000)]);
        let err = check(&m, json!({"T1": 5_100, "T2": 3_100})).unwrap_err();
        assert_eq!(err, ReadingsError::MissingZones { missing: vec![Zone::T3], expected: ZoneSet::ThreeZone });
        assert_eq!(
            err.to_string(),
            "Не хватает показаний: T3 (полупик). Нужны показания: T1 (пик), T2 (ночь), T3 (полупик)"
        );
        // A value error on T2 of a three-zone meter speaks of the night zone.
        let err = check(&m, json!({"T1": 5_100, "T2": 2_999, "T3": 4_100})).unwrap_err();
        assert_eq!(
            err,
            ReadingsError::LowerThanLast { zone: label(ZoneSet::ThreeZone, Zone::T2), last: 3_000, given: 2_999 }
        );
        assert!(err.to_string().starts_with("Показание T2 (ночь) (2999) меньше"), "{err}");
    }

    #[test]
    fn given_no_values_when_submitting_then_every_zone_is_missing() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000), (Zone::T2, 6_500)]);
        assert_eq!(
            check(&m, json!({})),
            Err(ReadingsError::MissingZones { missing: vec![Zone::T1, Zone::T2], expected: ZoneSet::TwoZone })
        );
    }

    #[test]
    fn given_a_zone_sent_twice_in_the_json_when_submitting_then_it_is_refused_not_overwritten() {
        let raw: Submission = serde_json::from_str(r#"{"values": {"T1": 150, "T1": 160}}"#).unwrap();
        assert!(!raw.confirm_rollover);
        let err = validate(&single(100), &raw, &ReadingsLimits::default(), now()).unwrap_err();
        assert_eq!(err, ReadingsError::DuplicateZone { zone: T1_SINGLE });
    }

    #[test]
    fn given_values_that_are_not_an_object_when_read_then_the_body_is_refused() {
        for body in [r#"{"values": [150]}"#, r#"{"values": 150}"#, r#"{}"#] {
            assert!(serde_json::from_str::<Submission>(body).is_err(), "{body}");
        }
    }

    // --- the form of each value ------------------------------------------------------------------

    #[test]
    fn given_values_that_are_not_whole_kwh_when_submitting_then_each_kind_has_its_own_error() {
        let m = single(100);
        let cases = [
            (json!(150.5), ReadingsError::Fractional { zone: T1_SINGLE }),
            (json!(0.001), ReadingsError::Fractional { zone: T1_SINGLE }),
            (json!(-5), ReadingsError::Negative { zone: T1_SINGLE }),
            (json!(-0.5), ReadingsError::Negative { zone: T1_SINGLE }),
            (json!("150"), ReadingsError::ValueIsText { zone: T1_SINGLE }),
            (json!("сто пятьдесят"), ReadingsError::ValueIsText { zone: T1_SINGLE }),
            (json!(null), ReadingsError::ValueNotANumber { zone: T1_SINGLE }),
            (json!(true), ReadingsError::ValueNotANumber { zone: T1_SINGLE }),
            (json!([150]), ReadingsError::ValueNotANumber { zone: T1_SINGLE }),
            (json!({"value": 150}), ReadingsError::ValueNotANumber { zone: T1_SINGLE }),
            (json!(1_000_000_001u64), ReadingsError::TooLarge { zone: T1_SINGLE, max: 1_000_000_000 }),
            (json!(u64::MAX), ReadingsError::TooLarge { zone: T1_SINGLE, max: 1_000_000_000 }),
            (json!(1e20), ReadingsError::TooLarge { zone: T1_SINGLE, max: 1_000_000_000 }),
        ];
        for (value, expected) in cases {
            assert_eq!(check(&m, json!({"T1": value.clone()})), Err(expected), "{value}");
        }
        // Beyond u64: serde_json reads it as a float, still a too-large reading, not a panic.
        let raw: Submission = serde_json::from_str(r#"{"values": {"T1": 18446744073709551616}}"#).unwrap();
        assert!(matches!(validate(&m, &raw, &ReadingsLimits::default(), now()), Err(ReadingsError::TooLarge { .. })));
    }

    #[test]
    fn given_a_whole_number_written_with_a_zero_fraction_when_submitting_then_it_is_accepted() {
        assert_eq!(check(&single(100), json!({"T1": 150.0})).unwrap().values[&Zone::T1], 150);
    }

    #[test]
    fn given_the_largest_plausible_register_value_when_submitting_then_it_is_accepted_and_one_more_is_not() {
        let m = single(999_999_500);
        assert_eq!(check(&m, json!({"T1": 1_000_000_000u64})).unwrap().consumption[&Zone::T1], 500);
        assert!(matches!(check(&m, json!({"T1": 1_000_000_001u64})), Err(ReadingsError::TooLarge { .. })));
    }

    #[test]
    fn given_a_five_digit_register_when_a_six_digit_value_is_sent_then_it_is_refused() {
        let err = check(&five_digit(99_000), json!({"T1": 100_000})).unwrap_err();
        assert_eq!(err, ReadingsError::MoreDigitsThanRegister { zone: T1_SINGLE, digits: 5 });
        assert_eq!(check(&five_digit(99_000), json!({"T1": 99_999})).unwrap().consumption[&Zone::T1], 999);
    }

    // --- against the last accepted value ---------------------------------------------------------

    #[test]
    fn given_the_same_value_as_last_time_when_submitting_then_it_is_a_month_without_consumption() {
        // A customer who was away hands in the same figure: accepted, nothing used.
        let accepted = check(&single(12_000), json!({"T1": 12_000})).unwrap();
        assert_eq!(accepted.consumption[&Zone::T1], 0);
        assert_eq!(accepted.values[&Zone::T1], 12_000);
        assert!(!accepted.rollover);
        assert_eq!(check(&single(12_000), json!({"T1": 12_001})).unwrap().consumption[&Zone::T1], 1);
        // One zone unchanged, the other used: each zone on its own.
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 500), (Zone::T2, 300)]);
        let accepted = check(&m, json!({"T1": 500, "T2": 340})).unwrap();
        assert_eq!(accepted.consumption, BTreeMap::from([(Zone::T1, 0), (Zone::T2, 40)]));
    }

    #[test]
    fn given_a_lower_value_and_an_unknown_register_size_when_rollover_is_confirmed_then_it_is_still_refused() {
        for confirm in [false, true] {
            let raw = submission(json!({"T1": 12}), confirm);
            assert_eq!(
                validate(&single(99_990), &raw, &ReadingsLimits::default(), now()),
                Err(ReadingsError::LowerThanLast { zone: T1_SINGLE, last: 99_990, given: 12 }),
                "confirmed: {confirm}"
            );
        }
    }

    #[test]
    fn given_a_lower_value_on_a_known_register_when_not_confirmed_then_the_customer_is_asked_to_confirm() {
        let err = check(&five_digit(99_990), json!({"T1": 12})).unwrap_err();
        assert_eq!(err, ReadingsError::RolloverNotConfirmed { zone: T1_SINGLE, last: 99_990, given: 12, digits: 5 });
        assert!(err.to_string().contains("подтвердите"), "{err}");
    }

    #[test]
    fn given_a_confirmed_rollover_on_five_digits_when_99990_becomes_12_then_22_kwh_were_used() {
        // 99990 → 99999 is 9 kWh, → 00000 one more, → 00012 twelve more: 9 + 1 + 12 = 22.
        let raw = submission(json!({"T1": 12}), true);
        let accepted = validate(&five_digit(99_990), &raw, &ReadingsLimits::default(), now()).unwrap();
        assert_eq!(accepted.consumption[&Zone::T1], 22);
        assert_eq!(accepted.values[&Zone::T1], 12);
        assert!(accepted.rollover);
    }

    #[test]
    fn given_a_rollover_confirmation_when_the_value_simply_rises_then_it_is_not_a_rollover() {
        let raw = submission(json!({"T1": 99_995}), true);
        let accepted = validate(&five_digit(99_990), &raw, &ReadingsLimits::default(), now()).unwrap();
        assert_eq!(accepted.consumption[&Zone::T1], 5);
        assert!(!accepted.rollover);
    }

    #[test]
    fn given_a_two_zone_meter_when_only_the_day_register_rolls_over_then_each_zone_is_counted_its_way() {
        let m = Meter { digits: Some(5), ..meter(ZoneSet::TwoZone, &[(Zone::T1, 99_900), (Zone::T2, 40_000)]) };
        let accepted =
            validate(&m, &submission(json!({"T1": 150, "T2": 40_300}), true), &ReadingsLimits::default(), now())
                .unwrap();
        // T1: 100 to the top, 150 after zero = 250. T2: 40300 − 40000 = 300.
        assert_eq!(accepted.consumption, BTreeMap::from([(Zone::T1, 250), (Zone::T2, 300)]));
        assert!(accepted.rollover);
    }

    #[test]
    fn given_a_stored_reading_too_long_for_the_register_when_a_lower_value_is_confirmed_then_it_is_refused() {
        let raw = submission(json!({"T1": 12}), true);
        assert_eq!(
            validate(&five_digit(123_456), &raw, &ReadingsLimits::default(), now()),
            Err(ReadingsError::LowerThanLast { zone: T1_SINGLE, last: 123_456, given: 12 })
        );
    }

    #[test]
    fn given_a_zone_without_an_accepted_reading_when_submitting_then_there_is_nothing_to_compare_with() {
        let m = meter(ZoneSet::TwoZone, &[(Zone::T1, 12_000)]);
        let err = check(&m, json!({"T1": 12_500, "T2": 6_800})).unwrap_err();
        assert_eq!(err, ReadingsError::NoPreviousReading { zone: label(ZoneSet::TwoZone, Zone::T2) });
    }

    // --- implausible jumps -----------------------------------------------------------------------

    #[test]
    fn given_a_month_since_the_last_reading_when_usage_is_exactly_the_limit_then_it_is_accepted() {
        assert_eq!(check(&single(12_000), json!({"T1": 22_000})).unwrap().consumption[&Zone::T1], 10_000);
    }

    #[test]
    fn given_a_month_since_the_last_reading_when_usage_is_one_over_the_limit_then_the_figure_is_reported() {
        let err = check(&single(12_000), json!({"T1": 22_001})).unwrap_err();
        assert_eq!(
            err,
            ReadingsError::ImplausibleJump { zone: T1_SINGLE, consumption: 10_001, limit: 10_000, months: 1 }
        );
        assert_eq!(
            err.to_string(),
            "Расход по зоне T1 (круглосуточно) — 10001 кВт·ч — больше правдоподобного (10000 кВт·ч за 1 мес.): \
             проверьте показание"
        );
    }

    #[test]
    fn given_three_months_since_the_last_reading_when_usage_adds_up_then_the_limit_is_three_months_worth() {
        let mut m = single(12_000);
        m.last_readings.insert(Zone::T1, Reading { value: 12_000, date: date(2026, 8, 25) });
        assert!(check(&m, json!({"T1": 42_000})).is_ok());
        assert_eq!(
            check(&m, json!({"T1": 42_001})),
            Err(ReadingsError::ImplausibleJump { zone: T1_SINGLE, consumption: 30_001, limit: 30_000, months: 3 })
        );
    }

    #[test]
    fn given_a_configured_limit_when_usage_exceeds_it_then_that_limit_applies() {
        let limits = ReadingsLimits { max_kwh_per_month: 500 };
        let at = |v: u64| validate(&single(1_000), &submission(json!({"T1": v}), false), &limits, now());
        assert!(at(1_500).is_ok());
        assert!(matches!(at(1_501), Err(ReadingsError::ImplausibleJump { limit: 500, .. })));
    }

    #[test]
    fn given_a_confirmed_rollover_that_is_really_a_typo_when_usage_is_huge_then_the_jump_rule_catches_it() {
        // 50000 → 10 on five digits would mean 50010 kWh in a month.
        let raw = submission(json!({"T1": 10}), true);
        assert_eq!(
            validate(&five_digit(50_000), &raw, &ReadingsLimits::default(), now()),
            Err(ReadingsError::ImplausibleJump { zone: T1_SINGLE, consumption: 50_010, limit: 10_000, months: 1 })
        );
    }

    // --- properties ------------------------------------------------------------------------------

    fn any_zone_set() -> impl Strategy<Value = ZoneSet> {
        prop_oneof![Just(ZoneSet::Single), Just(ZoneSet::TwoZone), Just(ZoneSet::ThreeZone)]
    }

    fn any_json_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            (0u64..200_000).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!([1, 2])),
        ]
    }

    fn any_zone_name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop_oneof![Just("T1"), Just("T2"), Just("T3")].prop_map(String::from),
            1 => prop_oneof![Just("T4"), Just("t1"), Just("day"), Just("")].prop_map(String::from),
            1 => "\\PC{0,6}",
        ]
    }

    fn any_meter() -> impl Strategy<Value = Meter> {
        // Mostly present and small enough for a five-digit register, so rollovers happen.
        let last = proptest::option::weighted(0.9, (0u64..200_000, 0u64..3_000));
        (
            any_zone_set(),
            prop_oneof![Just(None), (0u8..=7).prop_map(Some), any::<u8>().prop_map(Some)],
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.1),
            proptest::option::weighted(0.2, (any::<u8>(), any::<u8>())),
            [last.clone(), last.clone(), last],
        )
            .prop_map(|(zone_set, digits, automatic, faulty, window, lasts)| Meter {
                id: MeterId("M-1".into()),
                serial: None,
                zone_set,
                digits,
                automatic,
                faulty,
                window: window.map(|(from_day, to_day)| WindowDays { from_day, to_day }),
                last_readings: [Zone::T1, Zone::T2, Zone::T3]
                    .into_iter()
                    .zip(lasts)
                    .filter_map(|(zone, last)| {
                        let (value, days) = last?;
                        Some((zone, Reading { value, date: date(2020, 1, 1) + Days::new(days) }))
                    })
                    .collect(),
            })
    }

    /// A meter with a submission that usually names its zones with values near the last ones (so
    /// many are accepted), and sometimes anything at all.
    fn any_submission() -> impl Strategy<Value = (Meter, Vec<(String, Value)>)> {
        any_meter().prop_flat_map(|meter| {
            let near_last: Vec<_> = meter
                .zones()
                .iter()
                .map(|zone| {
                    let last = meter.last_readings.get(zone).map_or(0, |r| r.value);
                    let value = prop_oneof![
                        4 => (last + 1..=last + 15_000).prop_map(Value::from),
                        1 => (last.saturating_sub(1_000)..=last).prop_map(Value::from),
                        1 => any_json_value(),
                    ];
                    (Just(zone.as_str().to_owned()), value)
                })
                .collect();
            let anything = proptest::collection::vec((any_zone_name(), any_json_value()), 0..5);
            (Just(meter), prop_oneof![3 => near_last.boxed(), 1 => anything.boxed()])
        })
    }

    /// Any instant of 2020–2029, half of them on a 20th, when default windows are open.
    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            (1_577_836_800i64..1_893_456_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
            (2020i32..2030, 1u32..=12, 0u32..24).prop_map(|(y, m, h)| utc(y, m, 20, h, 0)),
        ]
    }

    proptest! {
        #[test]
        fn validate_never_panics_and_plain_usage_is_new_minus_last(
            (meter, entries) in any_submission(),
            confirm_rollover in any::<bool>(),
            max_kwh_per_month in prop_oneof![Just(10_000u64), any::<u64>()],
            now in any_instant(),
        ) {
            let raw = Submission { values: SubmittedValues(entries), confirm_rollover };
            if let Ok(accepted) = validate(&meter, &raw, &ReadingsLimits { max_kwh_per_month }, now) {
                prop_assert_eq!(accepted.values.keys().copied().collect::<Vec<_>>(), meter.zones().to_vec());
                for (zone, new) in &accepted.values {
                    let last = meter.last_readings[zone].value;
                    if *new >= last {
                        prop_assert_eq!(accepted.consumption[zone], new - last);
                    } else {
                        prop_assert!(accepted.rollover && confirm_rollover);
                        let capacity = 10u64.pow(u32::from(meter.digits.unwrap()));
                        prop_assert_eq!(accepted.consumption[zone], new + capacity - last);
                    }
                }
            }
        }

        #[test]
        fn rising_values_within_the_limit_are_accepted_with_usage_new_minus_last(
            zone_set in any_zone_set(),
            lasts in [0u64..999_990_000, 0u64..999_990_000, 0u64..999_990_000],
            steps in [1u64..=10_000, 1u64..=10_000, 1u64..=10_000],
        ) {
            let last: Vec<(Zone, u64)> = zone_set.zones().iter().copied().zip(lasts).collect();
            let m = meter(zone_set, &last);
            let values: BTreeMap<Zone, u64> = last.iter().zip(steps).map(|(&(z, l), s)| (z, l + s)).collect();
            let accepted = validate(&m, &Submission::new(values.clone(), false), &ReadingsLimits::default(), now()).unwrap();
            for (zone, l) in &last {
                prop_assert_eq!(accepted.consumption[zone], values[zone] - l);
            }
            prop_assert!(!accepted.rollover);
        }
    }
}
