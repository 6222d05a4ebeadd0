//! `POST /payments` and `GET /payments/{id}` against DynamoDB Local and the acquirer sandbox:
//! what the customer gets back, what the table and the bank hold afterwards, and every refusal.
//!
//! The tests run on the real clock, because the sandbox checks `RedirectDueDate` against its own.
//! The one about the VAT rate at the turn of 2026 fixes the clock instead, and records the `Init`
//! body in place of the bank.
//!
//! The sandbox's fault switch is global: a test that switches a fault holds [`BANK`] exclusively,
//! every other test that reaches the bank holds it shared.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use energosbyt::acquirer::{
    Acquirer, AcquirerError, CancelRequest, CancelResponse, InitRequest, InitResponse, OrderState, PaymentState,
    QrRequest, QrResponse, TbankClient, TbankSettings, Unavailability,
};
use energosbyt::app::payment_registration::PaySettings;
use energosbyt::config::Env;
use energosbyt::domain::payment_request::PaymentLimits;
use energosbyt::domain::{AccountNumber, PaymentId};
use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::AccountImport;
use energosbyt::store::DynamoStore;
use integration_tests::*;
use lambda_http::{Body, Request, Response};
use pay::{App, handle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

static BANK: RwLock<()> = RwLock::const_new(());

type Item = HashMap<String, AttributeValue>;

fn settings() -> PaySettings {
    PaySettings::from_env(&Env::process()).expect("local.env sets the payment settings")
}

fn acquirer(timeout: Duration) -> TbankClient {
    let mut settings = TbankSettings::from_env().expect("local.env sets TBANK_*");
    settings.timeout = timeout;
    TbankClient::new(settings, integration_tests::demo_secrets()).expect("a client for the sandbox")
}

async fn app_with_timeout(timeout: Duration) -> App<DynamoStore, TbankClient> {
    let mut edge = edge();
    edge.clock = Utc::now;
    App { store: store().await, acquirer: acquirer(timeout), edge, settings: settings() }
}

async fn app() -> App<DynamoStore, TbankClient> {
    app_with_timeout(Duration::from_secs(5)).await
}

async fn imported(balance: &str) -> AccountNumber {
    let number = fresh_account_number();
    store().await.import_account(&account(number, balance, vec![]), fixed_now()).await.unwrap();
    number
}

fn new_key() -> String {
    format!("pay-test-{}", uuid::Uuid::new_v4())
}

/// A VK user of its own for each test: throttling, idempotency keys and payments are per caller.
struct Customer {
    id: u64,
    launch: String,
}

impl Customer {
    fn new() -> Self {
        Self::at(Utc::now())
    }

    fn at(now: DateTime<Utc>) -> Self {
        let id = (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1;
        Self { id, launch: vk_launch(id, now) }
    }

    fn caller(&self) -> String {
        format!("vk:{}", self.id)
    }

    fn post(&self, key: Option<&str>, body: &Value) -> Request {
        self.post_raw(key, &body.to_string())
    }

    fn post_raw(&self, key: Option<&str>, body: &str) -> Request {
        let mut event = Event::new("POST", "/payments").vk(&self.launch);
        if let Some(key) = key {
            event = event.header("idempotency-key", key);
        }
        let mut request = event.request();
        *request.body_mut() = Body::Text(body.to_owned());
        request
    }

    fn get(&self, id: &str) -> Request {
        Event::new("GET", &format!("/payments/{id}")).vk(&self.launch).request()
    }
}

fn payment_body(number: &AccountNumber, amount: &str) -> Value {
    json!({"account": number.to_string(), "amount": amount, "email": "ivanov@example.ru"})
}

fn assert_problem(response: &Response<Body>, status: u16, slug: &str, what: &str) {
    let body = body_json(response);
    assert_eq!(response.status(), status, "{what}: {body}");
    assert_eq!(response.headers()["content-type"], "application/problem+json", "{what}");
    assert_eq!(body["type"], format!("/problems/{slug}"), "{what}: {body}");
    let title = body["title"].as_str().unwrap_or_default();
    assert!(title.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap())), "{what}: {title}");
}

// ---- the table ----------------------------------------------------------------------------

/// A whole-table scan: fine for a test table, never on a request path.
async fn scan(filter: &str, values: &[(&str, &str)]) -> Vec<Item> {
    let store = store().await;
    let mut found = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let mut request = store.client().scan().table_name(store.table()).filter_expression(filter);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, AttributeValue::S((*value).to_owned()));
        }
        let out = request.set_exclusive_start_key(start).send().await.expect("a scan of the test table");
        found.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

async fn payments_of(caller: &str) -> Vec<Item> {
    scan("caller = :caller AND SK = :sk", &[(":caller", caller), (":sk", "PAYMENT")]).await
}

async fn idempotency_records_of(caller: &str) -> Vec<Item> {
    scan("begins_with(PK, :prefix)", &[(":prefix", &format!("IDEMPOTENCY#{caller}#"))]).await
}

async fn payment_item(id: &str) -> Item {
    let store = store().await;
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("PAYMENT#{id}")))
        .key("SK", AttributeValue::S("PAYMENT".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("payment {id} is in the table"))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn id_of(item: &Item) -> String {
    text(item, "PK").unwrap().trim_start_matches("PAYMENT#").to_owned()
}

// ---- the bank -----------------------------------------------------------------------------

fn sandbox_url() -> String {
    env("TBANK_API_URL").trim_end_matches('/').trim_end_matches("/v2").to_owned()
}

/// Every payment the bank holds for one of our payment ids (its `OrderId`).
async fn bank_payments(order_id: &str) -> Vec<Value> {
    let url = format!("{}/sandbox/payments?order_id={order_id}", sandbox_url());
    let answer: Value = reqwest::get(&url).await.unwrap().error_for_status().unwrap().json().await.unwrap();
    answer["payments"].as_array().cloned().unwrap_or_default()
}

async fn fault(spec: Value) {
    reqwest::Client::new()
        .post(format!("{}/sandbox/faults", sandbox_url()))
        .json(&spec)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the sandbox takes the fault");
}

/// The sandbox echoes numbers of the request body as their text: read either form.
fn kopecks(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("kopecks: {v}"))
}

