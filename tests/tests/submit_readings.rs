//! `POST /accounts/{account}/readings` against DynamoDB Local, through the handler: the window at
//! its Moscow boundaries, zone mapping, rollover, tariff changes, corrections and repeats, every
//! refusal (with nothing stored), and what the look-up shows afterwards. Each test hands its
//! readings in as one VK user (its submitter); what strangers can and cannot do is in
//! `readings_ownership.rs`.
//!
//! Money is worked out by hand in the comments; prices are those of `data/tariffs.json`, or, for
//! zone meters on the tests' November day, those of the tests' own group (`ALL_ZONES_GROUP`):
//! Moscow's zone prices of that period are not published yet.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use energosbyt::domain::{AccountNumber, Money, Zone};
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::AccountImport;
use energosbyt::ports::readings::{ReadingsLookup, ReadingsWriter, SaveOutcome};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::HashMap;
use submit_readings::{App, handle};

thread_local! {
    /// The handler's clock. `#[tokio::test]` runs each test on its own thread, so each test
    /// moves its own clock.
    static NOW: Cell<DateTime<Utc>> = Cell::new(fixed_now());
}

thread_local! {
    /// The test's own VK user: only the one who handed readings in may correct them.
    static SUBMITTER: u64 = user();
}

fn submitter() -> u64 {
    SUBMITTER.with(|id| *id)
}

fn clock() -> DateTime<Utc> {
    NOW.with(Cell::get)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

async fn app() -> App<DynamoStore> {
    let mut edge = edge();
    edge.clock = clock;
    App::new(store().await, edge)
}

async fn imported(balance: &str, meters: Vec<Value>) -> AccountNumber {
    imported_in_group(balance, meters, ALL_ZONES_GROUP).await
}

async fn imported_in_group(balance: &str, meters: Vec<Value>, group: &str) -> AccountNumber {
    tariffs_loaded().await;
    let number = fresh_account_number();
    let mut account = account(number, balance, meters.into_iter().map(meter).collect());
    account.tariff_group = energosbyt::domain::account::TariffGroup(group.into());
    store().await.import_account(&account, fixed_now()).await.unwrap();
    number
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

/// Submits `body` for `number` as the test's VK user at the instant `at` (the handler's clock too).
async fn submit_at(app: &App<DynamoStore>, number: &AccountNumber, body: Value, at: DateTime<Utc>) -> (u16, Value) {
    NOW.with(|now| now.set(at));
    let request =
        Event::new("POST", &format!("/accounts/{number}/readings")).vk(&vk_launch(submitter(), at)).body(&body);
    let response = handle(app, request.request()).await;
    let status = response.status().as_u16();
    if status >= 400 {
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    (status, body_json(&response))
}

async fn submit(app: &App<DynamoStore>, number: &AccountNumber, body: Value) -> (u16, Value) {
    submit_at(app, number, body, fixed_now()).await
}

/// The account's readings items as the table holds them, read past the store's own code.
async fn stored_readings(number: &AccountNumber) -> Vec<HashMap<String, AttributeValue>> {
    let store = store().await;
    store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk AND begins_with(SK, :reading)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ACCOUNT#{}", number.digits())))
        .expression_attribute_values(":reading", AttributeValue::S("READING#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn two_zone(id: &str) -> Value {
    two_zone_read_on(id, "2026-10-20")
}

/// A two-zone meter last read at T1 18230, T2 7410 on `date`.
fn two_zone_read_on(id: &str, date: &str) -> Value {
    json!({"id": id, "zoneSet": "twoZone", "digits": 6,
           "lastReadings": {"T1": {"value": 18230, "date": date}, "T2": {"value": 7410, "date": date}}})
}

/// `values` of meter M-2 handed in on 15 October 2026, when only the gas-stove single rate is known.
async fn on_15_october_2026(app: &App<DynamoStore>, number: &AccountNumber, values: Value) -> (u16, Value) {
    submit_at(app, number, json!({"meterId": "M-2", "values": values}), utc(2026, 10, 15, 9, 0, 0)).await
}

fn single(id: &str, last: u64, date: &str) -> Value {
    json!({"id": id, "zoneSet": "single", "digits": 5, "lastReadings": {"T1": {"value": last, "date": date}}})
}

#[tokio::test]
async fn a_two_zone_submission_is_priced_at_the_day_and_night_tariffs_and_stored_once() {
    let app = app().await;
    let number = imported("-100.00", vec![two_zone("M-2")]).await;

    let (status, body) = submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}})).await;

    assert_eq!(status, 200, "{body}");
    // The meter as the look-up names it: `M-2` is too short to show any of it.
    assert_eq!((body["meterRef"].clone(), body["meterNumber"].clone()), (json!(1), json!("***")));
    // `meterId` is only what the customer typed, echoed.
    assert_eq!(body["meterId"], "M-2");
    assert_eq!(body["billingMonth"], "2026-11");
    assert_eq!(body["values"], json!({"T1": 18350, "T2": 7490}));
    assert_eq!(body["consumption"], json!({"T1": 120, "T2": 80}));
    assert_eq!(body["tariffs"], json!({"T1": "9.61", "T2": "4.15"}));
    // Day 120 × 9.61 = 1153.20; night 80 × 4.15 = 332.00; charge 1485.20. The debt of 100.00
    // comes on top: 1585.20 to pay, the balance with the readings −1585.20.
    assert_eq!(body["lines"]["T1"], json!({"consumption": 120, "price": "9.61", "amount": "1153.20"}));
    assert_eq!(body["lines"]["T2"], json!({"consumption": 80, "price": "4.15", "amount": "332.00"}));
    assert_eq!(body["charge"], "1485.20");
    assert_eq!(body["amountToPay"], "1585.20");
    assert_eq!(body["balance"], "-100.00");
    assert_eq!(body["chargedByReadings"], "1485.20");
    assert_eq!(body["balanceAfterReadings"], "-1585.20");
    assert_eq!(body["rollover"], false);
    assert_eq!(body["version"], 1);
    assert_eq!(body["submittedAt"], "2026-11-20T12:00:00Z");
    let id = body["readingsId"].as_str().unwrap();
    assert!(id.starts_with("2026-11-"), "{id}");

    let items = stored_readings(&number).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["SK"], AttributeValue::S("READING#M-2#2026-11".into()));
    assert_eq!(item["readingsId"], AttributeValue::S(id.into()));
    assert_eq!(item["GSI1PK"], AttributeValue::S("READINGS#2026-11".into()));
    assert_eq!(item["GSI1SK"], AttributeValue::S(format!("{}#M-2", number.digits())));
    assert_eq!(item["exported"], AttributeValue::Bool(false));
    assert!(matches!(&item["caller"], AttributeValue::S(c) if c.starts_with("vk:")));
    // Money is an exact number in the table (DynamoDB writes 1485.20 as 1485.2), never a string.
    let AttributeValue::N(charge) = &item["charge"] else { panic!("charge is not a number: {:?}", item["charge"]) };
    assert_eq!(charge.parse::<Money>(), "1485.20".parse::<Money>());
}

