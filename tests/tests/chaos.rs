//! Fault injection: money is credited exactly once and every due email goes out exactly once
//! while the infrastructure fails under load. Runs on the chaos stack only (`scripts/chaos.sh`),
//! because it kills that stack's DynamoDB Local.
//!
//! 1. **Pay**: customers start payments through `pay::handle`, by card or (a share of them) through
//!    СБП, while the acquirer's `Init` and `GetQr` answer HTTP 500, then hang past the client's
//!    timeout (they do the work and answer late). Each customer retries with the same
//!    `Idempotency-Key` until it gets the form URL or the СБП link; afterwards the bank must hold
//!    exactly one payable payment per key.
//! 2. **Card and СБП**: every payment is paid, on the acquirer sandbox's form or in its bank-app
//!    page (some partly refunded after). The sandbox's own notifications go to a port where
//!    nothing listens: all missed.
//! 3. **Storm**: the sandbox's signed notifications (AUTHORIZED, CONFIRMED, RECEIPT, refunds) for
//!    most payments, with duplicates, shuffled, sent by concurrent senders through
//!    `payment_callback::handle`; each sender delivers again whatever was not answered `OK`, as
//!    the bank does. Mid-storm DynamoDB Local is SIGKILLed and restarted on its files, and later
//!    the mail service is down for a while (a TCP proxy between the SES client and moto refuses
//!    and cuts connections).
//! 4. **Reconciliation**: the payments that got no notification at all are settled by
//!    `reconcile_payments` asking the sandbox; its first round runs while the mail service is
//!    down. Then the bank's late deliveries of those payments arrive and change no money.
//! 5. **Checks**: every balance to the kopeck, one ledger entry per movement, every payment's
//!    status, the mail moto received (one "payment received" and one receipt per payment, none
//!    for replaced payments), nothing left pending, one payable bank payment per key; and that
//!    the faults really happened (answers refused during each outage).
//!
//! Knobs (environment): `CHAOS_PAYMENTS` (200), `CHAOS_SENDERS` (8), `CHAOS_DUPLICATES` (0.30),
//! `CHAOS_UNNOTIFIED` (0.10, the share settled only by reconciliation), `CHAOS_REFUNDS` (0.10),
//! `CHAOS_INIT_HTTP500` and `CHAOS_INIT_TIMEOUTS` (faulty `Init` answers; default a tenth and a
//! twentieth of the payments), `CHAOS_SBP` (0.30, the share paid through СБП),
//! `CHAOS_GET_QR_HTTP500` and `CHAOS_GET_QR_TIMEOUTS` (faulty `GetQr` answers; default a twentieth
//! and a fortieth of the payments), `CHAOS_DB_DOWN_SECS` (1), `CHAOS_MAIL_DOWN_SECS` (3),
//! `CHAOS_SEED`.

use benches::nearest_rank;
use chrono::{TimeDelta, Utc};
use energosbyt::acquirer::{Acquirer, CancelRequest, PaymentId as AcquirerPaymentId, TbankClient, TbankSettings};
use energosbyt::app::reconciliation::Reconciler;
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, Money, PayMethod, PaymentId, PaymentStatus};
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailError, MailFrom, MailSender, Mailer, MessageId, OutgoingEmail};
use energosbyt::ports::ledger::{CustomerEmail, EmailMark, LedgerReader, Movement, PaymentLedger, PendingPayments};
use energosbyt::ports::{AccountImport, AccountReader};
use energosbyt::store::DynamoStore;
use integration_tests::{CapturedLog, Event, account, body_json, edge, env, vk_launch};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The card that pays at once (3-D Secure without a code).
const GOOD_CARD: &str = "2201382000000013";
/// The pay function's acquirer client gives up on `Init` after this long.
const INIT_TIMEOUT: Duration = Duration::from_secs(1);
/// A claim on an email older than this is taken over. Production waits 5 minutes; the run
/// stands in for the bank's hourly re-delivery with this, still above the mail client's own
/// 6 s limit, so a live sender never loses its claim.
const EMAIL_CLAIM_TIMEOUT: TimeDelta = TimeDelta::seconds(15);
/// A customer (or the bank) gives up on one payment or notification after this many tries.
const MAX_TRIES: u32 = 400;

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        Err(_) => default,
    }
}

#[derive(Debug, Clone, Copy)]
struct Knobs {
    payments: usize,
    senders: usize,
    duplicates: f64,
    unnotified: f64,
    refunds: f64,
    init_http500: usize,
    init_timeouts: usize,
    sbp: f64,
    get_qr_http500: usize,
    get_qr_timeouts: usize,
    db_down: Duration,
    mail_down: Duration,
    seed: u64,
}

impl Knobs {
    fn from_env() -> Self {
        let payments: usize = knob("CHAOS_PAYMENTS", 200);
        Self {
            payments,
            senders: knob("CHAOS_SENDERS", 8),
            duplicates: knob("CHAOS_DUPLICATES", 0.30),
            unnotified: knob("CHAOS_UNNOTIFIED", 0.10),
            refunds: knob("CHAOS_REFUNDS", 0.10),
            init_http500: knob("CHAOS_INIT_HTTP500", (payments / 10).max(1)),
            init_timeouts: knob("CHAOS_INIT_TIMEOUTS", (payments / 20).clamp(1, 40)),
            sbp: knob("CHAOS_SBP", 0.30),
            get_qr_http500: knob("CHAOS_GET_QR_HTTP500", (payments / 20).max(1)),
            get_qr_timeouts: knob("CHAOS_GET_QR_TIMEOUTS", (payments / 40).clamp(1, 20)),
            db_down: Duration::from_secs_f64(knob("CHAOS_DB_DOWN_SECS", 1.0)),
            mail_down: Duration::from_secs_f64(knob("CHAOS_MAIL_DOWN_SECS", 3.0)),
            seed: knob("CHAOS_SEED", Utc::now().timestamp_micros() as u64),
        }
    }
}

