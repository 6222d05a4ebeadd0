//! Someone walking the account-number space through `GET /accounts/{account}`: one user fast and
//! from one address, one user repeating itself (on one function instance and spread over many),
//! many users behind one address, one user rotating addresses, and the Facebook tab's anonymous
//! visitors from one address, from one IPv6 prefix and from many addresses. Against DynamoDB
//! Local, with the budgets of `local.env` and an injected clock, so a whole window's flood and its
//! end take no waiting.
//!
//! Paying and submitting readings also tell whether an account exists, so they draw on the
//! look-up's budgets: one test checks the three share them.
//!
//! Account numbers have no check digit (10 digits, any of them a well-formed number), so the
//! throttle is the only thing between an attacker and the list of existing accounts with their
//! masked addresses and balances. A verified user learns at most its day's distinct accounts, an
//! anonymous caller at most its address's; a crowd of verified users behind one address is
//! tests/tests/crowd.rs.

use account_lookup::{App, handle};
use chrono::{DateTime, Utc};
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, PaymentId};
use energosbyt::edge::MiniAppEdge;
use energosbyt::ports::AccountImport;
use energosbyt::store::DynamoStore;
use integration_tests::*;
use lambda_http::{Body, Response};
use serde_json::json;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use tokio::task::JoinSet;

/// Numbers the single attacker tries (many times its budget); the other scenarios try three
/// times the limit they meet.
const WALK: u64 = 400;
/// Look-ups in flight at once: the attacker does not wait for one answer before the next.
const IN_FLIGHT: usize = 16;
/// Moscow keeps UTC+3 all year: its midnight, computed here rather than asked of the throttle.
const MOSCOW_OFFSET: i64 = 3 * 3600;
const DAY: i64 = 86_400;

thread_local! {
    /// The look-up's clock, in unix seconds. `#[tokio::test]` runs every task of a test on the
    /// test's own thread, so each test moves only its own clock.
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn clock() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW.get(), 0).expect("a valid instant")
}

/// Starts the clock 17 s into a minute of its own, days ahead of the real time and before 23:00
/// Moscow: no earlier run of this test shares its counters, DynamoDB Local's TTL never expires
/// them mid-test, and the day does not end under a test that does not mean it to.
fn start_clock() {
    let random_minute = 1 + (uuid::Uuid::new_v4().as_u128() % 100_000) as i64;
    let mut start = Utc::now().timestamp() + DAY + random_minute * 60;
    start -= start.rem_euclid(60);
    if seconds_to_moscow_midnight_at(start) <= 3600 {
        start -= 3 * 3600;
    }
    NOW.set(start + 17);
}

fn seconds_to_next_minute() -> i64 {
    60 - NOW.get().rem_euclid(60)
}

fn seconds_to_moscow_midnight_at(t: i64) -> i64 {
    DAY - (t + MOSCOW_OFFSET).rem_euclid(DAY)
}

