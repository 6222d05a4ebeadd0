//! The oracle: what the service must answer, worked out from the published rules alone (README
//! "API", the domain notes on readings, charges and what is due, the acquirer's notifications),
//! never by calling the service's domain code. It reads the tariff file as data.
//!
//! It decides, for a customer, a Moscow instant and the readings typed: accepted (consumption and
//! price of each zone, the charge) or which refusal (status and problem type); what the account
//! owes after each submission; and what each bank notification does to the balance.

use super::model::{Customer, Kind, MeterModel, Month, moscow_date};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

/// The readings period of a meter without its own: the 15th to the 26th.
pub const DEFAULT_WINDOW: (u32, u32) = (15, 26);

/// A refusal as the API answers it: HTTP status and the problem type's last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Refusal {
    pub status: u16,
    pub problem: &'static str,
}

impl Refusal {
    pub const WINDOW_CLOSED: Refusal = Refusal { status: 409, problem: "readings-window-closed" };
    pub const NOT_ACCEPTED: Refusal = Refusal { status: 409, problem: "readings-not-accepted" };
    pub const WRONG_ZONES: Refusal = Refusal { status: 422, problem: "readings-wrong-zones" };
    pub const INVALID: Refusal = Refusal { status: 422, problem: "reading-invalid" };
    pub const LOWER: Refusal = Refusal { status: 422, problem: "reading-lower-than-last" };
    pub const ROLLOVER_NOT_CONFIRMED: Refusal = Refusal { status: 422, problem: "rollover-not-confirmed" };
    pub const IMPLAUSIBLE: Refusal = Refusal { status: 422, problem: "reading-implausible" };
    pub const TARIFF_NOT_LOADED: Refusal = Refusal { status: 409, problem: "tariff-not-loaded" };
    pub const AMOUNT_OUT_OF_RANGE: Refusal = Refusal { status: 400, problem: "amount-out-of-range" };
    pub const INVALID_READINGS_ID: Refusal = Refusal { status: 400, problem: "invalid-readings-id" };

    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.problem)
    }
}

// ---- tariffs ------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Row {
    group: String,
    kind: Kind,
    zone: String,
    from: NaiveDate,
    to: Option<NaiveDate>,
    price: Decimal,
}

/// The tariff file read as data: rows of (group, meter kind, zone, first day, optional last day,
/// price per kWh with VAT). Fields it does not need (sources, notes) are ignored.
#[derive(Clone, Debug)]
pub struct Tariffs {
    rows: Vec<Row>,
    /// Every day on which one of a group's periods starts.
    period_starts: HashMap<String, BTreeSet<NaiveDate>>,
}

impl Tariffs {
    pub fn from_json(text: &str) -> Self {
        let rows: Vec<Value> = serde_json::from_str(text).expect("the tariff file is a JSON array");
        let field = |row: &Value, name: &str| -> Option<String> { row.get(name)?.as_str().map(str::to_owned) };
        let day = |text: String| NaiveDate::from_str(&text).expect("tariff days are YYYY-MM-DD");
        let rows: Vec<Row> = rows
            .iter()
            .map(|row| Row {
                group: field(row, "group").expect("a group"),
                kind: Kind::from_wire(&field(row, "zoneSet").expect("a zone set")).expect("a known zone set"),
                zone: field(row, "zone").expect("a zone"),
                from: day(field(row, "validFrom").expect("a first day")),
                to: field(row, "validTo").map(day),
                price: Decimal::from_str(&field(row, "price").expect("a price")).expect("a decimal price"),
            })
            .collect();
        let mut period_starts: HashMap<String, BTreeSet<NaiveDate>> = HashMap::new();
        for row in &rows {
            period_starts.entry(row.group.clone()).or_default().insert(row.from);
        }
        Self { rows, period_starts }
    }

    /// Every first and last day the file names, and the day after each last day: where prices
    /// change.
    pub fn boundaries(&self) -> BTreeSet<NaiveDate> {
        let mut days = BTreeSet::new();
        for row in &self.rows {
            days.insert(row.from);
            days.extend(row.from.pred_opt());
            if let Some(to) = row.to {
                days.insert(to);
                days.extend(to.succ_opt());
            }
        }
        days
    }

