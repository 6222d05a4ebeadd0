//! The failures that page someone are counted where they happen, by the real handlers against the
//! stand-ins: every metric an alarm of `template.yaml` watches is shown emitted here
//! (`energosbyt::metrics::emitted` counts this process's EMF lines).
//!
//! The counters are the process's: the tests of this file run one at a time, and nothing else in
//! this binary emits these metrics.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use energosbyt::acquirer::{TbankClient, TbankSettings, TerminalPassword};
use energosbyt::app::reconciliation::Reconciler;
use energosbyt::config::Env;
use energosbyt::domain::payment_transition::Transition;
use energosbyt::domain::{AccountNumber, Payment, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::metrics::{Metric, emitted};
use energosbyt::ports::ledger::{BankFacts, PaymentLedger};
use energosbyt::ports::{AccountImport, PaymentWriter};
use energosbyt::secrets::{SecretValues, Secrets};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};
use std::sync::Mutex;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a metric counted while `during` ran.
async fn counted<F: Future>(metric: Metric, during: F) -> (u64, F::Output) {
    let before = emitted(metric);
    let output = during.await;
    (emitted(metric) - before, output)
}

/// The demo terminal with another password: what the bank refuses (204).
fn wrong_password() -> Secrets {
    Secrets::fixed(SecretValues {
        tbank_terminal_key: env("TBANK_TERMINAL_KEY"),
        tbank_password: TerminalPassword::new("not-the-terminal-password"),
        ..demo_secrets().current().as_ref().clone()
    })
}

async fn moto_mailer() -> SesMailer {
    let mailer = SesMailer::from_env(&Env::process()).await.expect("SES_SENDER is set");
    mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.expect("moto is running");
    mailer
}

/// SES down: nothing listens on the discard port.
async fn dead_mailer() -> SesMailer {
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_ses::config::Builder::from(&shared).endpoint_url("http://127.0.0.1:9").build();
    SesMailer::new(aws_sdk_ses::Client::from_conf(config), env("SES_SENDER"))
}

fn mailer(ses: SesMailer) -> Mailer<SesMailer> {
    Mailer::new(ses, MailFrom::from_env(&Env::process()).unwrap())
}

async fn callback_with(ses: SesMailer) -> payment_callback::App<DynamoStore, SesMailer> {
    payment_callback::App::configure(&Env::process(), demo_secrets(), store().await, mailer(ses)).unwrap()
}

async fn deliver(app: &payment_callback::App<DynamoStore, SesMailer>, body: &Value) -> u16 {
    let request = Event::new("POST", "/callbacks/tbank").body(body).request();
    payment_callback::handle(app, request).await.status().as_u16()
}

/// An account owing `amount` and a payment of it, just created.
async fn account_and_payment(amount: &str, created_at: DateTime<Utc>) -> (AccountNumber, Payment) {
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, &format!("-{amount}"), vec![]), Utc::now()).await.unwrap();
    let mut payment = new_payment(number, amount, created_at);
    payment.acquirer_payment_id = Some((7_200_000_000 + uuid::Uuid::new_v4().as_u128() % 100_000_000).to_string());
    store.create(&payment).await.unwrap();
    (number, payment)
}

fn notification(payment: &Payment, status: &str) -> Value {
    json!({"TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": true,
           "Status": status, "PaymentId": payment.acquirer_payment_id.as_deref().unwrap().parse::<u64>().unwrap(),
           "ErrorCode": "0", "Amount": payment.amount.kopecks()})
}

/// Takes a test's payment off the payments index, so no other run of the reconciliation (this
/// file's or tests/tests/reconciliation.rs's, in earlier eras) ever lists it.
async fn unlist(payment: &Payment) {
    let store = store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("PAYMENT#{}", payment.id)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("PAYMENT".into()))
        .update_expression("REMOVE GSI2PK, GSI2SK")
        .send()
        .await
        .unwrap();
}

/// The 1950s are this file's (tests/tests/reconciliation.rs has 1971 on, email_retention.rs the
/// 1960s): a moment in them, different each run, with nothing else pending there.
async fn era() -> DateTime<Utc> {
    let (from, to) =
        (Utc.with_ymd_and_hms(1950, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap());
    unlist_pending_created_between(from, to).await;
    from + TimeDelta::seconds((uuid::Uuid::new_v4().as_u128() % (9 * 360 * 86_400)) as i64)
}

/// The reconciliation's clock for the emails it sends: the run's own moment.
static RUN_AT: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);