fn seconds_to_moscow_midnight() -> i64 {
    seconds_to_moscow_midnight_at(NOW.get())
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

/// An IPv4 address no other test or run uses (100.64.0.0/10, carrier NAT's own range).
fn fresh_ipv4() -> String {
    let n = random_u64();
    format!("100.{}.{}.{}", 64 + (n >> 16) % 64, (n >> 8) % 256, n % 256)
}

/// Who asks.
#[derive(Clone, Copy)]
enum Who {
    Vk(u64),
    /// A visitor of the Facebook tab who never authorised the app.
    Anonymous,
    /// Such a visitor of the tab on another page than `local.env`'s (the edge set to that page).
    AnonymousOn(u64),
}

/// One request of the flood: who asks, from where, for which number.
struct Attempt {
    number: AccountNumber,
    who: Who,
    ip: String,
}

/// One answer, with what was asked.
struct Answer {
    number: AccountNumber,
    response: Response<Body>,
}

/// Sends every attempt, `IN_FLIGHT` at a time, each signed a moment ago by its caller.
async fn flood(app: &Arc<App<DynamoStore>>, attempts: Vec<Attempt>) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(attempts.len());
    for batch in attempts.chunks(IN_FLIGHT) {
        let mut in_flight = JoinSet::new();
        for attempt in batch {
            let app = Arc::clone(app);
            let event = Event::new("GET", &format!("/accounts/{}", attempt.number)).source_ip(&attempt.ip);
            let event = match attempt.who {
                Who::Vk(user) => event.vk(&vk_launch(user, clock())),
                Who::Anonymous => event.fb(&fb_signed_request(None, clock())),
                Who::AnonymousOn(page) => event.fb(&fb_signed_request_on(&page.to_string(), None, clock())),
            };
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
/// or throttled with an honest Retry-After for the budget it names.
struct Outcome {
    admitted: usize,
    /// The numbers answered (found or not): which of a batch in flight get in is a race.
    answered: BTreeSet<String>,
    learned: BTreeSet<String>,
    /// Refusals by the budget the 429 names.
    refused: BTreeMap<String, usize>,
    /// Both existing and missing accounts were throttled, so their answers were compared.
    compared: bool,
}

fn judge(answers: &[Answer], seeded: &BTreeSet<String>) -> Outcome {
    let mut learned = BTreeSet::new();
    let mut answered = BTreeSet::new();
    let mut admitted = 0;
    let mut refused = BTreeMap::new();
    let mut throttled_existing = Vec::new();
    let mut throttled_missing = Vec::new();
    for Answer { number, response } in answers {
        let exists = seeded.contains(number.digits());
        match response.status().as_u16() {
            200 => {
                assert!(exists, "{number} was shown but never imported");
                assert_eq!(body_json(response)["account"], number.to_string());
                learned.insert(number.digits().to_owned());
                answered.insert(number.digits().to_owned());
                admitted += 1;
            }
            404 => {
                assert!(!exists, "{number} exists but was not found");
                assert_eq!(body_json(response)["type"], "/problems/account-not-found");
                answered.insert(number.digits().to_owned());
                admitted += 1;
            }
            429 => {
                assert_eq!(response.headers()["content-type"], "application/problem+json");
                let body = body_json(response);
                assert_eq!(body["type"], "/problems/too-many-requests");
                assert_eq!(body["status"], 429);
                let budget = body["budget"].as_str().expect("the budget is named").to_owned();
                let retry_after =
                    if budget.ends_with("-per-day") { seconds_to_moscow_midnight() } else { seconds_to_next_minute() };
                assert_eq!(response.headers()["retry-after"], retry_after.to_string().as_str(), "{budget}");
                let title = body["title"].as_str().expect("a title");
                assert!(title.chars().any(|c| matches!(c, 'А'..='я' | 'ё' | 'Ё')), "a Russian title: {title}");
                *refused.entry(budget).or_default() += 1;
                if exists { throttled_existing.push(response) } else { throttled_missing.push(response) }
            }
            other => panic!("{number}: unexpected status {other}: {:?}", response.body()),
        }
    }
    // A throttled look-up of an existing account and of a missing one are the same answer, byte
    // for byte: status, every header, the body (for each budget, which the answer names).
    let fingerprint = |r: &Response<Body>| {
        let mut headers: Vec<String> = r.headers().iter().map(|(k, v)| format!("{k}: {v:?}")).collect();
        headers.sort();
        (r.status(), headers, format!("{:?}", r.body()))
    };
    let mut by_budget: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
    for r in throttled_existing.iter().chain(&throttled_missing) {
        let budget = body_json(r)["budget"].as_str().unwrap_or_default().to_owned();
        by_budget.entry(budget).or_default().insert(fingerprint(r));
    }
    for (budget, distinct) in by_budget {
        assert!(distinct.len() <= 1, "throttled answers of {budget} differ: {distinct:?}");
    }
    Outcome {
        admitted,
        answered,
        learned,
        refused,
        compared: !throttled_existing.is_empty() && !throttled_missing.is_empty(),
    }
}

#[tokio::test]
async fn one_user_walking_numbers_gets_its_days_accounts_then_429_until_moscow_midnight() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let numbers = walk(WALK);
    let seeded = seed_every_25th(&numbers).await;
    let user = vk_user();
    let ip = format!("{}::1", fresh_prefix());

    let attempts = numbers.iter().map(|&number| Attempt { number, who: Who::Vk(user), ip: ip.clone() }).collect();
    let answers = flood(&app, attempts).await;

    let outcome = judge(&answers, &seeded);
    // Under its minute's budget too (10 < 30): the day's distinct accounts are what stop the walk.
    let bound = limits.user_accounts_per_day.min(limits.user_per_minute) as usize;
    assert_eq!(outcome.admitted, bound, "one user gets exactly its day's distinct accounts");
    assert_eq!(outcome.refused.get("user-accounts-per-day"), Some(&(numbers.len() - bound)));
    assert!(outcome.learned.len() <= bound);
    assert!(outcome.compared);

    // Retry-After is honest: a second before Moscow midnight the user is still refused, then
    // served for a number it never had.
    let next = *numbers
        .iter()
        .find(|n| !outcome.answered.contains(n.digits()) && !seeded.contains(n.digits()))
        .expect("a number the walk did not get");
    NOW.set(NOW.get() + seconds_to_moscow_midnight() - 1);
    let early = flood(&app, vec![Attempt { number: next, who: Who::Vk(user), ip: ip.clone() }]).await;
    assert_eq!(early[0].response.status(), 429, "still the same day");
    assert_eq!(early[0].response.headers()["retry-after"], "1");
    NOW.set(NOW.get() + 1);
    let on_time = flood(&app, vec![Attempt { number: next, who: Who::Vk(user), ip: ip.clone() }]).await;
    assert_eq!(on_time[0].response.status(), 404, "served once the day it was told to wait for began");

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
    // The walk's admitted look-ups and the one of the next day.
    assert_eq!(looked_up.count(), bound + 1, "each admitted look-up logged once");
    assert!(logged.contains(&numbers[0].masked()), "{logged}");
    // The walk was reported from the notice threshold on, with the user it came from.
    let noticed = logged.lines().filter(|line| line.contains(&caller) && line.contains("many distinct accounts"));
    assert!(noticed.count() > 0, "a walk is reported");
}

#[tokio::test]
async fn one_user_repeating_its_accounts_gets_one_minutes_budget_then_429_until_the_minute_ends() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let own = walk(3);
    let seeded = seed_every_25th(&own).await;
    let user = vk_user();
    let ip = fresh_ipv4();
    let tries = 3 * limits.user_per_minute as usize;

    let attempts =
        (0..tries).map(|i| Attempt { number: own[i % own.len()], who: Who::Vk(user), ip: ip.clone() }).collect();
    let outcome = judge(&flood(&app, attempts).await, &seeded);

    assert_eq!(outcome.admitted, limits.user_per_minute as usize, "one minute's budget, however few the accounts");
    assert_eq!(outcome.refused.get("user-per-minute"), Some(&(tries - limits.user_per_minute as usize)));

    let wait = seconds_to_next_minute();
    NOW.set(NOW.get() + wait - 1);
    let early = flood(&app, vec![Attempt { number: own[0], who: Who::Vk(user), ip: ip.clone() }]).await;
    assert_eq!(early[0].response.status(), 429, "still the same minute");
    assert_eq!(early[0].response.headers()["retry-after"], "1");
    NOW.set(NOW.get() + 1);
    let on_time = flood(&app, vec![Attempt { number: own[0], who: Who::Vk(user), ip }]).await;
    assert_eq!(on_time[0].response.status(), 200, "served once the minute it was told to wait for began");
}

/// Lambda runs a function in many instances, each holding a reservation of a caller's minute in
/// memory (edge::throttle_lease). A user whose requests land on instance after instance is still
/// served at most one minute's budget in all, and loses at most what each instance reserved and
/// did not use.
#[tokio::test]
async fn one_user_spread_over_many_instances_gets_at_most_one_minutes_budget_in_all() {
    const INSTANCES: usize = 5;
    let first = app().await;
    let limits = first.edge.limits;
    let mut instances = vec![first];
    for _ in 1..INSTANCES {
        instances.push(Arc::new(App { store: instances[0].store.clone(), edge: clocked_edge() }));
    }
    start_clock();
    let own = walk(2);
    let seeded = seed_every_25th(&own).await;
    let user = vk_user();
    let ip = fresh_ipv4();
    let tries = 4 * limits.user_per_minute as usize;

    let mut answers = Vec::with_capacity(tries);
    for i in 0..tries {
        // Bunched a little, as Lambda's routing does: a few requests on one instance, then another.
        let instance = &instances[(i / 3) % INSTANCES];
        let attempt = Attempt { number: own[i % own.len()], who: Who::Vk(user), ip: ip.clone() };
        answers.extend(flood(instance, vec![attempt]).await);
    }
    let outcome = judge(&answers, &seeded);

    let budget = limits.user_per_minute as usize;
    let held_unused =
        INSTANCES * (energosbyt::edge::throttle_lease::largest_grant(limits.user_per_minute) as usize - 1);
    assert!(outcome.admitted <= budget, "{} served, the minute's budget is {budget}", outcome.admitted);
    assert!(
        outcome.admitted + held_unused >= budget,
        "{} served: more lost than the instances can hold",
        outcome.admitted
    );
    assert_eq!(outcome.refused.get("user-per-minute"), Some(&(tries - outcome.admitted)));
}

#[tokio::test]
async fn look_ups_payments_and_readings_share_one_budget_and_the_payment_status_has_its_own() {
    let lookup = app().await;
    let limits = lookup.edge.limits;
    let pay = pay::App {
        store: lookup.store.clone(),
        acquirer: integration_tests::acquirer(),
        edge: clocked_edge(),
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process())
            .expect("local.env sets the payment settings"),
    };
    let readings = submit_readings::App::new(lookup.store.clone(), clocked_edge());
    start_clock();
    let numbers = walk(limits.user_accounts_per_day + 1);
    let (looked_up, fresh) = numbers.split_at(numbers.len() - 1);
    let user = vk_user();
    let ip = format!("{}::1", fresh_prefix());
    let attempts = looked_up.iter().map(|&number| Attempt { number, who: Who::Vk(user), ip: ip.clone() }).collect();
    let answers = flood(&lookup, attempts).await;
    assert!(answers.iter().all(|a| a.response.status() == 404), "the day's accounts all spent on look-ups");

    let payment = |number: AccountNumber| {
        Event::new("POST", "/payments")
            .vk(&vk_launch(user, clock()))
            .source_ip(&ip)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&json!({"account": number.to_string(), "amount": "100.00", "email": "ivanov@example.ru"}))
    };
    let submission = |number: AccountNumber| {
        Event::new("POST", &format!("/accounts/{number}/readings"))
            .vk(&vk_launch(user, clock()))
            .source_ip(&ip)
            .body(&json!({"meterId": "M-1", "values": {"T1": 100}}))
    };
    // A payment and readings ask whether an account exists too: not for one more account today.
    let paid = pay::handle(&pay, payment(fresh[0]).request()).await;
    assert_eq!(paid.status(), 429, "{}", body_json(&paid));
    assert_eq!(body_json(&paid)["budget"], "user-accounts-per-day");
    let submitted = submit_readings::handle(&readings, submission(fresh[0]).request()).await;
    assert_eq!(submitted.status(), 429, "{}", body_json(&submitted));
    assert_eq!(body_json(&submitted)["budget"], "user-accounts-per-day");
    // An account the look-ups counted today is one the payment may ask about: the same set.
    let paid = pay::handle(&pay, payment(looked_up[0]).request()).await;
    assert_eq!(paid.status(), 404, "{}", body_json(&paid));

    // The minute is shared as well: look-ups of that account until the minute is spent ...
    let mut admitted = 0;
    let refusal = loop {
        let attempt = Attempt { number: looked_up[0], who: Who::Vk(user), ip: ip.clone() };
        let answer = flood(&lookup, vec![attempt]).await.pop().expect("an answer");
        if answer.response.status() == 429 {
            break body_json(&answer.response);
        }
        admitted += 1;
        assert!(admitted <= limits.user_per_minute, "the minute's budget was never met");
    };
    assert_eq!(refusal["budget"], "user-per-minute");
    // ... and then neither a payment nor readings for it.
    let paid = pay::handle(&pay, payment(looked_up[0]).request()).await;
    assert_eq!(paid.status(), 429, "{}", body_json(&paid));
    assert_eq!(body_json(&paid)["budget"], "user-per-minute");
    let submitted = submit_readings::handle(&readings, submission(looked_up[0]).request()).await;
    assert_eq!(submitted.status(), 429, "{}", body_json(&submitted));
    assert_eq!(body_json(&submitted)["budget"], "user-per-minute");

    // The return page polls the payment's status; that must not be refused for the look-ups.
    let status =
        Event::new("GET", &format!("/payments/{}", PaymentId::random())).vk(&vk_launch(user, clock())).source_ip(&ip);
    let polled = pay::handle(&pay, status.request()).await;
    assert_eq!(polled.status(), 404, "{}", body_json(&polled));
}

