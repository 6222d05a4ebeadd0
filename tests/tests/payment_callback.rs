//! `POST /callbacks/tbank` against DynamoDB Local, the SES stand-in (moto) and the acquirer
//! sandbox: what the customer and the operator would notice — the balance, the ledger, the
//! payment's status, the emails in the mailbox, the answer the bank gets.
//!
//! Notifications are signed here with a Token written independently of the code under test.

use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::Utc;
use energosbyt::acquirer::{Acquirer, InitSettings, PaymentInit};
use energosbyt::app::payment_registration::PaySettings;
use energosbyt::config::Env;
use energosbyt::domain::payment_transition::Transition;
use energosbyt::domain::{AccountNumber, Money, PayMethod, Payment, PaymentId, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::{
    Applied, BankFacts, CustomerEmail, LedgerEntry, LedgerReader, Movement, PaymentLedger, PaymentRecord,
    PendingPayments, ReceiptSlot, ReportedStatus,
};
use energosbyt::ports::{AccountImport, AccountReader, PaymentReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::{
    Event, RequestCount, account, counted_store, env, fresh_account_number, sign_notification, sign_notification_with,
    store,
};
use lambda_http::{Body, Response};
use payment_callback::{App, handle};
use serde_json::{Value, json};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Callback = App<DynamoStore, SesMailer>;

/// The configured sender through moto, verified (idempotently) so a fresh moto works too.
async fn moto_mailer() -> SesMailer {
    env("AWS_ENDPOINT_URL_SES");
    let mailer = SesMailer::from_env(&Env::process()).await.expect("SES_SENDER is set");
    mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.expect("moto is running");
    mailer
}

/// A mail service that is down: nothing listens on the discard port.
async fn dead_mailer() -> SesMailer {
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_ses::config::Builder::from(&shared).endpoint_url("http://127.0.0.1:9").build();
    SesMailer::new(aws_sdk_ses::Client::from_conf(config), env("SES_SENDER"))
}

async fn callback_with(mailer: SesMailer) -> Callback {
    let env = Env::process();
    let mailer = Mailer::new(mailer, MailFrom::from_env(&env).expect("SES_SENDER and SELLER_NAME are set"));
    App::configure(&env, integration_tests::demo_secrets(), store().await, mailer).expect("local.env is complete")
}

async fn callback() -> Callback {
    callback_with(moto_mailer().await).await
}

async fn deliver_raw(app: &Callback, body: &Value) -> Response<Body> {
    handle(app, Event::new("POST", "/callbacks/tbank").body(body).request()).await
}

async fn deliver(app: &Callback, notification: Value) -> Response<Body> {
    deliver_raw(app, &sign_notification(notification)).await
}

fn text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

#[track_caller]
fn assert_ok(response: &Response<Body>) {
    assert_eq!((response.status().as_u16(), text(response).as_str()), (200, "OK"));
}

/// A customer with an account and a NEW payment of `amount`, registered at the bank as
/// `acquirer_id`.
struct Given {
    account: AccountNumber,
    payment: Payment,
    acquirer_id: u64,
}

fn fresh_email() -> String {
    format!("payer-{}@example.ru", uuid::Uuid::new_v4().simple())
}

fn fresh_acquirer_id() -> u64 {
    1_000_000_000 + (uuid::Uuid::new_v4().as_u128() % 9_000_000_000) as u64
}

async fn given(balance: &str, amount: &str) -> Given {
    given_created(balance, amount, Utc::now()).await
}

/// As [`given`], the payment created at `now` (its form, stored without a deadline, lived a day).
async fn given_created(balance: &str, amount: &str, now: chrono::DateTime<Utc>) -> Given {
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, balance, vec![]), Utc::now()).await.unwrap();
    let acquirer_id = fresh_acquirer_id();
    let payment = Payment {
        id: PaymentId::random(),
        account: number,
        amount: amount.parse().unwrap(),
        email: Some(fresh_email().parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::New,
        acquirer_payment_id: Some(acquirer_id.to_string()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at: now,
        updated_at: now,
    };
    store.create(&payment).await.unwrap();
    Given { account: number, payment, acquirer_id }
}

impl Given {
    fn kopecks(&self) -> i64 {
        self.payment.amount.kopecks()
    }

    /// A status notification as the bank sends it (`PaymentId` and `Amount` JSON numbers).
    fn status(&self, status: &str, amount_kopecks: i64) -> Value {
        let success = !matches!(status, "REJECTED" | "AUTH_FAIL");
        json!({
            "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": self.payment.id.as_str(), "Success": success,
            "Status": status, "PaymentId": self.acquirer_id, "ErrorCode": if success { "0" } else { "1051" },
            "Amount": amount_kopecks, "CardId": 322264, "Pan": "220138******0013", "ExpDate": "1130",
            "DATA": {"OperationInitiatorType": "0"}
        })
    }

    fn receipt(&self) -> Value {
        let kopecks = self.kopecks();
        json!({
            "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": self.payment.id.as_str(), "Success": true,
            "Status": "RECEIPT", "PaymentId": self.acquirer_id, "ErrorCode": "0", "ErrorMessage": "",
            "Amount": kopecks, "FiscalNumber": 12, "ShiftNumber": 34,
            "ReceiptDatetime": "2026-11-20T15:21:05+03:00", "FnNumber": "9282000100072197",
            "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
            "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
            "Url": "https://nalog.ru", "QrCodeUrl": "https://ofd.example.ru/qr", "SettlePlace": "https://vk.com/app51234567",
            "Receipt": {"Email": self.payment.email_address(), "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
                "Name": format!("Оплата электроэнергии, л/с {}", self.account), "Price": kopecks,
                "Quantity": 1, "Amount": kopecks, "Tax": "vat22", "PaymentMethod": "full_payment",
                "PaymentObject": "service", "MeasurementUnit": "шт"}]}
        })
    }

    /// The fiscal receipt of a refund of the whole payment, as the bank reports it.
    fn refund_receipt(&self) -> Value {
        let mut refund = self.receipt();
        refund["Type"] = json!("IncomeReturn");
        refund["FiscalDocumentNumber"] = json!(64319);
        refund
    }

    async fn balance(&self) -> Money {
        store().await.account(&self.account).await.unwrap().expect("the account").balance.signed()
    }

    async fn ledger(&self) -> Vec<LedgerEntry> {
        store().await.ledger_entries(&self.account).await.unwrap()
    }

    async fn record(&self) -> PaymentRecord {
        store().await.payment_record(&self.payment.id).await.unwrap().expect("the payment")
    }

    /// The emails moto accepted for this payment's customer: (payment received, fiscal receipts).
    async fn mails(&self) -> (usize, usize) {
        let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
        let data: Value = reqwest::get(&url).await.unwrap().error_for_status().unwrap().json().await.unwrap();
        let raws: Vec<String> = data["ses"]["RawMessage"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|m| m["destinations"].to_string().contains(self.payment.email_address()))
            .map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned())
            .collect();
        let with = |needle: String| raws.iter().filter(|raw| raw.contains(&needle)).count();
        (with(format!("<payment-received.{}@", self.payment.id)), with(format!("<receipt.{}.", self.payment.id)))
    }
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

