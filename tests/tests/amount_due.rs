//! What an account with several meters owes, through the real handlers (readings, look-up, pay,
//! the bank's notification) against DynamoDB Local, the acquirer sandbox and moto: every meter's
//! charge counted once, the debt counted once, whatever order the meters are handed in and paid,
//! and paying exactly what is due leaves nothing due and no overpayment shown.
//!
//! The charges come from the readings answers (their prices are tested in `submit_readings`);
//! what is checked here is how the account adds them up.

use chrono::{DateTime, TimeZone, Utc};
use energosbyt::config::Env;
use energosbyt::domain::{AccountNumber, Money};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::AccountImport;
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};

/// Two single-rate meters of the gas-stove group, in the default 15–26 window.
async fn two_meter_account(balance: &str) -> AccountNumber {
    let table = admin::tariff_import::parse(include_str!("../../data/tariffs.json")).unwrap();
    admin::tariff_import::import(&store().await, &table, false).await.unwrap();
    let number = fresh_account_number();
    let meters = vec![
        meter(json!({"id": "KITCHEN", "zoneSet": "single", "digits": 6,
                     "lastReadings": {"T1": {"value": 10_000, "date": "2026-10-20"}}})),
        meter(json!({"id": "HALL", "zoneSet": "single", "digits": 6,
                     "lastReadings": {"T1": {"value": 20_000, "date": "2026-10-20"}}})),
    ];
    store().await.import_account(&account(number, balance, meters), fixed_now()).await.unwrap();
    number
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

fn rub(text: &str) -> Money {
    text.parse().unwrap()
}

fn money(value: &Value) -> Money {
    value.as_str().unwrap_or_else(|| panic!("not money: {value}")).parse().unwrap()
}

struct Customer {
    number: AccountNumber,
    launch: String,
    readings: submit_readings::App<DynamoStore>,
    lookup: account_lookup::App<DynamoStore>,
    pay: pay::App<DynamoStore, energosbyt::acquirer::TbankClient>,
    callback: payment_callback::App<DynamoStore, SesMailer>,
}

impl Customer {
    async fn new(number: AccountNumber) -> Self {
        let real_time = {
            let mut edge = edge();
            edge.clock = Utc::now;
            edge
        };
        let config = Env::process();
        let mailer = SesMailer::from_env(&config).await.unwrap();
        mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.unwrap();
        Self {
            number,
            launch: vk_launch(user(), fixed_now()),
            // Readings and the look-up at 20 November 2026, inside the window.
            readings: submit_readings::App::new(store().await, edge()),
            lookup: account_lookup::App { store: store().await, edge: edge() },
            pay: pay::App {
                store: store().await,
                acquirer: integration_tests::acquirer(),
                edge: real_time,
                settings: energosbyt::app::payment_registration::PaySettings::from_env(&config).unwrap(),
            },
            callback: payment_callback::App::configure(
                &config,
                integration_tests::demo_secrets(),
                store().await,
                Mailer::new(mailer, MailFrom::from_env(&config).unwrap()),
            )
            .unwrap(),
        }
    }

    /// The same customer on another day: readings and the look-up on `clock`, launched then.
    async fn on(self, clock: fn() -> DateTime<Utc>) -> Self {
        let clocked = || {
            let mut edge = edge();
            edge.clock = clock;
            edge
        };
        Self {
            launch: vk_launch(user(), clock()),
            readings: submit_readings::App::new(store().await, clocked()),
            lookup: account_lookup::App { store: store().await, edge: clocked() },
            ..self
        }
    }

    async fn hand_in(&self, meter: &str, value: u64) -> Value {
        let request = Event::new("POST", &format!("/accounts/{}/readings", self.number))
            .vk(&self.launch)
            .body(&json!({"meterId": meter, "values": {"T1": value}}));
        let response = submit_readings::handle(&self.readings, request.request()).await;
        let body = body_json(&response);
        assert_eq!(response.status(), 200, "{body}");
        body
    }

    async fn look_up(&self) -> Value {
        let request = Event::new("GET", &format!("/accounts/{}", self.number)).vk(&self.launch);
        let response = account_lookup::handle(&self.lookup, request.request()).await;
        let body = body_json(&response);
        assert_eq!(response.status(), 200, "{body}");
        body
    }

    /// Pays `amount` through `POST /payments`, then the bank confirms it.
    async fn pay(&self, amount: Money) {
        let launch = vk_launch(user(), Utc::now());
        let request = Event::new("POST", "/payments")
            .vk(&launch)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&json!({"account": self.number.to_string(), "amount": amount.to_string(),
                          "email": format!("due-{}@example.ru", uuid::Uuid::new_v4().simple())}));
        let created = pay::handle(&self.pay, request.request()).await;
        assert_eq!(created.status(), 201, "{}", body_json(&created));
        let payment_id = body_json(&created)["paymentId"].as_str().unwrap().to_owned();
        let confirmed = sign_notification(json!({
            "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment_id, "Success": true,
            "Status": "CONFIRMED", "PaymentId": 4_200_000_000u64 + (user() % 100_000_000), "ErrorCode": "0",
            "Amount": amount.kopecks(), "Pan": "220138******0047",
        }));
        let answer =
            payment_callback::handle(&self.callback, Event::new("POST", "/callbacks/tbank").body(&confirmed).request())
                .await;
        assert_eq!(answer.status(), 200);
    }
}