#[tokio::test]
async fn the_window_opens_at_moscow_midnight_of_the_15th_and_closes_after_the_26th() {
    let app = app().await;
    let body = json!({"meterId": "M-1", "values": {"T1": 12500}});
    // 14th 23:59:59 Moscow = 14th 20:59:59 UTC: closed, opens on the 15th.
    let number = imported("0", vec![single("M-1", 12345, "2026-10-20")]).await;
    let (status, problem) = submit_at(&app, &number, body.clone(), utc(2026, 11, 14, 20, 59, 59)).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "/problems/readings-window-closed");
    assert_eq!(problem["opensOn"], "2026-11-15");
    assert_eq!(problem["window"], json!({"from": "2026-11-15", "to": "2026-11-26"}));
    assert_eq!(problem["title"], "Показания принимаются с 15.11.2026 по 26.11.2026 по московскому времени");
    assert!(stored_readings(&number).await.is_empty());

    // 15th 00:00:00 Moscow = 14th 21:00:00 UTC: open, though it is still the 14th in UTC.
    let (status, accepted) = submit_at(&app, &number, body.clone(), utc(2026, 11, 14, 21, 0, 0)).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["billingMonth"], "2026-11");

    // 26th 23:59:59 Moscow = 26th 20:59:59 UTC: still open.
    let number = imported("0", vec![single("M-1", 12345, "2026-10-20")]).await;
    let (status, accepted) = submit_at(&app, &number, body.clone(), utc(2026, 11, 26, 20, 59, 59)).await;
    assert_eq!(status, 200, "{accepted}");

    // 27th 00:00:00 Moscow = 26th 21:00:00 UTC: closed until 15 December.
    let number = imported("0", vec![single("M-1", 12345, "2026-10-20")]).await;
    let (status, problem) = submit_at(&app, &number, body, utc(2026, 11, 26, 21, 0, 0)).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["opensOn"], "2026-12-15");
    assert!(stored_readings(&number).await.is_empty());
}

