//! The money proven right for a realistic customer base, against an independent oracle
//! (`integration_tests::population`), through the real handlers on DynamoDB Local, the acquirer
//! sandbox and moto.
//!
//! 1. **Import**: a seeded customer base is written as the billing export and loaded with the
//!    import tool's own code (`admin::billing_export`), the tariffs with `admin::tariff_import`.
//! 2. **Tariff grid**: every account's tariff group and meter kind × every day from 2020-07-01 to
//!    2026-12-31, priced from the stored tariffs as the readings function loads them, or refused
//!    with its problem: the oracle's price, or 409 `tariff-not-loaded`, never a 5xx (a direct check:
//!    what a day costs depends only on the group, the meter kind and the day).
//! 3. **Customers**: a seeded sample lives one or two billing months of 2025–2026: readings on one
//!    or several meters at random instants and at the window's edges (its first and last Moscow
//!    day, 23:59 and 00:00 around them, month ends, windows ending on the 31st in short months),
//!    equal to the last, lower (rolled over, confirmed or not), implausible, over the register,
//!    with the wrong zones; the look-up; paying what it says is due (by readings when there are
//!    any; a stale readings id first now and then); the bank's notifications with duplicates, in
//!    shuffled order, refunds before and after the credit. Every answer is compared with the
//!    oracle's to the kopeck; then readings on a few more days across 2020–2026 go through the
//!    handler, priced or refused with the tariff problem. The handlers' clock is the customer's
//!    (a task-local instant); `POST /payments` runs on the real clock, which the sandbox's form
//!    deadline needs.
//! 4. **Figures**: printed at the end; the run fails on any mismatch, each written down with the
//!    seed, the customer, what was sent and both answers.
//!
//! Every simulated customer has its own VK user id and its own source address (an IPv6 /64), so
//! the edge keeps its configured limits and no customer is throttled by another.
//!
//! Knobs (environment): `POPULATION_ACCOUNTS` (300), `POPULATION_SAMPLE` (200), `POPULATION_SEED`
//! (fixed), `POPULATION_RUN` (the account numbers' five-digit prefix; random, so runs sharing a
//! table never meet), `POPULATION_WORKERS` (customers served at once, 10), `POPULATION_ONLY` (one
//! customer's index: replays that customer alone, with the same draws). `make population` runs
//! the full size (10 000 accounts, 1 000 customers); `make test` the defaults.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use energosbyt::acquirer::{TbankClient, TbankSettings};
use energosbyt::app::tariff_cache::TariffCache;
use energosbyt::config::Env;
use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::{Zone, ZoneSet};
use energosbyt::edge::{MiniAppEdge, Problem};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::store::DynamoStore;
use integration_tests::population::generator;
use integration_tests::population::model::{Customer, Kind, MeterModel, Month, moscow_date, moscow_instant};
use integration_tests::population::oracle::{
    BankEvent, Book, DEFAULT_WINDOW, Delivery, PaymentBook, Priced, Refusal, Rules, Tariffs, WindowView, months_since,
    window_check, window_view,
};
use integration_tests::{Event, body_json, edge, env, sign_notification, store, vk_launch};
use lambda_http::{Body, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const TARIFF_FILE: &str = include_str!("../../data/tariffs.json");
/// The default seed: a failure reproduces with the same seed (and `POPULATION_ONLY`).
const DEFAULT_SEED: u64 = 20_261_206;
/// A customer's notifications, re-deliveries included, are bounded.
const MAX_DELIVERIES: usize = 60;

tokio::task_local! {
    /// The instant a customer's request is made at: the clock of the readings and look-up edges.
    static NOW: DateTime<Utc>;
}

fn clock() -> DateTime<Utc> {
    NOW.get()
}

fn knob<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        Err(_) => default,
    }
}

#[derive(Clone, Copy, Debug)]
struct Knobs {
    accounts: usize,
    sample: usize,
    seed: u64,
    run: u16,
    workers: usize,
    only: Option<usize>,
}

impl Knobs {
    fn from_env() -> Self {
        let accounts = knob("POPULATION_ACCOUNTS", 300usize);
        assert!(accounts <= 65_536, "a customer's index is one group of its IPv6 address");
        let random_run = 10_000 + (uuid::Uuid::new_v4().as_u128() % 55_536) as u16;
        Self {
            accounts,
            sample: knob("POPULATION_SAMPLE", 200usize).min(accounts),
            seed: knob("POPULATION_SEED", DEFAULT_SEED),
            run: knob("POPULATION_RUN", random_run),
            workers: knob("POPULATION_WORKERS", 10usize).max(1),
            only: std::env::var("POPULATION_ONLY").ok().map(|v| v.parse().expect("POPULATION_ONLY is an index")),
        }
    }
}

// ---- what the run counts ----------------------------------------------------------------------

/// A disagreement between the service and the oracle, with what it takes to reproduce it.
#[derive(Debug)]
struct Mismatch {
    customer: usize,
    number: String,
    step: &'static str,
    /// What disagrees, for the summary: both refusals, or which figures.
    kind: String,
    sent: String,
    service: String,
    oracle: String,
}

#[derive(Default)]
struct Tally {
    steps: AtomicU64,
    /// Readings accepted, by step (readings, correction, tariff-day).
    accepted: Mutex<BTreeMap<&'static str, u64>>,
    lookups: AtomicU64,
    payments: AtomicU64,
    notifications: AtomicU64,
    redeliveries: AtomicU64,
    refunds: AtomicU64,
    customers_done: AtomicU64,
    refusals: Mutex<BTreeMap<String, u64>>,
    /// Instants tried, by where they fall around the window.
    instants: Mutex<BTreeMap<&'static str, u64>>,
    /// Of them, for a window running past the end of a short month.
    clamped: AtomicU64,
    mismatches: Mutex<Vec<Mismatch>>,
}

impl Tally {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn instant(&self, edge: &'static str, meter: &MeterModel, month: Month) {
        *self.instants.lock().unwrap().entry(edge).or_default() += 1;
        let to_day = meter.window.map_or(26, |(_, to)| to);
        if to_day > month.last_day().day() {
            Tally::add(&self.clamped);
        }
    }