fn run_at() -> DateTime<Utc> {
    RUN_AT.lock().unwrap().expect("the test set the run's moment")
}

async fn reconciler(
    ses: SesMailer,
    acquirer_secrets: Secrets,
    at: DateTime<Utc>,
) -> Reconciler<DynamoStore, SesMailer, TbankClient> {
    *RUN_AT.lock().unwrap() = Some(at);
    let acquirer = TbankClient::new(TbankSettings::from_env().unwrap(), acquirer_secrets).unwrap();
    let mut reconciler = Reconciler::configure(&Env::process(), store().await, mailer(ses), acquirer).unwrap();
    reconciler.settlement.clock = run_at;
    reconciler
}

#[tokio::test]
async fn given_notifications_signed_with_another_password_or_for_another_terminal_then_each_refusal_is_counted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = callback_with(moto_mailer().await).await;
    let (_, payment) = account_and_payment("10.00", Utc::now()).await;

    let (refused, status) = counted(
        Metric::NotificationsRefused,
        deliver(&app, &sign_notification_with(notification(&payment, "AUTHORIZED"), "guess")),
    )
    .await;
    assert_eq!((status, refused), (401, 1));

    let mut other_terminal = notification(&payment, "AUTHORIZED");
    other_terminal["TerminalKey"] = json!("AnotherTerminal");
    let (refused, status) =
        counted(Metric::NotificationsRefused, deliver(&app, &sign_notification(other_terminal))).await;
    assert_eq!((status, refused), (403, 1));

    // Not the bank's JSON, no Token at all, and a good one: none is a refusal of our password.
    let (refused, status) = counted(Metric::NotificationsRefused, deliver(&app, &json!(["not", "an", "object"]))).await;
    assert_eq!((status, refused), (400, 0));
    let (refused, status) =
        counted(Metric::NotificationsRefused, deliver(&app, &notification(&payment, "AUTHORIZED"))).await;
    assert_eq!((status, refused), (401, 0));
    let (refused, status) =
        counted(Metric::NotificationsRefused, deliver(&app, &sign_notification(notification(&payment, "AUTHORIZED"))))
            .await;
    assert_eq!((status, refused), (200, 0));
    unlist(&payment).await;
}

#[tokio::test]
async fn given_the_bank_refusing_the_terminal_password_then_a_payment_is_refused_and_the_refusal_counted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let secrets = wrong_password();
    let mut edge = edge();
    edge.clock = Utc::now;
    let app = pay::App {
        store: store().await,
        acquirer: TbankClient::new(TbankSettings::from_env().unwrap(), secrets).unwrap(),
        edge,
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process()).unwrap(),
    };
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-10", vec![]), Utc::now()).await.unwrap();
    let request = Event::new("POST", "/payments")
        .vk(&vk_launch(494_075, Utc::now()))
        .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
        .body(&json!({"account": number.to_string(), "amount": "10.00", "email": "ivanov@example.ru"}))
        .request();

    let (refused, response) = counted(Metric::AcquirerCredentialsRefused, pay::handle(&app, request)).await;

    assert_eq!(response.status(), 502);
    assert_eq!(body_json(&response)["type"], "/problems/acquirer-refused");
    assert_eq!(refused, 1, "one Init, refused: the secret read again held the same password");
}

#[tokio::test]
async fn given_the_bank_refusing_the_terminal_password_when_reconciliation_asks_then_the_refusal_and_the_runs_error_are_counted()
 {
    let _one = ONE_AT_A_TIME.lock().await;
    let created = era().await;
    let (_, payment) = account_and_payment("20.00", created).await;
    let now = created + TimeDelta::hours(1);
    let reconciler = reconciler(moto_mailer().await, wrong_password(), now).await;

    let before = emitted(Metric::ReconciliationErrors);
    let (refused, summary) = counted(Metric::AcquirerCredentialsRefused, reconciler.run(now, None)).await;
    let summary = summary.unwrap();

    assert_eq!((summary.checked, summary.errors), (1, 1), "{summary:?}");
    assert_eq!(refused, 1, "GetState refused (204)");
    assert_eq!(emitted(Metric::ReconciliationErrors) - before, 1, "one event for the run, carrying its errors");
    unlist(&payment).await;
}