#[tokio::test]
async fn a_three_zone_meter_is_charged_peak_night_and_half_peak_in_moscow_labelling() {
    let app = app().await;
    let meter = json!({"id": "M-3", "zoneSet": "threeZone", "digits": 6,
        "lastReadings": {"T1": {"value": 4210, "date": "2026-10-23"}, "T2": {"value": 3120, "date": "2026-10-23"},
                         "T3": {"value": 5530, "date": "2026-10-23"}}});
    let number = imported("250.00", vec![meter]).await;

    let (status, body) =
        submit(&app, &number, json!({"meterId": "M-3", "values": {"T3": 5608, "T1": 4333, "T2": 3576}})).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["consumption"], json!({"T1": 123, "T2": 456, "T3": 78}));
    // T2 is night (4.15) and T3 half-peak (8.00) on a three-zone meter.
    assert_eq!(body["tariffs"], json!({"T1": "11.43", "T2": "4.15", "T3": "8.00"}));
    // Peak 123 × 11.43 = 1405.89; night 456 × 4.15 = 1892.40; half-peak 78 × 8.00 = 624.00;
    // charge 3922.29, less the credit of 250.00: 3672.29 to pay.
    assert_eq!(body["lines"]["T1"]["amount"], "1405.89");
    assert_eq!(body["lines"]["T2"]["amount"], "1892.40");
    assert_eq!(body["lines"]["T3"]["amount"], "624.00");
    assert_eq!(body["charge"], "3922.29");
    assert_eq!(body["amountToPay"], "3672.29");
}

#[tokio::test]
async fn a_rollover_is_refused_until_the_customer_confirms_it() {
    let app = app().await;
    let number = imported("0", vec![single("M-5", 99_950, "2026-10-20")]).await;

    let (status, problem) = submit(&app, &number, json!({"meterId": "M-5", "values": {"T1": 120}})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "/problems/rollover-not-confirmed");
    assert_eq!(
        (problem["last"].clone(), problem["given"].clone(), problem["digits"].clone()),
        (json!(99950), json!(120), json!(5))
    );
    assert!(problem["title"].as_str().unwrap().contains("подтвердите"), "{problem}");
    assert!(stored_readings(&number).await.is_empty());

    let (status, body) =
        submit(&app, &number, json!({"meterId": "M-5", "values": {"T1": 120}, "confirmRollover": true})).await;
    assert_eq!(status, 200, "{body}");
    // 99950 → 99999 is 49 kWh, → 00000 one more, → 00120 another 120: 170 kWh.
    // Single-rate from 2026-10-01: 170 × 8.90 = 1513.00.
    assert_eq!(body["consumption"], json!({"T1": 170}));
    assert_eq!(body["rollover"], true);
    assert_eq!(body["charge"], "1513.00");
}

#[tokio::test]
async fn the_vat_rise_on_1_january_2026_changes_zone_prices_at_moscow_midnight() {
    let app = app().await;
    let meter = json!({"id": "M-2", "zoneSet": "twoZone", "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 10000, "date": "2025-11-20"}, "T2": {"value": 5000, "date": "2025-11-20"}}});
    let body = json!({"meterId": "M-2", "values": {"T1": 10350, "T2": 5120}});

    // 31 December 23:59:59 Moscow: 2025 H2 prices. Day 350 × 9.45 = 3307.50; night 120 × 4.08 =
    // 489.60; charge 3797.10.
    let number = imported_in_group("0", vec![meter.clone()], "gas-stove").await;
    let (status, before) = submit_at(&app, &number, body.clone(), utc(2025, 12, 31, 20, 59, 59)).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["billingMonth"], "2025-12");
    assert_eq!(before["tariffs"], json!({"T1": "9.45", "T2": "4.08"}));
    assert_eq!(before["charge"], "3797.10");

    // 1 January 00:00:00 Moscow: 2026 prices (2025 H2 × 122/120). Day 350 × 9.61 = 3363.50;
    // night 120 × 4.15 = 498.00; charge 3861.50.
    let number = imported_in_group("0", vec![meter], "gas-stove").await;
    let (status, after) = submit_at(&app, &number, body, utc(2025, 12, 31, 21, 0, 0)).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["billingMonth"], "2026-01");
    assert_eq!(after["tariffs"], json!({"T1": "9.61", "T2": "4.15"}));
    assert_eq!(after["charge"], "3861.50");
}

