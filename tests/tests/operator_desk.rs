//! The operator's desk against DynamoDB Local, moto and the acquirer sandbox: a refund from the
//! desk goes through the bank's `Cancel` with its receipt and moves the balance back once, however
//! often it is run and whatever the bank's notifications of it say afterwards; a refund the bank
//! would not make is refused; a payment left for review that the bank confirmed is credited once;
//! the list filters by kind.
//!
//! The sandbox's notifications go to a port where nothing listens; the test hands the ones it
//! needs (as the sandbox signed them) to the callback itself, in the order it chooses.

use chrono::{TimeDelta, Utc};
use energosbyt::acquirer::{Acquirer, InitSettings, PaymentInit, TbankClient, VatCodes};
use energosbyt::app::operator_desk::{Desk, DeskError, DeskOutcome, Operator};
use energosbyt::app::settlement::Settlement;
use energosbyt::config::Env;
use energosbyt::domain::payment_transition::AcquirerEvent;
use energosbyt::domain::{AccountNumber, Money, PayMethod, Payment, PaymentId, PaymentStatus};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::{BankFacts, LedgerReader, Movement, PaymentLedger, ReportedStatus};
use energosbyt::ports::operator_desk::DeskKind;
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::{Event, account, env, fresh_account_number, sign_notification, store};
use serde_json::{Value, json};

const UNREACHABLE_CALLBACK: &str = "http://127.0.0.1:9/callbacks/tbank";

async fn mailer() -> Mailer<SesMailer> {
    let env = Env::process();
    let ses = SesMailer::from_env(&env).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    Mailer::new(ses, MailFrom::from_env(&env).unwrap())
}

async fn desk() -> Desk<DynamoStore, SesMailer, TbankClient> {
    let settlement = Settlement::configure(&Env::process(), store().await, mailer().await).expect("local.env");
    Desk { settlement, acquirer: integration_tests::acquirer(), vat_codes: VatCodes::default() }
}

async fn callback() -> payment_callback::App<DynamoStore, SesMailer> {
    payment_callback::App::configure(&Env::process(), integration_tests::demo_secrets(), store().await, mailer().await)
        .expect("local.env is complete")
}

/// What the reconciliation does to a payment after 72 hours without a settled answer.
async fn left_for_review(desk: &Desk<DynamoStore, SesMailer, TbankClient>, id: &PaymentId) {
    let silence = BankFacts {
        status: ReportedStatus::Silent,
        acquirer_payment_id: None,
        card: None,
        error_code: None,
        at: Utc::now(),
    };
    desk.settlement.apply_event(id, |_| Ok(AcquirerEvent::Overdue), &silence).await.unwrap();
}

fn operator(reason: &str) -> Operator {
    Operator { name: "Petrova".into(), reason: reason.into() }
}

/// Delivers a notification as it is (signed); the answer must be `OK`.
async fn deliver(notification: &Value) {
    let app = callback().await;
    let request = Event::new("POST", "/callbacks/tbank").body(notification).request();
    let response = payment_callback::handle(&app, request).await;
    assert_eq!(response.status().as_u16(), 200, "{notification}");
}

struct Customer {
    account: AccountNumber,
    payment: Payment,
    acquirer_id: String,
}

impl Customer {
    /// An account and a payment for `amount`, registered at the bank (`Init`, as pay sends it).
    async fn at_the_bank(amount: &str) -> Self {
        Self::registered(amount, true).await
    }

