//! Someone walking the account-number space through `GET /accounts/{account}` as fast as the
//! look-up answers: one user from one address, many users behind one address, one user rotating
//! addresses, many users rotating through one IPv6 prefix. Against DynamoDB Local, with the
//! limits of `local.env` and an injected clock, so a whole window's flood and its end take no
//! waiting.
//!
//! Paying and submitting readings also tell whether an account exists, so they draw on the
//! look-up's budget: the last test checks the three share it.
//!
//! Account numbers have no check digit (10 digits, any of them a well-formed number), so the
//! throttle is the only thing between an attacker and the list of existing accounts with their
//! masked addresses and balances.

use account_lookup::{App, handle};
use chrono::{DateTime, Utc};
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, PaymentId};
use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::AccountImport;
use energosbyt::store::DynamoStore;
use integration_tests::*;
use lambda_http::{Body, Response};
use serde_json::json;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::task::JoinSet;

/// Numbers the single attacker tries (over ten times its budget); the other scenarios try three
/// times the limit they meet.
const WALK: u64 = 400;
/// Look-ups in flight at once: the attacker does not wait for one answer before the next.
const IN_FLIGHT: usize = 16;

thread_local! {
    /// The look-up's clock, in unix seconds. `#[tokio::test]` runs every task of a test on the
    /// test's own thread, so each test moves only its own clock.
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn clock() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW.get(), 0).expect("a valid instant")
}

/// Starts the clock 17 s into a window of its own, days ahead of the real time: no earlier run
/// of this test shares its counters, and DynamoDB Local's TTL never expires them mid-test.
fn start_clock(limits: &ThrottleLimits) {
    let random_window = 1 + (uuid::Uuid::new_v4().as_u128() % 100_000) as i64;
    let start = Utc::now().timestamp() + 86_400 + random_window * limits.window_secs;
    NOW.set(start - start.rem_euclid(limits.window_secs) + 17);
}

/// The seconds until the next window, computed here rather than asked of the throttle.
fn seconds_to_next_window(limits: &ThrottleLimits) -> i64 {
    limits.window_secs - NOW.get().rem_euclid(limits.window_secs)
}

/// The mini-app edge of every function here, on the test's clock.
fn clocked_edge() -> MiniAppEdge {
    let mut edge = edge();
    edge.clock = clock;
    edge
}

async fn app() -> Arc<App<DynamoStore>> {
    logs();
    Arc::new(App { store: store().await, edge: clocked_edge() })
}

fn random_u64() -> u64 {
    (uuid::Uuid::new_v4().as_u128() >> 64) as u64
}

/// `count` consecutive well-formed numbers from a random start: what a walk of the space tries.
fn walk(count: u64) -> Vec<AccountNumber> {
    let start = random_u64() % (10_000_000_000 - count);
    (start..start + count).map(|n| format!("{n:010}").parse().expect("10 digits")).collect()
}

/// Every 25th number of the walk made a real account, so most of what the attacker tries does
/// not exist and some of it does, early and late in the walk.
async fn seed_every_25th(numbers: &[AccountNumber]) -> BTreeSet<String> {
    let store = store().await;
    let mut seeded = BTreeSet::new();
    for number in numbers.iter().step_by(25) {
        let meters = vec![meter(json!({"id": "M-1", "zoneSet": "single",
            "lastReadings": {"T1": {"value": 12345, "date": "2026-10-22"}}}))];
        store.import_account(&account(*number, "-1520.37", meters), clock()).await.expect("account imported");
        seeded.insert(number.digits().to_owned());
    }
    seeded
}

/// A VK user id no other test or run uses.
fn vk_user() -> u64 {
    1 + random_u64() % 1_000_000_000_000
}

/// An IPv6 /64 of the documentation range no other test or run uses.
fn fresh_prefix() -> String {
    let n = random_u64();
    format!("2001:db8:{:x}:{:x}", (n >> 16) & 0xffff, n & 0xffff)
}

/// One request of the flood: who asks, from where, for which number.
struct Attempt {
    number: AccountNumber,
    user: u64,
    ip: String,
}

/// One answer, with what was asked.
struct Answer {
    number: AccountNumber,
    response: Response<Body>,
}

/// Sends every attempt, `IN_FLIGHT` at a time, each signed a moment ago by its user.
async fn flood(app: &Arc<App<DynamoStore>>, attempts: Vec<Attempt>) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(attempts.len());
    for batch in attempts.chunks(IN_FLIGHT) {
        let mut in_flight = JoinSet::new();
        for attempt in batch {
            let app = Arc::clone(app);
            let event = Event::new("GET", &format!("/accounts/{}", attempt.number))
                .vk(&vk_launch(attempt.user, clock()))
                .source_ip(&attempt.ip);
            let number = attempt.number;
            in_flight.spawn(async move { Answer { number, response: handle(&app, event.request()).await } });
        }
        while let Some(answer) = in_flight.join_next().await {
            answers.push(answer.expect("a look-up task finished"));
        }
    }
    answers
}