// ---- the functions' own log lines --------------------------------------------------------------

/// The functions' log lines of the run (without the per-call "outside call" lines), kept so that a
/// payment found wrong is printed with its own.
struct RunLog(CapturedLog);

impl RunLog {
    fn keep() -> Self {
        let log = CapturedLog::default();
        let subscriber = log.subscriber("info,energosbyt::outside_calls=warn");
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
        Self(log)
    }

    /// Each payment's credits as the settlement logged them, read once for all the checks.
    fn credits(&self) -> HashMap<String, Credits> {
        let mut credits: HashMap<String, Credits> = HashMap::new();
        for line in self.0.text().lines() {
            let Some(id) = line.split(r#""payment_id":""#).nth(1).and_then(|rest| rest.split('"').next()) else {
                continue;
            };
            let entry = credits.entry(id.to_owned()).or_default();
            if line.contains(r#""effect":"credited""#) {
                entry.times += 1;
                entry.receipts_before_last += entry.receipts_since_last;
                entry.receipts_since_last = 0;
            } else if line.contains(r#""email":"fiscal_receipt""#) && line.contains("customer email sent") {
                entry.receipts_since_last += 1;
            }
        }
        credits
    }

    /// The lines naming `needle`, and every line about an email's mark or claim (they name no
    /// payment), in the order written.
    fn lines_about(&self, needle: &str) -> Vec<String> {
        self.0
            .text()
            .lines()
            .filter(|line| line.contains(needle) || line.contains("marked sent") || line.contains("taken over"))
            .map(str::to_owned)
            .collect()
    }
}

/// How often a payment was credited, as logged, and how many of its receipt emails went out
/// before its last credit.
#[derive(Default)]
struct Credits {
    times: usize,
    receipts_before_last: u32,
    receipts_since_last: u32,
}

// ---- the mail service, through a proxy that can fail ------------------------------------------

/// A loopback TCP proxy in front of moto. While down it resets every new connection and cuts an
/// open one before the next request reaches moto, so a message is either wholly with moto or
/// not there at all; an answer already on its way still gets through.
struct MailProxy {
    url: String,
    down: watch::Sender<bool>,
    refused: Arc<AtomicU64>,
}

impl MailProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the mail proxy");
        let url = format!("http://{}", listener.local_addr().expect("the proxy's address"));
        let (down, watching) = watch::channel(false);
        let refused = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&refused);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watching.borrow() {
                    counter.fetch_add(1, Ordering::Relaxed);
                    reset(client);
                    continue;
                }
                let (watching, counter) = (watching.clone(), Arc::clone(&counter));
                tokio::spawn(async move {
                    if relay(client, upstream, watching).await {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        Self { url, down, refused }
    }

    fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

/// Closes with RST rather than FIN: the client sees a refused or reset connection at once.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
}

/// Relays one connection; true when it was cut because the proxy went down.
async fn relay(client: TcpStream, upstream: SocketAddr, watching: watch::Receiver<bool>) -> bool {
    let Ok(server) = TcpStream::connect(upstream).await else {
        reset(client);
        return true;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = client_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                return false;
            }
            if *watching.borrow() {
                return true;
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                return false;
            }
        }
    };
    let answers = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        false
    };
    let cut = tokio::select! {
        cut = requests => cut,
        cut = answers => cut,
    };
    if cut && let Ok(client) = client_read.reunite(client_write) {
        reset(client);
    }
    cut
}

/// The SES client as the functions build it, pointed at the proxy.
async fn proxied_ses(proxy: &MailProxy) -> SesMailer {
    let shared = aws_config::load_from_env().await;
    let config = SesMailer::client_config(&shared).endpoint_url(&proxy.url).build();
    SesMailer::new(aws_sdk_ses::Client::from_conf(config), env("SES_SENDER"))
}

/// Counts what the mail service accepted and refused, around the real SES client, and notes
/// the sends whose outcome was ambiguous: accepted only after the client's attempt timeout, so
/// an earlier attempt may have been taken too (SES has no idempotency key to prevent that).
#[derive(Clone, Default)]
struct CountedMail {
    inner: Option<SesMailer>,
    accepted: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    ambiguous: Arc<Mutex<Vec<String>>>,
}

impl MailSender for CountedMail {
    async fn send(&self, email: &OutgoingEmail) -> Result<MessageId, MailError> {
        let started = Instant::now();
        let result = self.inner.as_ref().expect("an SES client").send(email).await;
        let counter = if result.is_ok() { &self.accepted } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() >= SesMailer::ATTEMPT_TIMEOUT {
            let raw = String::from_utf8_lossy(&email.raw_mime);
            let id = raw.find("Message-ID: <").map(|at| raw[at + 13..].chars().take_while(|c| *c != '@').collect());
            self.ambiguous.lock().expect("ambiguous").push(id.unwrap_or_default());
        }
        result
    }
}

// ---- the acquirer sandbox --------------------------------------------------------------------

struct Bank {
    control: String,
    http: reqwest::Client,
}

impl Bank {
    fn new() -> Self {
        let control = env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned();
        Self { control, http: reqwest::Client::new() }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let answer = self.http.post(format!("{}{path}", self.control)).json(&body).send().await;
        let answer = answer.unwrap_or_else(|e| panic!("the sandbox answers {path}: {e}"));
        assert!(answer.status().is_success(), "{path}: HTTP {}", answer.status());
        answer.json().await.expect("the sandbox answers JSON")
    }

    async fn fault(&self, spec: Value) {
        self.control("/sandbox/faults", spec).await;
    }

    /// Every payment the sandbox holds, with its status and every notification it made.
    async fn payments(&self) -> Vec<Value> {
        let answer = self.http.get(format!("{}/sandbox/payments", self.control)).send().await;
        let all: Value = answer.expect("the sandbox answers").json().await.expect("JSON");
        all["payments"].as_array().cloned().unwrap_or_default()
    }
}

