//! The functions' secret, read from the Secrets Manager stand-in (moto) as they read it in AWS,
//! and rotated there mid-run: a VK launch signed with the new key, a notification signed with the
//! new terminal password and an `Init` refused for the old password all go through after one
//! re-read, with no redeploy; a flood of forged signatures reads the secret no more than once.
//!
//! Each rotating test has a secret of its own, so the stack's demo secret never changes.

use chrono::Utc;
use energosbyt::acquirer::{TbankClient, TbankSettings};
use energosbyt::config::Env;
use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::auth::{Secret, vk};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::outside_calls::OutsideCalls;
use energosbyt::ports::ledger::PaymentLedger;
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use energosbyt::secrets::Secrets;
use energosbyt::secrets::secrets_manager::SecretsManager;
use integration_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

/// A Secrets Manager client on the stand-in that counts the requests it sends.
async fn counted_client() -> (aws_sdk_secretsmanager::Client, OutsideCalls) {
    env("AWS_ENDPOINT_URL_SECRETS_MANAGER");
    let shared = aws_config::load_from_env().await;
    let calls = OutsideCalls::new();
    let config = aws_sdk_secretsmanager::config::Builder::from(&shared).interceptor(calls.clone()).build();
    (aws_sdk_secretsmanager::Client::from_conf(config), calls)
}

/// `local.env`'s demo values as the secret's JSON, with `changes` applied.
fn demo_secret(changes: &[(&str, &str)]) -> Value {
    let mut secret = json!({
        "vkAppSecret": env("VK_APP_SECRET"), "fbAppSecret": env("FB_APP_SECRET"),
        "tbankTerminalKey": env("TBANK_TERMINAL_KEY"), "tbankPassword": env("TBANK_PASSWORD"),
    });
    for (key, value) in changes {
        secret[*key] = json!(value);
    }
    secret
}

/// A secret of the test's own on the stand-in; its name.
async fn own_secret(client: &aws_sdk_secretsmanager::Client, value: &Value) -> String {
    let name = format!("energosbyt/test-{}", uuid::Uuid::new_v4().simple());
    client.create_secret().name(&name).secret_string(value.to_string()).send().await.expect("moto is running");
    name
}

/// What an operator does to rotate it: `PutSecretValue`.
async fn rotate(client: &aws_sdk_secretsmanager::Client, name: &str, value: &Value) {
    client.put_secret_value().secret_id(name).secret_string(value.to_string()).send().await.unwrap();
}