    fn refused(&self, step: &str, refusal: Refusal) {
        let key = format!("{step:<9} {} {}", refusal.status, refusal.problem);
        *self.refusals.lock().unwrap().entry(key).or_default() += 1;
    }
}

// ---- the service --------------------------------------------------------------------------------

struct Services {
    readings: submit_readings::App<DynamoStore>,
    lookup: account_lookup::App<DynamoStore>,
    pay: pay::App<DynamoStore, TbankClient>,
    callback: payment_callback::App<DynamoStore, SesMailer>,
}

fn clocked_edge() -> MiniAppEdge {
    let mut edge = edge();
    edge.clock = clock;
    edge
}

impl Services {
    async fn new(max_kwh_per_month: u64) -> Self {
        let config = Env::process();
        let mut readings = submit_readings::App::new(store().await, clocked_edge());
        readings.settings.limits.max_kwh_per_month = max_kwh_per_month;
        let mut real_time = edge();
        real_time.clock = Utc::now;
        let mailer = SesMailer::from_env(&config).await.unwrap();
        mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.unwrap();
        Self {
            readings,
            lookup: account_lookup::App { store: store().await, edge: clocked_edge() },
            pay: pay::App {
                store: store().await,
                acquirer: TbankClient::new(TbankSettings::from_env().unwrap(), integration_tests::demo_secrets())
                    .unwrap(),
                edge: real_time,
                settings: energosbyt::app::payment_registration::PaySettings::from_env(&config).unwrap(),
            },
            callback: payment_callback::App::configure(
                &config,
                integration_tests::demo_secrets(),
                store().await,
                Mailer::new(mailer, MailFrom::from_env(&config).unwrap()),
            )
            .unwrap(),
        }
    }
}

// ---- comparing answers --------------------------------------------------------------------------

/// What the oracle expects at a JSON pointer of an answer.
enum Want {
    Money(Decimal),
    Exactly(Value),
    Absent,
}

impl Want {
    fn describe(&self) -> String {
        match self {
            Want::Money(d) => format!("\"{d:.2}\""),
            Want::Exactly(v) => v.to_string(),
            Want::Absent => "absent".into(),
        }
    }
}

/// Money as the API writes it: a decimal string with two places.
fn money_of(value: &Value) -> Option<Decimal> {
    let text = value.as_str()?;
    let (_, places) = text.split_once('.')?;
    (places.len() == 2).then(|| Decimal::from_str(text).ok()).flatten()
}

fn differences(answer: &Value, wants: &[(String, Want)]) -> Vec<String> {
    wants
        .iter()
        .filter_map(|(pointer, want)| {
            let got = answer.pointer(pointer);
            let same = match want {
                Want::Money(d) => got.and_then(money_of) == Some(*d),
                Want::Exactly(v) => got == Some(v),
                Want::Absent => got.is_none(),
            };
            (!same).then(|| {
                format!(
                    "{pointer}: service {}, oracle {}",
                    got.map_or("absent".into(), Value::to_string),
                    want.describe()
                )
            })
        })
        .collect()
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 900 { format!("{}…", text.chars().take(900).collect::<String>()) } else { text }
}

fn text_of(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

// ---- a customer's months --------------------------------------------------------------------------

/// One simulated customer: its own user id, address and email, and the oracle's book of its
/// account.
struct Visit<'a> {
    services: &'a Services,
    rules: &'a Rules,
    tally: &'a Tally,
    customer: &'a Customer,
    index: usize,
    user: u64,
    ip: String,
    email: String,
    /// Every request and answer printed (when one customer is replayed).
    trace: bool,
    book: Book,
    /// The readings id each meter's submission of each month answered, while it stands.
    current_ids: BTreeMap<(Month, String), String>,
    /// Every readings id answered, in order. Those no submission has now were replaced by other
    /// figures (the same figures again bring the same id back).
    answered_ids: Vec<String>,
    /// Billing months this customer handed anything in for.
    months_used: BTreeSet<Month>,
    /// Disagreements that left both sides in the same state (both refused, differently): the
    /// customer carries on after them.
    noted: Vec<Mismatch>,
}

type Step<T = ()> = Result<T, Box<Mismatch>>;

impl<'a> Visit<'a> {
    fn show(&self, sent: &str, status: u16, answer: &str) {
        if self.trace {
            println!("> {sent}\n< {status} {answer}");
        }
    }

    fn mismatch(
        &self,
        step: &'static str,
        kind: String,
        sent: String,
        service: String,
        oracle: String,
    ) -> Box<Mismatch> {
        Box::new(Mismatch {
            customer: self.index,
            number: self.customer.number.clone(),
            step,
            kind,
            sent,
            service,
            oracle,
        })
    }

    fn check(&self, step: &'static str, sent: &str, answer: &Value, status: u16, wants: &[(String, Want)]) -> Step {
        Tally::add(&self.tally.steps);
        let expected_status = 200;
        let mut diffs = differences(answer, wants);
        if status != expected_status {
            diffs.insert(0, format!("status: service {status}, oracle {expected_status}"));
        }
        if diffs.is_empty() {
            return Ok(());
        }
        let kind = if status == expected_status {
            let fields: Vec<&str> = diffs.iter().filter_map(|d| d.split(':').next()).collect();
            format!("figures {}", fields.join(" "))
        } else {
            format!("service {status} {}, oracle 200", answer["type"].as_str().unwrap_or_default())
        };
        Err(self.mismatch(step, kind, sent.to_owned(), short(answer), diffs.join("; ")))
    }