// ---- the customers ---------------------------------------------------------------------------

/// What becomes of one payment intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Its notifications come in the storm.
    Stormed,
    /// Stormed, then partly refunded at the bank.
    Refunded,
    /// No notification ever arrives in time: reconciliation settles it.
    Unnotified,
}

struct Intent {
    account: AccountNumber,
    initial: Money,
    amount: Money,
    email: String,
    vk_user: u64,
    key: String,
    fate: Fate,
    /// Paid through СБП (the link, in the sandbox's bank-app page) instead of by card.
    sbp: bool,
    /// Filled by the pay phase: our payment id (the bank's `OrderId`) and the bank's payment id.
    payment: Option<PaymentId>,
    acquirer_id: Option<String>,
    refunded: Money,
}

impl Intent {
    fn body(&self) -> Value {
        let method = if self.sbp { "sbp" } else { "card" };
        json!({"account": self.account.to_string(), "amount": self.amount.to_string(), "email": self.email,
               "method": method})
    }

    fn request(&self) -> lambda_http::Request {
        let launch = vk_launch(self.vk_user, Utc::now());
        let mut request = Event::new("POST", "/payments").vk(&launch).header("idempotency-key", &self.key).request();
        *request.body_mut() = Body::Text(self.body().to_string());
        request
    }

    fn payment(&self) -> &PaymentId {
        self.payment.as_ref().expect("the pay phase gave every intent a payment")
    }
}

/// What the customers saw while paying.
#[derive(Default)]
struct PayFigures {
    answers: BTreeMap<u16, u64>,
    retries: u64,
    replayed: u64,
    elapsed: Duration,
}

async fn pay_all(
    app: &pay::App<DynamoStore, TbankClient>,
    intents: &mut [Intent],
    clients: usize,
    figures: &Mutex<PayFigures>,
) {
    let next = AtomicU64::new(0);
    let results: Mutex<HashMap<usize, (PaymentId, String)>> = Mutex::new(HashMap::new());
    let intents_ro: &[Intent] = intents;
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
            let Some(intent) = intents_ro.get(i) else { return };
            let mut tries = 0;
            let created = loop {
                tries += 1;
                assert!(tries <= MAX_TRIES, "intent {i}: no payment URL after {MAX_TRIES} tries");
                let response = pay::handle(app, intent.request()).await;
                let status = response.status().as_u16();
                *figures.lock().expect("figures").answers.entry(status).or_default() += 1;
                match status {
                    201 => break body_json(&response),
                    // The bank did not answer, or the first attempt still holds the key: as the
                    // mini app does, try again with the same key.
                    409 | 503 | 504 => {
                        figures.lock().expect("figures").retries += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    _ => panic!("intent {i}: POST /payments answered {status}: {}", body_json(&response)),
                }
            };
            let id: PaymentId = created["paymentId"].as_str().and_then(|s| s.parse().ok()).expect("a payment id");
            let url = created["paymentUrl"].as_str().expect("a payment URL").to_owned();
            results.lock().expect("results").insert(i, (id, url));
        }
    };
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        workers.push(worker());
    }
    futures_join_all(workers).await;
    figures.lock().expect("figures").elapsed += started.elapsed();
    let results = results.into_inner().expect("results");
    for (i, intent) in intents.iter_mut().enumerate() {
        let (id, url) = results.get(&i).cloned().expect("every intent got an answer");
        intent.acquirer_id = Some(url.rsplit('/').next().expect("the form URL ends with the bank's id").to_owned());
        intent.payment = Some(id);
    }
}

/// Runs the futures concurrently on this task (no `futures` crate needed).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}

// ---- the storm -------------------------------------------------------------------------------

/// Where the run stands, for classifying refused answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    Calm = 0,
    DatabaseDown = 1,
    DatabaseBack = 2,
    MailDown = 3,
    MailBack = 4,
}

#[derive(Default)]
struct StormFigures {
    deliveries: u64,
    unique: u64,
    redeliveries: u64,
    refused_by_phase: BTreeMap<&'static str, u64>,
    /// Deliveries that met DynamoDB dead: handed to the function while it was, or in flight from
    /// before its kill until after its restart. Each answered 503 or waited in the SDK's retries
    /// until the database answered again.
    met_db_outage: u64,
    statuses: BTreeMap<u16, u64>,
    latencies: Vec<Duration>,
    first_ok_after: HashMap<u8, Instant>,
    db_killed_at: Option<Instant>,
    db_answering_at: Option<Instant>,
    mail_down_at: Option<Instant>,
    mail_up_at: Option<Instant>,
}

fn phase_name(phase: u8) -> &'static str {
    match phase {
        0 => "calm",
        1 => "DynamoDB down",
        2 => "DynamoDB restarted",
        3 => "mail down",
        _ => "mail back",
    }
}

fn is_ok(response: &Response<Body>) -> bool {
    response.status() == 200 && matches!(response.body(), Body::Text(t) if t == "OK")
}

fn notification_request(body: &str) -> lambda_http::Request {
    let mut event = Event::new("POST", "/callbacks/tbank").json().clone();
    event["body"] = Value::String(body.to_owned());
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

/// Runs `scripts/stack.sh <command> chaos dynamodb`; the script refuses any other stack.
async fn stack(command: &'static str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack.sh");
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash").args([script, command, "chaos", "dynamodb"]).status()
    })
    .await
    .expect("the stack script ran")
    .expect("bash runs");
    assert!(status.success(), "scripts/stack.sh {command} chaos dynamodb failed: {status}");
}

type Callback = payment_callback::App<DynamoStore, CountedMail>;

/// How long the storm may go without a single delivery answered `OK` before the run fails with
/// what it was waiting for, rather than re-sending into an outage that never ends.
const STALL_LIMIT: Duration = Duration::from_secs(90);