#[tokio::test]
async fn authorized_then_confirmed_credits_the_account_once_and_sends_one_email_each() {
    let app = callback().await;
    let g = given("-1520.37", "1520.37").await;

    assert_ok(&deliver(&app, g.status("AUTHORIZED", g.kopecks())).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Authorized);
    assert_eq!(g.balance().await, m("-1520.37"), "no money on AUTHORIZED");
    assert_eq!(g.mails().await, (0, 0));

    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.balance().await, Money::ZERO, "the debt is paid");
    let ledger = g.ledger().await;
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].movement.clone(), ledger[0].amount), (Movement::Credit, m("1520.37")));
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(
        record.payment.card.as_ref().map(|c| (c.pan.as_str(), c.brand.name())),
        Some(("220138******0013", "Мир"))
    );
    assert!(record.paid_at.is_some());
    assert_eq!(g.mails().await, (1, 0), "the success email, and no receipt yet");
    let pending = store().await.pending_payments(Utc::now() + chrono::TimeDelta::minutes(1), None, 1000).await.unwrap();
    assert!(pending.payments.iter().all(|p| p.id != g.payment.id), "a paid payment leaves the pending index");

    assert_ok(&deliver(&app, g.receipt()).await);
    assert_eq!(g.mails().await, (1, 1));
    let page = store().await.payment_page(&g.payment.id).await.unwrap().unwrap();
    assert!(page.receipt_available, "the status page can say the receipt is there");

    // The bank delivers all three again: nothing moves, nothing is sent twice.
    for again in [g.status("AUTHORIZED", g.kopecks()), g.status("CONFIRMED", g.kopecks()), g.receipt()] {
        assert_ok(&deliver(&app, again).await);
    }
    assert_eq!(g.balance().await, Money::ZERO);
    assert_eq!(g.ledger().await.len(), 1);
    assert_eq!(g.mails().await, (1, 1));
}

/// A CONFIRMED and its RECEIPT applied at the same moment on two instances, each reading the
/// payment before the other's write: the receipt email must still go out, exactly once. (Found
/// by the storm benchmark: one payment in a few hundred kept its receipt unsent.) The credit is
/// written only while no receipt was kept since its read, and the keeping answers the payment as
/// it left it: without the credit's condition this fails on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receipt_racing_its_confirmed_is_still_mailed_exactly_once() {
    for g in &race_with_confirmed(Given::receipt).await {
        assert_eq!(g.mails().await, (1, 1), "payment {}: one success email and one receipt", g.payment.id);
    }
}

/// Twenty payments, each with its CONFIRMED and `other(payment)` delivered at the same moment on
/// two tasks of one instance; both answered OK.
async fn race_with_confirmed(other: fn(&Given) -> Value) -> Vec<Given> {
    let app = Arc::new(callback().await);
    let mut payments = Vec::new();
    for _ in 0..20 {
        payments.push(given("0", "100.00").await);
    }
    race(&app, &payments, |g| (g.status("CONFIRMED", g.kopecks()), other(g))).await;
    payments
}

/// Each payment's two notifications, `pair(payment)`, signed and delivered at the same moment on
/// two tasks of one instance; both answered OK.
async fn race(app: &Arc<Callback>, payments: &[Given], pair: impl Fn(&Given) -> (Value, Value)) {
    let races: Vec<_> = payments
        .iter()
        .map(|g| {
            let (first, second) = pair(g);
            let (first, second) = (sign_notification(first), sign_notification(second));
            let (a, b) = (Arc::clone(app), Arc::clone(app));
            tokio::spawn(async move {
                let (first, second) = tokio::join!(
                    tokio::spawn(async move { deliver_raw(&a, &first).await }),
                    tokio::spawn(async move { deliver_raw(&b, &second).await }),
                );
                assert_ok(&first.unwrap());
                assert_ok(&second.unwrap());
            })
        })
        .collect();
    for race in races {
        race.await.unwrap();
    }
}

/// The same race with a refund's receipt: the bank refunded the payment while its CONFIRMED was
/// still being delivered again, and the refund's RECEIPT lands at the moment the credit does. The
/// credit's condition counts every receipt kept since its read, not the sale's alone: without it
/// the refund's receipt is kept unclaimed, the credit never sees it, and its email never goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_receipt_racing_its_confirmed_is_still_mailed_exactly_once() {
    for g in &race_with_confirmed(Given::refund_receipt).await {
        assert_eq!(g.mails().await, (1, 1), "payment {}: one success email and the refund's receipt", g.payment.id);
        let record = g.record().await;
        assert_eq!(record.receipts_kept, 1, "the keeping counted itself once");
        assert!(
            record.email(&CustomerEmail::Receipt(ReceiptSlot::Refund { document: "64319".into() })).is_some(),
            "the refund receipt's email is recorded"
        );
    }
}

/// What each notification costs in DynamoDB requests, in either order of a CONFIRMED and its
/// RECEIPT: every delivery reads the payment once; the credit and the keeping of a receipt claim
/// the emails they make due in their own write, so an email costs only the write that marks it
/// sent, and the last one marked takes the payment off the reconciliation's list in that write.
#[tokio::test]
async fn each_notification_reads_the_payment_once_and_an_email_costs_one_write_of_its_own() {
    let count = RequestCount::default();
    let env = Env::process();
    let mailer = Mailer::new(moto_mailer().await, MailFrom::from_env(&env).unwrap());
    let app = App::configure(&env, integration_tests::demo_secrets(), counted_store(&count).await, mailer).unwrap();
    let ops = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(operation, n)| ((*operation).to_owned(), *n)).collect()
    };

    // The receipt first: kept, its email waiting for the credit; the credit claims both emails.
    let g = given("0", "100.00").await;
    count.take();
    assert_ok(&deliver(&app, g.status("AUTHORIZED", g.kopecks())).await);
    assert_eq!(count.take_by_operation(), ops(&[("GetItem", 1), ("UpdateItem", 1)]), "AUTHORIZED");
    assert_ok(&deliver(&app, g.receipt()).await);
    assert_eq!(count.take_by_operation(), ops(&[("GetItem", 1), ("UpdateItem", 1)]), "RECEIPT, not yet credited");
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(
        count.take_by_operation(),
        ops(&[("GetItem", 1), ("TransactWriteItems", 1), ("UpdateItem", 2)]),
        "CONFIRMED: the credit with both claims, two emails marked sent, the second with the payment off the list"
    );
    assert_eq!(g.mails().await, (1, 1));
    assert!(!listed(&g.payment.id).await, "mailed, it left the reconciliation's list");

    // The credit first: it claims its email; the receipt's keeping claims the receipt's.
    let g = given("0", "100.00").await;
    count.take();
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(
        count.take_by_operation(),
        ops(&[("GetItem", 1), ("TransactWriteItems", 1), ("UpdateItem", 1)]),
        "CONFIRMED: the credit with its claim, the email marked sent with the payment off the list"
    );
    assert_ok(&deliver(&app, g.receipt()).await);
    assert_eq!(
        count.take_by_operation(),
        ops(&[("GetItem", 1), ("UpdateItem", 2)]),
        "RECEIPT: kept with its claim, the email marked sent"
    );
    assert!(!listed(&g.payment.id).await, "mailed, it left the reconciliation's list");
    for again in [g.status("CONFIRMED", g.kopecks()), g.receipt()] {
        let what = again["Status"].to_string();
        assert_ok(&deliver(&app, again).await);
        assert_eq!(count.take_by_operation(), ops(&[("GetItem", 1)]), "a duplicate {what} only reads");
    }
    assert_eq!(g.mails().await, (1, 1));
    assert_eq!(g.balance().await, m("100.00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_confirmed_delivered_five_times_at_once_credits_once() {
    let app = Arc::new(callback().await);
    let g = given("0", "2500.00").await;
    let body = sign_notification(g.status("CONFIRMED", g.kopecks()));
    let deliveries: Vec<_> = (0..5)
        .map(|_| {
            let (app, body) = (Arc::clone(&app), body.clone());
            tokio::spawn(async move { deliver_raw(&app, &body).await })
        })
        .collect();
    for delivery in deliveries {
        assert_ok(&delivery.await.unwrap());
    }
    assert_eq!(g.balance().await, m("2500.00"));
    let ledger = g.ledger().await;
    assert_eq!(ledger.iter().filter(|e| e.movement == Movement::Credit).count(), 1, "{ledger:?}");
    assert_eq!(ledger.len(), 1);
    assert_eq!(g.mails().await, (1, 0), "one success email");
}

#[tokio::test]
async fn confirmed_before_authorized_credits_and_the_late_authorized_changes_nothing() {
    let app = callback().await;
    let g = given("100.00", "50.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Paid);
    assert_ok(&deliver(&app, g.status("AUTHORIZED", g.kopecks())).await);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Paid, "never downgraded");
    assert_eq!(g.balance().await, m("150.00"));
    assert_eq!(g.ledger().await.len(), 1);
    assert_eq!(g.mails().await, (1, 0));
}

#[tokio::test]
async fn a_receipt_before_confirmed_is_kept_and_mailed_once_after_the_credit() {
    let app = callback().await;
    let g = given("0", "731.15").await;

    assert_ok(&deliver(&app, g.receipt()).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::New);
    assert!(record.receipt(&ReceiptSlot::Sale).is_some(), "kept for later");
    assert_eq!(g.mails().await, (0, 0), "nothing is mailed for a payment not yet credited");

    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.mails().await, (1, 1), "the credit sends both, the receipt included");
    assert!(matches!(
        g.record().await.email(&CustomerEmail::Receipt(ReceiptSlot::Sale)),
        Some(energosbyt::ports::ledger::EmailMark::Sent { .. })
    ));

    assert_ok(&deliver(&app, g.receipt()).await);
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.mails().await, (1, 1), "never doubled");
    assert_eq!(g.balance().await, m("731.15"));
}