#[tokio::test]
async fn the_single_rate_price_of_1_october_2026_applies_from_moscow_midnight() {
    let app = app().await;
    let meter = json!({"id": "M-1", "zoneSet": "single", "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 30000, "date": "2026-08-25"}}});
    let body = json!({"meterId": "M-1", "values": {"T1": 30217}});

    // 217 × 8.00 = 1736.00 on 30 September, Moscow time.
    let number = imported_in_group("0", vec![meter.clone()], "gas-stove").await;
    let (status, before) = submit_at(&app, &number, body.clone(), utc(2026, 9, 30, 20, 59, 59)).await;
    assert_eq!((status, before["charge"].clone()), (200, json!("1736.00")), "{before}");

    // 217 × 8.90 = 1931.30 from 1 October, Moscow time.
    let number = imported_in_group("0", vec![meter], "gas-stove").await;
    let (status, after) = submit_at(&app, &number, body, utc(2026, 9, 30, 21, 0, 0)).await;
    assert_eq!((status, after["charge"].clone()), (200, json!("1931.30")), "{after}");
    assert_eq!(after["tariffs"], json!({"T1": "8.90"}));
}

#[tokio::test]
async fn a_correction_in_the_window_replaces_the_submission_and_a_repeat_changes_nothing() {
    let app = app().await;
    let number = imported("0", vec![two_zone("M-2")]).await;
    let first_values = json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}});
    let corrected = json!({"meterId": "M-2", "values": {"T1": 18400, "T2": 7500}});

    let (_, first) = submit_at(&app, &number, first_values.clone(), utc(2026, 11, 20, 9, 0, 0)).await;
    let (status, second) = submit_at(&app, &number, corrected.clone(), utc(2026, 11, 21, 9, 0, 0)).await;

    assert_eq!(status, 200, "{second}");
    assert_eq!(second["version"], 2);
    // Day 170 × 9.61 = 1633.70; night 90 × 4.15 = 373.50; charge 2007.20.
    assert_eq!(second["charge"], "2007.20");
    let (first_id, second_id) = (first["readingsId"].as_str().unwrap(), second["readingsId"].as_str().unwrap());
    assert_ne!(first_id, second_id, "other figures, another id");
    assert_eq!(first_id[..16], second_id[..16], "the same account, meter and month");
    let items = stored_readings(&number).await;
    assert_eq!(items.len(), 1, "one submission per meter and month");
    assert_eq!(items[0]["readingsId"], AttributeValue::S(second_id.into()));
    // A payment by readings finds the current figures by id, and never the replaced ones.
    let store = store().await;
    let current = store.readings_by_id(&number, &second_id.parse().unwrap()).await.unwrap().expect("current");
    assert_eq!(current.accepted.values[&Zone::T1], 18400);
    assert_eq!(current.charge.total.to_string(), "2007.20");
    assert_eq!(store.readings_by_id(&number, &first_id.parse().unwrap()).await.unwrap(), None);

    // The same figures a day later: the same answer, and nothing written (the stored time stays).
    let (status, repeat) = submit_at(&app, &number, corrected, utc(2026, 11, 22, 9, 0, 0)).await;
    assert_eq!(status, 200);
    assert_eq!(repeat, second);
    assert_eq!(stored_readings(&number).await, items);

    // Back to the first figures: the first id again, as a third version.
    let (_, back) = submit_at(&app, &number, first_values, utc(2026, 11, 23, 9, 0, 0)).await;
    assert_eq!(back["readingsId"], first_id);
    assert_eq!(back["version"], 3);
}