/// Delivers every body until each is answered `OK`, by concurrent senders, while `faults` runs.
async fn storm(
    app: &Callback,
    queue: Vec<String>,
    senders: usize,
    phase: &std::sync::atomic::AtomicU8,
    figures: &Mutex<StormFigures>,
    acknowledged: &AtomicU64,
) {
    let queue = Mutex::new(VecDeque::from(queue));
    let in_flight = AtomicU64::new(0);
    let last_ok = Mutex::new(Instant::now());
    let last_refusal = Mutex::new(String::new());
    let sender = || async {
        loop {
            let body = {
                let mut queue = queue.lock().expect("queue");
                match queue.pop_front() {
                    Some(body) => {
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        body
                    }
                    None if in_flight.load(Ordering::SeqCst) == 0 => return,
                    None => String::new(),
                }
            };
            if body.is_empty() {
                // Another sender may yet put a refused delivery back.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let sent = Instant::now();
            let sent_phase = phase.load(Ordering::SeqCst);
            let response = payment_callback::handle(app, notification_request(&body)).await;
            let latency = sent.elapsed();
            let now_phase = phase.load(Ordering::SeqCst);
            let ok = is_ok(&response);
            {
                let mut f = figures.lock().expect("figures");
                f.latencies.push(latency);
                if sent_phase == Phase::DatabaseDown as u8
                    || (sent_phase == Phase::Calm as u8 && now_phase >= Phase::DatabaseBack as u8)
                {
                    f.met_db_outage += 1;
                }
                *f.statuses.entry(response.status().as_u16()).or_default() += 1;
                if ok {
                    f.first_ok_after.entry(now_phase).or_insert_with(Instant::now);
                } else {
                    f.redeliveries += 1;
                    *f.refused_by_phase.entry(phase_name(now_phase)).or_default() += 1;
                }
            }
            if ok {
                acknowledged.fetch_add(1, Ordering::SeqCst);
                *last_ok.lock().expect("last OK") = Instant::now();
            } else {
                *last_refusal.lock().expect("last refusal") =
                    format!("{} {:?} in phase {}", response.status(), response.body(), phase_name(now_phase));
                assert!(
                    response.status().is_server_error(),
                    "a notification signed by the bank was refused: {} {:?}",
                    response.status(),
                    response.body()
                );
                // The bank re-sends later; here a short pause keeps an outage from being a spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                queue.lock().expect("queue").push_back(body);
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let watchdog = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let waiting = queue.lock().expect("queue").len() as u64 + in_flight.load(Ordering::SeqCst);
            if waiting == 0 {
                return;
            }
            let quiet = last_ok.lock().expect("last OK").elapsed();
            assert!(
                quiet < STALL_LIMIT,
                "no delivery answered OK for {quiet:?} ({waiting} waiting, {} in flight, phase {}); \
                 the last refusal: {}",
                in_flight.load(Ordering::SeqCst),
                phase_name(phase.load(Ordering::SeqCst)),
                last_refusal.lock().expect("last refusal")
            );
        }
    };
    let mut all = Vec::new();
    for _ in 0..senders {
        all.push(sender());
    }
    tokio::join!(futures_join_all(all), watchdog);
}

/// Kills DynamoDB once a quarter of the deliveries are acknowledged and starts it again after
/// `db_down`; takes the mail service down at 60 % for `mail_down`.
async fn faults(
    knobs: Knobs,
    total: u64,
    acknowledged: &AtomicU64,
    phase: &std::sync::atomic::AtomicU8,
    proxy: &MailProxy,
    figures: &Mutex<StormFigures>,
    done: &AtomicBool,
) {
    let wait_for = |share: f64| async move {
        let target = (total as f64 * share) as u64;
        while acknowledged.load(Ordering::SeqCst) < target && !done.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    wait_for(0.25).await;
    phase.store(Phase::DatabaseDown as u8, Ordering::SeqCst);
    figures.lock().expect("figures").db_killed_at = Some(Instant::now());
    stack("kill").await;
    tokio::time::sleep(knobs.db_down).await;
    stack("start").await;
    figures.lock().expect("figures").db_answering_at = Some(Instant::now());
    phase.store(Phase::DatabaseBack as u8, Ordering::SeqCst);

    wait_for(0.60).await;
    phase.store(Phase::MailDown as u8, Ordering::SeqCst);
    proxy.set_down(true);
    figures.lock().expect("figures").mail_down_at = Some(Instant::now());
    tokio::time::sleep(knobs.mail_down).await;
    proxy.set_down(false);
    figures.lock().expect("figures").mail_up_at = Some(Instant::now());
    phase.store(Phase::MailBack as u8, Ordering::SeqCst);
}

/// A nearest-rank percentile of sorted latencies, in milliseconds (0 for none).
fn milliseconds(sorted: &[Duration], p: f64) -> f64 {
    nearest_rank(sorted, p).unwrap_or_default().as_secs_f64() * 1e3
}

// ---- the mail moto received ------------------------------------------------------------------

/// Per payment id: ("payment received" emails, sale receipt emails) that moto accepted.
async fn mail_at_moto() -> HashMap<String, (u32, u32)> {
    let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
    let data: Value = reqwest::get(&url).await.expect("moto answers").json().await.expect("moto's JSON");
    let mut counts: HashMap<String, (u32, u32)> = HashMap::new();
    for message in data["ses"]["RawMessage"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let raw = message["raw_data"].as_str().unwrap_or_default();
        let id_of = |marker: &str| {
            raw.find(marker).map(|at| raw[at + marker.len()..].chars().take_while(char::is_ascii_hexdigit).collect())
        };
        if let Some(id) = id_of("<payment-received.") {
            counts.entry(id).or_default().0 += 1;
        } else if let Some(id) = id_of("<receipt.") {
            counts.entry(id).or_default().1 += 1;
        }
    }
    counts
}

/// The payments the PENDING index still lists, split into those with something left to do
/// (waiting for the bank, or an email not yet settled) and those merely listed (credited and
/// mailed; left there when the write that unlists them failed — harmless, one read per run).
async fn listed(store: &DynamoStore) -> (Vec<PaymentId>, usize) {
    let (mut unsettled, mut idle) = (Vec::new(), 0);
    let mut cursor = None;
    loop {
        let page =
            store.pending_payments(Utc::now() + TimeDelta::days(2), cursor.as_ref(), 100).await.expect("the list");
        for payment in &page.payments {
            let record = store.payment_record(&payment.id).await.expect("a read").expect("a listed payment exists");
            let open = |email: CustomerEmail| {
                !matches!(record.email(&email), Some(EmailMark::Sent { .. } | EmailMark::Rejected { .. }))
            };
            let waiting = record.payment.status.is_pending()
                || open(CustomerEmail::PaymentReceived)
                || record.receipts.iter().any(|r| open(CustomerEmail::Receipt(r.slot.clone())));
            if waiting {
                unsettled.push(payment.id.clone());
            } else {
                idle += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (unsettled, idle),
        }
    }
}

// ---- the run ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "kills the chaos stack's DynamoDB: run it with scripts/chaos.sh"]
async fn money_and_mail_survive_a_database_crash_a_mail_outage_and_a_failing_init() {
    assert_eq!(
        std::env::var("STACK_PROFILE").as_deref(),
        Ok("chaos"),
        "this test kills DynamoDB: run it on the chaos stack, through scripts/chaos.sh"
    );
    let knobs = Knobs::from_env();
    let run_log = RunLog::keep();
    // 100 payments take about half a minute, 3 000 about ten: far over either is a hang.
    integration_tests::fail_after(Duration::from_secs(300 + knobs.payments as u64 / 2), "the chaos run");
    let mut draw = fastrand::Rng::with_seed(knobs.seed);
    let run_started = Instant::now();
    println!("chaos: {knobs:?}");

    let process_env = Env::process();
    let store = DynamoStore::from_env(env("TABLE_NAME")).await;
    let bank = Bank::new();
    bank.control("/sandbox/reset", json!({})).await;
    let moto: SocketAddr = env("AWS_ENDPOINT_URL_SES")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("the SES stand-in's address");
    let proxy = MailProxy::start(moto).await;
    let mail = CountedMail { inner: Some(proxied_ses(&proxy).await), ..CountedMail::default() };
    let from = MailFrom::from_env(&process_env).expect("SES_SENDER and SELLER_NAME are set");

    // ---- the customers and their accounts
    let run = uuid::Uuid::new_v4().simple().to_string();
    let base = uuid::Uuid::new_v4().as_u128();
    let mut intents: Vec<Intent> = (0..knobs.payments)
        .map(|i| {
            let fate = if draw.f64() < knobs.unnotified {
                Fate::Unnotified
            } else if draw.f64() < knobs.refunds {
                Fate::Refunded
            } else {
                Fate::Stormed
            };
            Intent {
                account: format!("{:010}", (base + i as u128) % 10_000_000_000).parse().expect("ten digits"),
                initial: Money::from_kopecks(draw.i64(-500_000..100_000)),
                amount: Money::from_kopecks(draw.i64(10_000..1_000_000)),
                email: format!("chaos-{}-{i}@example.ru", &run[..8]),
                vk_user: 700_000_000 + (base % 100_000_000) as u64 + i as u64,
                key: format!("chaos-{run}-{i}"),
                fate,
                sbp: draw.f64() < knobs.sbp,
                payment: None,
                acquirer_id: None,
                refunded: Money::ZERO,
            }
        })
        .collect();
    let importing = Instant::now();
    {
        let next = AtomicU64::new(0);
        let intents_ro = &intents;
        let store = &store;
        let importer = || async {
            while let Some(intent) = intents_ro.get(next.fetch_add(1, Ordering::Relaxed) as usize) {
                let account = account(intent.account, &intent.initial.to_string(), vec![]);
                store.import_account(&account, Utc::now()).await.expect("the account is imported");
            }
        };
        futures_join_all((0..knobs.senders).map(|_| importer()).collect()).await;
    }
    println!("accounts                 {} imported in {:.1} s", intents.len(), importing.elapsed().as_secs_f64());

    // ---- 1. pay, with Init failing
    let mut acquirer_settings = TbankSettings::from_env().expect("TBANK_* are set");
    acquirer_settings.timeout = INIT_TIMEOUT;
    let acquirer = TbankClient::new(acquirer_settings, integration_tests::demo_secrets()).expect("an acquirer client");
    let mut pay_edge = edge();
    pay_edge.clock = Utc::now;
    // The run is about faults, not the throttle (tests/tests/enumeration.rs is): a customer
    // retrying through a long `Init` outage may ask more than 30 times a minute.
    pay_edge.limits = ThrottleLimits::UNLIMITED;
    let pay_app = pay::App {
        store: store.clone(),
        acquirer: acquirer.clone(),
        edge: pay_edge,
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&process_env)
            .expect("the payment settings"),
    };
    let pay_figures = Mutex::new(PayFigures::default());
    let (first, rest) = intents.split_at_mut(knobs.payments / 3);
    let (second, third) = rest.split_at_mut(knobs.payments / 3);
    bank.fault(json!({
        "init": {"mode": "http500", "times": knobs.init_http500},
        "get_qr": {"mode": "http500", "times": knobs.get_qr_http500},
    }))
    .await;
    pay_all(&pay_app, first, knobs.senders, &pay_figures).await;
    let delay = INIT_TIMEOUT.as_secs_f64() + 1.0;
    bank.fault(json!({
        "init": {"mode": "timeout", "times": knobs.init_timeouts, "delay": delay},
        "get_qr": {"mode": "timeout", "times": knobs.get_qr_timeouts, "delay": delay},
    }))
    .await;
    pay_all(&pay_app, second, knobs.senders, &pay_figures).await;
    bank.fault(json!({"init": "ok", "get_qr": "ok"})).await;
    pay_all(&pay_app, third, knobs.senders, &pay_figures).await;
    for intent in &intents {
        let response = pay::handle(&pay_app, intent.request()).await;
        assert_eq!(response.status(), 201, "the same key again replays the answer: {}", body_json(&response));
        assert_eq!(response.headers().get(pay::IDEMPOTENT_REPLAYED).map(|v| v.as_bytes()), Some(&b"true"[..]));
        assert_eq!(body_json(&response)["paymentId"], intent.payment().as_str(), "the replay names the same payment");
        pay_figures.lock().expect("figures").replayed += 1;
    }
    let pay_figures = pay_figures.into_inner().expect("figures");
    let unavailable = pay_figures.answers.get(&503).copied().unwrap_or(0);
    let timeouts = pay_figures.answers.get(&504).copied().unwrap_or(0);
    assert!(unavailable > 0, "Init's HTTP 500s reached no customer: {:?}", pay_figures.answers);
    assert!(timeouts > 0, "Init's timeouts reached no customer: {:?}", pay_figures.answers);

    // One payable payment at the bank per key; the ones replaced after a lost answer cancelled.
    let at_bank = bank.payments().await;
    let mut by_email: HashMap<&str, Vec<&Value>> = HashMap::new();
    for p in &at_bank {
        if let Some(email) = p["Receipt"]["Email"].as_str() {
            by_email.entry(email).or_default().push(p);
        }
    }
    let mut cancelled = 0;
    for intent in &intents {
        let attempts = by_email.get(intent.email.as_str()).cloned().unwrap_or_default();
        let live: Vec<&&Value> = attempts.iter().filter(|p| p["Status"] != "CANCELED").collect();
        cancelled += attempts.len() - live.len();
        assert_eq!(live.len(), 1, "one payable bank payment per key, found {}: {attempts:?}", live.len());
        assert_eq!(live[0]["OrderId"], intent.payment().as_str(), "the payment the customer was sent to");
        assert_eq!(live[0]["PaymentId"].as_str(), intent.acquirer_id.as_deref());
        assert_eq!(live[0]["Sbp"], intent.sbp, "paid the way the customer chose");
        let record = store.payment_record(intent.payment()).await.expect("a read").expect("our payment");
        assert_eq!(record.payment.status, PaymentStatus::New);
        assert_eq!(record.payment.method == PayMethod::Sbp, intent.sbp);
        assert_eq!(record.payment.acquirer_payment_id.as_deref(), intent.acquirer_id.as_deref());
    }
    println!(
        "pay                      {} payments in {:.1} s; answers {:?}; {} retries with the same key; \
         {} replays; {} bank payments cancelled after a lost Init answer",
        intents.len(),
        pay_figures.elapsed.as_secs_f64(),
        pay_figures.answers,
        pay_figures.retries,
        pay_figures.replayed,
        cancelled
    );

    // ---- 2. the card payments at the bank, some partly refunded; every notification missed
    {
        let next = AtomicU64::new(0);
        let intents_ro = &intents;
        let bank = &bank;
        let payer = || async {
            while let Some(intent) = intents_ro.get(next.fetch_add(1, Ordering::Relaxed) as usize) {
                let id = intent.acquirer_id.as_deref().expect("the bank's id");
                let paid = if intent.sbp {
                    bank.control(&format!("/sandbox/sbp/{id}"), json!({"action": "confirm"})).await
                } else {
                    bank.control(&format!("/sandbox/pay/{id}"), json!({"pan": GOOD_CARD})).await
                };
                assert_eq!(paid["Status"], "CONFIRMED", "{paid}");
            }
        };
        futures_join_all((0..knobs.senders).map(|_| payer()).collect()).await;
    }
    for intent in intents.iter_mut().filter(|i| i.fate == Fate::Refunded) {
        let part = Money::from_kopecks(intent.amount.kopecks() * 3 / 10);
        let mut refund =
            CancelRequest::whole(AcquirerPaymentId::new(intent.acquirer_id.clone().expect("the bank's id")));
        refund.amount = Some(part);
        acquirer.cancel(&refund).await.expect("the sandbox refunds");
        intent.refunded = part;
    }
    let at_bank: HashMap<String, Value> = bank
        .payments()
        .await
        .into_iter()
        .filter_map(|p| p["OrderId"].as_str().map(|o| (o.to_owned(), p.clone())))
        .collect();

    // ---- 3. the storm, with DynamoDB killed and the mail service down
    let mut unique = Vec::new();
    let mut late = Vec::new();
    for intent in &intents {
        let payment = &at_bank[intent.payment().as_str()];
        let bodies = payment["Notifications"].as_array().expect("the notifications the bank made");
        let statuses: Vec<&str> = bodies.iter().filter_map(|n| n["status"].as_str()).collect();
        let expected: &[&str] = match intent.fate {
            Fate::Refunded => &["AUTHORIZED", "CONFIRMED", "RECEIPT", "PARTIAL_REFUNDED"],
            _ => &["AUTHORIZED", "CONFIRMED", "RECEIPT"],
        };
        assert_eq!(statuses, expected, "the bank's notifications for {}", intent.payment());
        for n in bodies {
            assert_ne!(n["delivered"], true, "a notification reached a listener on the chaos API port");
            let body = n["body"].to_string();
            if intent.fate == Fate::Unnotified {
                late.push(body);
            } else {
                unique.push(body);
            }
        }
    }
    let duplicates = (unique.len() as f64 * knobs.duplicates / (1.0 - knobs.duplicates)).round() as usize;
    let mut queue = unique.clone();
    queue.extend((0..duplicates).map(|_| unique[draw.usize(..unique.len())].clone()));
    draw.shuffle(&mut queue);
    let mut callback = payment_callback::App::configure(
        &process_env,
        integration_tests::demo_secrets(),
        store.clone(),
        Mailer::new(mail.clone(), from.clone()),
    )
    .expect("the callback's settings");
    callback.settlement.email_claim_timeout = EMAIL_CLAIM_TIMEOUT;

    let phase = std::sync::atomic::AtomicU8::new(Phase::Calm as u8);
    let acknowledged = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let storm_figures = Mutex::new(StormFigures {
        deliveries: queue.len() as u64,
        unique: unique.len() as u64,
        ..StormFigures::default()
    });
    let total = queue.len() as u64;
    let storm_started = Instant::now();
    println!(
        "storm                    {total} deliveries ({} unique, {duplicates} duplicates), {} senders…",
        unique.len(),
        knobs.senders
    );
    let storming = async {
        storm(&callback, queue, knobs.senders, &phase, &storm_figures, &acknowledged).await;
        done.store(true, Ordering::SeqCst);
    };
    let injecting = faults(knobs, total, &acknowledged, &phase, &proxy, &storm_figures, &done);
    tokio::join!(storming, injecting);
    let storm_elapsed = storm_started.elapsed();
    let mut storm_figures = storm_figures.into_inner().expect("figures");

    // ---- 4. reconciliation: the first round with the mail service down
    let mut reconciler =
        Reconciler::configure(&process_env, store.clone(), Mailer::new(mail.clone(), from.clone()), acquirer.clone())
            .expect("the reconciliation's settings");
    reconciler.after = TimeDelta::zero();
    reconciler.settlement.email_claim_timeout = EMAIL_CLAIM_TIMEOUT;
    let unnotified = intents.iter().filter(|i| i.fate == Fate::Unnotified).count();
    let mut rounds = Vec::new();
    // Down for the start of the first round: some credits are written while their email cannot go.
    proxy.set_down(true);
    let mail_back = async {
        tokio::time::sleep(knobs.mail_down).await;
        proxy.set_down(false);
    };
    let reconcile_started = Instant::now();
    let reconciling = async {
        loop {
            let summary = reconciler.run(Utc::now(), None).await.expect("the pending list is readable");
            rounds.push(summary);
            let (unsettled, _) = listed(&store).await;
            if unsettled.is_empty() && summary.errors == 0 {
                break;
            }
            if reconcile_started.elapsed() > Duration::from_secs(60) {
                let stuck = match unsettled.first() {
                    Some(id) => store.payment_record(id).await.expect("a read"),
                    None => None,
                };
                panic!("reconciliation left payments unsettled for a minute, e.g. {stuck:?}; rounds {rounds:?}");
            }
            // An abandoned email claim is taken over once it is older than the claim timeout.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::join!(mail_back, reconciling);
    let reconcile_elapsed = reconcile_started.elapsed();
    // Reconciliation alone, with no notification ever, told each customer of the credit.
    let moto = mail_at_moto().await;
    for intent in intents.iter().filter(|i| i.fate == Fate::Unnotified) {
        let mails = moto.get(intent.payment().as_str()).copied().unwrap_or_default();
        assert_eq!(mails, (1, 0), "{}: the reconciliation's email, and no receipt yet", intent.payment());
    }
    // The bank's late deliveries for those payments: the credit stands, the receipt is mailed.
    let late_deliveries = late.len();
    for body in &late {
        let response = payment_callback::handle(&callback, notification_request(body)).await;
        assert!(is_ok(&response), "a late notification: {} {:?}", response.status(), response.body());
    }

    // ---- 5. the checks
    let moto = mail_at_moto().await;
    let mut wrong = Vec::new();
    let mut forgotten_credits = 0;
    let credited_times = run_log.credits();
    let mut ledger_entries = 0;
    for intent in &intents {
        let id = intent.payment();
        let expected = intent.initial + intent.amount - intent.refunded;
        let balance = store.account(&intent.account).await.expect("a read").map(|a| a.balance.signed());
        if balance != Some(expected) {
            wrong.push(format!("{id} ({:?}): balance {balance:?}, expected {expected}", intent.fate));
        }
        let ledger = store.ledger_entries(&intent.account).await.expect("the ledger");
        ledger_entries += ledger.len();
        let moved: Money = ledger.iter().map(|e| e.amount).sum();
        let credits = ledger.iter().filter(|e| e.movement == Movement::Credit).count();
        if moved != intent.amount - intent.refunded || credits != 1 || ledger.iter().any(|e| &e.payment != id) {
            wrong.push(format!("{id} ({:?}): ledger {ledger:?}", intent.fate));
        }
        let status =
            if intent.refunded == Money::ZERO { PaymentStatus::Paid } else { PaymentStatus::PartiallyRefunded };
        let record = store.payment_record(id).await.expect("a read").map(|r| (r.payment.status, r.payment.refunded));
        if record != Some((status, intent.refunded)) {
            wrong.push(format!(
                "{id} ({:?}): payment {record:?}, expected {:?}",
                intent.fate,
                (status, intent.refunded)
            ));
        }
        let mails = moto.get(id.as_str()).copied().unwrap_or_default();
        // An email sent again is the service's fault unless the stand-in forgot the credit it had
        // acknowledged (DynamoDB Local can lose its last writes when killed, which DynamoDB does
        // not): then the payment was credited a second time, which its condition allows only on a
        // payment that was never credited, and that credit mailed again what the forgotten one
        // had claimed: "payment received", and the receipt when it had been kept before.
        let credits = credited_times.get(id.as_str());
        let forgotten = credits.is_some_and(|c| c.times > 1);
        let mailed_again = credits.map_or((1, 1), |c| (2, 1 + c.receipts_before_last.min(1)));
        if mails != (1, 1) && !(forgotten && mails == mailed_again) {
            wrong.push(format!("{id} ({:?}): emails at the mail service {mails:?}, expected (1, 1)", intent.fate));
        }
        forgotten_credits += usize::from(forgotten);
    }
    let ours: std::collections::HashSet<&str> = intents.iter().map(|i| i.payment().as_str()).collect();
    for (id, mails) in &moto {
        if !ours.contains(id.as_str()) {
            wrong.push(format!("{id}: emails {mails:?} for a payment that was replaced"));
        }
    }
    let (unsettled, idle_listed) = listed(&store).await;
    if !unsettled.is_empty() {
        wrong.push(format!("{} payments still waiting for the bank or an email: {unsettled:?}", unsettled.len()));
    }
    let paid_at_bank = bank.payments().await.iter().filter(|p| p["Status"] != "CANCELED").count();
    if paid_at_bank != intents.len() {
        wrong.push(format!("{paid_at_bank} live payments at the bank for {} keys", intents.len()));
    }

    // ---- figures
    storm_figures.latencies.sort();
    let sent = storm_figures.deliveries + storm_figures.redeliveries;
    let since = |from: Option<Instant>, phase: Phase| {
        from.zip(storm_figures.first_ok_after.get(&(phase as u8)).copied())
            .map(|(from, ok)| format!("{:.2} s", ok.saturating_duration_since(from).as_secs_f64()))
            .unwrap_or_else(|| "never".into())
    };
    let span = |a: Option<Instant>, b: Option<Instant>| {
        a.zip(b).map(|(a, b)| b.saturating_duration_since(a).as_secs_f64()).unwrap_or_default()
    };
    println!(
        "payments                 {} ({} through СБП; {} stormed, {} refunded in part, {unnotified} never notified)",
        intents.len(),
        intents.iter().filter(|i| i.sbp).count(),
        intents.iter().filter(|i| i.fate == Fate::Stormed).count(),
        intents.iter().filter(|i| i.fate == Fate::Refunded).count()
    );
    println!(
        "storm                    {} deliveries ({} unique) + {} re-deliveries in {:.1} s = {:.0} notifications/s",
        storm_figures.deliveries,
        storm_figures.unique,
        storm_figures.redeliveries,
        storm_elapsed.as_secs_f64(),
        sent as f64 / storm_elapsed.as_secs_f64()
    );
    println!(
        "answer time p50 / p99    {:.1} ms / {:.1} ms (max {:.1} ms); statuses {:?}",
        milliseconds(&storm_figures.latencies, 0.50),
        milliseconds(&storm_figures.latencies, 0.99),
        milliseconds(&storm_figures.latencies, 1.0),
        storm_figures.statuses
    );
    println!("refused answers          {:?}", storm_figures.refused_by_phase);
    println!(
        "DynamoDB outage          killed, restarted after {:.2} s; {} deliveries met it; first OK {} after it answered again",
        span(storm_figures.db_killed_at, storm_figures.db_answering_at),
        storm_figures.met_db_outage,
        since(storm_figures.db_answering_at, Phase::DatabaseBack)
    );
    println!(
        "mail outage              {:.2} s; first OK {} after it came back; {} connections refused or cut",
        span(storm_figures.mail_down_at, storm_figures.mail_up_at),
        since(storm_figures.mail_up_at, Phase::MailBack),
        proxy.refused.load(Ordering::Relaxed)
    );
    println!(
        "reconciliation           {} rounds in {:.1} s (first with the mail down): {}",
        rounds.len(),
        reconcile_elapsed.as_secs_f64(),
        rounds
            .iter()
            .map(|s| format!("checked {} credited {} errors {}", s.checked, s.credited, s.errors))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!("late deliveries          {late_deliveries} (notifications of reconciled payments, all OK)");
    println!("still listed as pending  {idle_listed} (mailed; their unlisting write was lost)");
    println!("ledger entries           {ledger_entries}");
    println!(
        "credits forgotten        {forgotten_credits} (acknowledged by DynamoDB Local, lost in its kill, applied again)"
    );
    println!(
        "emails                   {} accepted, {} refused by the mail service; at moto: {} payment received, {} receipts",
        mail.accepted.load(Ordering::Relaxed),
        mail.failed.load(Ordering::Relaxed),
        moto.values().map(|c| c.0).sum::<u32>(),
        moto.values().map(|c| c.1).sum::<u32>()
    );
    println!("whole run                {:.1} s (seed {})", run_started.elapsed().as_secs_f64(), knobs.seed);

    let ambiguous = mail.ambiguous.lock().expect("ambiguous").clone();
    println!("ambiguous sends          {} (accepted only after an attempt timed out): {ambiguous:?}", ambiguous.len());
    for w in wrong.iter().take(30) {
        eprintln!("WRONG {w}");
        // What the functions logged of that payment, as CloudWatch would have it.
        if let Some(id) = w.split(' ').next() {
            for line in run_log.lines_about(id).iter().take(60) {
                eprintln!("  {line}");
            }
        }
    }
    assert!(wrong.is_empty(), "{} discrepancies (first ones above)", wrong.len());
    let refused = |phase: &str| storm_figures.refused_by_phase.get(phase).copied().unwrap_or(0);
    // A delivery that meets the outage may wait in the SDK's retries and succeed once the database
    // answers again: meeting the crash is what counts, refused or not.
    assert!(
        refused("DynamoDB down") + refused("DynamoDB restarted") + storm_figures.met_db_outage > 0,
        "no delivery met DynamoDB while it was down: the crash proved nothing"
    );
    assert!(refused("mail down") > 0, "no delivery was refused while the mail was down: the outage proved nothing");
    assert!(unnotified == 0 || rounds[0].errors > 0, "the first reconciliation round never met the mail outage");
    // The balances above prove each unnotified payment credited once; a credit whose email
    // failed counts as an error of its round, not as credited.
    assert!(
        rounds.iter().map(|s| s.credited + s.errors).sum::<u32>() as usize >= unnotified,
        "reconciliation looked at every unnotified payment: {rounds:?}"
    );
}
