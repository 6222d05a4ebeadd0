//! The operator's side of readings, against DynamoDB Local: tariffs in (`import-tariffs`) and the
//! month's submissions out to the billing system (`export-readings`).
//!
//! Each export test works in a billing month of its own (a far-future year picked at random), so
//! "everything of the month" is exactly what the test submitted, whatever else shares the table.

use admin::{readings_export, tariff_import};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::{AccountNumber, YearMonth};
use energosbyt::ports::AccountImport;
use energosbyt::ports::readings::{MarkOutcome, ReadingsExport, TariffReader};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};
use std::cell::Cell;
use submit_readings::{App, handle};

thread_local! {
    static NOW: Cell<DateTime<Utc>> = Cell::new(fixed_now());
}

fn clock() -> DateTime<Utc> {
    NOW.with(Cell::get)
}

/// 20 November, 12:00 UTC, of a year no other test or run uses.
fn month_of_its_own() -> DateTime<Utc> {
    let year = 2100 + (uuid::Uuid::new_v4().as_u128() % 7000) as i32;
    Utc.with_ymd_and_hms(year, 11, 20, 12, 0, 0).unwrap()
}

async fn app_at(now: DateTime<Utc>) -> App<DynamoStore> {
    NOW.with(|c| c.set(now));
    let mut edge = edge();
    edge.clock = clock;
    App::new(store().await, edge)
}

/// An account of the tests' own tariff group (zone prices with no end) whose meters were last read
/// a month before `now`.
async fn imported(meter: Value) -> AccountNumber {
    let number = fresh_account_number();
    store()
        .await
        .import_account(&account_with_all_zone_prices(number, "0", vec![integration_tests::meter(meter)]), fixed_now())
        .await
        .unwrap();
    number
}

/// Submits as the account's own customer: the one who corrects a month's readings is the one who
/// handed them in.
async fn submit(app: &App<DynamoStore>, number: &AccountNumber, body: Value, now: DateTime<Utc>) -> Value {
    NOW.with(|c| c.set(now));
    let user = (number.digits().parse::<u64>().unwrap() % 1_000_000_000) + 1;
    let request = Event::new("POST", &format!("/accounts/{number}/readings")).vk(&vk_launch(user, now)).body(&body);
    let response = handle(app, request.request()).await;
    let answer = body_json(&response);
    assert_eq!(response.status(), 200, "{answer}");
    answer
}

async fn export(month: YearMonth, all: bool) -> (readings_export::ExportSummary, Vec<Value>) {
    let mut out = Vec::new();
    // Two per page, so a month of three submissions takes several pages.
    let summary = readings_export::export(&store().await, month, all, 2, &mut out, fixed_now()).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "every line ends with a newline");
    let lines = text.lines().map(|line| serde_json::from_str(line).expect("each line is one JSON object")).collect();
    (summary, lines)
}

async fn item(
    number: &AccountNumber,
    meter: &str,
    month: YearMonth,
) -> std::collections::HashMap<String, AttributeValue> {
    let store = store().await;
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("ACCOUNT#{}", number.digits())))
        .key("SK", AttributeValue::S(format!("READING#{meter}#{month}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the submission is stored")
}

fn last(date: DateTime<Utc>) -> String {
    // A month before the submission: well inside the plausible-usage limit.
    format!("{}-10-20", date.format("%Y"))
}

#[tokio::test]
async fn a_months_submissions_are_exported_once_and_corrections_go_out_with_the_next_run() {
    tariffs_loaded().await;
    let now = month_of_its_own();
    let month = energosbyt::domain::year_month::billing_month(now);
    let app = app_at(now).await;
    let day = last(now);
    let two = imported(json!({"id": "M-2", "zoneSet": "twoZone",
        "lastReadings": {"T1": {"value": 18230, "date": day}, "T2": {"value": 7410, "date": day}}}))
    .await;
    let one =
        imported(json!({"id": "M-1", "zoneSet": "single", "lastReadings": {"T1": {"value": 100, "date": day}}})).await;
    let three = imported(json!({"id": "M-3", "zoneSet": "threeZone", "lastReadings": {
        "T1": {"value": 10, "date": day}, "T2": {"value": 20, "date": day}, "T3": {"value": 30, "date": day}}}))
    .await;
    let submitted = submit(&app, &two, json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}}), now).await;
    submit(&app, &one, json!({"meterId": "M-1", "values": {"T1": 150}}), now).await;
    submit(&app, &three, json!({"meterId": "M-3", "values": {"T1": 11, "T2": 21, "T3": 31}}), now).await;

    let (summary, lines) = export(month, false).await;

    assert_eq!(summary, readings_export::ExportSummary { exported: 3, superseded: 0 });
    let mut accounts: Vec<&str> = lines.iter().map(|l| l["account"].as_str().unwrap()).collect();
    accounts.sort_unstable();
    let mut expected = vec![two.digits(), one.digits(), three.digits()];
    expected.sort_unstable();
    assert_eq!(accounts, expected);
    let line = lines.iter().find(|l| l["account"] == two.digits()).unwrap();
    // The two-zone figures of the readings test: 120 × 9.61 + 80 × 4.15 = 1153.20 + 332.00.
    assert_eq!(
        *line,
        json!({
            "readingsId": submitted["readingsId"], "account": two.digits(), "meterId": "M-2",
            "billingMonth": month.to_string(), "values": {"T1": 18350, "T2": 7490},
            "consumption": {"T1": 120, "T2": 80}, "rollover": false, "tariffs": {"T1": "9.61", "T2": "4.15"},
            "lines": {"T1": {"consumption": 120, "price": "9.61", "amount": "1153.20"},
                      "T2": {"consumption": 80, "price": "4.15", "amount": "332.00"}},
            "charge": "1485.20", "submittedAt": submitted["submittedAt"], "version": 1
        })
    );
    let stored = item(&two, "M-2", month).await;
    assert_eq!(stored["exported"], AttributeValue::Bool(true));
    assert_eq!(
        stored["exportedAt"],
        AttributeValue::S("2026-11-20T12:00:00.000Z".into()),
        "the table's one timestamp format"
    );

    let (again, lines) = export(month, false).await;
    assert_eq!((again.exported, lines.len()), (0, 0), "a re-run exports nothing new");

    // The customer corrects one meter after the export: only the correction goes out next time.
    let corrected = submit(&app, &one, json!({"meterId": "M-1", "values": {"T1": 160}}), now).await;
    assert_eq!(item(&one, "M-1", month).await["exported"], AttributeValue::Bool(false));
    let (next, lines) = export(month, false).await;
    assert_eq!(next.exported, 1);
    assert_eq!(lines[0]["readingsId"], corrected["readingsId"]);
    assert_eq!((lines[0]["version"].clone(), lines[0]["charge"].clone()), (json!(2), json!("534.00")), "60 × 8.90");

    let (everything, lines) = export(month, true).await;
    assert_eq!((everything.exported, lines.len()), (3, 3), "--all writes the month again");
}

