//! Every file in `events/` is a real API Gateway HTTP API v2 event; its name starts with the
//! status its function must answer (`404-unknown.json`). Running them all keeps the folder from
//! rotting. The events are signed for the tests' fixed clock with the demo key in `local.env`.

use admin::billing_export;
use energosbyt::ports::AccountImport;
use integration_tests::*;
use std::path::{Path, PathBuf};

fn events_of(function: &str) -> Vec<(PathBuf, u16, lambda_http::Request)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no events for {function}");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let status: u16 = name[..3].parse().unwrap_or_else(|_| panic!("{name}: name must start with a status"));
            let text = std::fs::read_to_string(&path).unwrap();
            let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (path, status, request)
        })
        .collect()
}

async fn import_demo_data() {
    let store = store().await;
    let export = billing_export::parse(include_str!("../../data/demo.json")).unwrap();
    for account in &export.accounts {
        store.import_account(account, export.exported_at).await.unwrap();
    }
}

#[tokio::test]
async fn account_lookup_events_answer_the_status_in_their_name() {
    import_demo_data().await;
    let app = account_lookup::App { store: store().await, edge: edge() };
    for (path, status, request) in events_of("account-lookup") {
        let response = account_lookup::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), status, "{}: {:?}", path.display(), body_json(&response));
    }
}

#[tokio::test]
async fn submit_readings_events_answer_the_status_in_their_name() {
    import_demo_data().await;
    tariffs_loaded().await;
    let app = submit_readings::App::new(store().await, edge());
    for (path, status, request) in events_of("submit-readings") {
        let response = submit_readings::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), status, "{}: {:?}", path.display(), body_json(&response));
    }
}

/// The pay events are signed for the fixed clock, but the acquirer sandbox checks the payment
/// form's expiry (`RedirectDueDate`) against its own real clock: so here the clock is real and
/// the freshness of the launch parameters is not checked. Each event's `Idempotency-Key` gets a
/// suffix unique to the run: with the key as written, a second run of the 201 event would replay
/// the first run's answer instead of creating a payment at the bank.
#[tokio::test]
async fn pay_events_answer_the_status_in_their_name() {
    import_demo_data().await;
    let mut edge = edge();
    edge.clock = chrono::Utc::now;
    edge.auth.max_age = None;
    let acquirer = integration_tests::acquirer();
    let settings =
        energosbyt::app::payment_registration::PaySettings::from_env(&energosbyt::config::Env::process()).unwrap();
    let app = pay::App { store: store().await, acquirer, edge, settings };
    for (path, status, mut request) in events_of("pay") {
        if let Some(key) = request.headers().get(pay::IDEMPOTENCY_KEY).and_then(|k| k.to_str().ok()) {
            let unique = format!("{key}-{}", uuid::Uuid::new_v4().simple());
            request.headers_mut().insert(pay::IDEMPOTENCY_KEY, unique.parse().unwrap());
        }
        let response = pay::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), status, "{}: {:?}", path.display(), body_json(&response));
    }
}

/// The payment-callback events all concern one payment (`OrderId`
/// `0e7e0000000000000000000000000001`, bank `PaymentId` 7000000001, 1520.37 roubles; see
/// `events/payment-callback/make_events.py`, which signs them with `local.env`'s terminal
/// password). It is created afresh here, on a fresh account, before they run: confirmed, the
/// same delivery again, the receipt, a forged one.
#[tokio::test]
async fn payment_callback_events_answer_the_status_in_their_name() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use energosbyt::domain::{Money, Payment, PaymentStatus};
    use energosbyt::ports::ledger::LedgerReader;
    use energosbyt::ports::{AccountReader, PaymentWriter};

    let store = store().await;
    let id: energosbyt::domain::PaymentId = "0e7e0000000000000000000000000001".parse().unwrap();
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("PAYMENT#{id}")))
        .key("SK", AttributeValue::S("PAYMENT".into()))
        .send()
        .await
        .expect("DynamoDB Local is running");
    let number = fresh_account_number();
    store.import_account(&account(number, "-1520.37", vec![]), chrono::Utc::now()).await.unwrap();
    let now = chrono::Utc::now();
    let email = format!("events-{}@example.ru", uuid::Uuid::new_v4().simple());
    let payment = Payment {
        id: id.clone(),
        account: number,
        amount: "1520.37".parse().unwrap(),
        email: Some(email.parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::New,
        acquirer_payment_id: Some("7000000001".into()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at: now,
        updated_at: now,
    };
    store.create(&payment).await.unwrap();

    let env = energosbyt::config::Env::process();
    let ses = energosbyt::mail::ses::SesMailer::from_env(&env).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    let mailer = energosbyt::mail::Mailer::new(ses, energosbyt::mail::MailFrom::from_env(&env).unwrap());
    let app = payment_callback::App::configure(&env, integration_tests::demo_secrets(), store.clone(), mailer).unwrap();
    for (path, status, request) in events_of("payment-callback") {
        let response = payment_callback::handle(&app, request).await;
        let body = match response.body() {
            lambda_http::Body::Text(text) => text.clone(),
            _ => String::new(),
        };
        assert_eq!(response.status().as_u16(), status, "{}: {body}", path.display());
        if status == 200 {
            assert_eq!(body, "OK", "{}", path.display());
        }
    }
    let balance = store.account(&number).await.unwrap().unwrap().balance.signed();
    assert_eq!(balance, Money::ZERO, "credited once, the forged one ignored");
    assert_eq!(store.ledger_entries(&number).await.unwrap().len(), 1);
    let url = format!("{}/moto-api/data.json", integration_tests::env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
    let sent: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let to_payer = sent["ses"]["RawMessage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destinations"].to_string().contains(&email))
        .count();
    assert_eq!(to_payer, 2, "the success email and the receipt, once each");
}

#[tokio::test]
async fn payment_history_events_answer_the_status_in_their_name() {
    let mut edge = edge();
    edge.clock = chrono::Utc::now;
    edge.auth.max_age = None;
    let app = payment_history::App { store: store().await, edge };
    for (path, status, request) in events_of("payment-history") {
        let response = payment_history::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), status, "{}: {:?}", path.display(), body_json(&response));
    }
}

#[tokio::test]
async fn account_reminder_events_answer_the_status_in_their_name() {
    let app = account_reminder::App { store: store().await, edge: edge() };
    for (path, status, request) in events_of("account-reminder") {
        let response = account_reminder::handle(&app, request).await;
        assert_eq!(response.status().as_u16(), status, "{}: {:?}", path.display(), body_json(&response));
    }
}
