//! The scheduled reconciliation against DynamoDB Local, moto and the acquirer sandbox: payments
//! whose notifications never reached us are settled from what the bank says (`GetState`, or
//! `CheckOrder` when `Init`'s answer was lost), and payments nobody paid are failed once the
//! form has expired.
//!
//! The sandbox's notifications go to a port where nothing listens, as if our endpoint had been
//! unreachable. The payments are dated in a past of this run's own (the reconciliation takes
//! every pending payment older than its cut-off), so the run's `now` is chosen here: each test
//! its own era, and one test at a time ([`RUNS`]), so no run settles another test's payments.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use energosbyt::acquirer::{Acquirer, InitSettings, PaymentInit, TbankClient};
use energosbyt::app::reconciliation::Reconciler;
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::ABANDONED;
use energosbyt::ports::ledger::{
    LedgerReader, PaymentLedger, PaymentRecord, PendingPage, PendingPayments, ReceiptSlot,
};
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::{Event, account, env, fresh_account_number, sign_notification, store};
use serde_json::{Value, json};

/// Where the sandbox posts notifications for these payments: nothing listens there.
const UNREACHABLE_CALLBACK: &str = "http://127.0.0.1:9/callbacks/tbank";

/// A reconciliation run takes every listed payment older than its cut-off, whichever test made
/// it: the tests of this file run one at a time.
static RUNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A moment of a test's own, somewhere in the `years` after `from`, at least a few days before
/// the next era starts.
fn era(from: i32, years: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(from, 1, 1, 0, 0, 0).unwrap()
        + TimeDelta::seconds((uuid::Uuid::new_v4().as_u128() % (years as u128 * 360 * 86_400)) as i64)
}

struct Bank {
    client: TbankClient,
    control: String,
    http: reqwest::Client,
}

impl Bank {
    fn new() -> Self {
        let client = integration_tests::acquirer();
        let control = env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned();
        Self { client, control, http: reqwest::Client::new() }
    }

    /// `Init` for the payment, as the pay function sends it; the bank's payment id.
    async fn init(&self, payment: &Payment) -> String {
        let settings =
            InitSettings::new(UNREACHABLE_CALLBACK, "http://127.0.0.1:5173/#/return", "http://127.0.0.1:5173/#/return");
        let now = Utc::now();
        let request = PaymentInit {
            order_id: payment.id.as_str(),
            account: payment.account,
            amount: payment.amount,
            email: payment.email_address(),
            now,
            deadline: settings.form_deadline(now).unwrap(),
        }
        .build(&settings)
        .unwrap();
        self.client.init(&request).await.expect("the sandbox answers Init").payment_id.to_string()
    }