#[tokio::test]
async fn an_amount_mismatch_credits_nothing_and_marks_the_payment() {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks() - 1)).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::New, "not paid");
    let anomaly = record.anomaly.expect("an anomaly for an operator");
    assert!(anomaly.contains("999.99") && anomaly.contains("1000.00"), "{anomaly}");
    assert_eq!(g.balance().await, Money::ZERO);
    assert!(g.ledger().await.is_empty());
    assert_eq!(g.mails().await, (0, 0));
}

#[tokio::test]
async fn given_a_decline_notified_without_amount_or_success_then_it_is_acknowledged_and_ends_the_payment() {
    let app = callback().await;
    let g = given("0", "10.00").await;
    let mut rejected = g.status("REJECTED", g.kopecks());
    for field in ["Amount", "Success", "CardId", "Pan", "ExpDate"] {
        rejected.as_object_mut().unwrap().remove(field);
    }

    // Fields vary by status: refused, it would come back every hour for a day and change nothing.
    assert_ok(&deliver(&app, rejected).await);

    assert_eq!(g.record().await.payment.status, PaymentStatus::Failed);
    assert!(!listed(&g.payment.id).await, "nothing left for the reconciliation");
}

#[tokio::test]
async fn given_a_capture_notified_with_an_error_then_no_money_moves_and_the_reconciliation_keeps_it() {
    let app = callback().await;
    let g = given("0", "10.00").await;
    let mut contradictory = g.status("CONFIRMED", g.kopecks());
    contradictory["Success"] = json!(false);
    contradictory["ErrorCode"] = json!("1051");

    assert_ok(&deliver(&app, contradictory).await);

    assert_eq!(g.record().await.payment.status, PaymentStatus::New, "not credited on a report of an error");
    assert_eq!(g.balance().await, Money::ZERO);
    assert!(g.ledger().await.is_empty());
    assert_eq!(g.mails().await, (0, 0));
    assert!(listed(&g.payment.id).await, "left for the reconciliation's GetState");

    // The capture reported cleanly is credited as ever.
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.balance().await, m("10.00"));
}

#[tokio::test]
async fn a_mail_outage_is_answered_503_then_the_retry_sends_the_email_once_without_crediting_again() {
    let store_down_mail = callback_with(dead_mailer().await).await;
    let g = given("0", "300.00").await;

    let response = deliver(&store_down_mail, g.status("CONFIRMED", g.kopecks())).await;
    assert_eq!(response.status().as_u16(), 503, "the bank must deliver it again");
    assert_ne!(text(&response), "OK");
    assert_eq!(g.balance().await, m("300.00"), "the credit itself is durable");
    assert_eq!(g.record().await.email(&CustomerEmail::PaymentReceived), None, "the claim was released");
    assert_eq!(g.mails().await, (0, 0));

    let recovered = callback().await;
    assert_ok(&deliver(&recovered, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.mails().await, (1, 0), "exactly one success email");
    assert_eq!(g.balance().await, m("300.00"), "credited once");
    assert_eq!(g.ledger().await.len(), 1);
}

/// DynamoDB applied the keeping of a receipt (and its email's claim) but its answer was lost; the
/// SDK sent the write again, which then found the receipt already kept. The claim is still this
/// delivery's: the receipt is mailed now, not left claimed by nobody until the claim times out.
#[tokio::test]
async fn given_a_receipts_keeping_whose_answer_was_lost_when_the_retry_finds_it_kept_then_it_is_mailed_at_once() {
    let g = given("0", "415.60").await;
    assert_ok(&deliver(&callback().await, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.mails().await, (1, 0));

    let losing = LoseAnswer::of_receipt_keeping();
    let env = Env::process();
    let mailer =
        Mailer::new(moto_mailer().await, MailFrom::from_env(&env).expect("SES_SENDER and SELLER_NAME are set"));
    let app = App::configure(&env, integration_tests::demo_secrets(), losing.store().await, mailer).expect("local.env");
    assert_ok(&deliver(&app, g.receipt()).await);

    assert_eq!(losing.lost(), 1, "the keeping's first answer was lost and the SDK retried it");
    assert_eq!(g.mails().await, (1, 1), "the receipt went out with the delivery that kept it");
    assert!(matches!(
        g.record().await.email(&CustomerEmail::Receipt(ReceiptSlot::Sale)),
        Some(energosbyt::ports::ledger::EmailMark::Sent { .. })
    ));
}

/// Loses the answer to the first `UpdateItem` that keeps a receipt (an update naming a `receipt`
/// attribute) after DynamoDB applied it, as a cut connection would: the SDK retries the write.
#[derive(Clone, Debug, Default)]
struct LoseAnswer(Arc<Mutex<Losing>>);

#[derive(Debug, Default)]
struct Losing {
    /// The request under way keeps a receipt, and no answer was lost yet.
    armed: bool,
    lost: u32,
}

impl LoseAnswer {
    fn of_receipt_keeping() -> Self {
        Self::default()
    }

    async fn store(&self) -> DynamoStore {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&shared).interceptor(self.clone()).build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), env("TABLE_NAME"))
    }

    /// How many answers were lost.
    fn lost(&self) -> u32 {
        self.0.lock().unwrap().lost
    }
}

