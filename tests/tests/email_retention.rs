//! The customer's email leaves a payment once nothing is left to send, after the retention period
//! (`EMAIL_RETENTION_DAYS`, 30 by default): the reconciliation's run removes it, with the copies the
//! bank's kept receipts echo, found through the payments index (never a scan). Against DynamoDB
//! Local, moto and the acquirer sandbox.
//!
//! Each test lives in an era of its own in the 1960s, before every era of the reconciliation's
//! tests, and the tests of this file run one at a time (a run takes whatever its cut-off lists).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use energosbyt::app::reconciliation::Reconciler;
use energosbyt::config::Env;
use energosbyt::domain::payment_transition::Transition;
use energosbyt::domain::{Payment, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::{BankFacts, CustomerEmailRetention, PaymentLedger, ReceiptSlot};
use energosbyt::ports::{AccountImport, PaymentReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};
use std::sync::Mutex;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The functions' clock: the test's era.
static NOW: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);

fn now() -> DateTime<Utc> {
    NOW.lock().unwrap().expect("the test set its clock")
}

fn set_now(at: DateTime<Utc>) {
    *NOW.lock().unwrap() = Some(at);
}

/// The 1960s are this file's (alarms.rs has the 1950s, reconciliation.rs 1971 on): a moment in
/// them, different each run, with nothing else pending there.
async fn era() -> DateTime<Utc> {
    let (from, to) =
        (Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap());
    unlist_pending_created_between(from, to).await;
    from + TimeDelta::seconds((uuid::Uuid::new_v4().as_u128() % (8 * 360 * 86_400)) as i64)
}

async fn moto_mailer() -> Mailer<SesMailer> {
    let ses = SesMailer::from_env(&Env::process()).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    Mailer::new(ses, MailFrom::from_env(&Env::process()).unwrap())
}

async fn callback() -> payment_callback::App<DynamoStore, SesMailer> {
    let mut app =
        payment_callback::App::configure(&Env::process(), demo_secrets(), store().await, moto_mailer().await).unwrap();
    app.settlement.clock = now;
    app
}

async fn reconciler() -> Reconciler<DynamoStore, SesMailer, energosbyt::acquirer::TbankClient> {
    let mut reconciler =
        Reconciler::configure(&Env::process(), store().await, moto_mailer().await, acquirer()).unwrap();
    reconciler.settlement.clock = now;
    reconciler
}

async fn deliver(app: &payment_callback::App<DynamoStore, SesMailer>, notification: Value) {
    let request = Event::new("POST", "/callbacks/tbank").body(&sign_notification(notification)).request();
    let response = payment_callback::handle(app, request).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
}

async fn payment_at(created: DateTime<Utc>) -> Payment {
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "-75.00", vec![]), Utc::now()).await.unwrap();
    let mut payment = new_payment(number, "75.00", created);
    payment.acquirer_payment_id = Some((7_400_000_000 + uuid::Uuid::new_v4().as_u128() % 100_000_000).to_string());
    store.create(&payment).await.unwrap();
    payment
}

fn bank_id(payment: &Payment) -> u64 {
    payment.acquirer_payment_id.as_deref().unwrap().parse().unwrap()
}

fn confirmed(payment: &Payment) -> Value {
    json!({"TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": true,
           "Status": "CONFIRMED", "PaymentId": bank_id(payment), "ErrorCode": "0",
           "Amount": payment.amount.kopecks(), "Pan": "220138******0013"})
}

/// The bank's fiscal receipt of the sale, echoing the buyer's email as T-Bank does.
fn receipt(payment: &Payment) -> Value {
    let kopecks = payment.amount.kopecks();
    json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": bank_id(payment), "ErrorCode": "0", "Amount": kopecks,
        "FiscalNumber": 12, "ShiftNumber": 34, "ReceiptDatetime": "2026-11-20T15:21:05+03:00",
        "FnNumber": "9282000100072197", "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
        "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
        "Url": "https://nalog.ru", "QrCodeUrl": "https://ofd.example.ru/qr", "SettlePlace": "https://vk.com/app51234567",
        "Receipt": {"Email": payment.email_address(), "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {}", payment.account), "Price": kopecks,
            "Quantity": 1, "Amount": kopecks, "Tax": "vat22", "PaymentMethod": "full_payment",
            "PaymentObject": "service", "MeasurementUnit": "шт"}]}
    })
}

/// The payment item as the table holds it.
async fn item(payment: &Payment) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let store = store().await;
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("PAYMENT#{}", payment.id)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("PAYMENT".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item.expect("the payment item")
}

fn text<'a>(
    item: &'a std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