    /// The customer enters a card on the form.
    async fn pay(&self, acquirer_id: &str, pan: &str) -> Value {
        self.http
            .post(format!("{}/sandbox/pay/{acquirer_id}", self.control))
            .json(&json!({ "pan": pan }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

struct Customer {
    account: AccountNumber,
    payment: Payment,
}

impl Customer {
    async fn new(store: &DynamoStore, amount: &str, created_at: DateTime<Utc>) -> Self {
        Self::with_deadline(store, amount, created_at, None).await
    }

    async fn with_deadline(
        store: &DynamoStore,
        amount: &str,
        created_at: DateTime<Utc>,
        form_deadline: Option<DateTime<Utc>>,
    ) -> Self {
        let number = fresh_account_number();
        // Exported before the payment: money it brings is on top of the billed balance.
        store.import_account(&account(number, "0", vec![]), created_at - TimeDelta::days(1)).await.unwrap();
        let payment = Payment {
            id: PaymentId::random(),
            account: number,
            amount: amount.parse().unwrap(),
            email: Some(format!("payer-{}@example.ru", uuid::Uuid::new_v4().simple()).parse().unwrap()),
            caller: "vk:494075".parse().unwrap(),
            readings_id: None,
            status: PaymentStatus::New,
            acquirer_payment_id: None,
            payment_url: None,
            form_deadline,
            refunded: Money::ZERO,
            card: None,
            method: energosbyt::domain::PayMethod::Card,
            created_at,
            updated_at: created_at,
        };
        store.create(&payment).await.unwrap();
        Self { account: number, payment }
    }

    /// `Init` answered and recorded, as after a normal start of payment.
    async fn at_the_bank(store: &DynamoStore, bank: &Bank, amount: &str, created_at: DateTime<Utc>) -> (Self, String) {
        let customer = Self::new(store, amount, created_at).await;
        let acquirer_id = bank.init(&customer.payment).await;
        store.record_init(&customer.payment.id, &acquirer_id, "http://127.0.0.1/pay", created_at).await.unwrap();
        (customer, acquirer_id)
    }

    async fn record(&self, store: &DynamoStore) -> PaymentRecord {
        store.payment_record(&self.payment.id).await.unwrap().expect("the payment")
    }

    async fn balance(&self, store: &DynamoStore) -> Money {
        store.account(&self.account).await.unwrap().unwrap().balance.signed()
    }

    async fn success_emails(&self) -> usize {
        let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
        let data: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let marker = format!("<payment-received.{}@", self.payment.id);
        data["ses"]["RawMessage"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|m| m["raw_data"].as_str().is_some_and(|raw| raw.contains(&marker)))
            .count()
    }
}

async fn reconciler() -> Reconciler<DynamoStore, SesMailer, TbankClient> {
    let env = Env::process();
    let ses = SesMailer::from_env(&env).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    let mailer = Mailer::new(ses, MailFrom::from_env(&env).unwrap());
    let acquirer = integration_tests::acquirer();
    Reconciler::configure(&env, store().await, mailer, acquirer).expect("defaults for RECONCILE_*")
}

/// One sequence, so no run of this file sees another's payments at an unexpected age.
#[tokio::test]
async fn payments_whose_notifications_never_came_are_settled_from_what_the_bank_says() {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let bank = Bank::new();
    // A moment of this run's own, years back, so the payments of other tests are never in reach.
    let now = Utc.with_ymd_and_hms(1995, 1, 1, 0, 0, 0).unwrap()
        + TimeDelta::seconds((uuid::Uuid::new_v4().as_u128() % 600_000_000) as i64);
    let waited = now - TimeDelta::minutes(20);
    let expired = now - TimeDelta::hours(26);

    // Paid on the form; every notification lost.
    let (paid, paid_id) = Customer::at_the_bank(&store, &bank, "845.10", waited).await;
    assert_eq!(bank.pay(&paid_id, "2201382000000013").await["Status"], "CONFIRMED");
    // Paid, and `Init`'s answer never reached us: no bank id on our side.
    let lost_init = Customer::new(&store, "120.00", waited).await;
    let lost_init_id = bank.init(&lost_init.payment).await;
    assert_eq!(bank.pay(&lost_init_id, "2200770239097761").await["Status"], "CONFIRMED");
    // Declined: insufficient funds.
    let (declined, declined_id) = Customer::at_the_bank(&store, &bank, "99.00", waited).await;
    assert_eq!(bank.pay(&declined_id, "2201382000000831").await["Status"], "REJECTED");
    // At the form, within its life: left alone.
    let (at_form, _) = Customer::at_the_bank(&store, &bank, "10.00", waited).await;
    // At the form past its life, and never at the bank at all past the form's life: failed.
    let (abandoned_form, _) = Customer::at_the_bank(&store, &bank, "10.00", expired).await;
    let never_started = Customer::new(&store, "10.00", expired).await;
    // Never at the bank, but young: `Init` may still be under way.
    let just_started = Customer::new(&store, "10.00", waited).await;
    // Paid a moment ago: its notification may still come, so the run does not look yet.
    let (too_recent, too_recent_id) = Customer::at_the_bank(&store, &bank, "33.00", now - TimeDelta::minutes(5)).await;
    assert_eq!(bank.pay(&too_recent_id, "2201382000000013").await["Status"], "CONFIRMED");

    let mut reconciler = reconciler().await;
    // Small pages, so the run has to follow the index page after page.
    reconciler.page_size = 3;
    let summary = reconciler.run(now, None).await.expect("the pending payments can be listed");
    // Other runs' leftovers from earlier moments may be in reach too: at least ours are counted.
    assert!(summary.checked >= 7, "{summary:?}");
    assert!(summary.credited >= 2 && summary.failed >= 3, "{summary:?}");

    let record = paid.record(&store).await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(paid.balance(&store).await, "845.10".parse().unwrap());
    assert_eq!(store.ledger_entries(&paid.account).await.unwrap().len(), 1);
    assert_eq!(paid.success_emails().await, 1, "the customer hears of it from the reconciliation");

    let record = lost_init.record(&store).await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.acquirer_payment_id.as_deref(), Some(lost_init_id.as_str()), "found by CheckOrder");
    assert_eq!(lost_init.balance(&store).await, "120.00".parse().unwrap());

    assert_eq!(declined.record(&store).await.payment.status, PaymentStatus::Failed);
    assert_eq!(declined.balance(&store).await, Money::ZERO);
    assert_eq!(at_form.record(&store).await.payment.status, PaymentStatus::New);
    assert_eq!(just_started.record(&store).await.payment.status, PaymentStatus::New);
    for gone in [&abandoned_form, &never_started] {
        assert_eq!(gone.record(&store).await.payment.status, PaymentStatus::Failed);
        let failure = store
            .client()
            .get_item()
            .table_name(store.table())
            .key("PK", AttributeValue::S(format!("PAYMENT#{}", gone.payment.id)))
            .key("SK", AttributeValue::S("PAYMENT".into()))
            .send()
            .await
            .unwrap()
            .item
            .and_then(|item| item.get("failure").and_then(|f| f.as_s().ok()).cloned());
        assert_eq!(failure.as_deref(), Some(ABANDONED));
    }
    assert_eq!(too_recent.record(&store).await.payment.status, PaymentStatus::New, "younger than the cut-off");
    assert_eq!(too_recent.balance(&store).await, Money::ZERO);

    // A second run finds nothing new to do for these payments.
    reconciler.run(now, None).await.unwrap();
    assert_eq!(paid.balance(&store).await, "845.10".parse().unwrap());
    assert_eq!(store.ledger_entries(&paid.account).await.unwrap().len(), 1);
    assert_eq!(paid.success_emails().await, 1);
    assert_eq!(at_form.record(&store).await.payment.status, PaymentStatus::New);

    // Later, the recent one is old enough and is credited the same way.
    reconciler.run(now + TimeDelta::minutes(20), None).await.unwrap();
    assert_eq!(too_recent.record(&store).await.payment.status, PaymentStatus::Paid);
    assert_eq!(too_recent.balance(&store).await, "33.00".parse().unwrap());

    // A credit found while the mail service is down: no notification will ever come to retry its
    // email, so the next run must send it (once), without crediting again.
    let later = now + TimeDelta::hours(1);
    let (unmailed, unmailed_id) = Customer::at_the_bank(&store, &bank, "71.40", later).await;
    assert_eq!(bank.pay(&unmailed_id, "2201382000000013").await["Status"], "CONFIRMED");
    let summary = reconciler_with_mail_down().await.run(later + TimeDelta::minutes(20), None).await.unwrap();
    assert!(summary.errors >= 1, "the email could not go out: {summary:?}");
    assert_eq!(unmailed.record(&store).await.payment.status, PaymentStatus::Paid);
    assert_eq!(unmailed.success_emails().await, 0);
    reconciler.run(later + TimeDelta::minutes(40), None).await.unwrap();
    assert_eq!(unmailed.success_emails().await, 1, "the next run sends the email the outage held back");
    assert_eq!(unmailed.balance(&store).await, "71.40".parse().unwrap(), "credited once");
    assert_eq!(store.ledger_entries(&unmailed.account).await.unwrap().len(), 1);
    reconciler.run(later + TimeDelta::minutes(60), None).await.unwrap();
    assert_eq!(unmailed.success_emails().await, 1, "and only once");
    let pending = store.pending_payments(later + TimeDelta::days(2), None, 1000).await.unwrap();
    assert!(pending.payments.iter().all(|p| p.id != unmailed.payment.id), "mailed, it leaves the pending index");

    // The write that takes a mailed payment off the list was lost (the store failed right after
    // the email was marked sent): the next run takes it off, sending and crediting nothing.
    let position = format!("{}#{}", unmailed.payment.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), unmailed.payment.id);
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("PAYMENT#{}", unmailed.payment.id)))
        .key("SK", AttributeValue::S("PAYMENT".into()))
        .update_expression("SET GSI2PK = :pending, GSI2SK = :position")
        .expression_attribute_values(":pending", AttributeValue::S("PENDING".into()))
        .expression_attribute_values(":position", AttributeValue::S(position))
        .send()
        .await
        .unwrap();
    let listed = |page: PendingPage| page.payments.iter().any(|p| p.id == unmailed.payment.id);
    assert!(listed(store.pending_payments(later + TimeDelta::days(2), None, 1000).await.unwrap()));
    reconciler.run(later + TimeDelta::minutes(80), None).await.unwrap();
    assert!(!listed(store.pending_payments(later + TimeDelta::days(2), None, 1000).await.unwrap()), "taken off");
    assert_eq!(unmailed.success_emails().await, 1);
    assert_eq!(unmailed.balance(&store).await, "71.40".parse().unwrap());
}