    /// The price in force on `date`: the row of that group, meter kind and zone with the latest
    /// first day on or before `date`, which holds until the day before the next row of the same
    /// key, its own last day, or the day before the group's next period starts, whichever comes
    /// first. The last one is the rule that a period with no known price ends the previous row:
    /// its day is refused, never priced at a stale rate.
    pub fn price(&self, group: &str, kind: Kind, zone: &str, date: NaiveDate) -> Option<Decimal> {
        let row = self
            .rows
            .iter()
            .filter(|r| r.group == group && r.kind == kind && r.zone == zone && r.from <= date)
            .max_by_key(|r| r.from)?;
        if row.to.is_some_and(|to| date > to) {
            return None;
        }
        let next_period = self.period_starts.get(group).and_then(|starts| starts.range(row.from.succ_opt()?..).next());
        if next_period.is_some_and(|start| date >= *start) {
            return None;
        }
        Some(row.price)
    }
}

// ---- readings -------------------------------------------------------------------------------

/// One zone of a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub consumption: u64,
    /// `None` for a zone that used nothing on a day without its price.
    pub price: Option<Decimal>,
    pub amount: Decimal,
}

/// Readings accepted and priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    pub month: Month,
    pub values: BTreeMap<String, u64>,
    pub lines: BTreeMap<String, Line>,
    pub charge: Decimal,
    pub rollover: bool,
}

/// What the service is configured with that the rules refer to.
#[derive(Clone, Debug)]
pub struct Rules {
    pub tariffs: Tariffs,
    /// `READINGS_MAX_KWH_PER_MONTH`.
    pub max_kwh_per_month: u64,
    /// `PAYMENT_MIN`, `PAYMENT_MAX`.
    pub payment_min: Decimal,
    pub payment_max: Decimal,
    /// The billing month of the imported export's date: it billed every submission of an earlier
    /// month, which a payment "by readings" may then no longer name.
    pub export_month: Month,
}

/// The meter's window on the Moscow day `today`: its days in that month, a day past the month's
/// end read as the month's last day.
pub fn window_in_month(meter: &MeterModel, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (from, to) = meter.window.unwrap_or(DEFAULT_WINDOW);
    let month = Month::of(today);
    let last = month.last_day().day();
    let day = |d: u32| month.first_day().with_day(d.min(last)).expect("a day of the month");
    (day(from), day(to))
}

/// Whether the meter takes readings at all, and on the Moscow day `today`.
pub fn window_check(meter: &MeterModel, today: NaiveDate) -> Result<(), Refusal> {
    if meter.automatic || meter.faulty {
        return Err(Refusal::NOT_ACCEPTED);
    }
    let (from, to) = window_in_month(meter, today);
    if today < from || today > to {
        return Err(Refusal::WINDOW_CLOSED);
    }
    Ok(())
}

/// What the look-up shows of a meter's window on the Moscow day `today`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowView {
    /// Open now, or closed; with the current window's days, or the next one's once this month's
    /// has passed.
    Days { open: bool, from: NaiveDate, to: NaiveDate },
    /// Never: `automaticMetering` or `faulty`.
    Never(&'static str),
}

pub fn window_view(meter: &MeterModel, today: NaiveDate) -> WindowView {
    if meter.automatic {
        return WindowView::Never("automaticMetering");
    }
    if meter.faulty {
        return WindowView::Never("faulty");
    }
    let (from, to) = window_in_month(meter, today);
    if today <= to {
        return WindowView::Days { open: today >= from, from, to };
    }
    let (from, to) = window_in_month(meter, Month::of(today).next().first_day());
    WindowView::Days { open: false, from, to }
}

/// Calendar months from the month of `last` to the month of `today`, at least one.
pub fn months_since(last: NaiveDate, today: NaiveDate) -> u64 {
    let months = Month::of(today).index() - Month::of(last).index();
    u64::try_from(months).unwrap_or(0).max(1)
}