#[tokio::test]
async fn given_two_meters_and_a_debt_when_both_are_handed_in_then_the_debt_and_each_charge_count_once() {
    let customer = Customer::new(two_meter_account("-100.00").await).await;

    let kitchen = customer.hand_in("KITCHEN", 10_150).await;
    let c1 = money(&kitchen["charge"]);
    // The first meter's charge plus the debt.
    assert_eq!(money(&kitchen["amountToPay"]), c1 + rub("100.00"));

    let hall = customer.hand_in("HALL", 20_080).await;
    let c2 = money(&hall["charge"]);
    assert!(c1.is_positive() && c2.is_positive(), "{kitchen} {hall}");
    // Both charges and the debt, the debt once (each meter used to add it again).
    let due = c1 + c2 + rub("100.00");
    assert_eq!(money(&hall["amountToPay"]), due);
    assert_eq!(money(&hall["chargedByReadings"]), c1 + c2);

    let shown = customer.look_up().await;
    assert_eq!(money(&shown["amountDue"]), due);
    assert_eq!(money(&shown["recommendedAmount"]), due);
    assert_eq!(money(&shown["chargedByReadings"]), c1 + c2);
    assert_eq!(money(&shown["balance"]), rub("-100.00"));
    assert_eq!(money(&shown["balanceAfterReadings"]), Money::ZERO - due);
    for meter in shown["meters"].as_array().unwrap() {
        assert!(meter["submitted"].get("amountToPay").is_none(), "no per-meter figure to pay: {meter}");
    }

    // Paying exactly what is due leaves nothing due, and no overpayment is shown.
    customer.pay(due).await;
    let after = customer.look_up().await;
    assert_eq!(money(&after["amountDue"]), Money::ZERO, "{after}");
    assert_eq!(money(&after["balanceAfterReadings"]), Money::ZERO, "{after}");
    // The balance itself moved by the payment: the charges are billed at the next import.
    assert_eq!(money(&after["balance"]), c1 + c2);
}

#[tokio::test]
async fn given_the_first_meter_paid_when_the_second_is_handed_in_then_its_charge_is_still_due() {
    let customer = Customer::new(two_meter_account("0.00").await).await;

    let kitchen = customer.hand_in("KITCHEN", 10_200).await;
    let c1 = money(&kitchen["charge"]);
    assert_eq!(money(&kitchen["amountToPay"]), c1);
    customer.pay(c1).await;
    assert_eq!(money(&customer.look_up().await["amountDue"]), Money::ZERO);

    // Today's balance is the credit paid for the kitchen: it must not swallow the hall's charge.
    let hall = customer.hand_in("HALL", 20_100).await;
    let c2 = money(&hall["charge"]);
    assert_eq!(money(&hall["amountToPay"]), c2);
    let shown = customer.look_up().await;
    assert_eq!(money(&shown["amountDue"]), c2);
    assert_eq!(money(&shown["balanceAfterReadings"]), Money::ZERO - c2);

    customer.pay(c2).await;
    let after = customer.look_up().await;
    assert_eq!(money(&after["amountDue"]), Money::ZERO);
    assert_eq!(money(&after["balanceAfterReadings"]), Money::ZERO);
}

#[tokio::test]
async fn given_the_same_figures_when_the_meters_come_in_either_order_then_the_account_owes_the_same() {
    let first = Customer::new(two_meter_account("-37.15").await).await;
    first.hand_in("KITCHEN", 10_321).await;
    let one_way = first.hand_in("HALL", 20_456).await;

    let second = Customer::new(two_meter_account("-37.15").await).await;
    second.hand_in("HALL", 20_456).await;
    let other_way = second.hand_in("KITCHEN", 10_321).await;

    assert_eq!(money(&one_way["amountToPay"]), money(&other_way["amountToPay"]));
    assert_eq!(money(&first.look_up().await["amountDue"]), money(&second.look_up().await["amountDue"]));
}