/// Carrier NAT: the address is no budget of a verified user's. Each user behind it walks three
/// times its day's accounts and learns exactly its day's accounts; what the address learns is the
/// users' budgets added up, and each user walking is reported (tests/tests/crowd.rs has the
/// crowd of honest users beside them).
#[tokio::test]
async fn many_verified_users_behind_one_address_are_each_held_to_their_own_days_accounts() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let users: Vec<u64> = (0..20).map(|_| vk_user()).collect();
    let each = 3 * limits.user_accounts_per_day;
    let numbers = walk(each * users.len() as u64);
    let seeded = seed_every_25th(&numbers).await;
    let ip = fresh_ipv4();

    let attempts = numbers.iter().enumerate().map(|(i, &number)| Attempt {
        number,
        who: Who::Vk(users[i / each as usize]),
        ip: ip.clone(),
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded);

    let bound = users.len() * limits.user_accounts_per_day as usize;
    assert_eq!(outcome.admitted, bound, "each user its own day's accounts, the address none of its own");
    assert_eq!(outcome.refused.get("user-accounts-per-day"), Some(&(numbers.len() - bound)));
    assert!(outcome.learned.len() <= bound);
    assert!(outcome.compared);
}

#[tokio::test]
async fn one_user_rotating_addresses_keeps_the_users_budget() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let numbers = walk(3 * limits.user_accounts_per_day);
    let seeded = seed_every_25th(&numbers).await;
    let user = vk_user();

    // A new IPv4 address and a new IPv6 prefix for every look-up.
    let attempts = numbers.iter().enumerate().map(|(i, &number)| {
        let ip = if i % 2 == 0 { fresh_ipv4() } else { format!("{}::2", fresh_prefix()) };
        Attempt { number, who: Who::Vk(user), ip }
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded);

    assert_eq!(outcome.admitted, limits.user_accounts_per_day as usize, "the user's budget, from whatever address");
    assert!(outcome.learned.len() <= limits.user_accounts_per_day as usize);
    assert!(outcome.compared);
}