impl Intercept for LoseAnswer {
    fn name(&self) -> &'static str {
        "LoseAnswer"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let keeps_receipt = context.input().downcast_ref::<UpdateItemInput>().is_some_and(|update| {
            update.expression_attribute_names().is_some_and(|names| names.values().any(|name| name == "receipt"))
        });
        let mut state = self.0.lock().unwrap();
        state.armed = keeps_receipt && state.lost == 0;
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.0.lock().unwrap();
        if let (true, Some(answer @ Ok(_))) = (state.armed, context.output_or_error_mut()) {
            *answer = Err(OrchestratorError::connector(ConnectorError::io("the answer was lost".into())));
            state.armed = false;
            state.lost += 1;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_refund_after_the_credit_takes_the_money_back_once() {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);

    // 300 given back: the bank's Amount read as the refunded total.
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);
    assert_eq!(g.balance().await, m("700.00"));
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);
    assert_eq!(g.balance().await, m("700.00"), "a duplicate refund changes nothing");
    let record = g.record().await;
    assert_eq!((record.payment.status, record.payment.refunded), (PaymentStatus::PartiallyRefunded, m("300.00")));

    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);
    assert_eq!(g.balance().await, Money::ZERO, "all of it back");
    let refunds: Vec<(Money, Movement)> = g
        .ledger()
        .await
        .into_iter()
        .filter(|e| e.movement != Movement::Credit)
        .map(|e| (e.amount, e.movement))
        .collect();
    assert_eq!(
        refunds,
        vec![
            (m("-700.00"), Movement::Refund { total_refunded: m("1000.00") }),
            (m("-300.00"), Movement::Refund { total_refunded: m("300.00") }),
        ]
    );
    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);
    assert_eq!(g.balance().await, Money::ZERO, "late and duplicate refunds change nothing");
    assert_eq!(g.ledger().await.len(), 3);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn a_refund_reported_before_its_credit_is_asked_for_again_then_applied() {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    let early = deliver(&app, g.status("PARTIAL_REFUNDED", 40_000)).await;
    assert_eq!(early.status().as_u16(), 503);
    assert_eq!(g.balance().await, Money::ZERO);

    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 40_000)).await);
    assert_eq!(g.balance().await, m("600.00"));

    // A full refund overtaking its CONFIRMED is not a reversal: it waits for the credit too.
    let overtaken = given("0", "250.00").await;
    assert_eq!(deliver(&app, overtaken.status("REFUNDED", overtaken.kopecks())).await.status().as_u16(), 503);
    assert_eq!(overtaken.record().await.payment.status, PaymentStatus::New, "not failed");
    assert_ok(&deliver(&app, overtaken.status("CONFIRMED", overtaken.kopecks())).await);
    assert_ok(&deliver(&app, overtaken.status("REFUNDED", overtaken.kopecks())).await);
    assert_eq!(overtaken.record().await.payment.status, PaymentStatus::Refunded);
    assert_eq!(overtaken.balance().await, Money::ZERO);
    assert_eq!(overtaken.ledger().await.len(), 2, "the credit and the refund, each recorded");
    assert_eq!(overtaken.mails().await, (1, 0), "the customer did pay");
}

/// The payment as the reconciliation leaves one waiting past its review time.
async fn send_for_review(g: &Given) {
    let facts = BankFacts {
        status: ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::Authorized),
        acquirer_payment_id: Some(g.acquirer_id.to_string()),
        card: None,
        error_code: None,
        at: Utc::now(),
    };
    let read = g.record().await;
    let sent = store()
        .await
        .apply_transition(&read, &Transition::Progress(PaymentStatus::NeedsReview), &facts, &[])
        .await
        .unwrap();
    assert_eq!(sent, Applied::Written);
}

#[tokio::test]
async fn given_a_refund_of_a_payment_no_confirmed_can_credit_any_more_then_it_is_acknowledged_noted_and_moves_nothing()
{
    let app = callback().await;

    // The capture came for another amount and was refused.
    let mismatched = given("0", "1000.00").await;
    assert_ok(&deliver(&app, mismatched.status("CONFIRMED", mismatched.kopecks() - 1)).await);
    // The capture came with Success false and an error code.
    let contradicted = given("0", "1000.00").await;
    let mut capture = contradicted.status("CONFIRMED", contradicted.kopecks());
    capture["Success"] = json!(false);
    capture["ErrorCode"] = json!("1051");
    assert_ok(&deliver(&app, capture).await);
    // Declined, or with an operator.
    let rejected = given("0", "1000.00").await;
    assert_ok(&deliver(&app, rejected.status("REJECTED", rejected.kopecks())).await);
    let reviewed = given("0", "1000.00").await;
    send_for_review(&reviewed).await;
    // Still waiting, but older than any CONFIRMED the bank may still be delivering.
    let forgotten = given_created("0", "1000.00", Utc::now() - chrono::TimeDelta::days(3)).await;

    for (g, status) in [
        (&mismatched, PaymentStatus::New),
        (&contradicted, PaymentStatus::New),
        (&rejected, PaymentStatus::Failed),
        (&reviewed, PaymentStatus::NeedsReview),
        (&forgotten, PaymentStatus::New),
    ] {
        for (refund, amount) in [("PARTIAL_REFUNDED", 40_000), ("REFUNDED", g.kopecks()), ("REFUNDED", g.kopecks())] {
            // Delivered again for a day otherwise, and never applicable.
            assert_ok(&deliver(&app, g.status(refund, amount)).await);
            let record = g.record().await;
            assert_eq!((record.payment.status, record.payment.refunded), (status, Money::ZERO), "{refund}");
            let anomaly = record.anomaly.expect("noted for an operator");
            assert!(anomaly.starts_with("refund of a payment never credited"), "{anomaly}");
        }
        assert_eq!(g.balance().await, Money::ZERO, "{status:?}: no money moved");
        assert!(g.ledger().await.is_empty());
        assert_eq!(g.mails().await, (0, 0));
    }
    let anomaly = mismatched.record().await.anomaly.unwrap();
    assert!(anomaly.contains("999.99") && anomaly.contains("1000.00"), "the mismatch is still told: {anomaly}");

    // A young payment waiting for its bank still has its refund delivered again.
    let young = given("0", "1000.00").await;
    assert_eq!(deliver(&app, young.status("REFUNDED", young.kopecks())).await.status().as_u16(), 503);
    assert_eq!(young.record().await.anomaly, None);
}

#[tokio::test]
async fn given_a_credited_payment_when_a_partial_refund_is_of_nothing_all_or_more_then_it_is_noted_and_moves_nothing() {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);

    for (status, amount) in [
        ("PARTIAL_REFUNDED", g.kopecks()),
        ("PARTIAL_REFUNDED", 0),
        ("PARTIAL_REFUNDED", g.kopecks() + 1),
        ("PARTIAL_REVERSED", g.kopecks()),
        ("PARTIAL_REVERSED", 0),
    ] {
        assert_ok(&deliver(&app, g.status(status, amount)).await);
        let record = g.record().await;
        assert_eq!(
            (record.payment.status, record.payment.refunded),
            (PaymentStatus::Paid, Money::ZERO),
            "{status} of {amount}"
        );
        assert_eq!(g.balance().await, m("1000.00"), "{status} of {amount}: nothing debited");
        assert_eq!(record.anomaly.as_deref(), Some("partial refund of an impossible amount"), "{status} of {amount}");
    }
    assert_eq!(g.ledger().await.len(), 1, "the credit only");

    // A partial refund of part of it moves that part; the full refund the rest.
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);
    assert_eq!(g.balance().await, m("700.00"));
    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);
    assert_eq!(g.balance().await, Money::ZERO);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn given_signed_notifications_with_a_null_error_code_then_they_are_applied() {
    let app = callback().await;
    let g = given("-10.00", "10.00").await;
    let mut confirmed = g.status("CONFIRMED", g.kopecks());
    confirmed["ErrorCode"] = Value::Null;
    confirmed["Message"] = Value::Null;
    confirmed["RebillId"] = Value::Null;
    assert_ok(&deliver(&app, confirmed).await);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Paid);
    assert_eq!(g.balance().await, Money::ZERO);

    let mut receipt = g.receipt();
    receipt["ErrorCode"] = Value::Null;
    receipt["ErrorMessage"] = Value::Null;
    assert_ok(&deliver(&app, receipt).await);
    assert_eq!(g.mails().await, (1, 1));

    // Still signed: a null does not excuse a wrong Token.
    let mut forged = sign_notification_with(g.status("CONFIRMED", g.kopecks()), "guess");
    forged["ErrorCode"] = Value::Null;
    assert_eq!(deliver_raw(&app, &forged).await.status().as_u16(), 401);
}

