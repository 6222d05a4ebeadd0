//! The billing export import: idempotent, and an older export never overwrites a newer one.

use admin::billing_export;
use chrono::Duration;
use energosbyt::ports::{AccountImport, AccountReader, ImportOutcome};
use integration_tests::*;

#[tokio::test]
async fn the_same_export_twice_changes_nothing_and_an_older_one_is_ignored() {
    let store = store().await;
    let number = fresh_account_number();
    let first = account(number, "-100.00", vec![]);

    assert_eq!(store.import_account(&first, fixed_now()).await.unwrap(), ImportOutcome::Written);
    assert_eq!(store.import_account(&first, fixed_now()).await.unwrap(), ImportOutcome::AlreadyCurrent);

    let older = account(number, "-999.00", vec![]);
    let outcome = store.import_account(&older, fixed_now() - Duration::days(30)).await.unwrap();
    assert_eq!(outcome, ImportOutcome::AlreadyCurrent);
    assert_eq!(store.account(&number).await.unwrap().unwrap().balance.signed().to_string(), "-100.00");

    let newer = account(number, "0.00", vec![]);
    let outcome = store.import_account(&newer, fixed_now() + Duration::days(30)).await.unwrap();
    assert_eq!(outcome, ImportOutcome::Written);
    assert_eq!(store.account(&number).await.unwrap().unwrap().balance.signed().to_string(), "0.00");
}

#[tokio::test]
async fn the_demo_export_round_trips_through_the_store() {
    let store = store().await;
    let export = billing_export::parse(include_str!("../../data/demo.json")).unwrap();
    for account in &export.accounts {
        store.import_account(account, export.exported_at).await.unwrap();
        let read = store.account(&account.number).await.unwrap().expect("imported");
        assert_eq!(&read, account);
    }
}

#[tokio::test]
async fn money_moved_after_the_export_survives_a_re_import() {
    use energosbyt::domain::payment_transition::Transition;
    use energosbyt::domain::{Money, Payment, PaymentId, PaymentStatus};
    use energosbyt::ports::PaymentWriter;
    use energosbyt::ports::ledger::{BankFacts, PaymentLedger};

    let store = store().await;
    let number = fresh_account_number();
    let t0 = fixed_now() - Duration::days(10);
    store.import_account(&account(number, "-500.00", vec![]), t0).await.unwrap();

    // Given a payment of 500.00 credited on day 5 after that export.
    let credited_at = t0 + Duration::days(5);
    let payment = Payment {
        id: PaymentId::random(),
        account: number,
        amount: "500.00".parse().unwrap(),
        email: Some("ivanov@example.ru".parse().unwrap()),
        caller: "vk:1".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::New,
        acquirer_payment_id: Some("77".into()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at: credited_at,
        updated_at: credited_at,
    };
    store.create(&payment).await.unwrap();
    let read = store.payment_record(&payment.id).await.unwrap().unwrap();
    let facts = BankFacts {
        status: energosbyt::ports::ledger::ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::parse(
            "CONFIRMED",
        )),
        acquirer_payment_id: Some("77".into()),
        card: None,
        error_code: None,
        at: credited_at,
    };
    store
        .apply_transition(&read, &Transition::Credit { amount: payment.amount, anomaly: None }, &facts, &[])
        .await
        .unwrap();
    let balance = |store: energosbyt::store::DynamoStore| async move {
        store.account(&number).await.unwrap().unwrap().balance.signed().to_string()
    };
    assert_eq!(balance(store.clone()).await, "0.00");

    // When the billing system exports again before it heard of the payment (day 3: still −500),
    // then the credit made on day 5 is kept on top of it.
    let before_credit = t0 + Duration::days(3);
    store.import_account(&account(number, "-500.00", vec![]), before_credit).await.unwrap();
    assert_eq!(balance(store.clone()).await, "0.00", "the credit after the export must not be lost");

    // And an export taken after the credit already includes it: nothing is added twice.
    let after_credit = t0 + Duration::days(6);
    store.import_account(&account(number, "-40.00", vec![]), after_credit).await.unwrap();
    assert_eq!(balance(store).await, "-40.00");
}

#[tokio::test]
async fn given_an_export_with_and_without_serials_when_imported_then_the_serial_is_the_number_a_customer_types() {
    let number = fresh_account_number();
    let file = serde_json::json!({"exportedAt": "2026-11-01T03:00:00+03:00", "accounts": [{
    "account": number.to_string(), "address": {"town": "г. Москва", "house": "д. 1"}, "balance": "0.00",
    "tariffGroup": ALL_ZONES_GROUP,
    "meters": [
        {"id": "Меркурий201-7730215", "serial": "7730215", "zoneSet": "single", "window": {"fromDay": 1, "toDay": 31},
         "lastReadings": {"T1": {"value": 100, "date": "2026-10-20"}}},
        {"id": "СЕ101-0457812", "zoneSet": "single", "window": {"fromDay": 1, "toDay": 31},
         "lastReadings": {"T1": {"value": 100, "date": "2026-10-20"}}}
    ]}]});
    let export = billing_export::parse(&file.to_string()).unwrap();
    let store = store().await;
    tariffs_loaded().await;
    store.import_account(&export.accounts[0], export.exported_at).await.unwrap();
    let read = store.account(&number).await.unwrap().unwrap();
    assert_eq!(read.meters[0].serial.as_deref(), Some("7730215"));
    assert_eq!(read.meters[1].serial, None);

    let app = submit_readings::App::new(store.clone(), edge());
    let launch = vk_launch((uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1, fixed_now());
    let submit = |meter_id: &str, meter_ref: u16| {
        let body = serde_json::json!({"meterId": meter_id, "meterRef": meter_ref, "values": {"T1": 150}});
        Event::new("POST", &format!("/accounts/{number}/readings")).vk(&launch).body(&body).request()
    };
    // The serial as printed, or the whole id; without a serial only the whole id.
    for (typed, meter_ref, status) in
        [("7730215", 1, 200), ("меркурий201 7730215", 1, 200), ("0457812", 2, 422), ("се101-0457812", 2, 200)]
    {
        let response = submit_readings::handle(&app, submit(typed, meter_ref)).await;
        assert_eq!(response.status().as_u16(), status, "{typed}: {}", body_json(&response));
    }
    let lookup = account_lookup::App { store, edge: edge() };
    let shown =
        account_lookup::handle(&lookup, Event::new("GET", &format!("/accounts/{number}")).vk(&launch).request());
    let shown = body_json(&shown.await);
    let numbers: Vec<&str> =
        shown["meters"].as_array().unwrap().iter().map(|m| m["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["Меркурий201-***215", "СЕ101-***812"]);
}