/// The reconciliation with the mail service down: nothing listens on the discard port.
async fn reconciler_with_mail_down() -> Reconciler<DynamoStore, SesMailer, TbankClient> {
    let env = Env::process();
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_ses::config::Builder::from(&shared).endpoint_url("http://127.0.0.1:9").build();
    let ses = SesMailer::new(aws_sdk_ses::Client::from_conf(config), env.string("SES_SENDER").unwrap());
    let mailer = Mailer::new(ses, MailFrom::from_env(&env).unwrap());
    let acquirer = integration_tests::acquirer();
    Reconciler::configure(&env, store().await, mailer, acquirer).expect("defaults for RECONCILE_*")
}

/// The reconciliation with the receipt's fallback requisites as configured (`local.env` has
/// demo values), or without them.
async fn reconciler_with(fallbacks: bool) -> Reconciler<DynamoStore, SesMailer, TbankClient> {
    let env = without_fallbacks(fallbacks);
    let ses = SesMailer::from_env(&Env::process()).await.unwrap();
    let mailer = Mailer::new(ses, MailFrom::from_env(&env).unwrap());
    let acquirer = integration_tests::acquirer();
    Reconciler::configure(&env, store().await, mailer, acquirer).expect("defaults for RECONCILE_*")
}

/// The process environment, with `SETTLEMENT_PLACE` and `OFD_NAME` hidden unless `fallbacks`.
fn without_fallbacks(fallbacks: bool) -> Env<impl Fn(&str) -> Option<String>> {
    Env::from_fn(move |name| {
        if !fallbacks && matches!(name, "SETTLEMENT_PLACE" | "OFD_NAME") { None } else { std::env::var(name).ok() }
    })
}

