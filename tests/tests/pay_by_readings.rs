//! «Оплатить по показаниям» across the functions: readings handed in, paid with their id, the
//! success email listing them. Against DynamoDB Local, the acquirer sandbox and moto.

use chrono::Utc;
use energosbyt::config::Env;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::AccountImport;
use integration_tests::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A two-zone meter whose own window is the whole month, so the real clock (which the sandbox's
/// form deadline needs) always finds it open.
async fn account_with_open_meter(balance: &str) -> energosbyt::domain::AccountNumber {
    let table = admin::tariff_import::parse(include_str!("../../data/tariffs.json")).unwrap();
    admin::tariff_import::import(&store().await, &table, false).await.unwrap();
    let number = fresh_account_number();
    let meters = vec![meter(json!({
        "id": "M-2", "zoneSet": "twoZone", "digits": 6, "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"}, "T2": {"value": 7410, "date": "2026-10-20"}}
    }))];
    store().await.import_account(&account(number, balance, meters), fixed_now()).await.unwrap();
    number
}

fn real_time_edge() -> energosbyt::edge::MiniAppEdge {
    let mut edge = edge();
    edge.clock = Utc::now;
    edge
}

fn signed_notification(mut body: Value) -> Value {
    let fields = body.as_object_mut().unwrap();
    let mut pairs: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect();
    pairs.push(("Password".into(), env("TBANK_PASSWORD")));
    pairs.sort();
    let joined: String = pairs.iter().map(|(_, v)| v.as_str()).collect();
    fields.insert("Token".into(), Value::String(hex::encode(Sha256::digest(joined.as_bytes()))));
    body
}

#[tokio::test]
async fn readings_paid_with_their_id_are_listed_in_the_success_email_and_foreign_ids_are_refused() {
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
        acquirer: energosbyt::acquirer::TbankClient::new(energosbyt::acquirer::TbankSettings::from_env().unwrap())
            .unwrap(),
        edge: real_time_edge(),
        settings: pay::PaySettings::from_env(&Env::process()).unwrap(),
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
        store().await,
        Mailer::new(mailer, MailFrom::from_env(&config).unwrap()),
    )
    .unwrap();
    let kopecks = amount.parse::<energosbyt::domain::Money>().unwrap().kopecks();
    let confirmed = signed_notification(json!({
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
    assert!(texts[0].contains("18350") || texts[0].contains("18 350"), "day reading listed: {}", texts[0]);
    assert!(texts[0].contains("7490") || texts[0].contains("7 490"), "night reading listed: {}", texts[0]);
}