/// What the attacker got out of a flood, after checking every answer is one of the three a
/// look-up may give: the account (only for a seeded number), not found (only for the others),
/// or throttled with an honest Retry-After.
struct Outcome {
    admitted: usize,
    learned: BTreeSet<String>,
    /// Both existing and missing accounts were throttled, so their answers were compared.
    compared: bool,
}

fn judge(answers: &[Answer], seeded: &BTreeSet<String>, limits: &ThrottleLimits) -> Outcome {
    let retry_after = seconds_to_next_window(limits).to_string();
    let mut learned = BTreeSet::new();
    let mut admitted = 0;
    let mut throttled_existing = Vec::new();
    let mut throttled_missing = Vec::new();
    for Answer { number, response } in answers {
        let exists = seeded.contains(number.digits());
        match response.status().as_u16() {
            200 => {
                assert!(exists, "{number} was shown but never imported");
                assert_eq!(body_json(response)["account"], number.to_string());
                learned.insert(number.digits().to_owned());
                admitted += 1;
            }
            404 => {
                assert!(!exists, "{number} exists but was not found");
                assert_eq!(body_json(response)["type"], "/problems/account-not-found");
                admitted += 1;
            }
            429 => {
                assert_eq!(response.headers()["content-type"], "application/problem+json");
                assert_eq!(response.headers()["retry-after"], retry_after.as_str(), "until the next window");
                let body = body_json(response);
                assert_eq!(body["type"], "/problems/too-many-requests");
                assert_eq!(body["status"], 429);
                let title = body["title"].as_str().expect("a title");
                assert!(title.chars().any(|c| matches!(c, 'А'..='я' | 'ё' | 'Ё')), "a Russian title: {title}");
                if exists { throttled_existing.push(response) } else { throttled_missing.push(response) }
            }
            other => panic!("{number}: unexpected status {other}: {:?}", response.body()),
        }
    }
    // A throttled look-up of an existing account and of a missing one are the same answer, byte
    // for byte: status, every header, the body.
    let fingerprint = |r: &Response<Body>| {
        let mut headers: Vec<String> = r.headers().iter().map(|(k, v)| format!("{k}: {v:?}")).collect();
        headers.sort();
        (r.status(), headers, format!("{:?}", r.body()))
    };
    let distinct: BTreeSet<_> = throttled_existing.iter().chain(&throttled_missing).map(|r| fingerprint(r)).collect();
    assert!(distinct.len() <= 1, "throttled answers differ: {distinct:?}");
    Outcome { admitted, learned, compared: !throttled_existing.is_empty() && !throttled_missing.is_empty() }
}

#[tokio::test]
async fn one_user_from_one_address_gets_one_windows_budget_then_429_until_the_window_ends() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock(&limits);
    let numbers = walk(WALK);
    let seeded = seed_every_25th(&numbers).await;
    let user = vk_user();
    let ip = format!("{}::1", fresh_prefix());

    let attempts = numbers.iter().map(|&number| Attempt { number, user, ip: ip.clone() }).collect();
    let answers = flood(&app, attempts).await;

    let outcome = judge(&answers, &seeded, &limits);
    let bound = limits.per_user.min(limits.per_ip) as usize;
    assert_eq!(outcome.admitted, bound, "one user from one address gets exactly one window's budget");
    assert!(outcome.learned.len() <= bound);
    assert!(outcome.compared);

    // Retry-After is honest: a second early the caller is still refused, then served.
    let wait = seconds_to_next_window(&limits);
    let next = numbers[0];
    NOW.set(NOW.get() + wait - 1);
    let early = flood(&app, vec![Attempt { number: next, user, ip: ip.clone() }]).await;
    assert_eq!(early[0].response.status(), 429, "still the same window");
    assert_eq!(early[0].response.headers()["retry-after"], "1");
    NOW.set(NOW.get() + 1);
    let on_time = flood(&app, vec![Attempt { number: next, user, ip: ip.clone() }]).await;
    assert_eq!(on_time[0].response.status(), 200, "served once the window it was told to wait for began");

    // The walk left no account number in the logs in any form; the look-ups that ran are
    // there, by their masked number.
    let logged = logs().text();
    for number in &numbers {
        let digits = number.digits();
        let spaced = format!("{} {} {}", &digits[..5], &digits[5..8], &digits[8..]);
        for form in [digits.to_owned(), number.to_string(), spaced] {
            let line = logged.lines().find(|line| line.contains(&form));
            assert!(line.is_none(), "{form} was logged: {}", line.unwrap_or_default());
        }
    }
    let caller = format!("\"vk:{user}\"");
    let looked_up = logged.lines().filter(|line| {
        line.contains(&caller) && (line.contains("\"account shown\"") || line.contains("\"account not found\""))
    });
    // The walk's admitted look-ups and the one after the window.
    assert_eq!(looked_up.count(), bound + 1, "each admitted look-up logged once");
    assert!(logged.contains(&numbers[0].masked()), "{logged}");
}