// ---- creating a payment -------------------------------------------------------------------

#[tokio::test]
async fn given_a_payment_created_through_pay_when_its_creator_lists_payments_then_it_is_there_and_for_no_one_else() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-150.00").await;
    let customer = Customer::new();
    let response = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "150.00"))).await;
    assert_eq!(response.status(), 201, "{}", body_json(&response));
    let id = body_json(&response)["paymentId"].as_str().unwrap().to_owned();

    let mut edge = edge();
    edge.clock = Utc::now;
    let history = payment_history::App { store: store().await, edge };
    let listed = |launch: String| {
        let history = &history;
        async move {
            let response = payment_history::handle(history, Event::new("GET", "/payments").vk(&launch).request()).await;
            assert_eq!(response.status(), 200);
            body_json(&response)["payments"].as_array().unwrap().clone()
        }
    };
    let own = listed(customer.launch.clone()).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["paymentId"], id);
    assert_eq!(own[0]["status"], "NEW");
    assert_eq!(own[0]["amount"], "150.00");
    assert!(listed(Customer::new().launch).await.iter().all(|p| p["paymentId"] != id));
}

#[tokio::test]
async fn a_payment_is_written_new_with_the_banks_form_and_the_bank_accepted_our_signature() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-1520.37").await;
    let customer = Customer::new();

    let response = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "1520.37"))).await;

    assert_eq!(response.status(), 201, "{}", body_json(&response));
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(&response);
    let id = body["paymentId"].as_str().unwrap().to_owned();
    assert!(id.parse::<PaymentId>().is_ok(), "{id}");
    assert_eq!(body["amount"], "1520.37", "what is paid is what is credited: no commission");
    assert_eq!(body["status"], "NEW");
    let url = body["paymentUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/pay/", sandbox_url())), "{url}");

    let item = payment_item(&id).await;
    assert_eq!(text(&item, "status"), Some("NEW"));
    assert_eq!(text(&item, "paymentUrl"), Some(url));
    assert_eq!(text(&item, "caller"), Some(customer.caller().as_str()));
    assert_eq!(text(&item, "account"), Some(number.digits()));
    assert_eq!(text(&item, "GSI2PK"), Some("PENDING"), "reconciliation finds it while it waits");

    // The bank took the Token (a bad signature is refused with 204) and holds one payment.
    let at_bank = bank_payments(&id).await;
    assert_eq!(at_bank.len(), 1);
    let init = &at_bank[0];
    assert_eq!(Some(init["PaymentId"].as_str().unwrap()), text(&item, "acquirerPaymentId"));
    assert_eq!(init["Amount"], 152_037);
    assert_eq!(init["Description"], format!("Оплата электроэнергии, л/с {number}"));
    assert_eq!(init["DATA"], json!({"OperationInitiatorType": "0"}));
    assert!(init["SuccessURL"].as_str().unwrap().ends_with(&format!("paymentId={id}")));
    assert!(init["FailURL"].as_str().unwrap().ends_with(&format!("paymentId={id}")));
    let receipt = &init["Receipt"];
    assert_eq!(receipt["Email"], "ivanov@example.ru");
    assert_eq!(receipt["Taxation"], "osn");
    assert_eq!(receipt["FfdVersion"], "1.2");
    let items = receipt["Items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["Name"], format!("Оплата электроэнергии, л/с {number}"));
    assert_eq!(items.iter().map(|i| kopecks(&i["Amount"])).sum::<i64>(), 152_037, "receipt sum = Amount");
}