    /// As [`Self::at_the_bank`], its `Init` answer lost (`recorded` false): we never learnt the
    /// bank's payment id.
    async fn registered(amount: &str, recorded: bool) -> Self {
        let store = store().await;
        let number = fresh_account_number();
        let now = Utc::now();
        store.import_account(&account(number, "0", vec![]), now - TimeDelta::days(1)).await.unwrap();
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
            form_deadline: None,
            refunded: Money::ZERO,
            card: None,
            method: PayMethod::Card,
            created_at: now,
            updated_at: now,
        };
        store.create(&payment).await.unwrap();
        let settings =
            InitSettings::new(UNREACHABLE_CALLBACK, "http://127.0.0.1:5173/#/return", "http://127.0.0.1:5173/#/return");
        let request = PaymentInit {
            order_id: payment.id.as_str(),
            account: number,
            amount: payment.amount,
            email: payment.email_address(),
            now,
            deadline: settings.form_deadline(now).unwrap(),
        }
        .build(&settings)
        .unwrap();
        let acquirer_id = integration_tests::acquirer().init(&request).await.unwrap().payment_id.to_string();
        if recorded {
            store.record_init(&payment.id, &acquirer_id, "http://127.0.0.1/pay", now).await.unwrap();
        }
        Self { account: number, payment, acquirer_id }
    }

    fn control(&self) -> String {
        env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned()
    }

    /// The customer pays on the bank's form; the bank's answer is CONFIRMED.
    async fn pays(&self) {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/sandbox/pay/{}", self.control(), self.acquirer_id))
            .json(&json!({ "pan": "2201382000000013" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["Status"], "CONFIRMED");
    }

    /// The notifications the sandbox made for this payment (signed), in order: (status, body).
    async fn notifications(&self) -> Vec<(String, Value)> {
        let snapshot: Value = reqwest::get(format!("{}/sandbox/payments/{}", self.control(), self.acquirer_id))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        snapshot["Notifications"]
            .as_array()
            .expect("the sandbox lists its deliveries")
            .iter()
            .map(|d| (d["status"].as_str().unwrap_or_default().to_owned(), d["body"].clone()))
            .collect()
    }

    /// Waits until the sandbox has made `count` notifications of `status`, and returns them.
    async fn notifications_of(&self, status: &str, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let found: Vec<Value> =
                self.notifications().await.into_iter().filter(|(s, _)| s == status).map(|(_, b)| b).collect();
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the sandbox made no {count} {status} notifications");
    }

    async fn balance(&self) -> Money {
        store().await.account(&self.account).await.unwrap().unwrap().balance.signed()
    }

    async fn status(&self) -> PaymentStatus {
        store().await.payment_record(&self.payment.id).await.unwrap().unwrap().payment.status
    }

    async fn ledger(&self) -> Vec<Movement> {
        store().await.ledger_entries(&self.account).await.unwrap().into_iter().map(|e| e.movement).collect()
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

    async fn on_desk(&self, kind: Option<DeskKind>) -> bool {
        let now = Utc::now();
        let items = desk().await.list(now - TimeDelta::days(1), now + TimeDelta::days(1), kind).await.unwrap();
        items.iter().any(|item| item.payment == self.payment.id)
    }
}

#[tokio::test]
async fn given_a_credited_payment_when_the_desk_refunds_it_then_the_balance_moves_back_once_and_the_refund_receipt_is_mailed()
 {
    let customer = Customer::at_the_bank("742.15").await;
    customer.pays().await;
    for status in ["CONFIRMED", "RECEIPT"] {
        deliver(&customer.notifications_of(status, 1).await[0]).await;
    }
    assert_eq!(customer.balance().await, "742.15".parse::<Money>().unwrap());
    assert_eq!(customer.mails().await, (1, 1), "the payment and its sale receipt were mailed");

    let desk = desk().await;
    let refunded = desk.refund(&customer.payment.id, None, &operator("the customer paid twice")).await.unwrap();

    assert_eq!(
        refunded,
        DeskOutcome::Refunded { amount: "742.15".parse().unwrap(), total_refunded: "742.15".parse().unwrap() }
    );
    assert_eq!(customer.balance().await, Money::ZERO);
    assert_eq!(customer.status().await, PaymentStatus::Refunded);
    let total_refunded: Money = "742.15".parse().unwrap();
    assert_eq!(customer.ledger().await, vec![Movement::Credit, Movement::Refund { total_refunded }]);
    // The bank's own notifications of the refund, its receipt included, reach the callback later.
    for status in ["REFUNDED", "RECEIPT"] {
        let count = if status == "RECEIPT" { 2 } else { 1 };
        let found = customer.notifications_of(status, count).await;
        deliver(found.last().unwrap()).await;
    }
    assert_eq!(customer.mails().await, (1, 2), "the refund receipt went to the customer");
    assert_eq!(customer.balance().await, Money::ZERO, "the notification moved nothing again");

    let again = desk.refund(&customer.payment.id, None, &operator("the customer paid twice")).await.unwrap();

    assert!(matches!(again, DeskOutcome::AlreadyRefunded { ref by, .. } if by == "Petrova"), "{again:?}");
    assert_eq!(customer.balance().await, Money::ZERO);
    assert_eq!(customer.ledger().await.len(), 2);
    assert_eq!(customer.mails().await, (1, 2));
}

#[tokio::test]
async fn given_a_payment_the_bank_never_confirmed_when_the_desk_refunds_it_then_it_is_refused_and_nothing_moves() {
    let customer = Customer::at_the_bank("310.00").await;
    // Our books say paid (a notification signed with the terminal's password), the bank says NEW.
    let confirmed = json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": customer.payment.id.as_str(), "Success": true,
        "Status": "CONFIRMED", "PaymentId": customer.acquirer_id.parse::<u64>().unwrap(), "ErrorCode": "0",
        "Amount": 31_000,
    });
    deliver(&sign_notification(confirmed)).await;
    assert_eq!(customer.balance().await, "310.00".parse::<Money>().unwrap());

    let refused = desk().await.refund(&customer.payment.id, None, &operator("asked by the customer")).await;

    assert!(matches!(refused, Err(DeskError::BankSays(ref status, _)) if status == "NEW"), "{refused:?}");
    assert_eq!(customer.balance().await, "310.00".parse::<Money>().unwrap());
    assert_eq!(customer.ledger().await, vec![Movement::Credit]);
    assert_eq!(customer.status().await, PaymentStatus::Paid);
}

