//! A seeded, reproducible customer base shaped like Moscow's: mostly gas stoves, some electric
//! stoves and rural settlements; one to three meters of every kind, in the default window or
//! their own (the whole month, windows ending on the 31st); meters on automatic metering or
//! marked faulty; debts, zero and credit balances; last readings from a few weeks to two years
//! old; registers of 5 and 6 digits close to rolling over. Written as the billing export
//! (README, "Import format"), which the test loads with the import tool's own code.

use super::model::{Address, Customer, Kind, LastReading, MeterModel};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

const TOWNS: [(&str, bool); 6] = [
    ("г. Москва", true),
    ("г. Москва", true),
    ("г. Москва", true),
    ("г. Зеленоград", false),
    ("г. Троицк", true),
    ("пос. Коммунарка", true),
];
const STREETS: [&str; 8] = [
    "ул. Тверская",
    "ул. Профсоюзная",
    "Ленинский пр-т",
    "ул. Бутлерова",
    "Варшавское ш.",
    "ул. Лётчика Бабушкина",
    "Сиреневый б-р",
    "ул. Академика Янгеля",
];
const MODELS: [&str; 6] = ["СЕ101", "СЕ303", "Меркурий200", "Меркурий231", "Нева103", "Энергомера-СЕ102"];

/// The first and last day a last reading may carry: from two years before the run's months to
/// just before their end.
fn last_reading_days() -> (NaiveDate, NaiveDate) {
    (NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 10, 31).unwrap())
}

/// `count` customers drawn from `seed`. Account numbers are `prefix` (five digits, the run's own,
/// so runs sharing a table never meet) followed by the customer's index.
pub fn population(seed: u64, count: usize, prefix: u32) -> Vec<Customer> {
    assert!(count <= 100_000, "five digits of index");
    assert!(prefix < 100_000, "five digits of prefix");
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count).map(|index| customer(&mut rng, format!("{prefix:05}{index:05}"))).collect()
}

fn customer(rng: &mut fastrand::Rng, number: String) -> Customer {
    let (town, has_street) = TOWNS[rng.usize(..TOWNS.len())];
    let address = Address {
        town: town.to_owned(),
        street: has_street.then(|| STREETS[rng.usize(..STREETS.len())].to_owned()),
        house: if has_street {
            format!("д. {}", rng.u32(1..=160))
        } else {
            format!("корп. {}", rng.u32(1100..=2050))
        },
        flat: (rng.u8(..10) > 0).then(|| rng.u32(1..=480).to_string()),
    };
    let group = match rng.u8(..100) {
        0..65 => "gas-stove",
        65..90 => "electric-stove",
        _ => "rural",
    };
    let meter_count = match rng.u8(..100) {
        0..70 => 1,
        70..92 => 2,
        _ => 3,
    };
    let mut ids = HashSet::new();
    let meters = (0..meter_count)
        .map(|_| {
            loop {
                let id = format!("{}-{:07}", MODELS[rng.usize(..MODELS.len())], rng.u32(..10_000_000));
                if ids.insert(id.clone()) {
                    break meter(rng, id);
                }
            }
        })
        .collect();
    Customer { number, address, balance: balance(rng), group, meters }
}

/// Kopecks as roubles.
fn rub(kopecks: i64) -> Decimal {
    Decimal::new(kopecks, 2)
}

fn balance(rng: &mut fastrand::Rng) -> Decimal {
    match rng.u8(..100) {
        // An ordinary month's debt, and a few large ones.
        0..40 => -rub(rng.i64(1..=800_000)),
        40..45 => -rub(rng.i64(800_000..=6_000_000)),
        // Under a rouble: less than the smallest payment the acquirer takes.
        45..49 => -rub(rng.i64(1..=99)),
        49..72 => Decimal::ZERO,
        72..77 => rub(rng.i64(1..=99)),
        _ => rub(rng.i64(100..=400_000)),
    }
}