#[tokio::test]
async fn given_a_corrected_submission_when_the_account_is_shown_then_only_the_correction_counts() {
    let customer = Customer::new(two_meter_account("0.00").await).await;
    customer.hand_in("KITCHEN", 10_500).await;
    let corrected = customer.hand_in("KITCHEN", 10_050).await;
    let hall = customer.hand_in("HALL", 20_010).await;

    let expected = money(&corrected["charge"]) + money(&hall["charge"]);
    assert_eq!(money(&hall["amountToPay"]), expected);
    assert_eq!(money(&customer.look_up().await["chargedByReadings"]), expected);
}

#[tokio::test]
async fn given_a_month_away_when_the_same_figure_is_handed_in_then_it_is_accepted_and_costs_nothing() {
    let customer = Customer::new(two_meter_account("-12.00").await).await;

    let away = customer.hand_in("KITCHEN", 10_000).await;

    assert_eq!(away["consumption"], json!({"T1": 0}));
    assert_eq!(money(&away["charge"]), Money::ZERO);
    // Only the debt is due.
    assert_eq!(money(&away["amountToPay"]), rub("12.00"));
}

/// A Moscow wall-clock instant of late 2026.
fn moscow(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap() - chrono::Duration::hours(3)
}

fn december_1st() -> DateTime<Utc> {
    moscow(12, 1, 10)
}

fn december_16th() -> DateTime<Utc> {
    moscow(12, 16, 10)
}

/// November's readings are billed by the export made after November ends. Until it is imported
/// the charge stays due on 1 December (it used to vanish with the calendar month), and December's
/// use counts from November's figures, not from October's in the older export (which charged the
/// November kWh a second time).
#[tokio::test]
async fn given_last_months_readings_not_billed_yet_when_the_month_turns_then_their_charge_stays_due_and_counts_once() {
    tariffs_loaded().await;
    let number = fresh_account_number();
    // The account as the export of 1 November left it: October billed, the kitchen at 10 000.
    let kitchen = |value: u64, date: &str| {
        meter(json!({"id": "KITCHEN", "zoneSet": "single", "digits": 6,
                     "lastReadings": {"T1": {"value": value, "date": date}}}))
    };
    let hall = meter(json!({"id": "HALL", "zoneSet": "single", "digits": 6,
                            "lastReadings": {"T1": {"value": 20_000, "date": "2026-10-20"}}}));
    let october = account(number, "0.00", vec![kitchen(10_000, "2026-10-20"), hall.clone()]);
    store().await.import_account(&october, moscow(11, 1, 3)).await.unwrap();

    // Given 300 kWh handed in on 20 November and not paid.
    let customer = Customer::new(number).await;
    let november = customer.hand_in("KITCHEN", 10_300).await;
    assert_eq!(november["consumption"], json!({"T1": 300}));
    let november_charge = money(&november["charge"]);
    assert!(november_charge.is_positive(), "{november}");

    // When the month turns, before the export that bills November is imported.
    let customer = customer.on(december_1st).await;
    let shown = customer.look_up().await;
    assert_eq!(money(&shown["chargedByReadings"]), november_charge, "{shown}");
    assert_eq!(money(&shown["amountDue"]), november_charge, "{shown}");
    assert_eq!(money(&shown["balanceAfterReadings"]), Money::ZERO - november_charge);
    for meter in shown["meters"].as_array().unwrap() {
        assert!(meter.get("submitted").is_none(), "nothing handed in for December yet: {meter}");
    }

    // December's 200 kWh count from November's 10 300, and both charges are due.
    let customer = customer.on(december_16th).await;
    let december = customer.hand_in("KITCHEN", 10_500).await;
    assert_eq!(december["consumption"], json!({"T1": 200}), "{december}");
    let december_charge = money(&december["charge"]);
    assert_eq!(money(&december["chargedByReadings"]), november_charge + december_charge);
    assert_eq!(money(&december["amountToPay"]), november_charge + december_charge);

    // Then the export made on 2 December arrives: November is a debt in it, and no longer beside it.
    let billed = account(number, &format!("-{november_charge}"), vec![kitchen(10_300, "2026-11-20"), hall]);
    store().await.import_account(&billed, moscow(12, 2, 3)).await.unwrap();
    let shown = customer.look_up().await;
    assert_eq!(money(&shown["balance"]), Money::ZERO - november_charge, "{shown}");
    assert_eq!(money(&shown["chargedByReadings"]), december_charge, "{shown}");
    assert_eq!(money(&shown["amountDue"]), november_charge + december_charge, "{shown}");
}
