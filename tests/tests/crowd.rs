//! The evening the readings window opens, behind one carrier's address: 2 000 verified VK users
//! share one public IPv4 (CGNAT) and each makes a normal visit — looks the account up, hands in
//! readings, pays what they come to (up to the pay handler's admission: `Apps::pay_admission`) —
//! within ten simulated minutes, and none is refused. In the same minutes, from the same address, one user walks 500
//! numbers and 50 users walk 40 each: every walker learns its day's distinct accounts and no more.
//! From another address the Facebook tab's anonymous caller floods the look-up and gets its
//! address's budget, while 30 anonymous visitors of the tab behind a third address make normal
//! visits within the page's budget, none refused.
//!
//! The handlers run in-process against DynamoDB Local and the sandbox on a simulated clock: each
//! five simulated seconds' requests at once, each on its own second; an interceptor on the
//! DynamoDB client counts the throttle's counter writes per simulated second and per item. The figures are
//! printed (`--nocapture`) and kept in BENCHMARKS.md ("Budgets under a crowd").

use chrono::{DateTime, Datelike, Days, Months, NaiveTime, Utc};
use energosbyt::domain::AccountNumber;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{MiniAppEdge, Problem};
use energosbyt::ports::AccountImport;
use energosbyt::ports::AccountReader;
use energosbyt::store::DynamoStore;
use http::Method;
use integration_tests::*;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinSet;

const CROWD: usize = 2_000;
const SIMULATED_SECS: i64 = 600;
const LONE_WALK: u64 = 500;
const WALKERS: usize = 50;
const WALKER_ACCOUNTS: u64 = 40;
const ANONYMOUS_FLOOD: u64 = 400;
const TAB_VISITORS: usize = 30;
/// Imports in flight at once while the accounts are set up.
const IMPORTS_IN_FLIGHT: usize = 16;

/// Requests of this many simulated seconds run at once. A slot never straddles a minute (the
/// budgets' windows), and a visit's next step is at least this far ahead, so always in a later
/// slot.
const SLOT_SECS: i64 = 5;

/// Where the simulated ten minutes start (unix seconds): the clock outside any request.
static START: AtomicI64 = AtomicI64::new(0);

tokio::task_local! {
    /// The simulated second of the request a task runs.
    static AT: i64;
}

/// The handlers' clock: the second of the request being handled.
fn clock() -> DateTime<Utc> {
    let now = AT.try_with(|at| *at).unwrap_or_else(|_| START.load(Ordering::Relaxed));
    DateTime::from_timestamp(now, 0).expect("a valid instant")
}

fn random_u64() -> u64 {
    (uuid::Uuid::new_v4().as_u128() >> 64) as u64
}

/// An IPv4 address of carrier NAT's own range (100.64.0.0/10) no other run uses.
fn fresh_ipv4() -> String {
    let n = random_u64();
    format!("100.{}.{}.{}", 64 + (n >> 16) % 64, (n >> 8) % 256, n % 256)
}

/// 19:xx Moscow on a day from the 15th to the 24th of next month: readings are open all ten
/// minutes, the day does not end under the run, and the payment form's deadline (the sandbox
/// checks it against its own clock) is less than 90 days ahead. The day and minute are random so
/// that runs on one stack do not share the page's counters.
fn evening_the_window_opens() -> i64 {
    let today = (Utc::now() + MOSCOW).date_naive();
    let first_of_next = today.with_day(1).expect("day 1") + Months::new(1);
    let day = first_of_next + Days::new(14 + random_u64() % 10);
    let at = day.and_time(NaiveTime::from_hms_opt(19, (random_u64() % 50) as u32, 0).expect("a time"));
    (at.and_utc() - MOSCOW).timestamp()
}