#[tokio::test]
async fn two_instances_saving_the_same_figures_write_them_once() {
    // The handler skips the write when it already sees the figures; two instances handling a
    // double tap at once both miss them, and the store's condition keeps the first.
    let app = app().await;
    let number = imported("0", vec![two_zone("M-2")]).await;
    let (_, first) = submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}})).await;
    let store = store().await;
    let mut racing =
        store.readings_by_id(&number, &first["readingsId"].as_str().unwrap().parse().unwrap()).await.unwrap().unwrap();
    racing.submitted_at += chrono::Duration::seconds(1);

    let outcome = store.save_readings(&racing).await.unwrap();

    let SaveOutcome::Unchanged(stored) = outcome else { panic!("written twice: {outcome:?}") };
    assert_eq!(stored.submitted_at, fixed_now());
    assert_eq!(stored.version, 1);
    assert_eq!(stored_readings(&number).await.len(), 1);
}

#[tokio::test]
async fn every_refusal_is_a_4xx_problem_and_stores_nothing() {
    let app = app().await;
    let meters = vec![
        two_zone("M-2"),
        json!({"id": "PLAIN", "zoneSet": "single", "lastReadings": {"T1": {"value": 5000, "date": "2026-10-20"}}}),
        json!({"id": "AMR", "zoneSet": "single", "automatic": true}),
        json!({"id": "BROKEN", "zoneSet": "single", "faulty": true,
               "lastReadings": {"T1": {"value": 5000, "date": "2026-10-20"}}}),
    ];
    let number = imported("0", meters).await;
    let other = imported("0", vec![two_zone("OTHER")]).await;
    let path = format!("/accounts/{number}/readings");
    let two = |values: Value| json!({"meterId": "M-2", "values": values});

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "meter of another account",
            json!({"meterId": "OTHER", "values": {"T1": 18350, "T2": 7490}}),
            422,
            "meter-number-wrong",
        ),
        ("unknown meter", json!({"meterId": "NOPE", "values": {"T1": 1}}), 422, "meter-number-wrong"),
        ("no meter number", json!({"meterId": " — ", "values": {"T1": 1}}), 400, "invalid-request"),
        (
            "unknown meter reference",
            json!({"meterId": "M-2", "meterRef": 5, "values": {"T1": 1}}),
            404,
            "meter-not-found",
        ),
        (
            "unknown field",
            json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}, "confirm": true}),
            400,
            "invalid-request",
        ),
        ("values not a map", json!({"meterId": "M-2", "values": [18350, 7490]}), 400, "invalid-request"),
        ("zone the meter lacks", two(json!({"T1": 18350, "T2": 7490, "T3": 1})), 422, "readings-wrong-zones"),
        ("missing zone", two(json!({"T1": 18350})), 422, "readings-wrong-zones"),
        ("not a zone", two(json!({"T1": 18350, "night": 7490})), 422, "readings-wrong-zones"),
        ("text", two(json!({"T1": "18350", "T2": 7490})), 422, "reading-invalid"),
        ("fraction", two(json!({"T1": 18350.5, "T2": 7490})), 422, "reading-invalid"),
        ("negative", two(json!({"T1": -18350, "T2": 7490})), 422, "reading-invalid"),
        ("longer than the register", two(json!({"T1": 1_000_000, "T2": 7490})), 422, "reading-invalid"),
        (
            "lower, register size unknown",
            json!({"meterId": "PLAIN", "values": {"T1": 4999}}),
            422,
            "reading-lower-than-last",
        ),
        ("implausible jump", json!({"meterId": "PLAIN", "values": {"T1": 15001}}), 422, "reading-implausible"),
        ("automatic metering", json!({"meterId": "AMR", "values": {"T1": 1}}), 409, "readings-not-accepted"),
        ("faulty meter", json!({"meterId": "BROKEN", "values": {"T1": 5100}}), 409, "readings-not-accepted"),
    ];
    for (what, body, status, slug) in cases {
        let (got, problem) = submit(&app, &number, body).await;
        assert_eq!(got, status, "{what}: {problem}");
        assert_eq!(problem["type"], format!("/problems/{slug}"), "{what}");
        assert!(!problem["title"].as_str().unwrap_or_default().is_empty(), "{what}");
    }
    // A few members the mini app relies on.
    let (_, wrong) = submit(&app, &number, two(json!({"T1": 18350}))).await;
    assert_eq!((wrong["expectedZones"].clone(), wrong["missing"].clone()), (json!(["T1", "T2"]), json!(["T2"])));
    let (_, lower) = submit(&app, &number, json!({"meterId": "PLAIN", "values": {"T1": 4999}})).await;
    assert_eq!(lower["last"], 5000);
    let (_, jump) = submit(&app, &number, json!({"meterId": "PLAIN", "values": {"T1": 15001}})).await;
    assert_eq!(jump["limit"], 10000);

    let launch = vk_launch(user(), fixed_now());
    // Bodies that are not JSON, as a browser could send them.
    let raw = |path: &str, body: &str| {
        let mut event = Event::new("POST", path).vk(&launch).json().clone();
        event["body"] = Value::String(body.to_owned());
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    let not_json = handle(&app, raw(&path, "meterId=M-2&T1=18350")).await;
    assert_eq!(
        (not_json.status().as_u16(), body_json(&not_json)["type"].clone()),
        (400, json!("/problems/invalid-request"))
    );
    let huge = format!(r#"{{"meterId":"M-2","values":{{"T1":18350,"T2":7490}},"pad":"{}"}}"#, "x".repeat(16 * 1024));
    let too_large = handle(&app, raw(&path, &huge)).await;
    assert_eq!(too_large.status(), 413);
    assert_eq!(body_json(&too_large)["type"], "/problems/payload-too-large");

    let good = json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}});
    let malformed =
        handle(&app, Event::new("POST", "/accounts/12345-678/readings").vk(&launch).body(&good).request()).await;
    assert_eq!(
        (malformed.status().as_u16(), body_json(&malformed)["type"].clone()),
        (400, json!("/problems/invalid-account-number"))
    );
    let unknown = fresh_account_number();
    let missing =
        handle(&app, Event::new("POST", &format!("/accounts/{unknown}/readings")).vk(&launch).body(&good).request())
            .await;
    assert_eq!(
        (missing.status().as_u16(), body_json(&missing)["type"].clone()),
        (404, json!("/problems/account-not-found"))
    );
    let anonymous = handle(&app, Event::new("POST", &path).body(&good).request()).await;
    assert_eq!(anonymous.status(), 401);
    let get = handle(&app, Event::new("GET", &path).vk(&launch).request()).await;
    assert_eq!(get.status(), 405);

    assert!(stored_readings(&number).await.is_empty(), "a refusal stored something");
    assert!(stored_readings(&other).await.is_empty());
}