#[tokio::test]
async fn given_a_status_the_service_does_not_know_then_nothing_is_applied_and_it_is_counted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = callback_with(moto_mailer().await).await;
    let (_, payment) = account_and_payment("30.00", Utc::now()).await;

    let unknown = sign_notification(notification(&payment, "PARTIALLY_AUTHORIZED"));
    let (unmapped, status) = counted(Metric::UnmappedStatuses, deliver(&app, &unknown)).await;

    assert_eq!((status, unmapped), (200, 1));
    let record = store().await.payment_record(&payment.id).await.unwrap().unwrap();
    assert_eq!(record.payment.status, PaymentStatus::New, "nothing applied");
    let (unmapped, _) =
        counted(Metric::UnmappedStatuses, deliver(&app, &sign_notification(notification(&payment, "AUTHORIZED"))))
            .await;
    assert_eq!(unmapped, 0, "a known status is not counted");
    unlist(&payment).await;
}

#[tokio::test]
async fn given_ses_refusing_an_email_for_good_then_it_is_counted_undelivered_at_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    // An unverified sender: SES (and moto) refuse the message for good.
    let stranger = format!("stranger-{}@unverified.example", uuid::Uuid::new_v4().simple());
    let ses = SesMailer::new(moto_mailer().await.client().clone(), stranger.clone());
    let mailer = Mailer::new(ses, MailFrom::new(&stranger, "Не мы").unwrap());
    let app = payment_callback::App::configure(&Env::process(), demo_secrets(), store().await, mailer).unwrap();
    let (_, payment) = account_and_payment("40.00", Utc::now()).await;

    let confirmed = sign_notification(notification(&payment, "CONFIRMED"));
    let (undelivered, status) = counted(Metric::EmailsUndelivered, deliver(&app, &confirmed)).await;

    assert_eq!(status, 200, "credited; the refusal is settled, not retried");
    assert_eq!(undelivered, 1);
    unlist(&payment).await;
}

#[tokio::test]
async fn given_ses_unreachable_then_an_email_is_counted_undelivered_only_once_its_retries_have_run_for_half_an_hour() {
    let _one = ONE_AT_A_TIME.lock().await;
    let created = era().await;
    let (_, payment) = account_and_payment("50.00", created).await;
    // Credited when it was created; its "payment received" email has been due since.
    let store = store().await;
    let record = store.payment_record(&payment.id).await.unwrap().unwrap();
    let facts = BankFacts {
        status: energosbyt::ports::ledger::ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::parse(
            "CONFIRMED",
        )),
        acquirer_payment_id: payment.acquirer_payment_id.clone(),
        card: None,
        error_code: None,
        at: created,
    };
    store
        .apply_transition(&record, &Transition::Credit { amount: payment.amount, anomaly: None }, &facts, &[])
        .await
        .unwrap();

    // The first reconciliation run after the credit: a retry like any other, not yet overdue.
    let early = created + TimeDelta::minutes(20);
    let reconciler_early = reconciler(dead_mailer().await, demo_secrets(), early).await;
    let failed_before = emitted(Metric::EmailsFailed);
    let (undelivered, summary) = counted(Metric::EmailsUndelivered, reconciler_early.run(early, None)).await;
    assert_eq!(summary.unwrap().errors, 1);
    assert_eq!(emitted(Metric::EmailsFailed) - failed_before, 1, "the failure is counted");
    assert_eq!(undelivered, 0, "twenty minutes after it fell due: still being retried");

    // Half an hour on, still failing: it will not go out by itself.
    let late = created + TimeDelta::minutes(40);
    let reconciler_late = reconciler(dead_mailer().await, demo_secrets(), late).await;
    let (undelivered, summary) = counted(Metric::EmailsUndelivered, reconciler_late.run(late, None)).await;
    assert_eq!(summary.unwrap().errors, 1);
    assert_eq!(undelivered, 1);
    unlist(&payment).await;
}