/// Moscow keeps UTC+3 all year.
const MOSCOW: chrono::TimeDelta = chrono::TimeDelta::hours(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Population {
    /// Verified VK users behind the carrier's address, one normal visit each.
    Crowd,
    /// One verified user behind the same address, walking numbers.
    LoneWalker,
    /// Verified users behind the same address, each walking numbers.
    Walkers,
    /// The Facebook tab's anonymous caller, flooding from one address.
    AnonymousFlood,
    /// Anonymous visitors of the tab behind one address, one normal visit each.
    TabVisitors,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Vk(u64),
    Anonymous,
}

#[derive(Clone)]
enum Step {
    LookUp,
    Readings {
        value: u64,
    },
    /// By readings when there is an id; a page visitor who never logged in pays what is due.
    Pay {
        amount: String,
        readings_id: Option<String>,
    },
}

/// One request due at a simulated second.
#[derive(Clone)]
struct Task {
    population: Population,
    who: Who,
    ip: Arc<str>,
    number: AccountNumber,
    step: Step,
    /// A visit goes on to its next step; a walk or a flood does not.
    visit: bool,
}

struct Apps {
    lookup: account_lookup::App<DynamoStore>,
    readings: submit_readings::App<DynamoStore>,
    /// The pay function's edge, configured as `pay::App::from_env` configures it.
    pay_edge: MiniAppEdge,
    store: DynamoStore,
    page: String,
}

impl Apps {
    /// `POST /payments` up to the pay handler's admission: its edge, its scope, the account it
    /// names and the read it starts with, as `pay::handle` has them. What follows (idempotency
    /// records, the payment, the sandbox's `Init`) touches no budget, and through `Init` the run
    /// took over a minute and a half on this machine. 202 for an admitted payment.
    async fn pay_admission(&self, number: AccountNumber, event: Event) -> Response<Body> {
        let store = &self.store;
        self.pay_edge
            .serve(store, ThrottleScope::Accounts, &[Method::POST], event.request(), |_, context| async move {
                match context.admission.read(Some(&number), store.account(&number)).await? {
                    Ok(Some(_)) => Ok(Response::builder().status(202).body(Body::Empty).expect("a response")),
                    Ok(None) => Err(Problem::account_not_found()),
                    Err(_) => Err(Problem::unavailable()),
                }
            })
            .await
    }

    /// The answer to `task`, and the visit's next step with its delay, if any.
    async fn run(&self, task: &Task) -> (u16, Value, Option<(i64, Task)>) {
        let event = match &task.step {
            Step::LookUp => Event::new("GET", &format!("/accounts/{}", task.number)),
            Step::Readings { value } => Event::new("POST", &format!("/accounts/{}/readings", task.number))
                .body(&json!({"meterId": "M-1", "values": {"T1": value}})),
            Step::Pay { amount, readings_id } => {
                let mut body = json!({"account": task.number.to_string(), "amount": amount,
                                      "email": "customer@example.ru"});
                if let Some(id) = readings_id {
                    body["readingsId"] = json!(id);
                }
                Event::new("POST", "/payments").header("idempotency-key", &uuid::Uuid::new_v4().to_string()).body(&body)
            }
        };
        let event = match task.who {
            Who::Vk(user) => event.vk(&vk_launch(user, clock())),
            Who::Anonymous => event.fb(&fb_signed_request_on(&self.page, None, clock())),
        }
        .source_ip(&task.ip);
        let response: Response<Body> = match task.step {
            Step::LookUp => account_lookup::handle(&self.lookup, event.request()).await,
            Step::Readings { .. } => submit_readings::handle(&self.readings, event.request()).await,
            Step::Pay { .. } => self.pay_admission(task.number, event).await,
        };
        let status = response.status().as_u16();
        let body = body_json(&response);
        let next = match (&task.step, status, task.visit) {
            // Readings need a logged-in user: a page visitor who never logged in pays what is due.
            (Step::LookUp, 200, true) if task.who == Who::Anonymous => {
                let amount = body["amountDue"].as_str().filter(|a| *a != "0.00").unwrap_or("100.00").to_owned();
                Some((
                    5 + (random_u64() % 26) as i64,
                    Task { step: Step::Pay { amount, readings_id: None }, ..task.clone() },
                ))
            }
            (Step::LookUp, 200, true) => Some((
                10 + (random_u64() % 31) as i64,
                Task { step: Step::Readings { value: LAST_READING + 150 }, ..task.clone() },
            )),
            (Step::Readings { .. }, 200, true) => {
                let amount = body["amountToPay"].as_str().expect("an amount to pay").to_owned();
                let readings_id = Some(body["readingsId"].as_str().expect("a readings id").to_owned());
                Some((5 + (random_u64() % 26) as i64, Task { step: Step::Pay { amount, readings_id }, ..task.clone() }))
            }
            _ => None,
        };
        (status, body, next)
    }
}

const LAST_READING: u64 = 12_345;

/// What each population got.
#[derive(Default, Debug)]
struct Tally {
    requests: usize,
    by_status: BTreeMap<u16, usize>,
    /// Refusals by the budget the 429 names.
    by_budget: BTreeMap<String, usize>,
}

/// Counts the throttle's counter writes (`UpdateItem` of a `THROTTLE#` item) by simulated second
/// and item, failed conditional writes included: DynamoDB charges them as writes too.
#[derive(Clone, Debug, Default)]
struct CounterWrites(Arc<Mutex<Vec<(i64, String)>>>);

impl aws_sdk_dynamodb::config::Intercept for CounterWrites {
    fn name(&self) -> &'static str {
        "CounterWrites"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let update = request.headers().get("x-amz-target").is_some_and(|t| t.ends_with(".UpdateItem"));
        if let (true, Some(bytes)) = (update, request.body().bytes()) {
            let body: Value = serde_json::from_slice(bytes)?;
            if let Some(pk) = body["Key"]["PK"]["S"].as_str().filter(|pk| pk.starts_with("THROTTLE#")) {
                self.0.lock().expect("counter writes").push((clock().timestamp(), pk.to_owned()));
            }
        }
        Ok(())
    }
}