#[tokio::test]
async fn failures_end_the_payment_without_money_and_never_revive_it() {
    let app = callback().await;
    let rejected = given("0", "10.00").await;
    assert_ok(&deliver(&app, rejected.status("REJECTED", rejected.kopecks())).await);
    assert_eq!(rejected.record().await.payment.status, PaymentStatus::Failed);
    assert_ok(&deliver(&app, rejected.status("AUTHORIZED", rejected.kopecks())).await);
    assert_eq!(rejected.record().await.payment.status, PaymentStatus::Failed, "never revived");
    assert_eq!(rejected.balance().await, Money::ZERO);

    // A reversal of an authorisation never captured: no money moved either.
    let reversed = given("0", "10.00").await;
    assert_ok(&deliver(&app, reversed.status("AUTHORIZED", reversed.kopecks())).await);
    assert_ok(&deliver(&app, reversed.status("REVERSED", reversed.kopecks())).await);
    assert_eq!(reversed.record().await.payment.status, PaymentStatus::Failed);
    assert!(reversed.ledger().await.is_empty());

    let pending = store().await.pending_payments(Utc::now() + chrono::TimeDelta::minutes(1), None, 1000).await.unwrap();
    assert!(
        pending.payments.iter().all(|p| p.id != rejected.payment.id && p.id != reversed.payment.id),
        "failed payments leave the pending index"
    );
}

/// Whether the payment is in the index the reconciliation reads.
async fn listed(id: &PaymentId) -> bool {
    let store = store().await;
    let mut cursor = None;
    loop {
        let page =
            store.pending_payments(Utc::now() + chrono::TimeDelta::days(1), cursor.as_ref(), 1000).await.unwrap();
        if page.payments.iter().any(|p| &p.id == id) {
            return true;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return false,
        }
    }
}

#[tokio::test]
async fn given_a_failed_or_abandoned_payment_when_the_bank_confirms_it_then_it_is_credited_once_mailed_and_noted() {
    let app = callback().await;
    let store = store().await;

    let rejected = given("-10.00", "10.00").await;
    assert_ok(&deliver(&app, rejected.status("REJECTED", rejected.kopecks())).await);
    // Abandoned by the reconciliation: nobody had paid on the form by its deadline.
    let abandoned = given("0", "25.50").await;
    store.mark_failed(&abandoned.payment.id, "ABANDONED", Utc::now()).await.unwrap();
    assert!(!listed(&abandoned.payment.id).await);

    for (g, balance) in [(&rejected, "0.00"), (&abandoned, "25.50")] {
        assert_eq!(g.record().await.payment.status, PaymentStatus::Failed);
        assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);

        let record = g.record().await;
        assert_eq!(record.payment.status, PaymentStatus::Paid, "the bank has the money: so does the account");
        assert_eq!(g.balance().await, m(balance));
        let ledger = g.ledger().await;
        assert_eq!(ledger.len(), 1);
        assert_eq!((ledger[0].movement.clone(), ledger[0].amount), (Movement::Credit, g.payment.amount));
        assert_eq!(record.anomaly.as_deref(), Some("confirmed after failure"), "an operator sees the late capture");
        assert_eq!(g.mails().await, (1, 0), "the customer hears of it as of any credit");

        // Its receipt follows as for any credit, and then the payment leaves the index.
        assert_ok(&deliver(&app, g.receipt()).await);
        assert_eq!(g.mails().await, (1, 1));
        assert!(!listed(&g.payment.id).await, "mailed, it leaves the pending index");

        // Delivered again: nothing more.
        assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
        assert_ok(&deliver(&app, g.receipt()).await);
        assert_eq!(g.balance().await, m(balance), "credited once");
        assert_eq!(g.ledger().await.len(), 1);
        assert_eq!(g.mails().await, (1, 1), "mailed once");
    }
}

#[tokio::test]
async fn given_a_failed_payment_when_the_bank_confirms_another_amount_then_nothing_is_credited_and_it_is_noted() {
    let app = callback().await;
    let g = given("0", "40.00").await;
    assert_ok(&deliver(&app, g.status("REJECTED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks() + 1)).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Failed);
    let anomaly = record.anomaly.expect("noted for an operator");
    assert!(anomaly.contains("40.00") && anomaly.contains("40.01"), "{anomaly}");
    assert_eq!(g.balance().await, Money::ZERO);
    assert!(g.ledger().await.is_empty());
    assert_eq!(g.mails().await, (0, 0));
}

#[tokio::test]
async fn given_a_payment_under_review_when_the_bank_confirms_it_then_it_is_credited_once_and_noted() {
    let app = callback().await;
    let g = given("0", "77.00").await;
    send_for_review(&g).await;
    assert!(!listed(&g.payment.id).await, "under review, it leaves the pending index");

    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.anomaly.as_deref(), Some("confirmed after review"));
    assert_eq!(g.balance().await, m("77.00"));
    assert_eq!(g.ledger().await.len(), 1);
    assert_eq!(g.mails().await, (1, 0));
}

#[tokio::test]
async fn given_a_credited_payment_when_another_attempt_is_refunded_then_no_money_moves_and_it_is_noted() {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    let other = fresh_acquirer_id();
    for (status, amount) in [("REFUNDED", g.kopecks()), ("PARTIAL_REFUNDED", 30_000), ("REVERSED", g.kopecks())] {
        let mut refund = g.status(status, amount);
        refund["PaymentId"] = json!(other);
        assert_ok(&deliver(&app, refund).await);
        let record = g.record().await;
        assert_eq!(g.balance().await, m("1000.00"), "{status} of another attempt: nothing debited");
        assert_eq!((record.payment.status, record.payment.refunded), (PaymentStatus::Paid, Money::ZERO), "{status}");
        assert_eq!(record.anomaly.as_deref(), Some("refund of another attempt"), "{status}");
    }
    assert_eq!(g.ledger().await.len(), 1, "the credit only");

    // The credited attempt's own refund still moves its money.
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);
    assert_eq!(g.balance().await, m("700.00"));
}

#[tokio::test]
async fn given_a_pending_payment_when_another_attempt_captures_then_it_is_credited_and_a_second_capture_is_noted_never_credited()
 {
    let app = callback().await;
    let g = given("0", "300.00").await;
    let other = fresh_acquirer_id();
    let mut confirmed_other = g.status("CONFIRMED", g.kopecks());
    confirmed_other["PaymentId"] = json!(other);

    assert_ok(&deliver(&app, confirmed_other.clone()).await);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid, "money received is credited");
    let credited = other.to_string();
    assert_eq!(record.payment.acquirer_payment_id.as_deref(), Some(credited.as_str()), "the attempt credited");
    assert_eq!(g.balance().await, m("300.00"));
    assert_eq!(record.anomaly, None);

    // The attempt recorded at Init captures too: the customer paid twice for one order.
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    let record = g.record().await;
    assert_eq!(g.balance().await, m("300.00"), "never a second credit");
    assert_eq!(g.ledger().await.len(), 1);
    let anomaly = record.anomaly.expect("a second capture is noted on the payment");
    assert!(anomaly.starts_with("second capture"), "{anomaly}");
    assert_eq!(g.mails().await, (1, 0));

    // Its refund is another attempt's: it moves nothing. The credited attempt's refund does.
    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);
    assert_eq!(g.balance().await, m("300.00"));
    let mut refund_credited = g.status("REFUNDED", g.kopecks());
    refund_credited["PaymentId"] = json!(other);
    assert_ok(&deliver(&app, refund_credited).await);
    assert_eq!(g.balance().await, Money::ZERO);
    assert_eq!(g.record().await.payment.status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn forged_unsigned_and_foreign_notifications_are_refused_and_change_nothing() {
    let app = callback().await;
    let g = given("0", "500.00").await;
    let confirmed = g.status("CONFIRMED", g.kopecks());

    let mut foreign = confirmed.clone();
    foreign["TerminalKey"] = json!("SomeoneElsesTerminal");
    let mut tampered = sign_notification(confirmed.clone());
    tampered["Amount"] = json!(g.kopecks() * 10);
    let cases = [
        ("forged", sign_notification_with(confirmed.clone(), "not-our-password"), 401),
        ("unsigned", confirmed.clone(), 401),
        ("tampered after signing", tampered, 401),
        ("another terminal", sign_notification(foreign), 403),
        (
            "signed, not a notification",
            sign_notification(json!({"TerminalKey": env("TBANK_TERMINAL_KEY"), "Hello": 1})),
            400,
        ),
    ];
    for (name, body, status) in cases {
        let response = deliver_raw(&app, &body).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_ne!(text(&response), "OK", "{name}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{name}");
    }
    let not_json = Event::new("POST", "/callbacks/tbank").request();
    let mut not_json = not_json;
    *not_json.body_mut() = Body::Text("OK, pay me".into());
    assert_eq!(handle(&app, not_json).await.status().as_u16(), 400);
    let mut huge = Event::new("POST", "/callbacks/tbank").request();
    *huge.body_mut() = Body::Text(format!("{{\"Pad\":\"{}\"}}", "x".repeat(70_000)));
    assert_eq!(handle(&app, huge).await.status().as_u16(), 413);

    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::New);
    assert_eq!(record.payment.card, None);
    assert_eq!(g.balance().await, Money::ZERO);
    assert!(g.ledger().await.is_empty());
    assert_eq!(g.mails().await, (0, 0));
}