    /// A refusal the oracle expects. When the service refused too, but otherwise, nothing was
    /// stored on either side: the disagreement is noted and the customer carries on.
    fn check_refusal(&mut self, step: &'static str, sent: &str, answer: &Value, status: u16, refusal: Refusal) -> Step {
        Tally::add(&self.tally.steps);
        if status == refusal.status && answer["type"] == refusal.type_uri() {
            self.tally.refused(step, refusal);
            return Ok(());
        }
        let kind = format!(
            "service {status} {}, oracle {} {}",
            answer["type"].as_str().unwrap_or_default(),
            refusal.status,
            refusal.type_uri()
        );
        let mismatch = self.mismatch(
            step,
            kind,
            sent.to_owned(),
            format!("{status} {}", short(answer)),
            format!("{} {}", refusal.status, refusal.type_uri()),
        );
        if status >= 400 {
            self.noted.push(*mismatch);
            return Ok(());
        }
        Err(mismatch)
    }

    /// The account's figures as the oracle has them for the billing month of `at`.
    fn account_wants(&self, month: Month, due_field: &str) -> Vec<(String, Want)> {
        vec![
            ("/balance".into(), Want::Money(self.book.balance)),
            ("/chargedByReadings".into(), Want::Money(self.book.charged(month))),
            ("/balanceAfterReadings".into(), Want::Money(self.book.balance_after_readings(month))),
            (format!("/{due_field}"), Want::Money(self.book.due(month))),
        ]
    }

    async fn submit(
        &mut self,
        step: &'static str,
        meter: &MeterModel,
        values: &[(String, u64)],
        confirm: bool,
        at: DateTime<Utc>,
    ) -> Step {
        let typed: Map<String, Value> = values.iter().map(|(z, v)| (z.clone(), json!(v))).collect();
        let body = json!({"meterId": meter.id, "values": typed, "confirmRollover": confirm});
        let sent = format!("POST readings at {at} (Moscow {}) {body}", moscow_date(at));
        let request = Event::new("POST", &format!("/accounts/{}/readings", self.customer.number))
            .vk(&vk_launch(self.user, at))
            .source_ip(&self.ip)
            .body(&body);
        let response = NOW.scope(at, submit_readings::handle(&self.services.readings, request.request())).await;
        let (status, answer) = (response.status().as_u16(), body_json(&response));
        self.show(&sent, status, &answer.to_string());
        let expected = self.rules.readings(self.customer, meter, values, confirm, at);
        let priced = match expected {
            Err(refusal) => return self.check_refusal(step, &sent, &answer, status, refusal),
            Ok(priced) => priced,
        };
        self.months_used.insert(priced.month);
        let mut book = self.book.clone();
        book.accept(&meter.id, &priced);
        let wants = readings_wants(&priced, &book, priced.month);
        self.check(step, &sent, &answer, status, &wants)?;
        *self.tally.accepted.lock().unwrap().entry(step).or_default() += 1;
        self.book = book;
        let id = answer["readingsId"].as_str().unwrap_or_default().to_owned();
        if !self.answered_ids.contains(&id) {
            self.answered_ids.push(id.clone());
        }
        self.current_ids.insert((priced.month, meter.id.clone()), id);
        Ok(())
    }

    /// Readings ids of submissions replaced since, in the order they were answered.
    fn stale_ids(&self) -> Vec<String> {
        let current: BTreeSet<&String> = self.current_ids.values().collect();
        self.answered_ids.iter().filter(|id| !current.contains(id)).cloned().collect()
    }

    async fn look_up(&self, at: DateTime<Utc>) -> Step<Value> {
        let request = Event::new("GET", &format!("/accounts/{}", self.customer.number))
            .vk(&vk_launch(self.user, at))
            .source_ip(&self.ip);
        let response = NOW.scope(at, account_lookup::handle(&self.services.lookup, request.request())).await;
        let (status, answer) = (response.status().as_u16(), body_json(&response));
        self.show(&format!("GET account at {at}"), status, &answer.to_string());
        let month = Month::of(moscow_date(at));
        let mut wants = self.account_wants(month, "amountDue");
        wants.push(("/recommendedAmount".into(), Want::Money(self.book.due(month))));
        for (i, meter) in self.customer.meters.iter().enumerate() {
            // The meter as the export described it, named by its place: its full number, what
            // proves a customer stands at it, is in no answer.
            wants.push((format!("/meters/{i}/ref"), Want::Exactly(json!(i + 1))));
            wants.push((format!("/meters/{i}/id"), Want::Absent));
            wants.push((format!("/meters/{i}/kind"), Want::Exactly(json!(meter.kind.wire()))));
            for (zone, last) in &meter.last {
                let reading = json!({"value": last.value, "date": last.date.to_string()});
                wants.push((format!("/meters/{i}/lastReadings/{zone}"), Want::Exactly(reading)));
            }
            let window = match window_view(meter, moscow_date(at)) {
                WindowView::Days { open, from, to } => {
                    json!({"open": open, "from": from.to_string(), "to": to.to_string()})
                }
                WindowView::Never(reason) => json!({"open": false, "from": null, "to": null, "neverBecause": reason}),
            };
            wants.push((format!("/meters/{i}/readingsWindow"), Want::Exactly(window)));
            let submitted = self.book.submitted(month, &meter.id);
            wants.push((format!("/meters/{i}/submitted/charge"), submitted.map_or(Want::Absent, Want::Money)));
        }
        self.check("look-up", &format!("GET account at {at}"), &answer, status, &wants)?;
        let text = answer.to_string();
        if let Some(meter) = self.customer.meters.iter().find(|m| text.contains(&m.id)) {
            let sent = format!("GET account at {at}");
            return Err(self.mismatch(
                "look-up",
                "full meter number shown".into(),
                sent,
                short(&answer),
                meter.id.clone(),
            ));
        }
        Tally::add(&self.tally.lookups);
        Ok(answer)
    }