#[tokio::test]
async fn the_same_key_and_request_replay_the_answer_and_the_bank_sees_one_payment() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-800").await;
    let customer = Customer::new();
    let key = new_key();

    let first = handle(&app, customer.post(Some(&key), &payment_body(&number, "800"))).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    // The same request, spelled differently: the number without dashes, the amount a JSON number.
    let respelled = format!(r#"{{"email":"ivanov@example.ru","amount":800.00,"account":"{}"}}"#, number.digits());
    let again = handle(&app, customer.post_raw(Some(&key), &respelled)).await;

    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(body_json(&again), body_json(&first));
    let id = body_json(&first)["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(bank_payments(&id).await.len(), 1);
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_and_changes_nothing() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-800").await;
    let customer = Customer::new();
    let key = new_key();

    let first = handle(&app, customer.post(Some(&key), &payment_body(&number, "800"))).await;
    assert_eq!(first.status(), 201);
    let other = handle(&app, customer.post(Some(&key), &payment_body(&number, "801"))).await;

    assert_problem(&other, 422, "idempotency-key-reused", "another amount");
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
    let again = handle(&app, customer.post(Some(&key), &payment_body(&number, "800"))).await;
    assert_eq!(body_json(&again), body_json(&first), "the key still replays its own request");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_payment() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-300").await;
    let customer = Customer::new();
    let key = new_key();
    let body = payment_body(&number, "300");

    let (a, b, c) = tokio::join!(
        handle(&app, customer.post(Some(&key), &body)),
        handle(&app, customer.post(Some(&key), &body)),
        handle(&app, customer.post(Some(&key), &body)),
    );

    let responses = [a, b, c];
    let created: Vec<_> = responses.iter().filter(|r| r.status() == 201).collect();
    let fresh = created.iter().filter(|r| r.headers().get("idempotent-replayed").is_none()).count();
    assert_eq!(fresh, 1, "exactly one request created the payment");
    for response in &responses {
        match response.status().as_u16() {
            201 => assert_eq!(body_json(response), body_json(created[0])),
            _ => {
                assert_problem(response, 409, "payment-in-progress", "the concurrent one");
                assert!(response.headers().contains_key("retry-after"));
            }
        }
    }
    let id = body_json(created[0])["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
    assert_eq!(bank_payments(&id).await.len(), 1);
}

#[tokio::test]
async fn a_missing_or_malformed_key_is_400_and_nothing_is_written() {
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let body = payment_body(&number, "100");

    let missing = handle(&app, customer.post(None, &body)).await;
    assert_problem(&missing, 400, "idempotency-key-missing", "no key");
    let too_long = handle(&app, customer.post(Some(&"k".repeat(129)), &body)).await;
    assert_problem(&too_long, 400, "idempotency-key-invalid", "129 characters");

    assert!(payments_of(&customer.caller()).await.is_empty());
    assert!(idempotency_records_of(&customer.caller()).await.is_empty());
}

#[tokio::test]
async fn every_bad_input_is_a_problem_and_leaves_nothing_behind_not_even_the_key() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let with = |field: &str, value: Value| {
        let mut body = payment_body(&number, "100");
        body[field] = value;
        body.to_string()
    };
    let long_email = format!("{}@example.ru", "a".repeat(60));
    let mut unknown_field = payment_body(&number, "100");
    unknown_field["commission"] = json!("0");
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("amount 0", with("amount", json!("0")), 400, "invalid-amount"),
        ("negative amount", with("amount", json!("-5")), 400, "invalid-amount"),
        ("three decimals", with("amount", json!("1.001")), 400, "invalid-amount"),
        ("an exponent", with("amount", json!("x")).replace("\"x\"", "1e3"), 400, "invalid-amount"),
        ("not a string", with("amount", json!(true)), 400, "invalid-amount"),
        ("over the limit", with("amount", json!("500000.01")), 400, "amount-out-of-range"),
        ("under the limit", with("amount", json!("0.99")), 400, "amount-out-of-range"),
        ("an unknown account", with("account", json!(fresh_account_number().to_string())), 404, "account-not-found"),
        ("a malformed account", with("account", json!("12345-678")), 400, "invalid-account-number"),
        ("a bad email", with("email", json!("ivanov@example")), 400, "invalid-email"),
        ("an email too long for the receipt", with("email", json!(long_email)), 400, "invalid-email"),
        ("a malformed readings id", with("readingsId", json!("../1")), 400, "invalid-readings-id"),
        ("not JSON", "account=1&amount=2".to_owned(), 400, "malformed-body"),
        ("over 16 KiB", format!("{}{}", with("amount", json!("100")), " ".repeat(16 * 1024)), 413, "payload-too-large"),
        ("an unknown field", unknown_field.to_string(), 400, "unknown-field"),
        ("no email", json!({"account": number.to_string(), "amount": "100"}).to_string(), 400, "missing-field"),
    ];
    let first_key = new_key();
    for (i, (what, body, status, slug)) in cases.iter().enumerate() {
        let key = if i == 0 { first_key.clone() } else { new_key() };
        let response = handle(&app, customer.post_raw(Some(&key), body)).await;
        assert_problem(&response, *status, slug, what);
    }

    assert!(payments_of(&customer.caller()).await.is_empty(), "no payment was written");
    assert!(idempotency_records_of(&customer.caller()).await.is_empty(), "no key was claimed");
    // The key a refused request carried is as good as new.
    let good = handle(&app, customer.post(Some(&first_key), &payment_body(&number, "100"))).await;
    assert_eq!(good.status(), 201, "{}", body_json(&good));
}

#[tokio::test]
async fn the_limits_come_from_configuration_and_are_named_in_the_problem() {
    let _bank = BANK.read().await;
    let mut app = app().await;
    app.settings.limits = PaymentLimits::new("10".parse().unwrap(), "100".parse().unwrap()).unwrap();
    let number = imported("-50").await;
    let customer = Customer::new();

    let low = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "9.99"))).await;
    assert_problem(&low, 400, "amount-out-of-range", "below");
    assert_eq!(body_json(&low)["min"], "10.00");
    let high = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "100.01"))).await;
    assert_problem(&high, 400, "amount-out-of-range", "above");
    assert_eq!(body_json(&high)["max"], "100.00");
    let edge = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "100"))).await;
    assert_eq!(edge.status(), 201);
}

// ---- the Init body at the turn of the VAT rate --------------------------------------------

/// Stands in for the bank where the sandbox cannot: it would refuse a `RedirectDueDate` in 2026's
/// first minute as long past. With `lose_first`, the first `Init` is done and its answer lost.
#[derive(Default)]
struct RecordingAcquirer {
    inits: Mutex<Vec<InitRequest>>,
    lose_first: bool,
}