async fn callback(fallbacks: bool) -> payment_callback::App<DynamoStore, SesMailer> {
    let env = without_fallbacks(fallbacks);
    let ses = SesMailer::from_env(&Env::process()).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    let mailer = Mailer::new(ses, MailFrom::from_env(&env).unwrap());
    payment_callback::App::configure(&env, integration_tests::demo_secrets(), store().await, mailer)
        .expect("local.env is complete")
}

/// Delivers a notification signed as the bank signs it; the answer must be `OK`.
async fn deliver(app: &payment_callback::App<DynamoStore, SesMailer>, notification: Value) {
    let request = Event::new("POST", "/callbacks/tbank").body(&sign_notification(notification)).request();
    let response = payment_callback::handle(app, request).await;
    let body = match response.body() {
        lambda_http::Body::Text(text) => text.clone(),
        _ => String::new(),
    };
    assert_eq!((response.status().as_u16(), body.as_str()), (200, "OK"));
}

impl Customer {
    /// A customer whose payment is `NEW` at `created_at`, registered at the bank as `acquirer_id`
    /// (no call to the sandbox).
    async fn registered(store: &DynamoStore, amount: &str, created_at: DateTime<Utc>, acquirer_id: u64) -> Self {
        let customer = Self::new(store, amount, created_at).await;
        store
            .record_init(&customer.payment.id, &acquirer_id.to_string(), "http://127.0.0.1/pay", created_at)
            .await
            .unwrap();
        customer
    }

