//! «Оплатить по показаниям» across the functions: readings handed in, paid with their id, the
//! success email listing them. Against DynamoDB Local, the acquirer sandbox and moto.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};
use energosbyt::config::Env;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::AccountImport;
use integration_tests::*;
use serde_json::{Value, json};

/// A two-zone meter whose own window is the whole month, so the real clock (which the sandbox's
/// form deadline needs) always finds it open; priced by the tests' own group, whose zone prices
/// have no end.
async fn account_with_open_meter(balance: &str) -> energosbyt::domain::AccountNumber {
    tariffs_loaded().await;
    let number = fresh_account_number();
    let meters = vec![meter(json!({
        "id": "M-2", "zoneSet": "twoZone", "digits": 6, "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"}, "T2": {"value": 7410, "date": "2026-10-20"}}
    }))];
    store().await.import_account(&account_with_all_zone_prices(number, balance, meters), fixed_now()).await.unwrap();
    number
}

/// A subscriber set for one thread misses events of call sites another test's thread reaches
/// first: the test that reads the logs runs alone.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn real_time_edge() -> energosbyt::edge::MiniAppEdge {
    let mut edge = edge();
    edge.clock = Utc::now;
    edge
}

#[tokio::test]
async fn paying_by_readings_lists_them_in_the_email_refuses_foreign_ids_and_logs_nothing_personal() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The test runs on one thread (tokio's current-thread runtime), so the guard covers it all.
    let logs = CapturedLog::default();
    let filter = "info,energosbyt=debug,account_lookup=debug,pay=debug,submit_readings=debug,payment_callback=debug";
    let _logging = tracing::subscriber::set_default(logs.subscriber(filter));
    let mine = account_with_open_meter("0.00").await;
    let other = account_with_open_meter("0.00").await;
    let user = (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1;
    let launch = vk_launch(user, Utc::now());

    // Given readings handed in for my account: 120 kWh day, 80 kWh night.
    let readings = submit_readings::App::new(store().await, real_time_edge());
    let submitted = submit_readings::handle(
        &readings,
        Event::new("POST", &format!("/accounts/{mine}/readings"))
            .vk(&launch)
            .body(&json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}}))
            .request(),
    )
    .await;
    assert_eq!(submitted.status(), 200, "{}", body_json(&submitted));
    let submitted = body_json(&submitted);
    let readings_id = submitted["readingsId"].as_str().unwrap().to_owned();
    let amount = submitted["amountToPay"].as_str().unwrap().to_owned();

    let pay = pay::App {
        store: store().await,
        acquirer: integration_tests::acquirer(),
        edge: real_time_edge(),
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process()).unwrap(),
    };
    let email = format!("reader-{}@example.ru", uuid::Uuid::new_v4().simple());
    let post = |account: String| {
        Event::new("POST", "/payments")
            .vk(&launch)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&json!({"account": account, "amount": amount, "email": email, "readingsId": readings_id}))
            .request()
    };

    // When another account pays with my readings, it is refused and nothing is written.
    let foreign = pay::handle(&pay, post(other.to_string())).await;
    assert_eq!(foreign.status(), 400);
    assert_eq!(body_json(&foreign)["type"], "/problems/invalid-readings-id");

    // When I pay with them, the payment is created.
    let created = pay::handle(&pay, post(mine.to_string())).await;
    assert_eq!(created.status(), 201, "{}", body_json(&created));
    let payment_id = body_json(&created)["paymentId"].as_str().unwrap().to_owned();

    // And when the bank confirms it, the success email lists the readings handed in.
    let mailer = SesMailer::from_env(&Env::process()).await.unwrap();
    mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.unwrap();
    let config = Env::process();
    let callback = payment_callback::App::configure(
        &config,
        integration_tests::demo_secrets(),
        store().await,
        Mailer::new(mailer, MailFrom::from_env(&config).unwrap()),
    )
    .unwrap();
    let kopecks = amount.parse::<energosbyt::domain::Money>().unwrap().kopecks();
    let confirmed = sign_notification(json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment_id, "Success": true, "Status": "CONFIRMED",
        "PaymentId": 4_100_000_001u64, "ErrorCode": "0", "Amount": kopecks, "Pan": "220138******0047",
    }));
    let answer =
        payment_callback::handle(&callback, Event::new("POST", "/callbacks/tbank").body(&confirmed).request()).await;
    assert_eq!(answer.status(), 200);

    let data: Value = reqwest::get(format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<String> = data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["raw_data"].as_str())
        .filter_map(|raw| mail_parser::MessageParser::default().parse(raw.as_bytes()).map(|m| m.to_owned()))
        .filter(|m| m.to().and_then(|to| to.first()).and_then(|a| a.address()) == Some(email.as_str()))
        .filter_map(|m| m.body_text(0).map(|t| t.into_owned()))
        .collect();
    assert_eq!(texts.len(), 1, "one success email to the payer");

    // The rest of a customer's day, refusals included, for the logs below.
    let lookup = account_lookup::App { store: store().await, edge: real_time_edge() };
    let shown =
        account_lookup::handle(&lookup, Event::new("GET", &format!("/accounts/{mine}")).vk(&launch).request()).await;
    assert_eq!(shown.status(), 200);
    let bad_email = Event::new("POST", "/payments")
        .vk(&launch)
        .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
        .body(&json!({"account": mine.to_string(), "amount": "10.00", "email": format!("{email}@")}))
        .request();
    assert_eq!(pay::handle(&pay, bad_email).await.status(), 400);
    let receipt = sign_notification(json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment_id, "Success": true, "Status": "RECEIPT",
        "PaymentId": 4_100_000_001u64, "ErrorCode": "0", "Amount": kopecks, "FiscalNumber": 12, "ShiftNumber": 34,
        "ReceiptDatetime": "2026-11-20T15:21:05+03:00", "FnNumber": "9282000100072197",
        "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318, "FiscalDocumentAttribute": 2918241905u64,
        "Type": "Income", "Ofd": "ООО «Такском»", "Url": "https://nalog.ru", "SettlePlace": "https://vk.com/app51234567",
        "Receipt": {"Email": email, "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {mine}"), "Price": kopecks, "Quantity": 1, "Amount": kopecks,
            "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service", "MeasurementUnit": "шт"}]}
    }));
    let answer =
        payment_callback::handle(&callback, Event::new("POST", "/callbacks/tbank").body(&receipt).request()).await;
    assert_eq!(answer.status(), 200);

    // Then nothing personal reached the logs: not the email, not the account number in any form,
    // not the address; the masked number is what identifies an account there.
    let logged = logs.text();
    assert!(logged.lines().count() > 20, "the flow was logged: {logged}");
    let digits = mine.digits();
    let forbidden = [
        email.as_str(),
        digits,
        &mine.to_string(),
        &format!("{} {} {}", &digits[..5], &digits[5..8], &digits[8..]),
        "Тверская",
        "д. 7",
        "кв. 315",
    ];
    for needle in forbidden {
        let line = logged.lines().find(|line| line.contains(needle));
        assert!(line.is_none(), "{needle:?} was logged: {}", line.unwrap_or_default());
    }
    assert!(logged.contains(&mine.masked()), "accounts are identified by their masked number");
    assert!(texts[0].contains("18350") || texts[0].contains("18 350"), "day reading listed: {}", texts[0]);
    assert!(texts[0].contains("7490") || texts[0].contains("7 490"), "night reading listed: {}", texts[0]);
}