#[tokio::test]
async fn given_a_payment_mailed_long_ago_when_reconciliation_runs_past_the_retention_then_its_email_and_the_receipts_copy_are_gone()
 {
    let _one = ONE_AT_A_TIME.lock().await;
    let paid_at = era().await;
    set_now(paid_at);
    let payment = payment_at(paid_at).await;
    let app = callback().await;
    deliver(&app, confirmed(&payment)).await;
    deliver(&app, receipt(&payment)).await;
    let mailed = item(&payment).await;
    assert_eq!(text(&mailed, "email"), Some(payment.email_address()));
    assert_eq!(text(&mailed, "GSI2PK"), Some("FINISHED"), "both emails sent: nothing left to do");
    let store = store().await;
    let kept = store.payment_record(&payment.id).await.unwrap().unwrap();
    assert!(kept.receipt(&ReceiptSlot::Sale).unwrap().notification.contains(payment.email_address()));

    // A day before the retention is over: the email stays, a receipt can still be sent again.
    let reconciler = reconciler().await;
    let before = paid_at + TimeDelta::days(29);
    set_now(before);
    reconciler.run(before, None).await.unwrap();
    assert_eq!(text(&item(&payment).await, "email"), Some(payment.email_address()));

    // Past it: gone from the payment and from the receipt the bank echoed it in.
    let after = paid_at + TimeDelta::days(30) + TimeDelta::minutes(1);
    set_now(after);
    let summary = reconciler.run(after, None).await.unwrap();
    assert!(summary.emails_forgotten >= 1, "{summary:?}");
    let forgotten = item(&payment).await;
    assert_eq!(forgotten.get("email"), None);
    assert_eq!(forgotten.get("GSI2PK"), None, "off the payments index: nothing more to do");
    let record = store.payment_record(&payment.id).await.unwrap().expect("still readable");
    assert_eq!(record.payment.status, PaymentStatus::Paid);
    assert_eq!(record.payment.email, None);
    let receipt = record.receipt(&ReceiptSlot::Sale).expect("the fiscal receipt is kept");
    assert!(!receipt.notification.contains(payment.email_address()), "{}", receipt.notification);
    assert!(receipt.notification.contains("9282000100072197"), "its requisites are kept");
    let page = store.payment_page(&payment.id).await.unwrap().unwrap();
    assert!(page.receipt_available, "the status page still shows the receipt");
}

#[tokio::test]
async fn given_a_failed_payment_then_its_email_goes_once_the_retention_from_its_failure_is_over() {
    let _one = ONE_AT_A_TIME.lock().await;
    let failed_at = era().await;
    let payment = payment_at(failed_at - TimeDelta::hours(1)).await;
    let store = store().await;
    store.mark_failed(&payment.id, "REJECTED", failed_at).await.unwrap();
    assert_eq!(text(&item(&payment).await, "GSI2PK"), Some("FINISHED"));

    store.forget_customer_emails(failed_at, 100).await.unwrap();
    assert_eq!(text(&item(&payment).await, "email"), Some(payment.email_address()), "not before its time");

    let forgotten = store.forget_customer_emails(failed_at + TimeDelta::seconds(1), 100).await.unwrap();
    assert!(forgotten.payments >= 1);
    let item = item(&payment).await;
    assert_eq!(item.get("email"), None);
    assert_eq!(text(&item, "status"), Some("FAILED"));
    assert_eq!(store.payment(&payment.id).await.unwrap().expect("still readable").email, None);
}

#[tokio::test]
async fn given_a_payment_under_review_then_the_operator_keeps_its_email_and_a_waiting_one_is_never_touched() {
    let _one = ONE_AT_A_TIME.lock().await;
    let at = era().await;
    set_now(at);
    let store = store().await;
    let waiting = payment_at(at).await;
    let reviewed = payment_at(at).await;
    let record = store.payment_record(&reviewed.id).await.unwrap().unwrap();
    let facts = BankFacts {
        status: energosbyt::ports::ledger::ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::parse(
            "AUTHORIZED",
        )),
        acquirer_payment_id: None,
        card: None,
        error_code: None,
        at,
    };
    store.apply_transition(&record, &Transition::Progress(PaymentStatus::NeedsReview), &facts, &[]).await.unwrap();
    // Its receipt comes while it is under review: kept, and listed for the email's removal.
    deliver(&callback().await, receipt(&reviewed)).await;
    assert_eq!(text(&item(&reviewed).await, "GSI2PK"), Some("FINISHED"));

    store.forget_customer_emails(at + TimeDelta::days(400), 1000).await.unwrap();

    let reviewed_item = item(&reviewed).await;
    assert_eq!(text(&reviewed_item, "email"), Some(reviewed.email_address()), "the operator may need it");
    assert_eq!(reviewed_item.get("GSI2PK"), None, "and it is not listed again");
    let waiting_item = item(&waiting).await;
    assert_eq!(text(&waiting_item, "email"), Some(waiting.email_address()));
    assert_eq!(text(&waiting_item, "GSI2PK"), Some("PENDING"));
    store.mark_failed(&waiting.id, "test over", at).await.unwrap();
    store.forget_customer_emails(at + TimeDelta::seconds(1), 1000).await.unwrap();
}