    /// The emails moto accepted for this payment: (payment received, fiscal receipts).
    async fn mails(&self) -> (usize, usize) {
        let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
        let data: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let raws: Vec<String> = data["ses"]["RawMessage"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
            .collect();
        let with = |needle: String| raws.iter().filter(|raw| raw.contains(&needle)).count();
        (with(format!("<payment-received.{}@", self.payment.id)), with(format!("<receipt.{}.", self.payment.id)))
    }

    async fn listed(&self, store: &DynamoStore, now: DateTime<Utc>) -> bool {
        let mut cursor = None;
        loop {
            let page = store.pending_payments(now + TimeDelta::days(30), cursor.as_ref(), 1000).await.unwrap();
            if page.payments.iter().any(|p| p.id == self.payment.id) {
                return true;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return false,
            }
        }
    }
}

fn fresh_acquirer_id() -> u64 {
    1_000_000_000 + (uuid::Uuid::new_v4().as_u128() % 9_000_000_000) as u64
}

/// A payment status notification as the bank sends it.
fn status_notification(customer: &Customer, acquirer_id: u64, status: &str, kopecks: i64) -> Value {
    json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": customer.payment.id.as_str(), "Success": true,
        "Status": status, "PaymentId": acquirer_id, "ErrorCode": "0", "Amount": kopecks,
        "CardId": 322264, "Pan": "220138******0013", "ExpDate": "1130"
    })
}

/// A `RECEIPT` shaped like the bank's documented example: no `Ofd`, no `SettlePlace`, no
/// `CalculationPlace`, no `Url`.
fn documented_receipt(customer: &Customer, acquirer_id: u64) -> Value {
    let kopecks = customer.payment.amount.kopecks();
    json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": customer.payment.id.as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": acquirer_id, "ErrorCode": "0", "ErrorMessage": "",
        "Amount": kopecks, "FiscalNumber": 7, "ShiftNumber": 112, "ReceiptDatetime": "2026-11-20T15:21:05+03:00",
        "FnNumber": "9282000100072197", "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 3812,
        "FiscalDocumentAttribute": 1837776948u64, "Type": "Income",
        "Receipt": {"Email": customer.payment.email_address(), "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {}", customer.account), "Price": kopecks, "Quantity": 1,
            "Amount": kopecks, "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service",
            "MeasurementUnit": "шт"}]}
    })
}

#[tokio::test]
async fn given_a_receipt_without_settlement_place_when_no_fallback_is_configured_then_it_is_kept_and_counted_and_once_configured_a_run_sends_it_once()
 {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let now = era(1971, 5);
    let acquirer_id = fresh_acquirer_id();
    let paid = Customer::registered(&store, "612.40", now - TimeDelta::minutes(20), acquirer_id).await;
    let unconfigured = callback(false).await;
    deliver(&unconfigured, status_notification(&paid, acquirer_id, "CONFIRMED", 61_240)).await;
    assert_eq!(paid.mails().await, (1, 0), "the payment is received");

    let counted = energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReceiptsUnrendered);
    deliver(&unconfigured, documented_receipt(&paid, acquirer_id)).await;
    deliver(&unconfigured, documented_receipt(&paid, acquirer_id)).await;

    let record = paid.record(&store).await;
    assert_eq!(record.receipts.len(), 1, "kept, once");
    assert_eq!(record.receipts[0].slot, ReceiptSlot::Sale);
    assert_eq!(paid.mails().await, (1, 0), "not sent: it would lack the place of settlement and the OFD");
    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReceiptsUnrendered) > counted, "counted");
    assert!(paid.listed(&store, now).await, "its email still due, the payment stays listed");

    // Still unconfigured: the run tries, counts again, sends nothing.
    let counted = energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReceiptsUnrendered);
    reconciler_with(false).await.run(now, None).await.unwrap();
    assert_eq!(paid.mails().await, (1, 0));
    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReceiptsUnrendered) > counted);

    // Configuration supplies the fallbacks: the next run sends it, exactly once.
    let configured = reconciler_with(true).await;
    configured.run(now + TimeDelta::minutes(10), None).await.unwrap();
    assert_eq!(paid.mails().await, (1, 1), "moto holds one receipt email");
    configured.run(now + TimeDelta::minutes(20), None).await.unwrap();
    deliver(&callback(true).await, documented_receipt(&paid, acquirer_id)).await;
    assert_eq!(paid.mails().await, (1, 1), "and only one");
    assert!(!paid.listed(&store, now).await, "mailed, it leaves the pending index");
    assert_eq!(paid.balance(&store).await, "612.40".parse().unwrap(), "credited once");
}