/// Half-up to kopecks.
pub fn kopecks(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Rules {
    /// What `POST /accounts/{n}/readings` must answer for `values` (zone name, whole kWh) typed
    /// for `meter` of `customer` at `at`. The refusals come in the order a customer fixes
    /// things: the window, then the zones, then each zone's value in zone order, then the price.
    pub fn readings(
        &self,
        customer: &Customer,
        meter: &MeterModel,
        values: &[(String, u64)],
        confirm_rollover: bool,
        at: DateTime<Utc>,
    ) -> Result<Priced, Refusal> {
        let today = moscow_date(at);
        window_check(meter, today)?;
        let zones = meter.kind.zones();
        let given: BTreeMap<&str, u64> = values.iter().map(|(z, v)| (z.as_str(), *v)).collect();
        let exact = given.len() == values.len()
            && given.len() == zones.len()
            && zones.iter().all(|zone| given.contains_key(zone));
        if !exact {
            return Err(Refusal::WRONG_ZONES);
        }
        let capacity = meter.capacity();
        let mut consumption = BTreeMap::new();
        let mut rollover = false;
        for &zone in zones {
            let value = given[zone];
            if capacity.is_some_and(|c| value >= c) {
                return Err(Refusal::INVALID);
            }
            let last = meter.last[zone];
            let used = if value >= last.value {
                value - last.value
            } else {
                match capacity {
                    Some(c) if last.value < c && confirm_rollover => {
                        rollover = true;
                        value + c - last.value
                    }
                    Some(c) if last.value < c => return Err(Refusal::ROLLOVER_NOT_CONFIRMED),
                    _ => return Err(Refusal::LOWER),
                }
            };
            if used > self.max_kwh_per_month * months_since(last.date, today) {
                return Err(Refusal::IMPLAUSIBLE);
            }
            consumption.insert(zone.to_owned(), used);
        }
        let mut lines = BTreeMap::new();
        for (zone, used) in consumption {
            // "Consumption 0, charge 0": a zone that used nothing needs no price.
            let price = match self.tariffs.price(customer.group, meter.kind, &zone, today) {
                None if used > 0 => return Err(Refusal::TARIFF_NOT_LOADED),
                price => price,
            };
            let amount = price.map_or(Decimal::ZERO, |price| kopecks(Decimal::from(used) * price));
            lines.insert(zone, Line { consumption: used, price, amount });
        }
        let charge = lines.values().map(|l| l.amount).sum();
        let values = given.into_iter().map(|(z, v)| (z.to_owned(), v)).collect();
        Ok(Priced { month: Month::of(today), values, lines, charge, rollover })
    }

    /// Whether the imported export billed a submission of `month` (so it is no longer paid "by
    /// readings": `invalid-readings-id`).
    pub fn billed(&self, month: Month) -> bool {
        self.export_month > month
    }

    /// Whether `POST /payments` takes `amount`.
    pub fn payment(&self, amount: Decimal) -> Result<(), Refusal> {
        if amount < self.payment_min || amount > self.payment_max {
            return Err(Refusal::AMOUNT_OUT_OF_RANGE);
        }
        Ok(())
    }
}

// ---- the account's money --------------------------------------------------------------------

/// An account's money as the oracle follows it: the imported balance moved by the bank's
/// credits and refunds, and each meter's submission of each billing month (a new one replaces
/// it; a refused one changes nothing).
#[derive(Clone, Debug, Default)]
pub struct Book {
    pub balance: Decimal,
    submitted: BTreeMap<(Month, String), Decimal>,
}

impl Book {
    pub fn new(balance: Decimal) -> Self {
        Self { balance, submitted: BTreeMap::new() }
    }

    pub fn accept(&mut self, meter: &str, priced: &Priced) {
        self.submitted.insert((priced.month, meter.to_owned()), priced.charge);
    }

    /// The charge of `meter`'s submission in `month`, if it has one.
    pub fn submitted(&self, month: Month, meter: &str) -> Option<Decimal> {
        self.submitted.get(&(month, meter.to_owned())).copied()
    }

    /// «Начислено по показаниям»: the month's charges of every meter.
    pub fn charged(&self, month: Month) -> Decimal {
        self.submitted.iter().filter(|((m, _), _)| *m == month).map(|(_, charge)| *charge).sum()
    }

    /// «К оплате»: max(0, charged − balance).
    pub fn due(&self, month: Month) -> Decimal {
        (self.charged(month) - self.balance).max(Decimal::ZERO)
    }

    pub fn balance_after_readings(&self, month: Month) -> Decimal {
        self.balance - self.charged(month)
    }
}

// ---- the bank's notifications ---------------------------------------------------------------

/// A status notification of one payment, as the bank sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankEvent {
    Authorized,
    Confirmed,
    /// `Amount` = the total given back so far.
    PartialRefunded(Decimal),
    Refunded,
}