fn launch_signed_with(key: &str, user: u64) -> String {
    vk::launch_query(&env("VK_APP_ID"), user, fixed_now().timestamp(), "desktop_web", &Secret::from(key))
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

#[tokio::test]
async fn given_the_stack_then_the_functions_read_local_envs_demo_values_from_the_secret_it_names() {
    let secrets = Secrets::from_env(&Env::process()).await.expect("the stack created SECRETS_NAME");
    let demo = demo_secrets().current();
    let read = secrets.current();
    assert!(read.vk_app_secret == demo.vk_app_secret);
    assert!(read.fb_app_secret == demo.fb_app_secret);
    assert_eq!(read.tbank_terminal_key, demo.tbank_terminal_key);
    assert_eq!(read.tbank_password, demo.tbank_password);
    assert_eq!(secrets.rereads(), 0);
}

#[tokio::test]
async fn given_a_secret_without_one_of_its_keys_then_the_function_stops_at_start_naming_the_key() {
    let (client, _) = counted_client().await;
    let mut incomplete = demo_secret(&[]);
    incomplete.as_object_mut().unwrap().remove("tbankPassword");
    let name = own_secret(&client, &incomplete).await;
    let config = Env::from_fn(|key| if key == "SECRETS_NAME" { Some(name.clone()) } else { std::env::var(key).ok() });
    let error = Secrets::from_env(&config).await.unwrap_err().to_string();
    assert!(error.contains("tbankPassword"), "{error}");
    assert!(!error.contains(&env("VK_APP_SECRET")), "no value in the message: {error}");

    let absent = Env::from_fn(|key| if key == "SECRETS_NAME" { Some("energosbyt/absent".into()) } else { None });
    let error = Secrets::from_env(&absent).await.unwrap_err().to_string();
    assert!(error.contains("ResourceNotFoundException"), "{error}");
}

#[tokio::test]
async fn given_the_vk_key_rotated_mid_run_when_a_launch_signed_with_the_new_key_comes_then_it_is_served_after_one_reread()
 {
    let (client, calls) = counted_client().await;
    let name = own_secret(&client, &demo_secret(&[])).await;
    let created = calls.requests();
    // An hour between re-reads: whatever follows the first one must not read again.
    let secrets = Secrets::load(SecretsManager::new(client.clone(), &name), Duration::from_secs(3600)).await.unwrap();
    let mut edge = MiniAppEdge::from_env(&Env::process(), &secrets).unwrap();
    edge.clock = fixed_now;
    let app = account_lookup::App { store: store().await, edge };
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-10", vec![]), fixed_now()).await.unwrap();
    let path = format!("/accounts/{number}");
    let look_up = |launch: String| {
        let app = &app;
        let request = Event::new("GET", &path).vk(&launch).request();
        async move { account_lookup::handle(app, request).await.status().as_u16() }
    };
    let old_key = env("VK_APP_SECRET");
    assert_eq!(look_up(launch_signed_with(&old_key, user())).await, 200);
    assert_eq!((secrets.rereads(), calls.requests() - created), (0, 1), "read once, at start");

    // When: the operator rotates the key in VK and in the secret.
    let new_key = format!("rotated-{}", uuid::Uuid::new_v4().simple());
    rotate(&client, &name, &demo_secret(&[("vkAppSecret", &new_key)])).await;
    let rotation_calls = calls.requests();

    // Then: the first launch signed with the new key is served, after one re-read.
    assert_eq!(look_up(launch_signed_with(&new_key, user())).await, 200);
    assert_eq!(secrets.rereads(), 1);
    assert_eq!(calls.requests(), rotation_calls + 1, "one GetSecretValue");
    assert_eq!(look_up(launch_signed_with(&new_key, user())).await, 200, "and every later one, with no read");
    assert_eq!(look_up(launch_signed_with(&old_key, user())).await, 401, "the old key is refused");

    // A flood of forged signatures costs no further read.
    for _ in 0..25 {
        let forged = format!("forged-{}", uuid::Uuid::new_v4().simple());
        assert_eq!(look_up(launch_signed_with(&forged, user())).await, 401);
    }
    assert_eq!(secrets.rereads(), 1);
    assert_eq!(calls.requests(), rotation_calls + 1);
}

#[tokio::test]
async fn given_the_terminal_password_rotated_mid_run_when_a_notification_signed_with_the_new_one_comes_then_it_is_applied()
 {
    let (client, calls) = counted_client().await;
    let name = own_secret(&client, &demo_secret(&[])).await;
    let secrets = Secrets::load(SecretsManager::new(client.clone(), &name), Duration::from_secs(3600)).await.unwrap();
    let process = Env::process();
    let ses = SesMailer::from_env(&process).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    let mailer = Mailer::new(ses, MailFrom::from_env(&process).unwrap());
    let app = payment_callback::App::configure(&process, secrets.clone(), store().await, mailer).unwrap();

    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "-250.00", vec![]), Utc::now()).await.unwrap();
    let payment = new_payment(number, "250.00", Utc::now());
    store.create(&payment).await.unwrap();
    let notification = |status: &str| {
        json!({"TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": true,
               "Status": status, "PaymentId": 7_100_000_001u64, "ErrorCode": "0", "Amount": 25_000})
    };
    let deliver = |body: Value| {
        let app = &app;
        let request = Event::new("POST", "/callbacks/tbank").body(&body).request();
        async move { payment_callback::handle(app, request).await.status().as_u16() }
    };

    // When: the password is rotated at the bank and in the secret.
    let new_password = format!("rotated-{}", uuid::Uuid::new_v4().simple());
    rotate(&client, &name, &demo_secret(&[("tbankPassword", &new_password)])).await;
    let rotation_calls = calls.requests();

    // Then: the bank's next notification, signed with the new password, is applied.
    assert_eq!(deliver(sign_notification_with(notification("CONFIRMED"), &new_password)).await, 200);
    assert_eq!(secrets.rereads(), 1);
    assert_eq!(calls.requests(), rotation_calls + 1);
    assert_eq!(store.account(&number).await.unwrap().unwrap().balance.signed(), "0.00".parse().unwrap(), "credited");
    assert!(store.payment_record(&payment.id).await.unwrap().unwrap().payment.status.was_credited());
    // One signed with the old password is not the bank's any more.
    assert_eq!(deliver(sign_notification(notification("CONFIRMED"))).await, 401);
    assert_eq!(calls.requests(), rotation_calls + 1, "and reads nothing");
}

#[tokio::test]
async fn given_the_terminal_password_rotated_when_the_bank_refuses_the_old_one_then_init_is_sent_again_and_the_payment_made()
 {
    let (client, calls) = counted_client().await;
    // The instance read the secret before the operator rotated the password at the bank (the
    // sandbox knows only the demo one) and in the secret.
    let name = own_secret(&client, &demo_secret(&[("tbankPassword", "the-password-before")])).await;
    let secrets = Secrets::load(SecretsManager::new(client.clone(), &name), Duration::from_secs(3600)).await.unwrap();
    rotate(&client, &name, &demo_secret(&[])).await;
    let rotation_calls = calls.requests();

    let mut edge = MiniAppEdge::from_env(&Env::process(), &secrets).unwrap();
    edge.clock = Utc::now;
    let settings = TbankSettings::from_env().unwrap();
    let app = pay::App {
        store: store().await,
        acquirer: TbankClient::new(settings, secrets.clone()).unwrap(),
        edge,
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process()).unwrap(),
    };
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-99.90", vec![]), Utc::now()).await.unwrap();
    let launch = vk::launch_query(
        &env("VK_APP_ID"),
        user(),
        Utc::now().timestamp(),
        "desktop_web",
        &Secret::from(env("VK_APP_SECRET")),
    );
    let request = Event::new("POST", "/payments")
        .vk(&launch)
        .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
        .body(&json!({"account": number.to_string(), "amount": "99.90", "email": "ivanov@example.ru"}))
        .request();

    let response = pay::handle(&app, request).await;

    assert_eq!(response.status(), 201, "{:?}", body_json(&response));
    assert_eq!(secrets.rereads(), 1, "the refusal (204) read the secret again");
    assert_eq!(calls.requests(), rotation_calls + 1);
    assert_eq!(secrets.current().tbank_password.expose(), env("TBANK_PASSWORD"));
}
