//! A readings submission: `Submission` read from JSON, then the readings rules
//! (`domain::readings::validate`) applied to a meter.
//!
//! Input: a 24-byte header describing the meter and the moment, then the JSON body.
//!   0      zone set (value % 3: single, two-zone, three-zone)
//!   1      register digits: 0 = unknown, n = n − 1 digits
//!   2      flags: bit 0 automatic metering, bit 1 faulty, bit 2 own window days
//!   3, 4   own window: first and last day
//!   5..20  T1, T2, T3: last accepted value (u32, little-endian) and its age in days × 4
//!          (255: no accepted reading)
//!   20, 21 today: days after 2020-01-01 (u16, little-endian, modulo ten years)
//!   22     hour, UTC (value % 24)
//!   23     kWh a month that is plausible: 0 = the default 10 000, 255 = no limit, else n × 100
//!
//! Properties, beyond "never panics": accepted readings name exactly the meter's zones, fit the
//! register, are read from whole non-negative JSON numbers; usage is new − last, or past a
//! confirmed rollover 10^digits − last + new; usage stays within the monthly limit; the window is
//! open; the same readings submitted as typed values are accepted identically; a confirmation
//! changes nothing unless a register rolled over, and without it a rollover is refused.
#![no_main]

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use energosbyt::domain::meter::WindowDays;
use energosbyt::domain::readings::{MAX_READING_KWH, validate};
use energosbyt::domain::readings_window::moscow_date;
use energosbyt::domain::{
    Meter, MeterId, Reading, ReadingsError, ReadingsLimits, ReadingsWindow, Submission, Zone, ZoneSet,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::BTreeMap;

const HEADER: usize = 24;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (header, body) = data.split_at(HEADER);
    let (meter, now, limits) = setting(header);

    let Ok(submission) = serde_json::from_slice::<Submission>(body) else { return };
    let verdict = validate(&meter, &submission, &limits, now);
    let accepted = match verdict {
        Err(e) => {
            // Every refusal can be shown to the customer.
            assert!(!e.to_string().is_empty());
            return;
        }
        Ok(accepted) => accepted,
    };

    assert!(ReadingsWindow::at(&meter, now).is_open());
    assert_eq!(accepted.meter_id, meter.id);
    assert_eq!(accepted.values.keys().copied().collect::<Vec<_>>(), meter.zones());
    assert_eq!(accepted.consumption.keys().copied().collect::<Vec<_>>(), meter.zones());
    let capacity = meter.digits.filter(|&d| d > 0).and_then(|d| 10u64.checked_pow(u32::from(d)));
    // A `Value` refuses what the submission reader skips unread (a number beyond f64 or a lone
    // surrogate in an unknown field): compare with the JSON only when it is one.
    let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let today = moscow_date(now);
    let mut rolled = false;
    for (zone, &new) in &accepted.values {
        assert!(new <= MAX_READING_KWH);
        assert!(capacity.is_none_or(|c| new < c), "{new} does not fit {:?} digits", meter.digits);
        let written = &sent["values"][zone.as_str()];
        if !sent.is_null() {
            assert!(written.as_u64() == Some(new) || written.as_f64() == Some(new as f64), "{written} read as {new}");
        }
        let last = meter.last_readings[zone];
        let used = accepted.consumption[zone];
        if new >= last.value {
            // The same value is a month without consumption.
            assert_eq!(used, new - last.value);
        } else {
            let capacity = capacity.expect("a rollover needs a register of known size");
            assert!(submission.confirm_rollover && last.value < capacity);
            assert_eq!(used, capacity - last.value + new);
            rolled = true;
        }
        let months = months_between(last.date, today);
        assert!(used <= limits.max_kwh_per_month.saturating_mul(months), "{used} kWh in {months} months");
    }
    assert_eq!(accepted.rollover, rolled);

    let typed = Submission::new(accepted.values.clone(), submission.confirm_rollover);
    assert_eq!(validate(&meter, &typed, &limits, now).as_ref(), Ok(&accepted));
    let flipped = Submission { confirm_rollover: !submission.confirm_rollover, ..submission.clone() };
    let reflipped = validate(&meter, &flipped, &limits, now);
    if accepted.rollover {
        assert!(matches!(reflipped, Err(ReadingsError::RolloverNotConfirmed { .. })), "{reflipped:?}");
    } else {
        assert_eq!(reflipped, Ok(accepted));
    }
});

/// The meter, the moment and the limits the header describes.
fn setting(h: &[u8]) -> (Meter, DateTime<Utc>, ReadingsLimits) {
    let zone_set = [ZoneSet::Single, ZoneSet::TwoZone, ZoneSet::ThreeZone][usize::from(h[0] % 3)];
    let first_day = NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date");
    let day = u64::from(u16::from_le_bytes([h[20], h[21]])) % 3653;
    let hour = i64::from(h[22] % 24);
    let now = first_day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        + chrono::Duration::days(day as i64)
        + chrono::Duration::hours(hour);
    let today = first_day + Days::new(day);
    let last_readings: BTreeMap<Zone, Reading> = [Zone::T1, Zone::T2, Zone::T3]
        .into_iter()
        .zip(h[5..20].chunks_exact(5))
        .filter(|(_, chunk)| chunk[4] != 255)
        .map(|(zone, chunk)| {
            let value = u64::from(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
            let date = today.checked_sub_days(Days::new(u64::from(chunk[4]) * 4)).expect("within range");
            (zone, Reading { value, date })
        })
        .collect();
    let meter = Meter {
        id: MeterId("Меркурий200-3391024".into()),
        serial: None,
        zone_set,
        digits: h[1].checked_sub(1),
        automatic: h[2] & 1 != 0,
        faulty: h[2] & 2 != 0,
        window: (h[2] & 4 != 0).then_some(WindowDays { from_day: h[3], to_day: h[4] }),
        last_readings,
    };
    let max_kwh_per_month = match h[23] {
        0 => ReadingsLimits::default().max_kwh_per_month,
        255 => u64::MAX,
        n => u64::from(n) * 100,
    };
    (meter, now, ReadingsLimits { max_kwh_per_month })
}

/// Calendar months from the last reading's month to today's, at least one.
fn months_between(last: NaiveDate, today: NaiveDate) -> u64 {
    let index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    u64::try_from(index(today) - index(last)).unwrap_or(0).max(1)
}