impl BankEvent {
    pub fn status(self) -> &'static str {
        match self {
            BankEvent::Authorized => "AUTHORIZED",
            BankEvent::Confirmed => "CONFIRMED",
            BankEvent::PartialRefunded(_) => "PARTIAL_REFUNDED",
            BankEvent::Refunded => "REFUNDED",
        }
    }
}

/// What the service must answer a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `200 OK`: taken.
    Taken,
    /// A 5xx: the bank delivers it again later.
    Again,
}

/// One payment as the oracle follows it.
#[derive(Clone, Copy, Debug)]
pub struct PaymentBook {
    pub amount: Decimal,
    pub credited: bool,
    pub refunded: Decimal,
}

impl PaymentBook {
    pub fn new(amount: Decimal) -> Self {
        Self { amount, credited: false, refunded: Decimal::ZERO }
    }

    /// Applies `event` to the payment and the account. `CONFIRMED` for the payment's amount
    /// credits it once, whatever came before; `AUTHORIZED` moves no money; a refund takes off only
    /// what was not given back yet, and before the credit it is refused so the bank re-delivers it.
    pub fn deliver(&mut self, event: BankEvent, book: &mut Book) -> Delivery {
        match event {
            BankEvent::Authorized => Delivery::Taken,
            BankEvent::Confirmed => {
                if !self.credited {
                    self.credited = true;
                    book.balance += self.amount;
                }
                Delivery::Taken
            }
            BankEvent::PartialRefunded(_) | BankEvent::Refunded if !self.credited => Delivery::Again,
            BankEvent::PartialRefunded(total) => self.refund_to(total, book),
            BankEvent::Refunded => self.refund_to(self.amount, book),
        }
    }