#[tokio::test]
async fn given_a_payment_left_for_review_that_the_bank_confirmed_when_the_desk_credits_it_twice_then_it_is_credited_once()
 {
    let customer = Customer::at_the_bank("1200.50").await;
    customer.pays().await;
    let desk = desk().await;
    left_for_review(&desk, &customer.payment.id).await;
    assert_eq!(customer.status().await, PaymentStatus::NeedsReview);
    assert!(customer.on_desk(Some(DeskKind::Review)).await);
    assert!(customer.on_desk(None).await);
    assert!(!customer.on_desk(Some(DeskKind::Email)).await, "listed under its own kind only");

    let first = desk.credit(&customer.payment.id, &operator("the bank confirmed it")).await.unwrap();
    let second = desk.credit(&customer.payment.id, &operator("the bank confirmed it")).await.unwrap();

    assert_eq!(first, DeskOutcome::Credited { amount: "1200.50".parse().unwrap() });
    assert_eq!(second, DeskOutcome::AlreadyCredited);
    assert_eq!(customer.balance().await, "1200.50".parse::<Money>().unwrap());
    assert_eq!(customer.ledger().await, vec![Movement::Credit]);
    assert_eq!(customer.mails().await.0, 1, "the payment-received email went once");
    assert!(!customer.on_desk(None).await, "settled, it left the desk");
}

#[tokio::test]
async fn given_an_anomaly_when_the_desk_reviews_it_then_it_leaves_the_list_and_a_second_review_changes_nothing() {
    let customer = Customer::at_the_bank("99.90").await;
    let store = store().await;
    store.note_anomaly(&customer.payment.id, "refund of nothing", Utc::now()).await.unwrap();
    assert!(customer.on_desk(Some(DeskKind::Anomaly)).await);
    assert!(!customer.on_desk(Some(DeskKind::Review)).await);
    let desk = desk().await;

    let first = desk.review(&customer.payment.id, &operator("a test refund at the bank")).await.unwrap();
    let second = desk.review(&customer.payment.id, &operator("again")).await.unwrap();

    assert_eq!(first, DeskOutcome::Reviewed);
    assert!(matches!(second, DeskOutcome::AlreadyReviewed { ref by, .. } if by == "Petrova"), "{second:?}");
    assert!(!customer.on_desk(None).await);
    assert_eq!(customer.status().await, PaymentStatus::New);
}

/// A `RECEIPT` shaped like the bank's documented example: no `Ofd`, no `SettlePlace`, no
/// `CalculationPlace`, no `Url` — not composable without the configured fallbacks.
fn documented_receipt(customer: &Customer) -> Value {
    let kopecks = customer.payment.amount.kopecks();
    json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": customer.payment.id.as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": customer.acquirer_id.parse::<u64>().unwrap(), "ErrorCode": "0",
        "ErrorMessage": "", "Amount": kopecks, "FiscalNumber": 7, "ShiftNumber": 112,
        "ReceiptDatetime": "2026-11-20T15:21:05+03:00", "FnNumber": "9282000100072197",
        "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 3812, "FiscalDocumentAttribute": 1837776948u64,
        "Type": "Income",
        "Receipt": {"Email": customer.payment.email_address(), "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {}", customer.account), "Price": kopecks, "Quantity": 1,
            "Amount": kopecks, "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service",
            "MeasurementUnit": "шт"}]}
    })
}

#[tokio::test]
async fn given_a_receipt_that_cannot_be_composed_when_it_is_kept_then_the_desk_lists_it_as_a_receipt() {
    let customer = Customer::at_the_bank("415.30").await;
    customer.pays().await;
    let without_fallbacks =
        Env::from_fn(
            |name| {
                if matches!(name, "SETTLEMENT_PLACE" | "OFD_NAME") { None } else { std::env::var(name).ok() }
            },
        );
    let app = payment_callback::App::configure(
        &without_fallbacks,
        integration_tests::demo_secrets(),
        store().await,
        mailer().await,
    )
    .expect("local.env is complete");
    for notification in
        [customer.notifications_of("CONFIRMED", 1).await.remove(0), sign_notification(documented_receipt(&customer))]
    {
        let request = Event::new("POST", "/callbacks/tbank").body(&notification).request();
        assert_eq!(payment_callback::handle(&app, request).await.status().as_u16(), 200);
    }

    assert!(customer.on_desk(Some(DeskKind::Receipt)).await);
    assert!(!customer.on_desk(Some(DeskKind::Anomaly)).await);
    assert_eq!(customer.mails().await, (1, 0), "paid and mailed; the receipt waits");
}

#[tokio::test]
async fn given_a_payment_for_review_whose_init_answer_was_lost_when_the_desk_credits_it_then_the_bank_is_asked_by_order()
 {
    let customer = Customer::registered("88.80", false).await;
    customer.pays().await;
    let desk = desk().await;
    left_for_review(&desk, &customer.payment.id).await;

    let credited = desk.credit(&customer.payment.id, &operator("paid at the bank")).await.unwrap();

    assert_eq!(credited, DeskOutcome::Credited { amount: "88.80".parse().unwrap() });
    let record = store().await.payment_record(&customer.payment.id).await.unwrap().unwrap();
    assert_eq!(record.payment.acquirer_payment_id.as_deref(), Some(customer.acquirer_id.as_str()));
    assert_eq!(customer.balance().await, "88.80".parse::<Money>().unwrap());
}