#[tokio::test]
async fn a_valid_notification_of_an_unknown_order_is_acknowledged() {
    let app = callback().await;
    let g = given("0", "1.00").await;
    let mut unknown = g.status("CONFIRMED", 100);
    unknown["OrderId"] = json!(PaymentId::random().as_str());
    assert_ok(&deliver(&app, unknown).await);
    let mut not_ours = g.status("CONFIRMED", 100);
    not_ours["OrderId"] = json!("order-from-another-shop");
    assert_ok(&deliver(&app, not_ours).await);
    assert_eq!(g.balance().await, Money::ZERO);
}

/// A loopback HTTP server in front of the handler, standing where API Gateway would: the
/// sandbox posts its notifications to it and reads our answer.
fn serve_callback(app: Arc<Callback>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/callbacks/tbank", listener.local_addr().expect("an address"));
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (app, runtime) = (Arc::clone(&app), runtime.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let mut event = Event::new("POST", "/callbacks/tbank").json().clone();
                event["body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
                let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
                let response = runtime.block_on(handle(&app, request));
                let answer = text(&response);
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    response.status().as_u16(),
                    answer.len()
                );
                let mut stream = reader.into_inner();
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_card_payment_at_the_sandbox_credits_the_account_and_mails_both_emails() {
    let app = Arc::new(callback().await);
    let notification_url = serve_callback(Arc::clone(&app));
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "-845.10", vec![]), Utc::now()).await.unwrap();
    let now = Utc::now();
    let mut payment = Payment {
        id: PaymentId::random(),
        account: number,
        amount: m("845.10"),
        email: Some(fresh_email().parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::New,
        acquirer_payment_id: None,
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at: now,
        updated_at: now,
    };
    store.create(&payment).await.unwrap();

    // What the pay function does: Init with our payment id as OrderId, then record the answer.
    let client = integration_tests::acquirer();
    let settings =
        InitSettings::new(notification_url, "http://127.0.0.1:5173/#/return", "http://127.0.0.1:5173/#/return");
    let init = PaymentInit {
        order_id: payment.id.as_str(),
        account: number,
        amount: payment.amount,
        email: payment.email_address(),
        now,
        deadline: settings.form_deadline(now).unwrap(),
    }
    .build(&settings)
    .unwrap();
    let answer = client.init(&init).await.expect("the sandbox answers Init");
    store.record_init(&payment.id, answer.payment_id.as_str(), &answer.payment_url, Utc::now()).await.unwrap();
    payment.acquirer_payment_id = Some(answer.payment_id.to_string());
    let g = Given { account: number, payment, acquirer_id: answer.payment_id.as_str().parse().unwrap() };

    // The customer pays on the form; the sandbox posts AUTHORIZED, CONFIRMED, then RECEIPT.
    let sandbox = env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned();
    let http = reqwest::Client::new();
    let paid: Value = http
        .post(format!("{sandbox}/sandbox/pay/{}", answer.payment_id))
        .json(&json!({"pan": "2201382000000013"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["Status"], "CONFIRMED", "{paid}");

    let mut delivered = Vec::new();
    for _ in 0..100 {
        let state: Value = http
            .get(format!("{sandbox}/sandbox/payments/{}", answer.payment_id))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        delivered = state["Notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["delivered"] == true)
            .map(|n| n["status"].as_str().unwrap_or_default().to_owned())
            .collect();
        if delivered.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered, ["AUTHORIZED", "CONFIRMED", "RECEIPT"], "each answered OK on its first delivery");
    assert_eq!(g.balance().await, Money::ZERO, "the debt is paid");
    assert_eq!(g.ledger().await.len(), 1);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.card.map(|c| c.brand.name()), Some("Мир"));
    assert_eq!(g.mails().await, (1, 1));
}

/// The notifications the sandbox delivered for one bank payment, once `count` of them were.
async fn delivered(acquirer_id: &str, count: usize) -> Vec<Value> {
    let sandbox = env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned();
    let mut found = Vec::new();
    for _ in 0..100 {
        let state: Value =
            reqwest::get(format!("{sandbox}/sandbox/payments/{acquirer_id}")).await.unwrap().json().await.unwrap();
        found = state["Notifications"].as_array().unwrap().iter().filter(|n| n["delivered"] == true).cloned().collect();
        if found.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_a_sbp_payment_when_the_customer_confirms_in_the_bank_app_then_it_credits_once_and_mails_both() {
    let app = Arc::new(callback().await);
    let notification_url = serve_callback(Arc::clone(&app));
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "-845.10", vec![]), Utc::now()).await.unwrap();
    let mut settings = PaySettings::from_env(&Env::process()).expect("local.env sets the payment settings");
    settings.init.notification_url = notification_url;
    let mut edge = integration_tests::edge();
    edge.clock = Utc::now;
    let pay =
        pay::App { store: integration_tests::store().await, acquirer: integration_tests::acquirer(), edge, settings };
    let customer = 800_000_000 + (uuid::Uuid::new_v4().as_u128() % 100_000_000) as u64;
    let launch = integration_tests::vk_launch(customer, Utc::now());
    let email = fresh_email();
    let body = json!({"account": number.to_string(), "amount": "845.10", "email": email, "method": "sbp"});
    let request = Event::new("POST", "/payments").vk(&launch).header("idempotency-key", "sbp-e2e").body(&body);

    let created = pay::handle(&pay, request.request()).await;

    assert_eq!(created.status(), 201, "{}", text(&created));
    let answer = integration_tests::body_json(&created);
    let id: PaymentId = answer["paymentId"].as_str().unwrap().parse().unwrap();
    let link = answer["paymentUrl"].as_str().unwrap().to_owned();
    let payment = store.payment(&id).await.unwrap().expect("the payment");
    let acquirer_id = payment.acquirer_payment_id.clone().expect("the bank's id is recorded with the link");
    assert!(link.ends_with(&format!("/sbp/{acquirer_id}")), "{link}");

    // The customer's bank app confirms; the sandbox posts AUTHORIZED, CONFIRMED, then RECEIPT.
    let sandbox = env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned();
    let http = reqwest::Client::new();
    let confirmed: Value = http
        .post(format!("{sandbox}/sandbox/sbp/{acquirer_id}"))
        .json(&json!({"action": "confirm"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["Status"], "CONFIRMED", "{confirmed}");
    let notifications = delivered(&acquirer_id, 3).await;
    let statuses: Vec<&str> = notifications.iter().map(|n| n["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["AUTHORIZED", "CONFIRMED", "RECEIPT"]);

    let g = Given { account: number, payment, acquirer_id: acquirer_id.parse().unwrap() };
    assert_eq!(g.balance().await, Money::ZERO, "the debt is paid");
    // The bank's CONFIRMED again, as its retries would send it: nothing more is credited.
    assert_ok(&deliver_raw(&app, &notifications[1]["body"]).await);
    // And one carrying a `Pan`, should the bank send one for СБП: it is still not a card.
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_eq!(g.ledger().await.len(), 1, "credited exactly once");
    assert_eq!(g.balance().await, Money::ZERO);
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.method, PayMethod::Sbp);
    assert_eq!(record.payment.card, None);
    assert_eq!(g.mails().await, (1, 1));

    let shown = pay::handle(&pay, Event::new("GET", &format!("/payments/{id}")).vk(&launch).request()).await;
    let shown = integration_tests::body_json(&shown);
    assert_eq!((shown["status"].as_str(), shown["method"].as_str()), (Some("PAID"), Some("sbp")), "{shown}");
}

#[tokio::test]
async fn given_a_sbp_payment_when_the_banks_notifications_carry_a_pan_then_no_card_is_kept() {
    let app = callback().await;
    let g = given("-300", "300").await;
    let store = store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("PAYMENT#{}", g.payment.id)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("PAYMENT".into()))
        .update_expression("SET #m = :sbp")
        .expression_attribute_names("#m", "method")
        .expression_attribute_values(":sbp", aws_sdk_dynamodb::types::AttributeValue::S("sbp".into()))
        .send()
        .await
        .unwrap();

    assert_ok(&deliver(&app, g.status("AUTHORIZED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);

    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.method, PayMethod::Sbp);
    assert_eq!(record.payment.card, None, "what the bank sent for СБП is not a card");
    assert_eq!(g.ledger().await.len(), 1);
}

/// Fiscal documents of one payment the bank reports without their `Type`.
impl Given {
    /// The receipt of a fiscal document `document` for `kopecks`, its `Type` left out by the bank.
    fn untyped_receipt(&self, document: u64, kopecks: i64) -> Value {
        let mut receipt = self.receipt();
        receipt.as_object_mut().unwrap().remove("Type");
        receipt["FiscalDocumentNumber"] = json!(document);
        receipt["Amount"] = json!(kopecks);
        receipt["Receipt"]["Items"][0]["Price"] = json!(kopecks);
        receipt["Receipt"]["Items"][0]["Amount"] = json!(kopecks);
        receipt
    }

    /// The subjects of the fiscal receipt emails this payment's customer got, by FD number.
    async fn receipt_subjects(&self) -> BTreeMap<String, Vec<String>> {
        let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
        let data: Value = reqwest::get(&url).await.unwrap().error_for_status().unwrap().json().await.unwrap();
        let prefix = format!("receipt.{}.", self.payment.id);
        let mut subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for raw in data["ses"]["RawMessage"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(mail) =
                raw["raw_data"].as_str().and_then(|r| mail_parser::MessageParser::default().parse(r.as_bytes()))
            else {
                continue;
            };
            let Some(document) = mail.message_id().and_then(|id| id.strip_prefix(&prefix)) else { continue };
            let document = document.split('@').next().unwrap_or_default().to_owned();
            subjects.entry(document).or_default().push(mail.subject().unwrap_or_default().to_owned());
        }
        subjects
    }
}

const SALE_DOCUMENT: u64 = 64318;
const OTHER_DOCUMENT: u64 = 64320;

fn refund_subject(g: &Given) -> String {
    format!("Кассовый чек от 20.11.2026 — возврат оплаты электроэнергии, л/с {}", g.account)
}

fn sale_subject(g: &Given) -> String {
    format!("Кассовый чек от 20.11.2026 — оплата электроэнергии, л/с {}", g.account)
}

#[tokio::test]
async fn given_a_partly_refunded_payment_when_a_receipt_without_type_names_another_document_then_it_is_kept_and_mailed_once_as_the_refunds()
 {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.receipt()).await);
    assert_eq!(g.mails().await, (1, 1), "the sale's receipt is kept and mailed");
    assert_ok(&deliver(&app, g.status("PARTIAL_REFUNDED", 30_000)).await);

    let refund = g.untyped_receipt(OTHER_DOCUMENT, 30_000);
    assert_ok(&deliver(&app, refund.clone()).await);
    let record = g.record().await;
    let slot = ReceiptSlot::Refund { document: OTHER_DOCUMENT.to_string() };
    assert!(record.receipt(&slot).is_some(), "kept under its own document: {:?}", record.receipts);
    assert_eq!(record.receipts.len(), 2, "beside the sale's");
    assert_eq!(g.mails().await, (1, 2), "one more email");
    let subjects = g.receipt_subjects().await;
    assert_eq!(subjects.get(&OTHER_DOCUMENT.to_string()), Some(&vec![refund_subject(&g)]), "{subjects:?}");

    assert_ok(&deliver(&app, refund).await);
    assert_ok(&deliver(&app, g.receipt()).await);
    let record = g.record().await;
    assert_eq!(record.receipts.len(), 2, "delivered again: nothing more kept");
    assert_eq!(g.mails().await, (1, 2), "delivered again: still one email each");
    assert_eq!(g.balance().await, m("700.00"));
}

#[tokio::test]
async fn given_a_refunded_payment_when_a_whole_receipt_without_type_names_another_document_than_the_sales_then_it_is_kept_and_mailed_once_as_the_refunds()
 {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    // The sale's own receipt without its Type: still the sale's.
    let sale = g.untyped_receipt(SALE_DOCUMENT, g.kopecks());
    assert_ok(&deliver(&app, sale.clone()).await);
    assert!(g.record().await.receipt(&ReceiptSlot::Sale).is_some());
    assert_eq!(g.mails().await, (1, 1), "the sale's receipt is kept and mailed");
    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);

    let refund = g.untyped_receipt(OTHER_DOCUMENT, g.kopecks());
    assert_ok(&deliver(&app, refund.clone()).await);
    let record = g.record().await;
    let slot = ReceiptSlot::Refund { document: OTHER_DOCUMENT.to_string() };
    assert!(record.receipt(&slot).is_some(), "kept under its own document: {:?}", record.receipts);
    assert_eq!(g.mails().await, (1, 2), "one more email");

    for again in [refund, sale] {
        assert_ok(&deliver(&app, again).await);
    }
    assert_eq!(g.record().await.receipts.len(), 2, "delivered again: nothing more kept");
    assert_eq!(g.mails().await, (1, 2), "delivered again: still one email each");
    let subjects = g.receipt_subjects().await;
    assert_eq!(subjects.get(&SALE_DOCUMENT.to_string()), Some(&vec![sale_subject(&g)]), "{subjects:?}");
    assert_eq!(subjects.get(&OTHER_DOCUMENT.to_string()), Some(&vec![refund_subject(&g)]), "{subjects:?}");
}

#[tokio::test]
async fn given_a_credited_payment_when_a_whole_receipt_without_type_names_another_document_before_its_refund_then_it_is_kept_and_mailed_once_the_refund_arrives()
 {
    let app = callback().await;
    let g = given("0", "1000.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
    assert_ok(&deliver(&app, g.receipt()).await);
    assert_eq!(g.mails().await, (1, 1));

    // Nothing yet tells a refund's document from a second sale's: kept, its email held.
    let refund = g.untyped_receipt(OTHER_DOCUMENT, g.kopecks());
    assert_ok(&deliver(&app, refund.clone()).await);
    let slot = ReceiptSlot::Refund { document: OTHER_DOCUMENT.to_string() };
    assert!(g.record().await.receipt(&slot).is_some(), "kept under its own document");
    assert_eq!(g.mails().await, (1, 1), "not mailed as anything it may not be");
    assert!(listed(&g.payment.id).await, "left for the reconciliation while its email waits");

    assert_ok(&deliver(&app, g.status("REFUNDED", g.kopecks())).await);
    assert_eq!(g.mails().await, (1, 2), "the refund tells what it is");
    assert_ok(&deliver(&app, refund).await);
    assert_eq!(g.mails().await, (1, 2), "delivered again: still one");
    let subjects = g.receipt_subjects().await;
    assert_eq!(subjects.get(&OTHER_DOCUMENT.to_string()), Some(&vec![refund_subject(&g)]), "{subjects:?}");
    assert!(!listed(&g.payment.id).await, "nothing left due");
}

/// Two fiscal documents without `Type`, each of the whole amount, delivered at the same moment
/// on two tasks for twenty credited payments: both read the sale's slot empty, one takes it, and
/// the other, its keeping refused, must be placed again beside it rather than taken for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_two_documents_without_type_racing_for_the_sales_slot_then_both_are_kept() {
    let app = Arc::new(callback().await);
    let mut payments = Vec::new();
    for _ in 0..20 {
        let g = given("0", "100.00").await;
        assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);
        payments.push(g);
    }
    race(&app, &payments, |g| {
        (g.untyped_receipt(SALE_DOCUMENT, g.kopecks()), g.untyped_receipt(OTHER_DOCUMENT, g.kopecks()))
    })
    .await;
    for g in &payments {
        let record = g.record().await;
        assert_eq!(record.receipts.len(), 2, "payment {}: both documents kept: {:?}", g.payment.id, record.receipts);
        let sale = record.receipt(&ReceiptSlot::Sale).expect("one is the sale's");
        let sale = serde_json::from_str::<Value>(&sale.notification).unwrap()["FiscalDocumentNumber"].as_u64();
        let other = if sale == Some(SALE_DOCUMENT) { OTHER_DOCUMENT } else { SALE_DOCUMENT };
        assert!(
            record.receipt(&ReceiptSlot::Refund { document: other.to_string() }).is_some(),
            "{:?}",
            record.receipts
        );
        assert_eq!(g.mails().await, (1, 1), "payment {}: the sale's mailed, the other held", g.payment.id);
    }
}

/// A `PaymentId` of 20 digits, more than a `u64` holds (the bank's ids are "up to 20 digits").
fn twenty_digit_acquirer_id() -> String {
    format!("9{:019}", uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000)
}

/// The notification signed as the bank signs it, its `PaymentId` a JSON number of `id`'s digits
/// (signed over those digits as written, as a string of them would be).
fn signed_with_payment_id(mut notification: Value, id: &str) -> String {
    notification["PaymentId"] = json!(id);
    let text = sign_notification(notification).to_string();
    let quoted = format!(r#""PaymentId":"{id}""#);
    assert!(text.contains(&quoted), "{text}");
    text.replace(&quoted, &format!(r#""PaymentId":{id}"#))
}

async fn deliver_text(app: &Callback, body: String) -> Response<Body> {
    let mut request = Event::new("POST", "/callbacks/tbank").request();
    *request.body_mut() = Body::Text(body);
    handle(app, request).await
}

#[tokio::test]
async fn given_a_payment_id_of_twenty_digits_when_the_bank_notifies_it_as_a_number_then_it_is_credited_and_its_receipt_mailed()
 {
    let app = callback().await;
    let g = given("0", "318.40").await;
    let bank_id = twenty_digit_acquirer_id();
    store().await.record_init(&g.payment.id, &bank_id, "http://127.0.0.1/pay", Utc::now()).await.unwrap();

    assert_ok(&deliver_text(&app, signed_with_payment_id(g.status("CONFIRMED", g.kopecks()), &bank_id)).await);
    assert_ok(&deliver_text(&app, signed_with_payment_id(g.receipt(), &bank_id)).await);

    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.acquirer_payment_id.as_deref(), Some(bank_id.as_str()), "every digit kept");
    assert_eq!(record.anomaly, None, "the same attempt as recorded");
    assert_eq!(g.balance().await, m("318.40"));
    assert_eq!(g.ledger().await.len(), 1);
    assert_eq!(record.receipts.len(), 1, "the receipt kept");
    assert_eq!(g.mails().await, (1, 1));
}

/// What the callback logs, as the production subscriber writes it, for every test of this binary
/// (a thread's own subscriber misses call sites another thread reached first).
fn warnings() -> &'static integration_tests::CapturedLog {
    static LOGS: std::sync::OnceLock<integration_tests::CapturedLog> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = integration_tests::CapturedLog::default();
        tracing::subscriber::set_global_default(captured.subscriber("warn"))
            .expect("the only subscriber of this test binary");
        captured
    })
}

#[tokio::test]
async fn given_a_correctly_signed_notification_that_cannot_be_read_then_it_is_refused_counted_and_logged_by_its_order_never_its_email()
 {
    let log = warnings();
    let app = callback().await;
    let g = given("0", "42.00").await;
    assert_ok(&deliver(&app, g.status("CONFIRMED", g.kopecks())).await);

    let mut without_amount = g.receipt();
    without_amount.as_object_mut().unwrap().remove("Amount");
    let mut without_success = g.receipt();
    without_success.as_object_mut().unwrap().remove("Success");
    let garbled_id = signed_with_payment_id(g.status("REFUNDED", 0), "1.5e20");
    let counted = energosbyt::metrics::emitted(energosbyt::metrics::Metric::Anomalies);
    let cases = [
        ("a receipt without Amount", sign_notification(without_amount).to_string()),
        ("a receipt without Success", sign_notification(without_success).to_string()),
        ("a PaymentId that is no whole number", garbled_id),
    ];
    for (name, body) in cases {
        let response = deliver_text(&app, body).await;
        // Not `OK`: the bank delivers it again for a day, so a corrected reading still gets it.
        assert_eq!(response.status().as_u16(), 400, "{name}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{name}");
    }

    assert!(energosbyt::metrics::emitted(energosbyt::metrics::Metric::Anomalies) >= counted + 3, "counted");
    let text = log.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("unreadable_notification") && line.contains(g.payment.id.as_str()))
        .collect();
    assert_eq!(lines.len(), 3, "a warning naming the order for each: {text}");
    assert!(lines.iter().all(|line| line.contains("\"level\":\"WARN\"")), "{lines:?}");
    assert!(!text.contains(g.payment.email_address()), "never the customer's email");
    let record = g.record().await;
    assert_eq!(record.payment.status, PaymentStatus::Paid, "nothing applied");
    assert!(record.receipts.is_empty());
    assert_eq!(g.balance().await, m("42.00"));
    assert_eq!(g.mails().await, (1, 0));
}