fn meter(rng: &mut fastrand::Rng, id: String) -> MeterModel {
    let kind = match rng.u8(..100) {
        0..55 => Kind::Single,
        55..88 => Kind::TwoZone,
        _ => Kind::ThreeZone,
    };
    let digits = match rng.u8(..100) {
        0..15 => None,
        15..50 => Some(5),
        50..92 => Some(6),
        _ => Some(7),
    };
    let (automatic, faulty) = match rng.u8(..100) {
        0..7 => (true, false),
        7..11 => (false, true),
        _ => (false, false),
    };
    let window = match rng.u8(..100) {
        0..55 => None,
        // The whole month, written as the billing system writes it.
        55..67 => Some((1, 31)),
        // Ending on the 31st: in a short month it ends on the month's last day.
        67..75 => Some((rng.u32(18..=28), 31)),
        75..78 => Some((rng.u32(29..=31), 31)),
        78..82 => Some((15, 26)),
        _ => {
            let from = rng.u32(1..=28);
            Some((from, rng.u32(from..=31)))
        }
    };
    // Near a rollover: a register of known size a few hundred kWh short of its last digit.
    let near_rollover = digits.is_some() && rng.u8(..100) < 30;
    let (first, last) = last_reading_days();
    let span = (last - first).num_days();
    let read_on = first + Duration::days(rng.i64(0..=span));
    let last = kind
        .zones()
        .iter()
        .map(|&zone| {
            let value = match (digits, near_rollover) {
                (Some(d), true) => 10u64.pow(d) - rng.u64(1..=400),
                (Some(d), false) => rng.u64(..10u64.pow(d) * 8 / 10),
                (None, _) => rng.u64(..150_000),
            };
            // Registers of one meter are read together, now and then not.
            let date = if rng.u8(..100) < 5 { first + Duration::days(rng.i64(0..=span)) } else { read_on };
            (zone, LastReading { value, date })
        })
        .collect::<BTreeMap<_, _>>();
    MeterModel { id, kind, digits, automatic, faulty, window, last }
}

/// The billing export of `customers`, as the billing system writes it: account numbers printed
/// 5-3-2, optional fields left out where the billing system leaves them out.
pub fn export_json(customers: &[Customer], exported_at: DateTime<Utc>) -> String {
    let accounts: Vec<Value> = customers.iter().map(account_json).collect();
    let export = json!({"exportedAt": exported_at.to_rfc3339(), "accounts": accounts});
    serde_json::to_string(&export).expect("JSON values serialise")
}

fn account_json(c: &Customer) -> Value {
    let n = &c.number;
    let mut address = Map::new();
    address.insert("town".into(), json!(c.address.town));
    if let Some(street) = &c.address.street {
        address.insert("street".into(), json!(street));
    }
    address.insert("house".into(), json!(c.address.house));
    if let Some(flat) = &c.address.flat {
        address.insert("flat".into(), json!(flat));
    }
    json!({
        "account": format!("{}-{}-{}", &n[..5], &n[5..8], &n[8..]),
        "address": address,
        "balance": format!("{:.2}", c.balance),
        "tariffGroup": c.group,
        "meters": c.meters.iter().map(meter_json).collect::<Vec<_>>(),
    })
}

fn meter_json(m: &MeterModel) -> Value {
    let mut meter = Map::new();
    meter.insert("id".into(), json!(m.id));
    meter.insert("zoneSet".into(), json!(m.kind.wire()));
    if let Some(digits) = m.digits {
        meter.insert("digits".into(), json!(digits));
    }
    if m.automatic {
        meter.insert("automatic".into(), json!(true));
    }
    if m.faulty {
        meter.insert("faulty".into(), json!(true));
    }
    if let Some((from, to)) = m.window {
        meter.insert("window".into(), json!({"fromDay": from, "toDay": to}));
    }
    let last: Map<String, Value> = m
        .last
        .iter()
        .map(|(zone, r)| ((*zone).to_owned(), json!({"value": r.value, "date": r.date.to_string()})))
        .collect();
    meter.insert("lastReadings".into(), Value::Object(last));
    Value::Object(meter)
}