#[tokio::test]
async fn a_submission_corrected_while_it_is_exported_stays_for_the_next_run() {
    tariffs_loaded().await;
    let now = month_of_its_own();
    let month = energosbyt::domain::year_month::billing_month(now);
    let app = app_at(now).await;
    let number =
        imported(json!({"id": "M-1", "zoneSet": "single", "lastReadings": {"T1": {"value": 100, "date": last(now)}}}))
            .await;
    submit(&app, &number, json!({"meterId": "M-1", "values": {"T1": 150}}), now).await;
    let store = store().await;
    let page = store.readings_of_month(month, false, 10, None).await.unwrap();
    assert_eq!(page.readings.len(), 1);

    // Read for the export, corrected by the customer, then marked: the mark must not stick.
    submit(&app, &number, json!({"meterId": "M-1", "values": {"T1": 155}}), now).await;
    let outcome = store.mark_exported(&page.readings[0], fixed_now()).await.unwrap();

    assert_eq!(outcome, MarkOutcome::Superseded);
    assert_eq!(item(&number, "M-1", month).await["exported"], AttributeValue::Bool(false));
    let (_, lines) = export(month, false).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["values"], json!({"T1": 155}));
}

#[tokio::test]
async fn importing_the_same_tariffs_twice_changes_nothing_and_prune_removes_what_the_file_dropped() {
    let store = store().await;
    let group = format!("test-{}", uuid::Uuid::new_v4());
    let sourced = |prices: &[(&str, &str)], source: &str| {
        let entries: Vec<Value> = prices
            .iter()
            .map(|(from, price)| {
                json!({"group": group, "zoneSet": "single", "zone": "T1", "validFrom": from, "price": price,
                       "basis": "published", "source": source})
            })
            .collect();
        tariff_import::parse(&Value::Array(entries).to_string()).unwrap()
    };
    let file = |prices: &[(&str, &str)]| sourced(prices, "test");
    let first = file(&[("2025-07-01", "7.87"), ("2026-01-01", "8.00"), ("2026-10-01", "8.90")]);

    let summary = tariff_import::import(&store, &first, false).await.unwrap();
    assert_eq!((summary.written, summary.unchanged), (3, 0));
    let summary = tariff_import::import(&store, &first, false).await.unwrap();
    assert_eq!((summary.written, summary.unchanged, summary.not_in_file), (0, 3, 0));
    // The source and basis are stored with the price, and a corrected source alone is written.
    let read_back = store.tariffs(&TariffGroup(group.clone())).await.unwrap();
    assert!(
        read_back.iter().all(|t| t.source == "test" && t.basis == energosbyt::domain::TariffBasis::Published),
        "{read_back:?}"
    );
    let resourced = sourced(&[("2025-07-01", "7.87"), ("2026-01-01", "8.00"), ("2026-10-01", "8.90")], "order");
    let summary = tariff_import::import(&store, &resourced, false).await.unwrap();
    assert_eq!((summary.written, summary.unchanged), (3, 0));
    let read_back = store.tariffs(&TariffGroup(group.clone())).await.unwrap();
    assert!(read_back.iter().all(|t| t.source == "order"), "{read_back:?}");

    // A corrected price and a period the file no longer has.
    let second = sourced(&[("2025-07-01", "7.87"), ("2026-01-01", "8.01")], "order");
    let summary = tariff_import::import(&store, &second, false).await.unwrap();
    assert_eq!((summary.written, summary.unchanged, summary.not_in_file, summary.removed), (1, 1, 1, 0));
    assert_eq!(store.tariffs(&TariffGroup(group.clone())).await.unwrap().len(), 3, "kept without --prune");
    let summary = tariff_import::import(&store, &second, true).await.unwrap();
    assert_eq!((summary.written, summary.removed), (0, 1));

    let stored =
        energosbyt::domain::TariffTable::new(store.tariffs(&TariffGroup(group.clone())).await.unwrap()).unwrap();
    assert_eq!(stored.len(), 2);
    let price = |y, m, d| {
        stored
            .price_on(
                &TariffGroup(group.clone()),
                energosbyt::domain::ZoneSet::Single,
                energosbyt::domain::Zone::T1,
                chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            )
            .unwrap()
            .to_string()
    };
    assert_eq!(price(2026, 1, 1), "8.01");
    assert_eq!(price(2026, 11, 20), "8.01", "the dropped 8.90 is gone");
}