/// The Facebook tab's visitors who never authorised the app share one identity, so their address
/// is what tells them apart: walking from one address, they learn the address's day of accounts;
/// hammering from it, they get its minute; and neither shuts the tab for another address.
#[tokio::test]
async fn anonymous_visitors_behind_one_address_share_its_budgets_and_leave_the_others_theirs() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let numbers = walk(3 * limits.address_accounts_per_day);
    let seeded = seed_every_25th(&numbers).await;
    let ip = fresh_ipv4();

    let attempts = numbers.iter().map(|&number| Attempt { number, who: Who::Anonymous, ip: ip.clone() });
    let walked = judge(&flood(&app, attempts.collect()).await, &seeded);
    let bound = limits.address_accounts_per_day as usize;
    assert_eq!(walked.admitted, bound, "the address's day of accounts, however many visitors");
    assert_eq!(walked.refused.get("address-accounts-per-day"), Some(&(numbers.len() - bound)));
    assert!(walked.learned.len() <= bound);
    assert!(walked.compared);

    // The accounts it has today, asked again and again: the address's minute.
    let tries = 3 * limits.address_per_minute as usize;
    let had: Vec<AccountNumber> = numbers.iter().filter(|n| walked.answered.contains(n.digits())).copied().collect();
    let attempts = (0..tries).map(|i| Attempt { number: had[i % had.len()], who: Who::Anonymous, ip: ip.clone() });
    let hammered = judge(&flood(&app, attempts.collect()).await, &seeded);
    let minute = limits.address_per_minute as usize - bound;
    assert_eq!(hammered.admitted, minute, "the minute's rest after the walk: refused {:?}", hammered.refused);
    assert_eq!(hammered.refused.get("address-per-minute"), Some(&(tries - minute)));

    // The page's budget was spent only on what the address admitted: a visitor elsewhere is served.
    let elsewhere = flood(&app, vec![Attempt { number: had[0], who: Who::Anonymous, ip: fresh_ipv4() }]).await;
    assert_ne!(elsewhere[0].response.status(), 429, "{:?}", elsewhere[0].response.body());
}

