//! The scheduled reconciliation against DynamoDB Local, moto and the acquirer sandbox: payments
//! whose notifications never reached us are settled from what the bank says (`GetState`, or
//! `CheckOrder` when `Init`'s answer was lost), and payments nobody paid are failed once the
//! form has expired.
//!
//! The sandbox's notifications go to a port where nothing listens, as if our endpoint had been
//! unreachable. The payments are dated in a past of this run's own (the reconciliation takes
//! every pending payment older than its cut-off), so the run's `now` is chosen here.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use energosbyt::acquirer::{Acquirer, InitSettings, PaymentInit, TbankClient, TbankSettings};
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::{LedgerReader, PaymentLedger, PaymentRecord, PendingPage, PendingPayments};
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::{account, env, fresh_account_number, store};
use reconcile_payments::{ABANDONED, Reconciler};
use serde_json::{Value, json};

/// Where the sandbox posts notifications for these payments: nothing listens there.
const UNREACHABLE_CALLBACK: &str = "http://127.0.0.1:9/callbacks/tbank";

struct Bank {
    client: TbankClient,
    control: String,
    http: reqwest::Client,
}

impl Bank {
    fn new() -> Self {
        let client = TbankClient::new(TbankSettings::from_env().expect("TBANK_* are set")).unwrap();
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
            email: &payment.email,
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
        let number = fresh_account_number();
        store.import_account(&account(number, "0", vec![]), Utc::now()).await.unwrap();
        let payment = Payment {
            id: PaymentId::random(),
            account: number,
            amount: amount.parse().unwrap(),
            email: format!("payer-{}@example.ru", uuid::Uuid::new_v4().simple()),
            caller: "vk:494075".into(),
            readings_id: None,
            status: PaymentStatus::New,
            acquirer_payment_id: None,
            payment_url: None,
            form_deadline: None,
            refunded: Money::ZERO,
            card: None,
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
    let acquirer = TbankClient::new(TbankSettings::from_env().unwrap()).unwrap();
    Reconciler::configure(&env, store().await, mailer, acquirer).expect("defaults for RECONCILE_*")
}

/// One sequence, so no run of this file sees another's payments at an unexpected age.
#[tokio::test]
async fn payments_whose_notifications_never_came_are_settled_from_what_the_bank_says() {
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
        .update_expression("SET GSI1PK = :pending, GSI1SK = :position")
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
    let acquirer = TbankClient::new(TbankSettings::from_env().unwrap()).unwrap();
    Reconciler::configure(&env, store().await, mailer, acquirer).expect("defaults for RECONCILE_*")
}