#[tokio::test]
async fn a_tariff_file_that_would_leave_a_kept_price_open_past_its_new_period_is_refused_before_anything_is_written() {
    let store = store().await;
    let group = format!("test-{}", uuid::Uuid::new_v4());
    let row = |zone_set: &str, from: &str, to: Option<&str>, price: &str| {
        let mut row = json!({"group": group, "zoneSet": zone_set, "zone": "T1", "validFrom": from, "price": price,
                             "basis": "published", "source": "order"});
        if let Some(to) = to {
            row["validTo"] = json!(to);
        }
        row
    };
    let file = |rows: Vec<Value>| tariff_import::parse(&Value::Array(rows).to_string()).unwrap();
    let first = file(vec![row("single", "2026-01-01", None, "8.00"), row("twoZone", "2026-01-01", None, "9.61")]);
    tariff_import::import(&store, &first, false).await.unwrap();

    // October's file forgets the two-zone row: kept without --prune, it would stay open past
    // 1 October, and the group's table would be refused on every submission.
    let october =
        file(vec![row("single", "2026-01-01", Some("2026-09-30"), "8.00"), row("single", "2026-10-01", None, "8.90")]);
    let refused = tariff_import::import(&store, &october, false).await.unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, tariff_import::TariffImportError::WithKept(_)), "{message}");
    for part in ["TwoZone", "2026-10-01", "--prune"] {
        assert!(message.contains(part), "{message}");
    }
    let stored = store.tariffs(&TariffGroup(group.clone())).await.unwrap();
    assert_eq!(stored.len(), 2, "nothing written: {stored:?}");
    energosbyt::domain::TariffTable::new(stored).expect("the stored table is still one a charge can trust");

    // With --prune the forgotten row goes, and the table is the file's.
    let summary = tariff_import::import(&store, &october, true).await.unwrap();
    assert_eq!((summary.written, summary.removed), (2, 1));
    let stored = store.tariffs(&TariffGroup(group.clone())).await.unwrap();
    energosbyt::domain::TariffTable::new(stored).expect("the pruned table is whole");
}

#[tokio::test]
async fn prices_stored_by_an_older_release_without_a_source_are_rewritten_and_pruned_by_the_import() {
    let store = store().await;
    let group = format!("test-{}", uuid::Uuid::new_v4());
    // Two rows as the release before sources wrote them: no `source`, no `basis`.
    for (from, price) in [("2025-07-01", "7.87"), ("2026-01-01", "8.00")] {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .item("PK", AttributeValue::S(format!("TARIFF#{group}")))
            .item("SK", AttributeValue::S(format!("single#T1#{from}")))
            .item("group", AttributeValue::S(group.clone()))
            .item("zoneSet", AttributeValue::S("single".into()))
            .item("zone", AttributeValue::S("T1".into()))
            .item("validFrom", AttributeValue::S(from.into()))
            .item("price", AttributeValue::N(price.into()))
            .send()
            .await
            .unwrap();
    }
    let file = json!([{"group": group, "zoneSet": "single", "zone": "T1", "validFrom": "2026-01-01", "price": "8.00",
                       "basis": "published", "source": "order"}]);
    let table = tariff_import::parse(&file.to_string()).unwrap();

    let summary = tariff_import::import(&store, &table, true).await.unwrap();

    // The listed row gets its source; the one the file dropped is removed, though neither could be
    // read as a price of today's shape.
    assert_eq!((summary.written, summary.not_in_file, summary.removed), (1, 1, 1));
    let stored = store.tariffs(&TariffGroup(group)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].source.as_str(), stored[0].price.to_string()), ("order", "8.00".to_owned()));
}