    fn refund_to(&mut self, total: Decimal, book: &mut Book) -> Delivery {
        if total > self.refunded {
            book.balance -= total - self.refunded;
            self.refunded = total;
        }
        Delivery::Taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::model::LastReading;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rub(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    const FILE: &str = r#"[
      {"group": "g", "zoneSet": "single", "zone": "T1", "validFrom": "2025-07-01", "price": "7.87", "note": "x"},
      {"group": "g", "zoneSet": "twoZone", "zone": "T1", "validFrom": "2025-07-01", "price": "9.45"},
      {"group": "g", "zoneSet": "single", "zone": "T1", "validFrom": "2026-01-01", "validTo": "2026-09-30", "price": "8.00"},
      {"group": "g", "zoneSet": "single", "zone": "T1", "validFrom": "2026-10-01", "price": "8.90"}
    ]"#;

    #[test]
    fn given_a_tariff_file_when_asked_for_a_day_then_the_row_in_force_prices_it_and_a_gap_refuses_it() {
        let t = Tariffs::from_json(FILE);
        assert_eq!(t.price("g", Kind::Single, "T1", date(2025, 6, 30)), None);
        assert_eq!(t.price("g", Kind::Single, "T1", date(2025, 12, 31)), Some(rub("7.87")));
        assert_eq!(t.price("g", Kind::Single, "T1", date(2026, 9, 30)), Some(rub("8.00")));
        assert_eq!(t.price("g", Kind::Single, "T1", date(2030, 1, 1)), Some(rub("8.90")));
        // The group's period of 2026-01-01 has no two-zone price: the 2025 one ends with it.
        assert_eq!(t.price("g", Kind::TwoZone, "T1", date(2025, 12, 31)), Some(rub("9.45")));
        assert_eq!(t.price("g", Kind::TwoZone, "T1", date(2026, 1, 1)), None);
        assert_eq!(t.price("other", Kind::Single, "T1", date(2026, 1, 1)), None);
    }

    fn customer(window: Option<(u32, u32)>, digits: Option<u32>, last: u64) -> Customer {
        let meter = MeterModel {
            id: "M".into(),
            kind: Kind::Single,
            digits,
            automatic: false,
            faulty: false,
            window,
            last: [("T1", LastReading { value: last, date: date(2025, 10, 20) })].into_iter().collect(),
        };
        Customer {
            number: "1000000001".into(),
            address: crate::population::model::Address {
                town: "г. Москва".into(),
                street: None,
                house: "д. 1".into(),
                flat: None,
            },
            balance: Decimal::ZERO,
            group: "g",
            meters: vec![meter],
        }
    }

    fn rules() -> Rules {
        Rules {
            tariffs: Tariffs::from_json(FILE),
            max_kwh_per_month: 10_000,
            payment_min: rub("1.00"),
            payment_max: rub("500000.00"),
            export_month: Month { year: 2026, month: 12 },
        }
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::population::model::moscow_instant(date(y, m, d), h, min, 0)
    }

    #[test]
    fn given_a_window_ending_on_the_31st_when_february_ends_then_its_last_day_is_the_28th() {
        let c = customer(Some((20, 31)), None, 100);
        let t1 = |v: u64| vec![("T1".to_owned(), v)];
        let r = rules();
        assert!(r.readings(&c, &c.meters[0], &t1(150), false, at(2026, 2, 28, 23, 59)).is_ok());
        assert_eq!(r.readings(&c, &c.meters[0], &t1(150), false, at(2026, 3, 1, 0, 0)), Err(Refusal::WINDOW_CLOSED));
        assert_eq!(r.readings(&c, &c.meters[0], &t1(150), false, at(2026, 2, 19, 23, 59)), Err(Refusal::WINDOW_CLOSED));
    }

    #[test]
    fn given_readings_when_checked_then_each_rule_refuses_in_its_turn_and_a_rollover_is_priced() {
        let c = customer(None, Some(5), 99_950);
        let r = rules();
        let m = &c.meters[0];
        let now = at(2025, 11, 20, 12, 0);
        let t1 = |v: u64| vec![("T1".to_owned(), v)];
        assert_eq!(r.readings(&c, m, &t1(100_000), true, now), Err(Refusal::INVALID));
        assert_eq!(r.readings(&c, m, &t1(12), false, now), Err(Refusal::ROLLOVER_NOT_CONFIRMED));
        let rolled = r.readings(&c, m, &t1(12), true, now).unwrap();
        // 12 + 100 000 − 99 950 = 62 kWh at 7.87.
        assert_eq!((rolled.lines["T1"].consumption, rolled.charge, rolled.rollover), (62, rub("487.94"), true));
        let same = r.readings(&c, m, &t1(99_950), false, now).unwrap();
        assert_eq!(same.charge, Decimal::ZERO);
        let two = vec![("T1".to_owned(), 99_960), ("T2".to_owned(), 1)];
        assert_eq!(r.readings(&c, m, &two, false, now), Err(Refusal::WRONG_ZONES));
        let unknown = customer(None, None, 500);
        assert_eq!(r.readings(&unknown, &unknown.meters[0], &t1(400), true, now), Err(Refusal::LOWER));
        // One month since October: 10 000 kWh at most.
        assert!(r.readings(&unknown, &unknown.meters[0], &t1(10_500), false, now).is_ok());
        assert_eq!(r.readings(&unknown, &unknown.meters[0], &t1(10_501), false, now), Err(Refusal::IMPLAUSIBLE));
        let gap = at(2026, 1, 20, 12, 0);
        assert!(r.readings(&unknown, &unknown.meters[0], &t1(20_500), false, gap).is_ok(), "three months");
    }

    #[test]
    fn given_a_payment_when_the_bank_reports_it_in_any_order_then_the_money_moves_once() {
        let mut book = Book::new(rub("-100.00"));
        let mut p = PaymentBook::new(rub("1000.00"));
        assert_eq!(p.deliver(BankEvent::PartialRefunded(rub("300.00")), &mut book), Delivery::Again);
        assert_eq!(p.deliver(BankEvent::Confirmed, &mut book), Delivery::Taken);
        assert_eq!(p.deliver(BankEvent::Authorized, &mut book), Delivery::Taken);
        assert_eq!(p.deliver(BankEvent::Confirmed, &mut book), Delivery::Taken);
        assert_eq!(book.balance, rub("900.00"));
        p.deliver(BankEvent::PartialRefunded(rub("300.00")), &mut book);
        p.deliver(BankEvent::PartialRefunded(rub("300.00")), &mut book);
        assert_eq!(book.balance, rub("600.00"));
        p.deliver(BankEvent::Refunded, &mut book);
        p.deliver(BankEvent::PartialRefunded(rub("300.00")), &mut book);
        assert_eq!(book.balance, rub("-100.00"));
    }
}