#[tokio::test]
async fn look_ups_payments_and_readings_share_one_budget_and_the_payment_status_has_its_own() {
    let lookup = app().await;
    let limits = lookup.edge.limits;
    let pay = pay::App {
        store: lookup.store.clone(),
        acquirer: integration_tests::acquirer(),
        edge: clocked_edge(),
        settings: pay::PaySettings::from_env(&Env::process()).expect("local.env sets the payment settings"),
    };
    let readings = submit_readings::App::new(lookup.store.clone(), clocked_edge());
    start_clock(&limits);
    let numbers = walk(limits.per_user);
    let user = vk_user();
    let ip = format!("{}::1", fresh_prefix());
    let attempts = numbers.iter().map(|&number| Attempt { number, user, ip: ip.clone() }).collect();
    let answers = flood(&lookup, attempts).await;
    assert!(answers.iter().all(|a| a.response.status() == 404), "the whole budget spent on look-ups");

    let number = numbers[0];
    let payment = Event::new("POST", "/payments")
        .vk(&vk_launch(user, clock()))
        .source_ip(&ip)
        .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
        .body(&json!({"account": number.to_string(), "amount": "100.00", "email": "ivanov@example.ru"}));
    let paid = pay::handle(&pay, payment.request()).await;
    assert_eq!(paid.status(), 429, "a payment asks whether the account exists too: {}", body_json(&paid));
    let submission = Event::new("POST", &format!("/accounts/{number}/readings"))
        .vk(&vk_launch(user, clock()))
        .source_ip(&ip)
        .body(&json!({"values": {"T1": 100}}));
    let submitted = submit_readings::handle(&readings, submission.request()).await;
    assert_eq!(submitted.status(), 429, "so does a readings submission: {}", body_json(&submitted));

    // The return page polls the payment's status; that must not be refused for the look-ups.
    let status =
        Event::new("GET", &format!("/payments/{}", PaymentId::random())).vk(&vk_launch(user, clock())).source_ip(&ip);
    let polled = pay::handle(&pay, status.request()).await;
    assert_eq!(polled.status(), 404, "{}", body_json(&polled));
}

#[tokio::test]
async fn many_users_behind_one_address_share_the_address_budget() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock(&limits);
    let numbers = walk(3 * limits.per_ip);
    let seeded = seed_every_25th(&numbers).await;
    let users: Vec<u64> = (0..200).map(|_| vk_user()).collect();
    let per_user = numbers.len().div_ceil(users.len());
    assert!((per_user as u64) < limits.per_user, "no user alone reaches its own limit here");
    let ip = format!("{}::1", fresh_prefix());

    let attempts =
        numbers.iter().enumerate().map(|(i, &number)| Attempt { number, user: users[i % users.len()], ip: ip.clone() });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded, &limits);

    assert_eq!(outcome.admitted, limits.per_ip as usize, "the address's budget, however many users share it");
    assert!(outcome.learned.len() <= limits.per_ip as usize);
    assert!(outcome.compared);
}

#[tokio::test]
async fn one_user_rotating_addresses_keeps_the_users_budget() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock(&limits);
    let numbers = walk(3 * limits.per_user);
    let seeded = seed_every_25th(&numbers).await;
    let user = vk_user();

    // A new IPv4 address and a new IPv6 prefix for every look-up.
    let attempts = numbers.iter().enumerate().map(|(i, &number)| {
        let ip = if i % 2 == 0 {
            let n = random_u64();
            format!("10.{}.{}.{}", (n >> 16) % 256, (n >> 8) % 256, n % 256)
        } else {
            format!("{}::2", fresh_prefix())
        };
        Attempt { number, user, ip }
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded, &limits);

    assert_eq!(outcome.admitted, limits.per_user as usize, "the user's budget, from whatever address");
    assert!(outcome.learned.len() <= limits.per_user as usize);
    assert!(outcome.compared);
}

/// An IPv6 subscriber gets a whole /64 and picks any address in it for each request: the
/// per-address limit counts the prefix, or it would count nothing.
#[tokio::test]
async fn many_users_rotating_through_one_ipv6_prefix_share_one_address_budget() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock(&limits);
    let numbers = walk(3 * limits.per_ip);
    let seeded = seed_every_25th(&numbers).await;
    let users: Vec<u64> = (0..200).map(|_| vk_user()).collect();
    let prefix = fresh_prefix();

    let attempts = numbers.iter().enumerate().map(|(i, &number)| {
        let n = random_u64();
        let ip = format!("{prefix}:{:x}:{:x}:{:x}:{:x}", n >> 48, (n >> 32) & 0xffff, (n >> 16) & 0xffff, n & 0xffff);
        Attempt { number, user: users[i % users.len()], ip }
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded, &limits);

    assert_eq!(outcome.admitted, limits.per_ip as usize, "one /64, one address budget");
    assert!(outcome.learned.len() <= limits.per_ip as usize);
    assert!(outcome.compared);
}

/// Everything the look-ups of every test here log, as the production subscriber writes it (JSON
/// lines, spans listed), at debug level for our own crates. Global, not per test: a thread's own
/// subscriber misses events whose call sites another test's thread reached first.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,energosbyt=debug,account_lookup=debug"))
            .with_span_list(true)
            .with_current_span(false)
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
        captured
    })
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}