    /// `POST /payments` of `amount` (on the real clock): the payment's id and the acquirer's,
    /// or `None` when the oracle says it is refused (and it was).
    async fn pay(&mut self, amount: Decimal, readings_id: Option<&str>, stale: bool) -> Step<Option<(String, u64)>> {
        let mut body = json!({"account": self.customer.number, "amount": format!("{amount:.2}"), "email": self.email});
        if let Some(id) = readings_id {
            body["readingsId"] = json!(id);
        }
        let sent = format!("POST payment {body}");
        let request = Event::new("POST", "/payments")
            .vk(&vk_launch(self.user, Utc::now()))
            .source_ip(&self.ip)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&body);
        let response = pay::handle(&self.services.pay, request.request()).await;
        let (status, answer) = (response.status().as_u16(), body_json(&response));
        self.show(&sent, status, &answer.to_string());
        let refusal = match self.rules.payment(amount) {
            Err(refusal) => Some(refusal),
            Ok(()) if stale => Some(Refusal::INVALID_READINGS_ID),
            Ok(()) => None,
        };
        if let Some(refusal) = refusal {
            return self.check_refusal("payment", &sent, &answer, status, refusal).map(|()| None);
        }
        Tally::add(&self.tally.steps);
        let url = answer["paymentUrl"].as_str().unwrap_or_default();
        let acquirer_id = url.rsplit('/').next().and_then(|id| id.parse::<u64>().ok());
        let created =
            status == 201 && answer["amount"].as_str().and_then(|a| Decimal::from_str(a).ok()) == Some(amount);
        match (created, answer["paymentId"].as_str(), acquirer_id) {
            (true, Some(id), Some(acquirer_id)) => {
                Tally::add(&self.tally.payments);
                Ok(Some((id.to_owned(), acquirer_id)))
            }
            _ => Err(self.mismatch(
                "payment",
                format!("service {status} {}, oracle 201", answer["type"].as_str().unwrap_or_default()),
                sent,
                format!("{status} {}", short(&answer)),
                format!("201, amount {amount:.2}"),
            )),
        }
    }

    async fn notify(&mut self, payment: &mut PaymentBook, ids: &(String, u64), event: BankEvent) -> Step<Delivery> {
        let kopecks = |d: Decimal| (d * Decimal::ONE_HUNDRED).trunc().to_string().parse::<i64>().expect("kopecks");
        let amount = match event {
            BankEvent::PartialRefunded(total) => kopecks(total),
            _ => kopecks(payment.amount),
        };
        let notification = sign_notification(json!({
            "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": ids.0, "Success": true, "Status": event.status(),
            "PaymentId": ids.1, "ErrorCode": "0", "Amount": amount, "CardId": 322264,
            "Pan": "220138******0013", "ExpDate": "1130",
        }));
        let sent = format!(
            "notification {} Amount {amount} of payment {} (paid {:.2})",
            event.status(),
            ids.0,
            payment.amount
        );
        let expected = payment.deliver(event, &mut self.book);
        let response = payment_callback::handle(
            &self.services.callback,
            Event::new("POST", "/callbacks/tbank").body(&notification).request(),
        )
        .await;
        let (status, text) = (response.status().as_u16(), text_of(&response));
        self.show(&sent, status, &text);
        Tally::add(&self.tally.steps);
        Tally::add(&self.tally.notifications);
        let agrees = match expected {
            Delivery::Taken => status == 200 && text == "OK",
            Delivery::Again => status >= 500,
        };
        if !agrees {
            let kind = format!("{}: service {status}, oracle {expected:?}", event.status());
            return Err(self.mismatch("notify", kind, sent, format!("{status} {text}"), format!("{expected:?}")));
        }
        Ok(expected)
    }
}

/// The readings answer as the oracle has it: the submission, then the account's figures with it
/// in place.
fn readings_wants(priced: &Priced, book: &Book, month: Month) -> Vec<(String, Want)> {
    let mut wants = vec![
        ("/billingMonth".into(), Want::Exactly(json!(priced.month.to_string()))),
        ("/values".into(), Want::Exactly(json!(priced.values))),
        (
            "/consumption".into(),
            Want::Exactly(json!(
                priced.lines.iter().map(|(z, l)| (z.clone(), l.consumption)).collect::<BTreeMap<_, _>>()
            )),
        ),
        ("/charge".into(), Want::Money(priced.charge)),
        ("/rollover".into(), Want::Exactly(json!(priced.rollover))),
    ];
    for (zone, line) in &priced.lines {
        let price = |at: String| (at, line.price.map_or(Want::Absent, Want::Money));
        wants.push(price(format!("/tariffs/{zone}")));
        wants.push((format!("/lines/{zone}/consumption"), Want::Exactly(json!(line.consumption))));
        wants.push(price(format!("/lines/{zone}/price")));
        wants.push((format!("/lines/{zone}/amount"), Want::Money(line.amount)));
    }
    for zone in ["T1", "T2", "T3"].iter().filter(|z| !priced.lines.contains_key(**z)) {
        wants.push((format!("/lines/{zone}"), Want::Absent));
    }
    wants.extend([
        ("/balance".into(), Want::Money(book.balance)),
        ("/chargedByReadings".into(), Want::Money(book.charged(month))),
        ("/balanceAfterReadings".into(), Want::Money(book.balance_after_readings(month))),
        ("/amountToPay".into(), Want::Money(book.due(month))),
    ]);
    wants
}

// ---- the draws --------------------------------------------------------------------------------

fn random_time(rng: &mut fastrand::Rng, day: NaiveDate) -> DateTime<Utc> {
    moscow_instant(day, rng.u32(..24), rng.u32(..60), rng.u32(..60))
}

fn day_in(rng: &mut fastrand::Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    from + Duration::days(rng.i64(0..=(to - from).num_days()))
}

/// A random Moscow instant on one of the days `from` ..= `to`.
fn instant_in(rng: &mut fastrand::Rng, from: NaiveDate, to: NaiveDate) -> DateTime<Utc> {
    let day = day_in(rng, from, to);
    random_time(rng, day)
}