/// The refusal of a day without a loaded price: a 409 naming the Moscow day, nothing stored.
async fn assert_tariff_not_loaded(status: u16, problem: &Value, day: &str, number: &AccountNumber) {
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "/problems/tariff-not-loaded");
    assert_eq!(problem["title"], "Тариф на эту дату ещё не загружен");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(day), "{detail}");
    assert!(detail.contains("когда тариф будет опубликован"), "{detail}");
    assert!(stored_readings(number).await.is_empty(), "a refused submission was stored");
}

#[tokio::test]
async fn given_a_group_without_any_price_when_readings_are_handed_in_then_409_tariff_not_loaded_and_nothing_stored() {
    let app = app().await;
    let group = format!("no-prices-{}", uuid::Uuid::new_v4());
    let number = imported_in_group("0", vec![two_zone("M-2")], &group).await;

    let (status, problem) = submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}})).await;

    assert_tariff_not_loaded(status, &problem, "20.11.2026", &number).await;
    assert!(!problem.to_string().contains(&group), "internals leaked: {problem}");
}

#[tokio::test]
async fn given_a_two_zone_gas_stove_meter_on_15_october_2026_when_readings_are_handed_in_then_409_not_january_prices() {
    // Only the single-rate price of 1 October 2026 is published: the zone meters used to be
    // charged January's 9.61 / 4.15.
    let app = app().await;
    let number = imported_in_group("0", vec![two_zone_read_on("M-2", "2026-09-20")], "gas-stove").await;

    let (status, problem) = on_15_october_2026(&app, &number, json!({"T1": 18350, "T2": 7490})).await;

    assert_tariff_not_loaded(status, &problem, "15.10.2026", &number).await;
    assert!(!problem.to_string().contains("9.61"), "{problem}");
}