/// Today in Moscow (UTC+3).
fn moscow_today() -> NaiveDate {
    (Utc::now() + Duration::hours(3)).date_naive()
}

/// The 20th of last month, noon in Moscow: when last month's readings were handed in.
fn last_months_20th() -> DateTime<Utc> {
    let last_month = moscow_today().with_day(1).unwrap() - Days::new(1);
    last_month.with_day(20).unwrap().and_hms_opt(9, 0, 0).unwrap().and_utc()
}

/// Moscow midnight that began this month.
fn this_months_start() -> DateTime<Utc> {
    moscow_today().with_day(1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(3)
}

#[tokio::test]
async fn given_last_months_readings_when_paid_by_them_then_accepted_until_an_export_after_that_month_bills_them() {
    let _turn = ONE_AT_A_TIME.lock().await;
    tariffs_loaded().await;
    let number = fresh_account_number();
    let start_of_last_month = last_months_20th().with_day(1).unwrap();
    let meters = vec![meter(json!({
        "id": "M-2", "zoneSet": "twoZone", "digits": 6, "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {
            "T1": {"value": 18230, "date": start_of_last_month.date_naive().to_string()},
            "T2": {"value": 7410, "date": start_of_last_month.date_naive().to_string()}
        }
    }))];
    let account = account_with_all_zone_prices(number, "0.00", meters);
    // Exported early last month: last month's readings are not billed by it.
    store().await.import_account(&account, start_of_last_month + Duration::days(1)).await.unwrap();
    let user = (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1;

    // Handed in on the 20th of last month.
    let mut then = edge();
    then.clock = last_months_20th;
    let readings = submit_readings::App::new(store().await, then);
    let submitted = submit_readings::handle(
        &readings,
        Event::new("POST", &format!("/accounts/{number}/readings"))
            .vk(&vk_launch(user, last_months_20th()))
            .body(&json!({"meterId": "M-2", "values": {"T1": 18350, "T2": 7490}}))
            .request(),
    )
    .await;
    assert_eq!(submitted.status(), 200, "{}", body_json(&submitted));
    let submitted = body_json(&submitted);
    let (readings_id, amount) = (submitted["readingsId"].clone(), submitted["amountToPay"].clone());

    let pay = pay::App {
        store: store().await,
        acquirer: integration_tests::acquirer(),
        edge: real_time_edge(),
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process()).unwrap(),
    };
    let launch = vk_launch(user, Utc::now());
    let post = || {
        Event::new("POST", "/payments")
            .vk(&launch)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&json!({"account": number.to_string(), "amount": amount, "email": "reader@example.ru",
                          "readingsId": readings_id}))
            .request()
    };

    // Not billed yet (the export billing last month is still to come): paid by them this month.
    let unbilled = pay::handle(&pay, post()).await;
    assert_eq!(unbilled.status(), 201, "{}", body_json(&unbilled));

    // The export made as this month began bills them: they are no longer what a payment is for.
    store().await.import_account(&account, this_months_start() + Duration::hours(1)).await.unwrap();
    let billed = pay::handle(&pay, post()).await;
    assert_eq!(billed.status(), 400, "{}", body_json(&billed));
    let problem = body_json(&billed);
    assert_eq!(problem["type"], "/problems/invalid-readings-id");
    assert_eq!(problem["field"], "readingsId");
    assert!(problem["title"].as_str().unwrap().contains("Показания"), "{problem}");
}