/// An instant in (or just around) `month`, weighted to the window's edges: its first Moscow day
/// from 00:00, the minute before, its last day to 23:59:59, the midnight after, the month's end.
/// Named, for the run's figures.
fn pick_instant(rng: &mut fastrand::Rng, meter: &MeterModel, month: Month) -> (DateTime<Utc>, &'static str) {
    let days = meter.window.unwrap_or(DEFAULT_WINDOW);
    let last = month.last_day();
    let clamp = |d: u32| month.first_day() + Duration::days(i64::from(d.min(last.day())) - 1);
    let (from, to) = (clamp(days.0), clamp(days.1));
    let second = rng.choice([0, 59]).unwrap();
    match rng.u8(..100) {
        0..42 => (instant_in(rng, from, to), "inside the window"),
        42..50 => (moscow_instant(from, 0, 0, 0), "first day 00:00:00"),
        50..58 => (moscow_instant(from.pred_opt().unwrap(), 23, 59, second), "day before 23:59"),
        58..66 => (moscow_instant(to, 23, 59, second), "last day 23:59"),
        66..74 => (moscow_instant(to.succ_opt().unwrap(), 0, 0, second % 2), "day after 00:00"),
        74..79 => (moscow_instant(last, 23, 59, 59), "month's last day 23:59:59"),
        79..83 => (moscow_instant(last.succ_opt().unwrap(), 0, 0, 0), "next month's first 00:00"),
        _ => (instant_in(rng, month.first_day(), last), "anywhere in the month"),
    }
}

/// What a customer types for `meter` on the Moscow day of `at`: mostly a month's use, sometimes
/// the same figures, a slip below the last one, a jump no household makes, more digits than the
/// register has, the wrong zones, or a register that went past its last digit.
fn pick_values(
    rng: &mut fastrand::Rng,
    meter: &MeterModel,
    at: DateTime<Utc>,
    max_kwh: u64,
) -> (Vec<(String, u64)>, bool) {
    let today = moscow_date(at);
    let zones = meter.kind.zones();
    let capacity = meter.capacity();
    let months = |zone: &str| months_since(meter.last[zone].date, today);
    let mut wrapped = false;
    let mut values: Vec<(String, u64)> = zones
        .iter()
        .map(|&zone| {
            let last = meter.last[zone].value;
            let usage = rng.u64(0..=350 * months(zone).min(12));
            let mut value = last + usage;
            if let Some(c) = capacity.filter(|c| value >= *c) {
                value -= c;
                wrapped = true;
            }
            (zone.to_owned(), value)
        })
        .collect();
    let one = rng.usize(..values.len());
    let zone = zones[one];
    let last = meter.last[zone].value;
    match rng.u8(..100) {
        0..60 => {}
        60..68 => {
            values = zones.iter().map(|&z| (z.to_owned(), meter.last[z].value)).collect();
            wrapped = false;
        }
        68..76 if last > 0 => {
            values[one].1 = last - rng.u64(1..=last.min(500));
            wrapped = true;
        }
        // Just at the limit (taken), one over, or well over.
        76..83 => {
            let over = rng.u64(2..=2_000);
            values[one].1 = last + max_kwh * months(zone) + rng.choice([0, 1, over]).unwrap();
        }
        83..87 if capacity.is_some() => values[one].1 = capacity.unwrap() + rng.u64(0..1_000),
        87..91 => {
            if values.len() > 1 && rng.bool() {
                values.remove(one);
            } else {
                let extra = ["T2", "T3", "T4"].into_iter().find(|z| !zones.contains(z)).unwrap();
                values.push((extra.to_owned(), rng.u64(..1_000)));
            }
        }
        91..100 if capacity.is_some() => {
            values[one].1 = rng.u64(..300);
            wrapped = true;
        }
        _ => {}
    }
    let confirm = if wrapped { rng.u8(..100) < 75 } else { rng.u8(..100) < 10 };
    (values, confirm)
}

/// The bank's notifications of one payment: AUTHORIZED and CONFIRMED in either order, CONFIRMED
/// again now and then, and for some payments partial refunds (the total given back so far) and a
/// full one, sometimes overtaking the CONFIRMED, sometimes a stale partial one after the full.
fn notification_plan(rng: &mut fastrand::Rng, amount: Decimal) -> Vec<BankEvent> {
    let mut plan = vec![BankEvent::Authorized, BankEvent::Confirmed];
    if rng.bool() {
        plan.swap(0, 1);
    }
    if rng.u8(..100) < 70 {
        let at = rng.usize(1..=plan.len());
        plan.insert(at, BankEvent::Confirmed);
    }
    let paid = (amount * Decimal::ONE_HUNDRED).trunc().to_string().parse::<i64>().expect("kopecks");
    if paid >= 3 && rng.u8(..100) < 45 {
        let first = rng.i64(1..paid - 1);
        let mut refunds = vec![BankEvent::PartialRefunded(Decimal::new(first, 2))];
        if rng.bool() {
            refunds.push(BankEvent::PartialRefunded(Decimal::new(first, 2)));
        }
        if rng.bool() {
            refunds.push(BankEvent::PartialRefunded(Decimal::new(rng.i64(first + 1..paid), 2)));
        }
        if rng.u8(..100) < 60 {
            refunds.push(BankEvent::Refunded);
            if rng.u8(..100) < 30 {
                refunds.push(BankEvent::PartialRefunded(Decimal::new(first, 2)));
            }
        }
        if rng.u8(..100) < 25 {
            // The first refund overtakes every other notification.
            plan.insert(0, refunds.remove(0));
        }
        plan.extend(refunds);
    }
    plan
}