#[tokio::test]
async fn given_a_refund_receipt_that_cannot_be_composed_when_configuration_supplies_it_then_a_run_sends_it() {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let now = era(1977, 5);
    let acquirer_id = fresh_acquirer_id();
    let paid = Customer::registered(&store, "1000.00", now - TimeDelta::minutes(20), acquirer_id).await;
    let unconfigured = callback(false).await;
    deliver(&unconfigured, status_notification(&paid, acquirer_id, "CONFIRMED", 100_000)).await;
    let mut sale = documented_receipt(&paid, acquirer_id);
    sale["SettlePlace"] = json!("https://vk.com/app51234567");
    sale["Ofd"] = json!("ООО «Такском»");
    deliver(&unconfigured, sale).await;
    assert_eq!(paid.mails().await, (1, 1));
    assert!(!paid.listed(&store, now).await, "mailed, off the list");

    // A refund and its receipt, which lacks what configuration must supply.
    deliver(&unconfigured, status_notification(&paid, acquirer_id, "PARTIAL_REFUNDED", 30_000)).await;
    let mut refund = documented_receipt(&paid, acquirer_id);
    refund["Type"] = json!("IncomeReturn");
    refund["Amount"] = json!(30_000);
    refund["FiscalDocumentNumber"] = json!(3813);
    refund["Receipt"] = Value::Null;
    deliver(&unconfigured, refund).await;
    assert_eq!(paid.mails().await, (1, 1));
    assert!(paid.listed(&store, now).await, "back on the list until its refund receipt goes out");

    reconciler_with(true).await.run(now + TimeDelta::minutes(10), None).await.unwrap();
    assert_eq!(paid.mails().await, (1, 2), "the refund receipt went out");
    assert!(!paid.listed(&store, now).await);
    assert_eq!(paid.balance(&store).await, "700.00".parse().unwrap());
}