/// Imports one account per number, each with one single-rate meter read last month, priced by
/// the tests' own group (its prices have no end date).
async fn import_accounts(store: &DynamoStore, numbers: &[AccountNumber], last_read: &str) {
    for batch in numbers.chunks(IMPORTS_IN_FLIGHT) {
        let mut imports = JoinSet::new();
        for &number in batch {
            let store = store.clone();
            let meters = vec![meter(json!({"id": "M-1", "zoneSet": "single", "digits": 6,
                "lastReadings": {"T1": {"value": LAST_READING, "date": last_read}}}))];
            let account = account_with_all_zone_prices(number, "-250.00", meters);
            imports.spawn(async move { store.import_account(&account, clock()).await.expect("account imported") });
        }
        while let Some(done) = imports.join_next().await {
            done.expect("an import finished");
        }
    }
}

/// `count` consecutive well-formed numbers from a random start: what a walk of the space tries.
fn walk(count: u64) -> Vec<AccountNumber> {
    let start = random_u64() % (10_000_000_000 - count);
    (start..start + count).map(|n| format!("{n:010}").parse().expect("10 digits")).collect()
}

fn sim_edge(page: &str) -> MiniAppEdge {
    let mut edge = edge();
    edge.clock = clock;
    // A page of this run's own, so no other run's anonymous visitors share its budget.
    edge.auth.fb_page_id = page.to_owned();
    edge
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_behind_one_address_is_served_while_walkers_and_floods_beside_it_are_refused() {
    let started = Instant::now();
    let start = evening_the_window_opens();
    START.store(start, Ordering::Relaxed);
    let page = format!("{}", 100_000_000_000_000 + random_u64() % 800_000_000_000_000);
    let writes = CounterWrites::default();
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(writes.clone()).build(),
    );
    let store = DynamoStore::new(client, env("TABLE_NAME"));
    let apps = Arc::new(Apps {
        lookup: account_lookup::App { store: store.clone(), edge: sim_edge(&page) },
        readings: submit_readings::App::new(store.clone(), sim_edge(&page)),
        pay_edge: sim_edge(&page),
        store: store.clone(),
        page: page.clone(),
    });
    let limits = apps.lookup.edge.limits;

    // ---- accounts: one for each visitor of the crowd and of the tab
    tariffs_loaded().await;
    let last_read = ((clock() + MOSCOW).date_naive() - Days::new(25)).to_string();
    let crowd_accounts: Vec<AccountNumber> = (0..CROWD).map(|_| fresh_account_number()).collect();
    let tab_accounts: Vec<AccountNumber> = (0..TAB_VISITORS).map(|_| fresh_account_number()).collect();
    import_accounts(&store, &crowd_accounts, &last_read).await;
    import_accounts(&store, &tab_accounts, &last_read).await;
    let set_up = started.elapsed();
    writes.0.lock().expect("counter writes").clear();

    // ---- the ten minutes' schedule, by simulated second
    let mut due: BTreeMap<i64, Vec<Task>> = BTreeMap::new();
    let carrier: Arc<str> = fresh_ipv4().into();
    let flood_address: Arc<str> = fresh_ipv4().into();
    let tab_address: Arc<str> = fresh_ipv4().into();
    let task = |population, who, ip: &Arc<str>, number, visit| Task {
        population,
        who,
        ip: Arc::clone(ip),
        number,
        step: Step::LookUp,
        visit,
    };
    // Arrivals before 520 s leave each visit's readings (10–40 s later) and payment (5–30 s
    // after those) inside the ten minutes.
    for &number in &crowd_accounts {
        let user = 1 + random_u64() % 1_000_000_000_000;
        let at = (random_u64() % 520) as i64;
        due.entry(at).or_default().push(task(Population::Crowd, Who::Vk(user), &carrier, number, true));
    }
    for &number in &tab_accounts {
        let at = (random_u64() % 520) as i64;
        due.entry(at).or_default().push(task(Population::TabVisitors, Who::Anonymous, &tab_address, number, true));
    }
    let lone = Who::Vk(1 + random_u64() % 1_000_000_000_000);
    for (i, number) in walk(LONE_WALK).into_iter().enumerate() {
        let at = i as i64 * SIMULATED_SECS / LONE_WALK as i64;
        due.entry(at).or_default().push(task(Population::LoneWalker, lone, &carrier, number, false));
    }
    for w in 0..WALKERS {
        let walker = Who::Vk(1 + random_u64() % 1_000_000_000_000);
        for (k, number) in walk(WALKER_ACCOUNTS).into_iter().enumerate() {
            let at = k as i64 * (SIMULATED_SECS / WALKER_ACCOUNTS as i64) + (w as i64 % 15);
            due.entry(at).or_default().push(task(Population::Walkers, walker, &carrier, number, false));
        }
    }
    // Two minutes of it, 200 a minute, each look-up another number.
    for (i, number) in walk(ANONYMOUS_FLOOD).into_iter().enumerate() {
        let at = i as i64 * 120 / ANONYMOUS_FLOOD as i64;
        due.entry(at).or_default().push(task(
            Population::AnonymousFlood,
            Who::Anonymous,
            &flood_address,
            number,
            false,
        ));
    }

    // ---- run: each slot's requests at once, each on its own second of the clock, then the next
    let mut tallies: BTreeMap<Population, Tally> = BTreeMap::new();
    let mut admitted_per_walker: HashMap<u64, usize> = HashMap::new();
    // What one counter per address would have taken: every request from behind the carrier's.
    let mut behind_carrier: BTreeMap<i64, usize> = BTreeMap::new();
    let mut last_second = 0;
    let running = Instant::now();
    while let Some(&first) = due.keys().next() {
        let slot_end = first - first.rem_euclid(SLOT_SECS) + SLOT_SECS;
        let mut in_flight = JoinSet::new();
        while let Some(entry) = due.first_entry().filter(|entry| *entry.key() < slot_end) {
            let (second, tasks) = entry.remove_entry();
            assert!(second < SIMULATED_SECS, "everything happens within the ten minutes");
            last_second = second;
            for task in tasks {
                let apps = Arc::clone(&apps);
                in_flight.spawn(AT.scope(start + second, async move {
                    let (status, body, next) = apps.run(&task).await;
                    (second, task, status, body, next)
                }));
            }
        }
        while let Some(done) = in_flight.join_next().await {
            let (second, task, status, body, next) = done.expect("a request finished");
            if task.ip == carrier {
                *behind_carrier.entry(second).or_default() += 1;
            }
            let tally = tallies.entry(task.population).or_default();
            tally.requests += 1;
            *tally.by_status.entry(status).or_default() += 1;
            if status == 429 {
                let budget = body["budget"].as_str().expect("a 429 names its budget").to_owned();
                *tally.by_budget.entry(budget).or_default() += 1;
            } else if let (Population::LoneWalker | Population::Walkers, Who::Vk(user)) = (task.population, task.who) {
                *admitted_per_walker.entry(user).or_default() += 1;
            }
            if let Some((delay, next)) = next {
                assert!(second + delay >= slot_end, "a visit's next step is in a later slot");
                due.entry(second + delay).or_default().push(next);
            }
        }
    }
    let ran = running.elapsed();

    // ---- figures
    let writes = writes.0.lock().expect("counter writes").clone();
    let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
    let mut per_item_second: HashMap<(&str, i64), usize> = HashMap::new();
    let mut per_item_minute: HashMap<(&str, i64), usize> = HashMap::new();
    for (at, pk) in &writes {
        let second = at - start;
        *per_second.entry(second).or_default() += 1;
        *per_item_second.entry((pk.as_str(), second)).or_default() += 1;
        *per_item_minute.entry((pk.as_str(), second / 60)).or_default() += 1;
    }
    let (peak_second, peak) = per_second.iter().max_by_key(|(_, n)| **n).map(|(s, n)| (*s, *n)).unwrap_or_default();
    let peak_item_second = per_item_second.values().copied().max().unwrap_or_default();
    let ((busiest_item, _), peak_item_minute) =
        per_item_minute.iter().max_by_key(|(_, n)| **n).map(|(k, n)| (*k, *n)).unwrap_or_default();
    let items: std::collections::HashSet<&str> = writes.iter().map(|(_, pk)| pk.as_str()).collect();
    let requests: usize = tallies.values().map(|t| t.requests).sum();
    println!("crowd simulation: {requests} requests in {SIMULATED_SECS} simulated seconds (last at {last_second} s)");
    println!("| population | requests | answers | 429 by budget |");
    println!("|---|---:|---|---|");
    for (population, tally) in &tallies {
        println!("| {population:?} | {} | {:?} | {:?} |", tally.requests, tally.by_status, tally.by_budget);
    }
    println!(
        "counter writes: {} on {} items; {:.1}/s on average; peak {peak}/s (at {peak_second} s); \
         one item at most {peak_item_second}/s and {peak_item_minute}/min ({})",
        writes.len(),
        items.len(),
        writes.len() as f64 / SIMULATED_SECS as f64,
        busiest_item.split('#').take(3).collect::<Vec<_>>().join("#"),
    );
    println!(
        "behind the carrier's address: {} requests, at most {}/s: one counter item per address would take them all",
        behind_carrier.values().sum::<usize>(),
        behind_carrier.values().copied().max().unwrap_or_default(),
    );
    println!(
        "wall time: {:.1} s set-up (tariffs, {} accounts), {:.1} s simulated run, {:.1} s in all",
        set_up.as_secs_f64(),
        CROWD + TAB_VISITORS,
        ran.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    // ---- what the budgets must have done
    let tally = |population| tallies.get(&population).expect("the population ran");
    let crowd = tally(Population::Crowd);
    assert_eq!(crowd.requests, 3 * CROWD, "every visit took its three steps: {:?}", crowd.by_status);
    assert_eq!(crowd.by_status.get(&429), None, "no one of the crowd is refused: {:?}", crowd.by_status);
    assert_eq!(crowd.by_status.get(&202), Some(&CROWD), "every payment admitted: {:?}", crowd.by_status);
    assert_eq!(crowd.by_status.get(&200), Some(&(2 * CROWD)), "{:?}", crowd.by_status);

    let visitors = tally(Population::TabVisitors);
    // A look-up and a payment each: readings need a logged-in user.
    assert_eq!(visitors.requests, 2 * TAB_VISITORS, "{:?}", visitors.by_status);
    assert_eq!(
        visitors.by_status.get(&202),
        Some(&TAB_VISITORS),
        "the tab's visitors' payments admitted: {:?}",
        visitors.by_status
    );

    let day = limits.user_accounts_per_day as usize;
    let lone_walker = tally(Population::LoneWalker);
    assert_eq!(lone_walker.by_budget.get("user-accounts-per-day"), Some(&(LONE_WALK as usize - day)));
    let Who::Vk(lone_user) = lone else { unreachable!("the lone walker is a VK user") };
    assert_eq!(admitted_per_walker.get(&lone_user), Some(&day), "the lone walker learns its day's accounts");

    let walkers = tally(Population::Walkers);
    assert_eq!(walkers.by_budget.get("user-accounts-per-day"), Some(&(WALKERS * (WALKER_ACCOUNTS as usize - day))));
    let held: Vec<_> = admitted_per_walker.iter().filter(|(user, _)| **user != lone_user).map(|(_, n)| *n).collect();
    assert_eq!(held.len(), WALKERS);
    assert!(held.iter().all(|&n| n == day), "each walker learns exactly its day's accounts: {held:?}");

    let flood = tally(Population::AnonymousFlood);
    let address_day = limits.address_accounts_per_day as usize;
    assert_eq!(flood.by_budget.get("address-accounts-per-day"), Some(&(ANONYMOUS_FLOOD as usize - address_day)));
    assert_eq!(flood.requests - flood.by_status.get(&429).copied().unwrap_or(0), address_day);
}