/// Each customer's draws come from its own generator, so the order customers are served in (or
/// serving one alone) never changes them.
fn customer_rng(seed: u64, index: usize) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// One customer's life: one or two billing months of 2025–2026 with readings, a look-up, a
/// payment and its notifications; then a few more readings across 2020–2026 through the handler.
async fn live(visit: &mut Visit<'_>, seed: u64) -> Step {
    let mut rng = customer_rng(seed, visit.index);
    let customer = visit.customer;
    let all_months: Vec<Month> = (0..24).map(|i| Month { year: 2025 + i / 12, month: (i % 12) as u32 + 1 }).collect();
    let how_many = rng.usize(1..=2);
    let mut months: Vec<Month> = rng.choose_multiple(all_months, how_many);
    months.sort();
    for month in months {
        for _ in 0..rng.usize(2..=6) {
            let meter = &customer.meters[rng.usize(..customer.meters.len())];
            let (at, edge) = pick_instant(&mut rng, meter, month);
            visit.tally.instant(edge, meter, month);
            let (values, confirm) = pick_values(&mut rng, meter, at, visit.rules.max_kwh_per_month);
            visit.submit("readings", meter, &values, confirm, at).await?;
        }
        let seen_at = instant_in(&mut rng, month.first_day(), month.last_day());
        let shown = visit.look_up(seen_at).await?;
        let due = money_of(&shown["amountDue"]).expect("compared with the oracle's already");
        let seen_month = Month::of(moscow_date(seen_at));
        let by_readings: Vec<String> =
            visit.current_ids.iter().filter(|((m, _), _)| *m == seen_month).map(|(_, id)| id.clone()).collect();
        let payment = if due > Decimal::ZERO {
            Some((due, rng.choice(by_readings)))
        } else if rng.bool() {
            // Nothing due: the customer types an amount of their own.
            Some((Decimal::new(rng.i64(100..=300_000), 2), None))
        } else {
            None
        };
        if let Some((amount, readings_id)) = payment {
            pay_and_settle(visit, &mut rng, amount, readings_id, seen_at).await?;
        }
        if rng.u8(..100) < 30 {
            // A correction after paying: what is due follows the new figures and the credit.
            let meter = &customer.meters[rng.usize(..customer.meters.len())];
            let (at, edge) = pick_instant(&mut rng, meter, month);
            visit.tally.instant(edge, meter, month);
            let (values, confirm) = pick_values(&mut rng, meter, at, visit.rules.max_kwh_per_month);
            visit.submit("correction", meter, &values, confirm, at).await?;
            visit.look_up(seen_at).await?;
        }
    }
    tariff_days(visit, &mut rng).await
}

/// Pays `amount` (a stale readings id first now and then), then the bank's notifications of the
/// payment, each followed by the look-up at `seen_at`.
async fn pay_and_settle(
    visit: &mut Visit<'_>,
    rng: &mut fastrand::Rng,
    amount: Decimal,
    readings_id: Option<String>,
    seen_at: DateTime<Utc>,
) -> Step {
    let stale = visit.stale_ids();
    if readings_id.is_some() && !stale.is_empty() && rng.u8(..100) < 30 {
        let stale = stale[rng.usize(..stale.len())].clone();
        visit.pay(amount, Some(&stale), true).await?;
    }
    // Payments run on the real clock, after the export (a minute ago) that billed every earlier
    // month: a submission of one is refused by its id, and the customer pays the amount instead.
    let readings_id = match readings_id {
        Some(id) if visit.rules.billed(Month::of(moscow_date(seen_at))) => {
            visit.pay(amount, Some(&id), true).await?;
            None
        }
        other => other,
    };
    let Some(ids) = visit.pay(amount, readings_id.as_deref(), false).await? else { return Ok(()) };
    let mut payment = PaymentBook::new(amount);
    let mut queue: VecDeque<BankEvent> = notification_plan(rng, amount).into();
    let mut deliveries = 0;
    while let Some(event) = queue.pop_front() {
        deliveries += 1;
        assert!(deliveries <= MAX_DELIVERIES, "customer {}: notifications never settled", visit.index);
        if matches!(event, BankEvent::PartialRefunded(_) | BankEvent::Refunded) {
            Tally::add(&visit.tally.refunds);
        }
        if visit.notify(&mut payment, &ids, event).await? == Delivery::Again {
            // The bank delivers it again later.
            Tally::add(&visit.tally.redeliveries);
            queue.push_back(event);
        }
        visit.look_up(seen_at).await?;
    }
    Ok(())
}