impl Acquirer for RecordingAcquirer {
    async fn init(&self, request: &InitRequest) -> Result<InitResponse, AcquirerError> {
        let mut inits = self.inits.lock().unwrap();
        inits.push(request.clone());
        if self.lose_first && inits.len() == 1 {
            return Err(AcquirerError::Unavailable(Unavailability::Timeout));
        }
        Ok(InitResponse {
            terminal_key: "DemoTerminalKey".into(),
            status: energosbyt::acquirer::PaymentStatus::New,
            payment_id: energosbyt::acquirer::PaymentId::new("7000000001"),
            order_id: request.order_id.clone(),
            amount: request.amount,
            payment_url: format!("https://bank.example/pay/{}", request.order_id),
        })
    }

    async fn get_qr(&self, _: &QrRequest) -> Result<QrResponse, AcquirerError> {
        Err(AcquirerError::InvalidRequest("not expected here".into()))
    }

    async fn get_state(&self, _: &energosbyt::acquirer::PaymentId) -> Result<PaymentState, AcquirerError> {
        Err(AcquirerError::InvalidRequest("not expected here".into()))
    }

    /// The lost `Init` never reached this bank: it holds nothing for the order.
    async fn check_order(&self, order_id: &str) -> Result<OrderState, AcquirerError> {
        Ok(OrderState { order_id: order_id.to_owned(), payments: Vec::new() })
    }

    async fn cancel(&self, _: &CancelRequest) -> Result<CancelResponse, AcquirerError> {
        Err(AcquirerError::InvalidRequest("not expected here".into()))
    }
}

/// 23:30 on 31 December 2025 in Moscow.
fn half_an_hour_before_2026() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 31, 20, 30, 0).unwrap()
}

/// 23:59:30 on 31 December 2025 in Moscow.
fn half_a_minute_before_2026() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 31, 20, 59, 30).unwrap()
}

/// 00:00 on 1 January 2026 in Moscow (still 2025 in UTC).
fn first_minute_of_2026() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap()
}

/// 15:00 on 20 November 2026 in Moscow: no VAT change near.
fn an_ordinary_day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn twenty_hours_later() -> DateTime<Utc> {
    an_ordinary_day() + chrono::TimeDelta::hours(20)
}

fn half_a_minute_before_the_deadline() -> DateTime<Utc> {
    an_ordinary_day() + chrono::TimeDelta::hours(24) - chrono::TimeDelta::seconds(30)
}

/// The pay function with its clock fixed at `clock` and the recording bank.
async fn app_at(clock: fn() -> DateTime<Utc>, lose_first: bool) -> App<DynamoStore, RecordingAcquirer> {
    let mut edge = edge();
    edge.clock = clock;
    let acquirer = RecordingAcquirer { lose_first, ..RecordingAcquirer::default() };
    App { store: store().await, acquirer, edge, settings: settings() }
}

#[tokio::test]
async fn the_receipt_adds_up_to_the_amount_and_its_vat_and_form_keep_to_the_moscow_date() {
    let number = imported("-2000").await;
    let settings = settings();
    let cases = [
        // The form closes before midnight: paid on 1 January it would print last year's rate.
        (
            half_an_hour_before_2026 as fn() -> DateTime<Utc>,
            &settings.init.vat_codes.vat20,
            "2025-12-31T23:59:59+03:00",
        ),
        (first_minute_of_2026, &settings.init.vat_codes.vat22, "2026-01-02T00:00:00+03:00"),
        (an_ordinary_day, &settings.init.vat_codes.vat22, "2026-11-21T15:00:00+03:00"),
    ];
    for (clock, tax, due) in cases {
        let app = app_at(clock, false).await;
        let customer = Customer::at(clock());

        let response = handle(&app, customer.post(Some(&new_key()), &payment_body(&number, "1999.99"))).await;

        assert_eq!(response.status(), 201, "{}", body_json(&response));
        let id = body_json(&response)["paymentId"].as_str().unwrap().to_owned();
        let inits = app.acquirer.inits.lock().unwrap().clone();
        assert_eq!(inits.len(), 1);
        let init = serde_json::to_value(&inits[0]).unwrap();
        assert_eq!(init["OrderId"], id);
        assert_eq!(init["Amount"], 199_999);
        assert_eq!(init["PayType"], "O");
        assert_eq!(init["Language"], "ru");
        assert_eq!(init["RedirectDueDate"], due);
        assert_eq!(init["SuccessURL"], format!("{}?paymentId={id}", settings.init.success_url));
        let items = init["Receipt"]["Items"].as_array().unwrap();
        assert_eq!(items.iter().map(|i| kopecks(&i["Amount"])).sum::<i64>(), 199_999);
        assert_eq!(items[0]["Name"], format!("Оплата электроэнергии, л/с {number}"));
        assert_eq!(&items[0]["Tax"], tax.as_str(), "{due}");
        let stored = payment_item(&id).await;
        let deadline = chrono::DateTime::parse_from_rfc3339(due).unwrap();
        let stored_deadline = chrono::DateTime::parse_from_rfc3339(text(&stored, "formDeadline").unwrap()).unwrap();
        assert_eq!(stored_deadline, deadline, "the deadline sent is the one kept");
    }
}

#[tokio::test]
async fn given_less_than_a_minute_before_the_vat_change_when_paying_then_503_until_midnight_and_nothing_is_written() {
    let number = imported("-2000").await;
    let app = app_at(half_a_minute_before_2026, false).await;
    let customer = Customer::at(half_a_minute_before_2026());
    let key = new_key();

    let response = handle(&app, customer.post(Some(&key), &payment_body(&number, "100.00"))).await;

    assert_problem(&response, 503, "vat-rate-changing", "23:59:30");
    assert_eq!(response.headers()["retry-after"], "30", "seconds until the new rate");
    assert!(app.acquirer.inits.lock().unwrap().is_empty(), "no form was opened");
    assert!(payments_of(&customer.caller()).await.is_empty());
    assert!(idempotency_records_of(&customer.caller()).await.is_empty(), "the key stays free");
}