#[tokio::test]
async fn given_payments_the_bank_never_settles_when_72_hours_pass_then_they_go_for_review_and_leave_the_list() {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let bank = Bank::new();
    let created = era(1983, 5);

    // The bank captured another amount than ours.
    let mismatched = Customer::new(&store, "10.00", created).await;
    let mut at_the_bank = mismatched.payment.clone();
    at_the_bank.amount = "10.01".parse().unwrap();
    let mismatched_id = bank.init(&at_the_bank).await;
    store.record_init(&mismatched.payment.id, &mismatched_id, "http://127.0.0.1/pay", created).await.unwrap();
    assert_eq!(bank.pay(&mismatched_id, "2201382000000013").await["Status"], "CONFIRMED");
    // Paid for an account the store does not have.
    let missing = fresh_account_number();
    let orphan_payment = Payment {
        id: PaymentId::random(),
        account: missing,
        amount: "20.00".parse().unwrap(),
        ..mismatched.payment.clone()
    };
    store.create(&orphan_payment).await.unwrap();
    let orphan = Customer { account: missing, payment: orphan_payment };
    let orphan_id = bank.init(&orphan.payment).await;
    store.record_init(&orphan.payment.id, &orphan_id, "http://127.0.0.1/pay", created).await.unwrap();
    assert_eq!(bank.pay(&orphan_id, "2201382000000013").await["Status"], "CONFIRMED");

    let reconciler = reconciler().await;
    reconciler.run(created + TimeDelta::hours(71), None).await.unwrap();
    for waiting in [&mismatched, &orphan] {
        let record = waiting.record(&store).await;
        assert_eq!(record.payment.status, PaymentStatus::New, "asked again, still waiting");
        assert!(record.anomaly.is_some());
        assert!(waiting.listed(&store, created).await);
    }

    let counted = energosbyt::metrics::emitted(energosbyt::metrics::Metric::PaymentsNeedingReview);
    let summary = reconciler.run(created + TimeDelta::hours(72) + TimeDelta::minutes(1), None).await.unwrap();
    assert!(summary.needs_review >= 2, "{summary:?}");
    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::PaymentsNeedingReview) >= counted + 2);
    for reviewed in [&mismatched, &orphan] {
        let record = reviewed.record(&store).await;
        assert_eq!(record.payment.status, PaymentStatus::NeedsReview);
        assert!(!reviewed.listed(&store, created).await, "no longer asked about on every run");
    }
    let anomaly = mismatched.record(&store).await.anomaly.unwrap();
    assert!(anomaly.contains("10.01"), "the first, more telling note is kept: {anomaly}");
    assert_eq!(orphan.record(&store).await.anomaly.as_deref(), Some("account missing"));

    // A later run leaves them alone.
    reconciler.run(created + TimeDelta::hours(80), None).await.unwrap();
    assert_eq!(mismatched.record(&store).await.payment.status, PaymentStatus::NeedsReview);

    // The bank confirms the amount we asked after all: credited.
    let app = callback(true).await;
    let mismatched_bank_id: u64 = mismatched_id.parse().unwrap();
    deliver(&app, status_notification(&mismatched, mismatched_bank_id, "CONFIRMED", 1_000)).await;
    let record = mismatched.record(&store).await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(mismatched.balance(&store).await, "10.00".parse().unwrap());
    assert_eq!(mismatched.mails().await, (1, 0));
}

#[tokio::test]
async fn given_a_stored_form_deadline_when_it_passes_then_the_payment_is_abandoned_after_the_margin_and_a_late_capture_still_credits_it()
 {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let bank = Bank::new();
    let created = era(1989, 5);

    // A form that lived two hours (its deadline stored when it was created).
    let deadline = created + TimeDelta::hours(2);
    let short = Customer::with_deadline(&store, "48.00", created, Some(deadline)).await;
    let short_id = bank.init(&short.payment).await;
    store.record_init(&short.payment.id, &short_id, "http://127.0.0.1/pay", created).await.unwrap();
    // Stored before deadlines were kept: the 25-hour rule.
    let (legacy, _) = Customer::at_the_bank(&store, &bank, "12.00", created).await;

    let reconciler = reconciler().await;
    assert_eq!(reconciler.abandon_margin, TimeDelta::hours(1));
    reconciler.run(deadline + TimeDelta::minutes(59), None).await.unwrap();
    assert_eq!(short.record(&store).await.payment.status, PaymentStatus::New, "within the margin");
    reconciler.run(deadline + TimeDelta::hours(1), None).await.unwrap();
    assert_eq!(short.record(&store).await.payment.status, PaymentStatus::Failed, "its deadline and margin passed");
    assert_eq!(legacy.record(&store).await.payment.status, PaymentStatus::New, "younger than 25 h");
    reconciler.run(created + TimeDelta::hours(25), None).await.unwrap();
    assert_eq!(legacy.record(&store).await.payment.status, PaymentStatus::Failed);

    // The customer pays the abandoned form all the same; the bank's CONFIRMED reaches us late.
    assert_eq!(bank.pay(&short_id, "2201382000000013").await["Status"], "CONFIRMED");
    let at_bank: Value = bank
        .http
        .get(format!("{}/sandbox/payments/{short_id}", bank.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let confirmed = at_bank["Notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["status"] == "CONFIRMED")
        .expect("the bank's CONFIRMED")["body"]
        .clone();
    let app = callback(true).await;
    for _ in 0..2 {
        let request = Event::new("POST", "/callbacks/tbank").body(&confirmed).request();
        let response = payment_callback::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), 200);
    }
    let record = short.record(&store).await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.anomaly.as_deref(), Some("confirmed after failure"));
    assert_eq!(short.balance(&store).await, "48.00".parse().unwrap(), "credited once");
    assert_eq!(store.ledger_entries(&short.account).await.unwrap().len(), 1);
    assert_eq!(short.mails().await, (1, 0));
}