#[tokio::test]
async fn given_a_two_zone_meter_that_used_nothing_on_a_day_without_zone_prices_when_handed_in_then_charge_0_not_409() {
    // "A customer who was away hands in the same reading again: consumption 0, charge 0" — even on
    // 15 October 2026, when no gas-stove zone price is known: nothing used needs no price.
    let app = app().await;
    let number = imported_in_group("-150.00", vec![two_zone_read_on("M-2", "2026-09-20")], "gas-stove").await;

    let (status, answer) = on_15_october_2026(&app, &number, json!({"T1": 18230, "T2": 7410})).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["charge"], "0.00");
    assert_eq!(answer["consumption"], json!({"T1": 0, "T2": 0}));
    assert_eq!(answer["tariffs"], json!({}), "no price is shown where none is in force");
    for zone in ["T1", "T2"] {
        assert_eq!(answer["lines"][zone], json!({"consumption": 0, "amount": "0.00"}), "{answer}");
    }
    // The debt is still what is due; the readings are kept for billing.
    assert_eq!(answer["amountToPay"], "150.00");
    let stored = stored_readings(&number).await;
    assert_eq!(stored.len(), 1, "the readings were not kept");
    // The same readings again are the same submission, read back from the store without a price.
    let (status, again) = on_15_october_2026(&app, &number, json!({"T1": 18230, "T2": 7410})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!((again["readingsId"].clone(), again["version"].clone()), (answer["readingsId"].clone(), json!(1)));
    assert_eq!(again["lines"], answer["lines"]);
}

#[tokio::test]
async fn given_an_electric_stove_single_rate_meter_on_20_november_2026_when_handed_in_then_409_not_503() {
    let app = app().await;
    let number = imported_in_group("0", vec![single("M-1", 5000, "2026-10-20")], "electric-stove").await;

    let (status, problem) = submit(&app, &number, json!({"meterId": "M-1", "values": {"T1": 5150}})).await;

    assert_tariff_not_loaded(status, &problem, "20.11.2026", &number).await;
}

#[tokio::test]
async fn given_a_rural_two_zone_meter_on_20_november_2026_when_handed_in_then_409_not_503() {
    let app = app().await;
    let number = imported_in_group("0", vec![two_zone("M-2")], "rural").await;

    let (status, problem) = submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}})).await;

    assert_tariff_not_loaded(status, &problem, "20.11.2026", &number).await;
}

#[tokio::test]
async fn given_an_electric_stove_meter_on_a_day_with_a_published_price_when_handed_in_then_it_is_priced() {
    // 2025-07-01…2025-12-31: electric stoves, single rate 7.16 (Приказ ДЭПиР на 2025 год).
    let app = app().await;
    let meter = json!({"id": "M-1", "zoneSet": "single", "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 5000, "date": "2025-10-20"}}});
    let number = imported_in_group("0", vec![meter], "electric-stove").await;

    let (status, body) =
        submit_at(&app, &number, json!({"meterId": "M-1", "values": {"T1": 5150}}), utc(2025, 11, 20, 9, 0, 0)).await;

    assert_eq!(status, 200, "{body}");
    // 150 × 7.16 = 1074.00.
    assert_eq!(body["tariffs"], json!({"T1": "7.16"}));
    assert_eq!(body["charge"], "1074.00");
}

#[tokio::test]
async fn the_look_up_shows_this_months_submission_and_not_last_months() {
    let app = app().await;
    let meters = vec![
        two_zone("M-2"),
        json!({"id": "M-1", "zoneSet": "single", "lastReadings": {"T1": {"value": 100, "date": "2026-09-20"}}}),
    ];
    let number = imported("-10.00", meters).await;
    // October's submission of M-1 (window 15–26 October): 50 × 8.90 = 445.00.
    let (status, october) =
        submit_at(&app, &number, json!({"meterId": "M-1", "values": {"T1": 150}}), utc(2026, 10, 20, 9, 0, 0)).await;
    assert_eq!(status, 200, "{october}");
    let (_, november) = submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}})).await;

    NOW.with(|now| now.set(fixed_now()));
    let lookup = account_lookup::App { store: store().await, edge: edge() };
    let request = Event::new("GET", &format!("/accounts/{number}")).vk(&vk_launch(submitter(), fixed_now()));
    let response = account_lookup::handle(&lookup, request.request()).await;

    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    let meters = body["meters"].as_array().unwrap();
    // The submitter sees their figures.
    assert_eq!(
        meters[0]["submitted"],
        json!({
            "byYou": true,
            "readingsId": november["readingsId"],
            "values": {"T1": 18350, "T2": 7490},
            "submittedOn": "2026-11-20",
            "submittedAt": "2026-11-20T12:00:00Z",
            // See the two-zone test.
            "charge": "1485.20"
        })
    );
    assert!(meters[1].get("submitted").is_none(), "October's submission is not this month's: {}", meters[1]);
    // Only this month's charge counts: 1485.20 plus the debt of 10.00 is due.
    assert_eq!(body["chargedByReadings"], "1485.20");
    assert_eq!(body["amountDue"], "1495.20");
    assert_eq!(body["recommendedAmount"], "1495.20");
    assert_eq!(body["balanceAfterReadings"], "-1495.20");
}