#[tokio::test]
async fn given_a_payment_whose_init_answer_was_lost_when_resumed_20_hours_later_then_its_form_keeps_the_first_deadline()
{
    let number = imported("-300").await;
    let customer = Customer::at(an_ordinary_day());
    let key = new_key();
    let body = payment_body(&number, "300.00");

    let first = app_at(an_ordinary_day, true).await;
    let lost = handle(&first, customer.post(Some(&key), &body)).await;
    assert_problem(&lost, 504, "acquirer-timeout", "the first Init's answer is lost");
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(text(&payments[0], "formDeadline"), Some("2026-11-21T12:00:00.000Z"));

    // 20 hours later the customer tries again with the same key: the same payment, the same form life.
    let later = app_at(twenty_hours_later, false).await;
    let again = Customer { id: customer.id, launch: vk_launch(customer.id, twenty_hours_later()) };
    let resumed = handle(&later, again.post(Some(&key), &body)).await;

    assert_eq!(resumed.status(), 201, "{}", body_json(&resumed));
    assert_eq!(body_json(&resumed)["paymentId"], id_of(&payments[0]), "the same payment");
    let init = serde_json::to_value(&later.acquirer.inits.lock().unwrap()[0]).unwrap();
    assert_eq!(init["RedirectDueDate"], "2026-11-21T15:00:00+03:00", "24 h after it was created, not 44 h");
}

#[tokio::test]
async fn given_a_payment_whose_init_answer_was_lost_when_resumed_with_no_form_time_left_then_a_new_payment_takes_its_place()
 {
    let number = imported("-300").await;
    let customer = Customer::at(an_ordinary_day());
    let key = new_key();
    let body = payment_body(&number, "300.00");
    let first = app_at(an_ordinary_day, true).await;
    assert_eq!(handle(&first, customer.post(Some(&key), &body)).await.status(), 504);
    let lost = id_of(&payments_of(&customer.caller()).await[0]);

    let later = app_at(half_a_minute_before_the_deadline, false).await;
    let again = Customer { id: customer.id, launch: vk_launch(customer.id, half_a_minute_before_the_deadline()) };
    let replaced = handle(&later, again.post(Some(&key), &body)).await;

    assert_eq!(replaced.status(), 201, "{}", body_json(&replaced));
    let replacement = body_json(&replaced)["paymentId"].as_str().unwrap().to_owned();
    assert_ne!(replacement, lost);
    assert_eq!(text(&payment_item(&lost).await, "status"), Some("FAILED"), "its form can no longer open");
    let init = serde_json::to_value(&later.acquirer.inits.lock().unwrap()[0]).unwrap();
    assert_eq!(init["OrderId"], replacement);
    assert_eq!(init["RedirectDueDate"], "2026-11-22T14:59:30+03:00", "a day of its own");
}

// ---- when the bank refuses or does not answer ---------------------------------------------