/// Readings on a few days across 2020-07 … 2026-12 (the days prices change among them) in
/// months the customer has not used, through the handler: priced as the oracle prices them, or
/// refused with the tariff problem.
async fn tariff_days(visit: &mut Visit<'_>, rng: &mut fastrand::Rng) -> Step {
    let taking: Vec<&MeterModel> = visit.customer.meters.iter().filter(|m| !m.automatic && !m.faulty).collect();
    let Some(&meter) = rng.choice(taking.iter()) else { return Ok(()) };
    let (first, last) = (NaiveDate::from_ymd_opt(2020, 7, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    let mut days: Vec<NaiveDate> =
        visit.rules.tariffs.boundaries().into_iter().filter(|d| *d >= first && *d <= last).collect();
    days.extend((0..8).map(|_| day_in(rng, first, last)));
    rng.shuffle(&mut days);
    let mut done = 0;
    for day in days {
        if done == 3 {
            break;
        }
        if window_check(meter, day).is_err() || visit.months_used.contains(&Month::of(day)) {
            continue;
        }
        let values: Vec<(String, u64)> = meter
            .kind
            .zones()
            .iter()
            .map(|&z| {
                let last = meter.last[z].value;
                let value = last + rng.u64(0..=300);
                (z.to_owned(), if meter.capacity().is_some_and(|c| value >= c) { last } else { value })
            })
            .collect();
        visit.submit("tariff-day", meter, &values, false, random_time(rng, day)).await?;
        done += 1;
    }
    Ok(())
}

// ---- the grid -------------------------------------------------------------------------------

fn zone_set(kind: Kind) -> ZoneSet {
    match kind {
        Kind::Single => ZoneSet::Single,
        Kind::TwoZone => ZoneSet::TwoZone,
        Kind::ThreeZone => ZoneSet::ThreeZone,
    }
}

/// A grid cell where the service and the oracle disagree.
struct GridMismatch {
    cell: String,
    day: NaiveDate,
    service: String,
    oracle: String,
}

/// Consecutive days of one cell with the same disagreement, as one line.
fn grid_ranges(mismatches: &[GridMismatch]) -> Vec<String> {
    let mut lines: Vec<(String, NaiveDate, NaiveDate, String, String)> = Vec::new();
    for m in mismatches {
        match lines.last_mut() {
            Some((cell, _, to, service, oracle))
                if *cell == m.cell && to.succ_opt() == Some(m.day) && *service == m.service && *oracle == m.oracle =>
            {
                *to = m.day;
            }
            _ => lines.push((m.cell.clone(), m.day, m.day, m.service.clone(), m.oracle.clone())),
        }
    }
    lines
        .into_iter()
        .map(|(cell, from, to, service, oracle)| format!("{cell} {from}…{to}: service {service}, oracle {oracle}"))
        .collect()
}

/// Every (group, meter kind) of the population × every day of 2020-07-01 … 2026-12-31: the stored
/// tariffs, loaded as the readings function loads them, price the day as the oracle does, or
/// refuse it with the problem the readings function would answer. Returns (checks, mismatches).
async fn tariff_grid(store: &DynamoStore, customers: &[Customer], tariffs: &Tariffs) -> (u64, Vec<GridMismatch>) {
    let pairs: BTreeSet<(&str, Kind)> =
        customers.iter().flat_map(|c| c.meters.iter().map(move |m| (c.group, m.kind))).collect();
    let cache = TariffCache::new(std::time::Duration::ZERO);
    let (mut checks, mut mismatches) = (0, Vec::new());
    for (group, kind) in pairs {
        let tariff_group = TariffGroup(group.to_owned());
        let table = cache.table(store, &tariff_group).await.expect("the stored tariffs load");
        for zone in kind.zones() {
            let mut day = NaiveDate::from_ymd_opt(2020, 7, 1).unwrap();
            while day <= NaiveDate::from_ymd_opt(2026, 12, 31).unwrap() {
                checks += 1;
                let service = table.price_on(&tariff_group, zone_set(kind), Zone::from_str(zone).unwrap(), day);
                let oracle = tariffs.price(group, kind, zone, day);
                let agrees = match (&service, oracle) {
                    (Ok(price), Some(expected)) => price.amount() == expected,
                    (Err(e), None) => {
                        let problem = Problem::from(e.clone());
                        problem.status.as_u16() == Refusal::TARIFF_NOT_LOADED.status
                            && problem.slug == Refusal::TARIFF_NOT_LOADED.problem
                    }
                    _ => false,
                };
                if !agrees {
                    let service = match service {
                        Ok(price) => price.to_string(),
                        Err(e) => {
                            let p = Problem::from(e);
                            format!("{} {}", p.status.as_u16(), p.slug)
                        }
                    };
                    let oracle = oracle.map_or_else(
                        || format!("{} {}", Refusal::TARIFF_NOT_LOADED.status, Refusal::TARIFF_NOT_LOADED.problem),
                        |p| p.to_string(),
                    );
                    mismatches.push(GridMismatch {
                        cell: format!("{group} {} {zone}", kind.wire()),
                        day,
                        service,
                        oracle,
                    });
                }
                day = day.succ_opt().unwrap();
            }
        }
    }
    (checks, mismatches)
}

// ---- the run --------------------------------------------------------------------------------

struct Shared {
    services: Services,
    rules: Rules,
    tally: Tally,
    customers: Vec<Customer>,
    queue: Mutex<VecDeque<usize>>,
    seed: u64,
    run: u16,
    trace: bool,
}

async fn serve(shared: Arc<Shared>) {
    loop {
        let Some(index) = shared.queue.lock().unwrap().pop_front() else { return };
        let customer = &shared.customers[index];
        let mut visit = Visit {
            services: &shared.services,
            rules: &shared.rules,
            tally: &shared.tally,
            customer,
            index,
            user: u64::from(shared.run) * 100_000 + index as u64 + 1,
            ip: format!("2001:db8:{:x}:{:x}::1", shared.run, index),
            email: format!("population-{}-{index}@example.ru", shared.run),
            trace: shared.trace,
            book: Book::new(customer.balance),
            current_ids: BTreeMap::new(),
            answered_ids: Vec::new(),
            months_used: BTreeSet::new(),
            noted: Vec::new(),
        };
        let stopped = live(&mut visit, shared.seed).await.err();
        shared.tally.mismatches.lock().unwrap().extend(visit.noted.into_iter().chain(stopped.map(|m| *m)));
        Tally::add(&shared.tally.customers_done);
    }
}

/// What the generated base holds, in one line.
fn composition(customers: &[Customer]) -> String {
    let meters: Vec<&MeterModel> = customers.iter().flat_map(|c| &c.meters).collect();
    let count = |f: &dyn Fn(&&MeterModel) -> bool| meters.iter().filter(|m| f(m)).count();
    let groups: Vec<String> = integration_tests::population::model::GROUPS
        .iter()
        .map(|g| format!("{g} {}", customers.iter().filter(|c| c.group == *g).count()))
        .collect();
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("{} {}", k.wire(), count(&|m| m.kind == *k))).collect();
    let debts = customers.iter().filter(|c| c.balance < Decimal::ZERO).count();
    let zero = customers.iter().filter(|c| c.balance.is_zero()).count();
    let near_rollover = count(&|m| m.capacity().is_some_and(|c| m.last.values().any(|r| r.value + 400 >= c)));
    format!(
        "{}; {} meters: {}; own window {} (whole month {}, to the 31st {}), automatic {}, faulty {}, \
         register size known {}, within 400 kWh of rolling over {}; debt {debts}, zero {zero}, credit {}",
        groups.join(", "),
        meters.len(),
        kinds.join(", "),
        count(&|m| m.window.is_some()),
        count(&|m| m.window == Some((1, 31))),
        count(&|m| m.window.is_some_and(|(_, to)| to == 31)),
        count(&|m| m.automatic),
        count(&|m| m.faulty),
        count(&|m| m.digits.is_some()),
        near_rollover,
        customers.len() - debts - zero,
    )
}

fn config_money(name: &str, default: &str) -> Decimal {
    Decimal::from_str(&std::env::var(name).unwrap_or_else(|_| default.to_owned()))
        .unwrap_or_else(|_| panic!("{name} is not an amount"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_seeded_customer_base_when_customers_hand_in_readings_and_pay_then_every_answer_is_the_oracles() {
    let started = Instant::now();
    let knobs = Knobs::from_env();
    println!(
        "population: seed {} (POPULATION_SEED), run {} (POPULATION_RUN), {} accounts, {} customers sampled, {} at once",
        knobs.seed, knobs.run, knobs.accounts, knobs.sample, knobs.workers
    );
    let store = store().await;
    let tariff_table = admin::tariff_import::parse(TARIFF_FILE).expect("the shipped tariffs parse");
    // Pruned, so the stored prices of these groups are exactly the file the oracle reads.
    admin::tariff_import::import(&store, &tariff_table, true).await.expect("tariffs imported");

    // Given the billing export of a seeded customer base, imported as the operator imports it.
    let customers = generator::population(knobs.seed, knobs.accounts, u32::from(knobs.run));
    let exported_at = Utc::now() - Duration::minutes(1);
    // Replaying one customer needs only its account.
    let exported = match knobs.only {
        Some(index) => std::slice::from_ref(&customers[index]),
        None => &customers[..],
    };
    let export_text = generator::export_json(exported, exported_at);
    let import_started = Instant::now();
    let export = admin::billing_export::parse(&export_text).expect("the export is valid");
    let imported = admin::billing_export::import(&store, &export).await.expect("the export imports");
    let import_secs = import_started.elapsed().as_secs_f64();
    assert_eq!(
        imported.written,
        exported.len(),
        "accounts of run {} were in the table already: set another POPULATION_RUN or use a fresh stack",
        knobs.run
    );

    let rules = Rules {
        tariffs: Tariffs::from_json(TARIFF_FILE),
        max_kwh_per_month: knob("READINGS_MAX_KWH_PER_MONTH", 10_000u64),
        payment_min: config_money("PAYMENT_MIN", "1.00"),
        payment_max: config_money("PAYMENT_MAX", "500000.00"),
        export_month: Month::of(moscow_date(exported_at)),
    };

    // When every group and meter kind is priced on every day of 2020-07 … 2026-12.
    let grid_started = Instant::now();
    let (grid_checks, grid_mismatches) = tariff_grid(&store, &customers, &rules.tariffs).await;
    let grid_secs = grid_started.elapsed().as_secs_f64();

    // And a seeded sample of customers hand in readings, look their account up and pay.
    let sample: Vec<usize> = match knobs.only {
        Some(index) => vec![index],
        None => {
            let mut draw = fastrand::Rng::with_seed(knobs.seed);
            let mut sample = draw.choose_multiple(0..customers.len(), knobs.sample);
            sample.sort_unstable();
            sample
        }
    };
    let shared = Arc::new(Shared {
        services: Services::new(rules.max_kwh_per_month).await,
        rules,
        tally: Tally::default(),
        customers,
        queue: Mutex::new(sample.iter().copied().collect()),
        seed: knobs.seed,
        run: knobs.run,
        trace: knobs.only.is_some(),
    });
    let customers_started = Instant::now();
    let workers: Vec<_> = (0..knobs.workers).map(|_| tokio::spawn(serve(Arc::clone(&shared)))).collect();
    for worker in workers {
        worker.await.expect("a worker finished");
    }
    let customers_secs = customers_started.elapsed().as_secs_f64();

    // Then every figure is the oracle's.
    let t = &shared.tally;
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mismatches = t.mismatches.lock().unwrap();
    println!("accounts generated       {} (export {} KiB)", shared.customers.len(), export_text.len() / 1024);
    println!("  {}", composition(&shared.customers));
    println!(
        "accounts imported        {} written, {} already current in {import_secs:.1} s",
        imported.written, imported.already_current
    );
    println!(
        "tariff grid              {grid_checks} (group, kind, zone, day) checks in {grid_secs:.1} s, {} mismatches",
        grid_mismatches.len()
    );
    println!("customers                {} of {} in {customers_secs:.1} s", n(&t.customers_done), sample.len());
    println!("steps checked            {}", n(&t.steps));
    let accepted = t.accepted.lock().unwrap();
    let refused = t.refusals.lock().unwrap();
    for step in ["readings", "correction", "tariff-day"] {
        let taken = accepted.get(step).copied().unwrap_or(0);
        let refusals: u64 =
            refused.iter().filter(|(k, _)| k.split_whitespace().next() == Some(step)).map(|(_, c)| c).sum();
        println!("{:<24} {taken} accepted, {refusals} refused", format!("{step} handed in"));
    }
    println!("look-ups                 {}", n(&t.lookups));
    println!("payments created         {}", n(&t.payments));
    println!(
        "notifications            {} ({} refunds, {} answered 5xx and delivered again)",
        n(&t.notifications),
        n(&t.refunds),
        n(&t.redeliveries)
    );
    println!("instants tried (readings and corrections):");
    for (edge, count) in t.instants.lock().unwrap().iter() {
        println!("  {edge:<48} {count}");
    }
    println!("  of them in a window past a short month's end  {}", n(&t.clamped));
    println!("refusals, as the oracle said:");
    for (kind, count) in refused.iter() {
        println!("  {kind:<48} {count}");
    }
    println!("mismatches               {}", mismatches.len() + grid_mismatches.len());
    for line in grid_ranges(&grid_mismatches) {
        println!("  grid: {line}");
    }
    // Each kind of disagreement once, with its count and the first case to reproduce.
    let mut by_kind: BTreeMap<(&str, &str), (usize, BTreeSet<usize>, &Mismatch)> = BTreeMap::new();
    for m in mismatches.iter() {
        let entry = by_kind.entry((m.step, m.kind.as_str())).or_insert((0, BTreeSet::new(), m));
        entry.0 += 1;
        entry.1.insert(m.customer);
    }
    for ((step, kind), (count, customers, first)) in &by_kind {
        println!(
            "  {step}: {kind}: {count} times, {} customers; first: customer {} (account {})",
            customers.len(),
            first.customer,
            first.number
        );
        println!("    sent:    {}\n    service: {}\n    oracle:  {}", first.sent, first.service, first.oracle);
    }
    println!("wall time                {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        mismatches.is_empty() && grid_mismatches.is_empty(),
        "{} customers and {} grid cells disagree with the oracle (seed {}; replay one customer with POPULATION_ONLY)",
        mismatches.len(),
        grid_mismatches.len(),
        knobs.seed
    );
    assert_eq!(n(&t.customers_done), sample.len() as u64, "every sampled customer was served");
}