impl Bank {
    /// Switches the sandbox's answers to `GetState` / `CheckOrder` (`{"get_state": …}`), each
    /// fault limited to one payment or order by its `match`.
    async fn faults(&self, faults: Value) {
        let answer = self.http.post(format!("{}/sandbox/faults", self.control)).json(&faults).send().await.unwrap();
        assert!(answer.status().is_success(), "the sandbox takes the faults: {}", answer.text().await.unwrap());
    }
}

#[tokio::test]
async fn given_payments_the_bank_answers_only_with_errors_when_72_hours_pass_then_they_go_for_review_never_abandoned_on_a_guess()
 {
    let _one_at_a_time = RUNS.lock().await;
    let store = store().await;
    let bank = Bank::new();
    let created = era(2015, 5);

    // `Init` never reached the bank: no bank id on our side, and the bank refuses `CheckOrder`
    // for an order it does not know.
    let never_seen = Customer::new(&store, "15.00", created).await;
    // At the bank, and every `GetState` about it fails.
    let (unanswered, unanswered_id) = Customer::at_the_bank(&store, &bank, "25.00", created).await;
    bank.faults(json!({
        "check_order": {"mode": "decline", "code": "7", "message": "Заказ не найден.", "match": never_seen.payment.id.as_str()},
        "get_state": {"mode": "http500", "match": unanswered_id},
    }))
    .await;
    let reconciler = reconciler().await;

    // Young: an error of this run, asked again on the next.
    let errors = energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReconciliationErrors);
    let summary = reconciler.run(created + TimeDelta::minutes(20), None).await.unwrap();
    assert!(summary.errors >= 2, "{summary:?}");
    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::ReconciliationErrors) > errors);
    for waiting in [&never_seen, &unanswered] {
        assert_eq!(waiting.record(&store).await.payment.status, PaymentStatus::New);
        assert!(waiting.listed(&store, created).await);
    }

    // Past the form's life, still without the bank's word: nobody is known not to have paid, so
    // nothing is abandoned; still an error of the run.
    let summary = reconciler.run(created + TimeDelta::hours(71), None).await.unwrap();
    assert!(summary.errors >= 2, "{summary:?}");
    for waiting in [&never_seen, &unanswered] {
        assert_eq!(waiting.record(&store).await.payment.status, PaymentStatus::New, "not abandoned on an error");
        assert!(waiting.listed(&store, created).await);
    }

    // Past the review time: an operator's turn, as for any payment the bank never settles.
    let counted = energosbyt::metrics::emitted(energosbyt::metrics::Metric::PaymentsNeedingReview);
    let summary = reconciler.run(created + TimeDelta::hours(73), None).await.unwrap();
    bank.faults(json!({"check_order": "ok", "get_state": "ok"})).await;
    assert!(summary.needs_review >= 2, "{summary:?}");
    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::PaymentsNeedingReview) >= counted + 2);
    for reviewed in [&never_seen, &unanswered] {
        let record = reviewed.record(&store).await;
        assert_eq!(record.payment.status, PaymentStatus::NeedsReview);
        assert!(!reviewed.listed(&store, created).await, "no longer asked about on every run");
        assert_eq!(reviewed.balance(&store).await, Money::ZERO);
    }

    // A later run leaves them to the operator.
    reconciler.run(created + TimeDelta::hours(80), None).await.unwrap();
    assert_eq!(never_seen.record(&store).await.payment.status, PaymentStatus::NeedsReview);
    assert_eq!(unanswered.record(&store).await.payment.status, PaymentStatus::NeedsReview);
}