#[tokio::test]
async fn a_refusal_by_the_bank_is_502_the_payment_failed_and_the_key_free() {
    let _bank = BANK.write().await;
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    fault(json!({"init": {"mode": "decline", "code": "99", "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;

    assert_problem(&response, 502, "acquirer-refused", "declined");
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(text(&payments[0], "status"), Some("FAILED"));
    assert_eq!(text(&payments[0], "GSI2PK"), Some("FINISHED"), "nothing left to reconcile");
    assert!(idempotency_records_of(&customer.caller()).await.is_empty());

    let retry = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;
    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    assert_ne!(body_json(&retry)["paymentId"].as_str(), Some(id_of(&payments[0]).as_str()));
}

#[tokio::test]
async fn a_bank_error_leaves_the_payment_new_and_the_retry_creates_that_same_payment() {
    let _bank = BANK.write().await;
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    fault(json!({"init": {"mode": "http500", "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;

    assert_problem(&response, 503, "acquirer-unavailable", "HTTP 500");
    assert_eq!(response.headers()["retry-after"], "30");
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(text(&payments[0], "status"), Some("NEW"), "left for the reconciliation");
    assert_eq!(text(&payments[0], "acquirerPaymentId"), None);
    let id = id_of(&payments[0]);
    assert!(bank_payments(&id).await.is_empty(), "the 500 came before the bank did anything");

    let retry = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;

    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    assert_eq!(body_json(&retry)["paymentId"], id, "the retry resumed the same payment");
    assert_eq!(bank_payments(&id).await.len(), 1);
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
}

#[tokio::test]
async fn after_a_timeout_the_retry_replaces_the_lost_payment_so_one_stays_payable() {
    let _bank = BANK.write().await;
    let app = app_with_timeout(Duration::from_secs(1)).await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    // The bank creates the payment, then answers after we have given up.
    fault(json!({"init": {"mode": "timeout", "delay": 3, "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;

    assert_problem(&response, 504, "acquirer-timeout", "timeout");
    assert!(response.headers().contains_key("retry-after"));
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(text(&payments[0], "status"), Some("NEW"));
    let lost = id_of(&payments[0]);
    assert_eq!(bank_payments(&lost).await.len(), 1, "the bank did create it");

    let retry = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;

    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    let replacement = body_json(&retry)["paymentId"].as_str().unwrap().to_owned();
    assert_ne!(replacement, lost);
    assert_eq!(text(&payment_item(&lost).await, "status"), Some("FAILED"));
    assert_eq!(text(&payment_item(&replacement).await, "status"), Some("NEW"));
    let lost_at_bank = bank_payments(&lost).await;
    assert_eq!(lost_at_bank.len(), 1);
    assert_eq!(lost_at_bank[0]["Status"], "CANCELED", "the payment nobody has the form of is cancelled");
    let payable = bank_payments(&replacement).await;
    assert_eq!(payable.len(), 1);
    assert_eq!(payable[0]["Status"], "NEW");
    let again = handle(&app, customer.post(Some(&key), &payment_body(&number, "100"))).await;
    assert_eq!(body_json(&again), body_json(&retry), "from now on the key replays the replacement");
}

// ---- the status -----------------------------------------------------------------------------

#[tokio::test]
async fn the_status_is_shown_to_its_owner_only() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-250").await;
    let owner = Customer::new();
    let created = handle(&app, owner.post(Some(&new_key()), &payment_body(&number, "250.50"))).await;
    assert_eq!(created.status(), 201);
    let id = body_json(&created)["paymentId"].as_str().unwrap().to_owned();

    let mine = handle(&app, owner.get(&id)).await;

    assert_eq!(mine.status(), 200);
    assert_eq!(mine.headers()["cache-control"], "no-store");
    let mut shown = body_json(&mine);
    let expires_at: DateTime<Utc> = shown["expiresAt"].as_str().unwrap().parse().unwrap();
    let stored = payment_item(&id).await;
    let deadline: DateTime<Utc> = text(&stored, "formDeadline").unwrap().parse().unwrap();
    assert_eq!(expires_at, deadline, "the form's own deadline");
    shown.as_object_mut().unwrap().remove("expiresAt");
    assert_eq!(
        shown,
        json!({"paymentId": id, "status": "NEW", "amount": "250.50", "account": number.masked(),
               "receipt": {"available": false}, "method": "card"})
    );

    let theirs = handle(&app, Customer::new().get(&id)).await;
    assert_problem(&theirs, 404, "payment-not-found", "another caller");
    assert_eq!(body_json(&theirs), body_json(&handle(&app, owner.get(&PaymentId::random().to_string())).await));
    assert_problem(&handle(&app, owner.get("not-an-id")).await, 400, "invalid-payment-id", "malformed");

    // The callback records the bank's RECEIPT notification on the payment.
    let store = store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("PAYMENT#{id}")))
        .key("SK", AttributeValue::S("PAYMENT".into()))
        .update_expression("SET receipt = :r")
        .expression_attribute_values(
            ":r",
            AttributeValue::M(HashMap::from([("fiscalDocumentNumber".into(), AttributeValue::N("1201".into()))])),
        )
        .send()
        .await
        .unwrap();
    let with_receipt = handle(&app, owner.get(&id)).await;
    assert_eq!(body_json(&with_receipt)["receipt"], json!({"available": true}));
}

// ---- DynamoDB requests per payment -----------------------------------------------------------

/// A payment's DynamoDB requests and its `Init`, in order: each request's operation as it leaves,
/// `received` as its answer arrives, `Init` as the bank is asked.
#[derive(Clone, Debug, Default)]
struct Sequence(Arc<Mutex<Vec<String>>>);

impl Sequence {
    fn push(&self, what: &str) {
        self.0.lock().unwrap().push(what.to_owned());
    }
}

impl aws_sdk_dynamodb::config::Intercept for Sequence {
    fn name(&self) -> &'static str {
        "Sequence"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        self.push(target.rsplit('.').next().unwrap_or(target));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.push("received");
        Ok(())
    }
}

/// The sandbox, with each `Init` noted in the sequence.
struct SequencedAcquirer {
    inner: TbankClient,
    sequence: Sequence,
}

impl Acquirer for SequencedAcquirer {
    async fn init(&self, request: &InitRequest) -> Result<InitResponse, AcquirerError> {
        self.sequence.push("Init");
        self.inner.init(request).await
    }

    async fn get_qr(&self, request: &QrRequest) -> Result<QrResponse, AcquirerError> {
        self.sequence.push("GetQr");
        self.inner.get_qr(request).await
    }

    async fn get_state(&self, id: &energosbyt::acquirer::PaymentId) -> Result<PaymentState, AcquirerError> {
        self.inner.get_state(id).await
    }

    async fn check_order(&self, order_id: &str) -> Result<OrderState, AcquirerError> {
        self.inner.check_order(order_id).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelResponse, AcquirerError> {
        self.inner.cancel(request).await
    }
}

#[tokio::test]
async fn given_a_fresh_key_when_paying_then_four_dynamodb_requests_and_two_round_trips_before_init() {
    four_requests_and_two_round_trips(payment_body, &["Init"]).await;
}

#[tokio::test]
async fn given_a_fresh_key_when_paying_by_sbp_then_the_link_costs_no_dynamodb_request_more() {
    four_requests_and_two_round_trips(sbp_body, &["Init", "GetQr"]).await;
}

/// One new payment of `body`'s kind: the bank's calls `at_bank` come after two round trips of
/// DynamoDB, and the bank's answer is recorded with the key's completion in one more.
async fn four_requests_and_two_round_trips(body: fn(&AccountNumber, &str) -> Value, at_bank: &[&str]) {
    let _bank = BANK.read().await;
    let sequence = Sequence::default();
    let sdk = aws_config::load_from_env().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(sequence.clone()).build();
    let plain = app().await;
    let app = App {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), env("TABLE_NAME")),
        acquirer: SequencedAcquirer { inner: plain.acquirer, sequence: sequence.clone() },
        edge: plain.edge,
        settings: plain.settings,
    };
    let number = imported("-100").await;
    let customer = Customer::new();

    let response = handle(&app, customer.post(Some(&new_key()), &body(&number, "100"))).await;

    assert_eq!(response.status(), 201, "{}", body_json(&response));
    let seen = sequence.0.lock().unwrap().clone();
    let init = seen.iter().position(|s| s == "Init").expect("the bank was asked");
    assert_eq!(seen[init..init + at_bank.len()], *at_bank, "{seen:?}");
    // The throttle's counter and the account's read (its profile and the ledger since the export,
    // one Query) side by side, both answered before anything is written; then the key's claim and
    // the NEW payment in one transaction.
    let mut side_by_side = seen[..2].to_vec();
    side_by_side.sort();
    assert_eq!(side_by_side, ["Query", "UpdateItem"], "{seen:?}");
    assert_eq!(seen[2..init], ["received", "received", "TransactWriteItems", "received"], "{seen:?}");
    // The bank's answer on the payment and the key's completion, in one transaction.
    assert_eq!(seen[init + at_bank.len()..], ["TransactWriteItems", "received"], "{seen:?}");
    // And what the payment and its key hold is as complete as it ever was.
    let id = body_json(&response)["paymentId"].as_str().unwrap().to_owned();
    let item = payment_item(&id).await;
    assert_eq!(text(&item, "paymentUrl"), body_json(&response)["paymentUrl"].as_str());
    assert!(text(&item, "acquirerPaymentId").is_some());
    let records = idempotency_records_of(&customer.caller()).await;
    assert_eq!(records.len(), 1);
    assert_eq!(text(&records[0], "status"), Some("COMPLETED"));
    assert_eq!(text(&records[0], "resourceId"), Some(id.as_str()));
}

// ---- measurements ---------------------------------------------------------------------------

/// The bank's part of a payment's latency: times each `Init`.
struct TimedAcquirer<A> {
    inner: A,
    inits: Mutex<Vec<Duration>>,
}

impl<A: Acquirer> Acquirer for TimedAcquirer<A> {
    async fn init(&self, request: &InitRequest) -> Result<InitResponse, AcquirerError> {
        let started = Instant::now();
        let answer = self.inner.init(request).await;
        self.inits.lock().unwrap().push(started.elapsed());
        answer
    }

    async fn get_qr(&self, request: &QrRequest) -> Result<QrResponse, AcquirerError> {
        self.inner.get_qr(request).await
    }

    async fn get_state(&self, id: &energosbyt::acquirer::PaymentId) -> Result<PaymentState, AcquirerError> {
        self.inner.get_state(id).await
    }

    async fn check_order(&self, order_id: &str) -> Result<OrderState, AcquirerError> {
        self.inner.check_order(order_id).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelResponse, AcquirerError> {
        self.inner.cancel(request).await
    }
}

/// The value at quantile `q` of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)]
}

/// Latency of the pay handler over 1000 payments against the sandbox on loopback, and the
/// DynamoDB requests each makes. A measurement, not a test: `cargo test -p integration-tests
/// --test pay -- --ignored --nocapture pay_latency`.
#[tokio::test]
#[ignore]
async fn pay_latency_over_1000_payments() {
    const PAYMENTS: usize = 1000;
    let _bank = BANK.read().await;
    let counter = RequestCount::default();
    let plain = app().await;
    let app = App {
        store: counted_store(&counter).await,
        acquirer: TimedAcquirer { inner: plain.acquirer, inits: Mutex::new(Vec::with_capacity(PAYMENTS)) },
        edge: MiniAppEdge { limits: ThrottleLimits::UNLIMITED, ..plain.edge },
        settings: plain.settings,
    };
    app.store.clone().warm_up_with_item().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let body = payment_body(&number, "100");
    counter.take();

    let mut took = Vec::with_capacity(PAYMENTS);
    for _ in 0..PAYMENTS {
        let request = customer.post(Some(&new_key()), &body);
        let started = Instant::now();
        let response = handle(&app, request).await;
        took.push(started.elapsed());
        assert_eq!(response.status(), 201, "{}", body_json(&response));
    }

    took.sort();
    let mean = took.iter().sum::<Duration>() / PAYMENTS as u32;
    println!(
        "pay handler, {PAYMENTS} payments: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}, mean {mean:?}",
        quantile(&took, 0.50),
        quantile(&took, 0.90),
        quantile(&took, 0.99),
        took[PAYMENTS - 1]
    );
    let mut inits = app.acquirer.inits.lock().unwrap().clone();
    inits.sort();
    println!("of which the bank's Init: p50 {:?}, p99 {:?}", quantile(&inits, 0.50), quantile(&inits, 0.99));
    let counts = counter.take_by_operation();
    let total: u64 = counts.values().sum();
    println!("DynamoDB requests per payment: {:.2} ({counts:?} over {PAYMENTS})", total as f64 / PAYMENTS as f64);
}

// ---- paying through СБП -------------------------------------------------------------------

fn sbp_body(number: &AccountNumber, amount: &str) -> Value {
    let mut body = payment_body(number, amount);
    body["method"] = json!("sbp");
    body
}

/// The link the sandbox gives for the bank payment of our payment `id`.
async fn sbp_link_at_bank(id: &str) -> String {
    let at_bank = bank_payments(id).await;
    let open: Vec<&Value> = at_bank.iter().filter(|p| p["Sbp"] == true).collect();
    assert_eq!(open.len(), 1, "one bank payment with a СБП link: {at_bank:?}");
    format!("{}/sbp/{}", sandbox_url(), open[0]["PaymentId"].as_str().unwrap())
}

#[tokio::test]
async fn given_method_sbp_when_paying_then_the_answer_carries_the_link_and_our_qr_and_a_replay_repeats_them() {
    let _bank = BANK.read().await;
    let app = app().await;
    let number = imported("-640.20").await;
    let customer = Customer::new();
    let key = new_key();

    let first = handle(&app, customer.post(Some(&key), &sbp_body(&number, "640.20"))).await;

    assert_eq!(first.status(), 201, "{}", body_json(&first));
    let body = body_json(&first);
    let id = body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(body["method"], "sbp");
    assert_eq!(body["amount"], "640.20");
    let link = body["paymentUrl"].as_str().unwrap().to_owned();
    assert_eq!(link, sbp_link_at_bank(&id).await, "the link the bank's GetQr gave");
    let svg = body["qrSvg"].as_str().unwrap();
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(!svg.contains("<image") && !svg.contains("href"), "drawn here, nothing fetched from elsewhere");

    let item = payment_item(&id).await;
    assert_eq!(text(&item, "method"), Some("sbp"));
    assert_eq!(text(&item, "paymentUrl"), Some(link.as_str()));
    assert_eq!(text(&item, "status"), Some("NEW"));

    let again = handle(&app, customer.post(Some(&key), &sbp_body(&number, "640.20"))).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(body_json(&again), body, "the same link and the same QR");
    assert_eq!(bank_payments(&id).await.len(), 1);
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);

    // The same key for the same bill by card is another request.
    let by_card = handle(&app, customer.post(Some(&key), &payment_body(&number, "640.20"))).await;
    assert_problem(&by_card, 422, "idempotency-key-reused", "card after sbp");

    let status = body_json(&handle(&app, customer.get(&id)).await);
    assert_eq!(status["method"], "sbp");
    assert_eq!(status["status"], "NEW");
    assert!(status["expiresAt"].as_str().is_some(), "{status}");
}

#[tokio::test]
async fn given_an_unknown_method_when_paying_then_400_names_the_field_and_nothing_is_written() {
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let mut body = payment_body(&number, "100");
    body["method"] = json!("cash");

    let response = handle(&app, customer.post(Some(&new_key()), &body)).await;

    assert_problem(&response, 400, "invalid-method", "cash");
    assert_eq!(body_json(&response)["field"], "method");
    assert!(payments_of(&customer.caller()).await.is_empty());
}

#[tokio::test]
async fn given_get_qr_fails_when_the_same_key_is_retried_then_the_same_payment_gets_its_link_and_nothing_else_is_payable()
 {
    let _bank = BANK.write().await;
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    fault(json!({"get_qr": {"mode": "http500", "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_problem(&response, 503, "acquirer-unavailable", "GetQr HTTP 500");
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    let id = id_of(&payments[0]);
    assert_eq!(text(&payments[0], "status"), Some("NEW"));
    assert_eq!(text(&payments[0], "paymentUrl"), None, "nobody holds a way to pay it");
    assert_eq!(bank_payments(&id).await.len(), 1);

    let retry = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    let answer = body_json(&retry);
    assert_eq!(answer["paymentId"], id, "the retry resumed the same payment");
    assert_eq!(answer["paymentUrl"], sbp_link_at_bank(&id).await);
    assert!(answer["qrSvg"].as_str().is_some());
    assert_eq!(bank_payments(&id).await.len(), 1, "no second payment at the bank");
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
}

#[tokio::test]
async fn given_the_get_qr_answer_is_lost_when_the_same_key_is_retried_then_the_bank_payment_is_asked_again_not_doubled()
{
    let _bank = BANK.write().await;
    let app = app_with_timeout(Duration::from_secs(1)).await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    // The bank issues the link, then answers after we have given up.
    fault(json!({"get_qr": {"mode": "timeout", "delay": 2, "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_problem(&response, 504, "acquirer-timeout", "GetQr lost");
    let id = id_of(&payments_of(&customer.caller()).await[0]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let link = sbp_link_at_bank(&id).await;

    let retry = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    assert_eq!(body_json(&retry)["paymentId"], id);
    assert_eq!(body_json(&retry)["paymentUrl"], link, "the link of the one bank payment");
    assert_eq!(bank_payments(&id).await.len(), 1);
    assert_eq!(payments_of(&customer.caller()).await.len(), 1);
}

#[tokio::test]
async fn given_get_qr_is_refused_when_paying_then_502_the_bank_payment_is_cancelled_and_the_key_free() {
    let _bank = BANK.write().await;
    let app = app().await;
    let number = imported("-100").await;
    let customer = Customer::new();
    let key = new_key();
    fault(json!({"get_qr": {"mode": "decline", "code": "3001", "times": 1}})).await;

    let response = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_problem(&response, 502, "acquirer-refused", "GetQr refused");
    let payments = payments_of(&customer.caller()).await;
    assert_eq!(payments.len(), 1);
    let failed = id_of(&payments[0]);
    assert_eq!(text(&payments[0], "status"), Some("FAILED"));
    let at_bank = bank_payments(&failed).await;
    assert_eq!(at_bank.len(), 1);
    assert_eq!(at_bank[0]["Status"], "CANCELED", "nothing of it can be paid");
    assert!(idempotency_records_of(&customer.caller()).await.is_empty());

    let retry = handle(&app, customer.post(Some(&key), &sbp_body(&number, "100"))).await;

    assert_eq!(retry.status(), 201, "{}", body_json(&retry));
    let fresh = body_json(&retry)["paymentId"].as_str().unwrap().to_owned();
    assert_ne!(fresh, failed);
    assert_eq!(body_json(&retry)["paymentUrl"], sbp_link_at_bank(&fresh).await);
}