/// An IPv6 subscriber gets a whole /64 and picks any address in it for each request: the
/// per-address limit counts the prefix, or it would count nothing.
#[tokio::test]
async fn anonymous_visitors_rotating_through_one_ipv6_prefix_share_one_address_budget() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let numbers = walk(3 * limits.address_accounts_per_day);
    let seeded = seed_every_25th(&numbers).await;
    let prefix = fresh_prefix();

    let attempts = numbers.iter().map(|&number| {
        let n = random_u64();
        let ip = format!("{prefix}:{:x}:{:x}:{:x}:{:x}", n >> 48, (n >> 32) & 0xffff, (n >> 16) & 0xffff, n & 0xffff);
        Attempt { number, who: Who::Anonymous, ip }
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded);

    assert_eq!(outcome.admitted, limits.address_accounts_per_day as usize, "one /64, one address budget");
    assert!(outcome.learned.len() <= limits.address_accounts_per_day as usize);
    assert!(outcome.compared);
}

/// Spread over many addresses, each within its own budgets, the anonymous visitors of the page
/// still share one: the page's minute.
#[tokio::test]
async fn anonymous_visitors_spread_over_many_addresses_share_the_pages_minute() {
    let app = app().await;
    let limits = app.edge.limits;
    start_clock();
    let per_address = 10;
    let numbers = walk(3 * limits.page_per_minute);
    let seeded = seed_every_25th(&numbers).await;
    let addresses: Vec<String> = (0..numbers.len().div_ceil(per_address)).map(|_| fresh_ipv4()).collect();
    assert!((per_address as u64) < limits.address_accounts_per_day.min(limits.address_per_minute));

    let attempts = numbers.iter().enumerate().map(|(i, &number)| Attempt {
        number,
        who: Who::Anonymous,
        ip: addresses[i / per_address].clone(),
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded);

    assert_eq!(outcome.admitted, limits.page_per_minute as usize, "the page's minute, however many addresses");
    assert_eq!(outcome.refused.get("page-per-minute"), Some(&(numbers.len() - limits.page_per_minute as usize)));
    assert!(outcome.compared);
}

/// Spread over many addresses, each within its own budgets, and slower than the page's minute, the
/// anonymous visitors of the page still share its day of distinct accounts. On a page of its own,
/// with a small day, so no other test's visitors count into it.
#[tokio::test]
async fn anonymous_visitors_spread_over_many_addresses_share_the_pages_day_of_accounts() {
    logs();
    let page = 1 + random_u64() % 1_000_000_000_000;
    let mut edge = clocked_edge();
    edge.auth.fb_page_id = page.to_string();
    edge.limits.page_accounts_per_day = 30;
    let app = Arc::new(App { store: store().await, edge });
    let limits = app.edge.limits;
    start_clock();
    let per_address = 5;
    let numbers = walk(3 * limits.page_accounts_per_day);
    let seeded = seed_every_25th(&numbers).await;
    let addresses: Vec<String> = (0..numbers.len().div_ceil(per_address)).map(|_| fresh_ipv4()).collect();
    assert!((per_address as u64) < limits.address_accounts_per_day.min(limits.address_per_minute));
    assert!((numbers.len() as u64) < limits.page_per_minute, "the page's minute is not what stops them");

    let attempts = numbers.iter().enumerate().map(|(i, &number)| Attempt {
        number,
        who: Who::AnonymousOn(page),
        ip: addresses[i / per_address].clone(),
    });
    let outcome = judge(&flood(&app, attempts.collect()).await, &seeded);

    let bound = limits.page_accounts_per_day as usize;
    assert_eq!(outcome.admitted, bound, "the page's day of accounts, however many addresses");
    assert!(outcome.learned.len() <= bound);
    assert_eq!(outcome.refused.get("page-accounts-per-day"), Some(&(numbers.len() - bound)));
    assert!(outcome.compared);
}

/// Everything the look-ups of every test here log, as the production subscriber writes it (JSON
/// lines, spans listed), at debug level for our own crates. Global, not per test: a thread's own
/// subscriber misses events whose call sites another test's thread reached first.
fn logs() -> &'static CapturedLog {
    static LOGS: OnceLock<CapturedLog> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = CapturedLog::default();
        let subscriber = captured.subscriber("info,energosbyt=debug,account_lookup=debug");
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
        captured
    })
}