// --- measurements -------------------------------------------------------------------------------

async fn counting_app(count: &RequestCount) -> App<DynamoStore> {
    let mut edge = edge();
    edge.clock = clock;
    edge.limits = ThrottleLimits::UNLIMITED;
    App::new(counted_store(count).await, edge)
}

#[tokio::test]
async fn a_submission_costs_at_most_six_dynamodb_requests_a_repeat_or_correction_two_and_a_look_up_two() {
    let count = RequestCount::default();
    let app = counting_app(&count).await;
    let number = imported("0", vec![two_zone("M-2")]).await;
    let body = json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}});
    count.take();

    // The throttle counter (one item holds all of a user's budgets), the account Query beside it,
    // the two meter-number counters, the tariff Query (cold cache), the write.
    assert_eq!(submit(&app, &number, body.clone()).await.0, 200);
    assert_eq!(count.take(), 6);
    // The repeat: the throttle counter and the account Query; the meter's number proved by this
    // user's own submission (no meter-number counters), tariffs cached, nothing to write. Its
    // throttle counter write reserves two of the minute's requests (edge::throttle_lease) ...
    assert_eq!(submit(&app, &number, body).await.0, 200);
    assert_eq!(count.take(), 2);
    // ... so a correction right after it writes no throttle counter: the account, the write.
    assert_eq!(submit(&app, &number, json!({"meterId": "M-2", "values": {"T1": 18360, "T2": 7490}})).await.0, 200);
    assert_eq!(count.take(), 2);

    // The look-up (another function: an instance holding nothing yet): the counter and one Query
    // for the profile with this month's submissions.
    let lookup = account_lookup::App { store: app.store.clone(), edge: edge() };
    let request = Event::new("GET", &format!("/accounts/{number}")).vk(&vk_launch(submitter(), fixed_now()));
    let response = account_lookup::handle(&lookup, request.request()).await;
    assert_eq!(body_json(&response)["meters"][0]["submitted"]["values"]["T1"], 18360);
    assert_eq!(count.take(), 2);
}

/// Handler latency on DynamoDB Local: `cargo test -p integration-tests --test submit_readings
/// -- --ignored --nocapture`. Prints figures; asserts no timing.
#[tokio::test]
#[ignore = "a measurement, not a test: run it by name"]
async fn measure_handler_latency() {
    let count = RequestCount::default();
    let app = counting_app(&count).await;
    let number = imported("0", vec![two_zone("M-2")]).await;
    let launch = vk_launch(user(), fixed_now());
    let calls = 1000;
    for (scenario, alternate) in [("repeat (no write)", false), ("correction (write)", true)] {
        let mut micros = Vec::with_capacity(calls);
        count.take();
        for i in 0..calls {
            let t1 = if alternate { 18_350 + (i % 2) as u64 } else { 18_350 };
            let body = json!({"meterId": "M-2", "values": {"T1": t1, "T2": 7490}});
            let request = Event::new("POST", &format!("/accounts/{number}/readings")).vk(&launch).body(&body).request();
            let started = std::time::Instant::now();
            let response = handle(&app, request).await;
            micros.push(started.elapsed().as_micros());
            assert_eq!(response.status(), 200);
        }
        micros.sort_unstable();
        let at = |q: f64| micros[((calls as f64 * q) as usize).min(calls - 1)] as f64 / 1000.0;
        println!(
            "{scenario}: {calls} calls, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.2} DynamoDB requests per call",
            at(0.50),
            at(0.99),
            at(1.0),
            count.take() as f64 / calls as f64
        );
    }
}
