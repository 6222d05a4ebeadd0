//! The T-Bank client against the local acquirer sandbox (`sandbox/tbank_sandbox.py`).
//!
//! These run when `TBANK_API_URL` points at a running sandbox (with `TBANK_TERMINAL_KEY` /
//! `TBANK_PASSWORD` as it was started with, defaulting to the sandbox's demo values); without it
//! each test prints why it did nothing and passes.
//!
//! ```text
//! python3 sandbox/tbank_sandbox.py --host 127.0.0.1 --port 9101 &
//! TBANK_API_URL=http://127.0.0.1:9101 cargo test -p energosbyt --test acquirer_sandbox
//! ```

use chrono::Utc;
use energosbyt::acquirer::{
    Acquirer, AcquirerError, CancelRequest, InitRequest, InitSettings, Notification, PaymentInit, PaymentStatus,
    Refusal, TbankClient, TbankSettings, TerminalPassword, Unavailability, verify_notification,
};
use energosbyt::domain::Money;
use energosbyt::secrets::{SecretValues, Secrets};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Sandbox {
    api_url: String,
    terminal_key: String,
    password: String,
    http: reqwest::Client,
}

fn sandbox() -> Option<Sandbox> {
    let Ok(api_url) = std::env::var("TBANK_API_URL") else {
        eprintln!("skipped: TBANK_API_URL is not set (start sandbox/tbank_sandbox.py and point it there)");
        return None;
    };
    let env_or = |name: &str, default: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
    };
    Some(Sandbox {
        api_url: api_url.trim_end_matches('/').trim_end_matches("/v2").to_owned(),
        terminal_key: env_or("TBANK_TERMINAL_KEY", "DemoTerminalKey"),
        password: env_or("TBANK_PASSWORD", "DemoPassword"),
        http: reqwest::Client::new(),
    })
}

macro_rules! sandbox_or_skip {
    () => {
        match sandbox() {
            Some(s) => s,
            None => return,
        }
    };
}

/// A terminal's credentials, as the secret would hold them.
fn terminal(key: &str, password: &str) -> Secrets {
    Secrets::fixed(SecretValues {
        tbank_terminal_key: key.to_owned(),
        tbank_password: TerminalPassword::new(password),
        ..SecretValues::default()
    })
}

impl Sandbox {
    fn settings(&self, timeout: Duration) -> TbankSettings {
        TbankSettings { api_url: self.api_url.clone(), connect_timeout: Duration::from_secs(2), timeout }
    }

    fn client_with(&self, password: &str, timeout: Duration) -> TbankClient {
        TbankClient::new(self.settings(timeout), terminal(&self.terminal_key, password))
            .expect("a client for the sandbox")
    }

    fn client(&self) -> TbankClient {
        self.client_with(&self.password, Duration::from_secs(8))
    }

    async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.api_url))
            .json(&body)
            .send()
            .await
            .expect("the sandbox's control API answers");
        assert!(answer.status().is_success(), "{path}: HTTP {}", answer.status());
        answer.json().await.expect("JSON from the control API")
    }

    /// What a payer does on the hosted form.
    async fn pay(&self, payment_id: &str, pan: &str) -> serde_json::Value {
        self.control(&format!("/sandbox/pay/{payment_id}"), serde_json::json!({ "pan": pan })).await
    }

    async fn fault(&self, operation: &str, mode: &str, order_or_payment: &str) {
        self.control(
            "/sandbox/faults",
            serde_json::json!({ operation: { "mode": mode, "match": order_or_payment, "delay": 3 } }),
        )
        .await;
    }
}

fn new_order_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn init_request(order_id: &str, amount: &str, notification_url: &str) -> InitRequest {
    let settings = InitSettings::new(notification_url, "https://app.example.ru/paid", "https://app.example.ru/failed");
    let now = Utc::now();
    PaymentInit {
        order_id,
        account: "2961432809".parse().expect("an account number"),
        amount: amount.parse().expect("an amount"),
        email: "ivanov@example.ru",
        now,
        deadline: settings.form_deadline(now).expect("a form can open now"),
    }
    .build(&settings)
    .expect("a valid Init body")
}

/// Nothing listens there: the sandbox records failed deliveries and moves on.
const NOWHERE: &str = "http://127.0.0.1:9/callbacks/tbank";

/// A minimal HTTP endpoint that records notification bodies and answers `OK`.
struct NotificationInbox {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl NotificationInbox {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/callbacks/tbank", listener.local_addr().expect("an address"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                sink.lock().expect("inbox lock").push(String::from_utf8_lossy(&body).into_owned());
                let mut stream = reader.into_inner();
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
            }
        });
        Self { url, bodies }
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let bodies = self.bodies.lock().expect("inbox lock").clone();
            if bodies.len() >= count {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} notifications arrived in 10 s");
    }
}

#[tokio::test]
async fn init_get_state_and_check_order_agree() {
    let sandbox = sandbox_or_skip!();
    let client = sandbox.client();
    let order_id = new_order_id();

    let created = client.init(&init_request(&order_id, "1500.05", NOWHERE)).await.unwrap();
    assert_eq!(created.status, PaymentStatus::New);
    assert_eq!(created.order_id, order_id);
    assert_eq!(created.amount, "1500.05".parse::<Money>().unwrap());
    assert!(created.payment_url.starts_with(&format!("{}/pay/", sandbox.api_url)));

    let state = client.get_state(&created.payment_id).await.unwrap();
    assert_eq!(state.status, PaymentStatus::New);
    assert_eq!(state.amount, Some(created.amount));

    let order = client.check_order(&order_id).await.unwrap();
    assert_eq!(order.payments.len(), 1);
    assert_eq!(order.payments[0].payment_id, created.payment_id);
    assert!(order.paid().is_none());
}

#[tokio::test]
async fn a_paid_order_reads_as_paid_and_cannot_be_paid_again() {
    let sandbox = sandbox_or_skip!();
    let client = sandbox.client();
    let order_id = new_order_id();
    let created = client.init(&init_request(&order_id, "2400", NOWHERE)).await.unwrap();

    let in_flight = client.init(&init_request(&order_id, "2400", NOWHERE)).await.unwrap_err();
    assert_eq!(in_flight.refusal(), Some(Refusal::OrderConflict), "{in_flight:?}");
    assert_eq!(in_flight.code(), Some("20"));

    sandbox.pay(created.payment_id.as_str(), "2201382000000013").await;

    let state = client.get_state(&created.payment_id).await.unwrap();
    assert!(state.status.is_paid(), "{:?}", state.status);
    let order = client.check_order(&order_id).await.unwrap();
    assert_eq!(order.paid().map(|p| &p.payment_id), Some(&created.payment_id));

    let again = client.init(&init_request(&order_id, "2400", NOWHERE)).await.unwrap_err();
    assert_eq!(again.refusal(), Some(Refusal::OrderConflict));
    assert_eq!(again.code(), Some("623"));
    assert!(!again.outcome_unknown());
}

#[tokio::test]
async fn notifications_verify_with_our_token_and_read_as_typed() {
    let sandbox = sandbox_or_skip!();
    let inbox = NotificationInbox::start();
    let client = sandbox.client();
    let order_id = new_order_id();
    let created = client.init(&init_request(&order_id, "1234.56", &inbox.url)).await.unwrap();

    sandbox.pay(created.payment_id.as_str(), "2200770239097761").await;

    let bodies = inbox.wait_for(3).await;
    let read: Vec<Notification> = bodies
        .iter()
        .map(|b| verify_notification(b, &sandbox.password).expect("a correctly signed notification"))
        .collect();
    let statuses: Vec<String> = read
        .iter()
        .map(|n| match n {
            Notification::Payment(p) => p.status.to_string(),
            Notification::Receipt(_) => "RECEIPT".to_owned(),
        })
        .collect();
    assert_eq!(statuses, ["AUTHORIZED", "CONFIRMED", "RECEIPT"]);
    for n in &read {
        assert_eq!(n.order_id(), order_id);
        assert_eq!(n.payment_id(), &created.payment_id);
        assert_eq!(n.amount(), Some("1234.56".parse::<Money>().unwrap()));
        assert_eq!(n.terminal_key(), sandbox.terminal_key);
    }
    let Notification::Payment(confirmed) = &read[1] else { unreachable!() };
    assert_eq!(confirmed.success, Some(true));
    assert_eq!(confirmed.pan.as_deref(), Some("220077******7761"));
    let Notification::Receipt(receipt) = &read[2] else { unreachable!() };
    assert_eq!(receipt.fn_number.as_ref().map(String::len), Some(16));
    assert_eq!(receipt.fiscal_document_attribute.as_ref().map(String::len), Some(10));

    // The same bodies with another password are refused.
    assert!(verify_notification(&bodies[1], "not-the-password").is_err());
}

#[tokio::test]
async fn a_declined_card_reads_as_rejected_with_its_code() {
    let sandbox = sandbox_or_skip!();
    let inbox = NotificationInbox::start();
    let client = sandbox.client();
    let created = client.init(&init_request(&new_order_id(), "10", &inbox.url)).await.unwrap();

    sandbox.pay(created.payment_id.as_str(), "2201382000000831").await;

    let body = inbox.wait_for(1).await.remove(0);
    let Notification::Payment(n) = verify_notification(&body, &sandbox.password).unwrap() else {
        panic!("a payment notification")
    };
    assert_eq!(n.status, PaymentStatus::Rejected);
    assert_eq!(n.success, Some(false));
    assert_eq!(n.error_code, "1051");
    assert!(client.get_state(&created.payment_id).await.unwrap().status.is_failed());
}

#[tokio::test]
async fn a_wrong_password_or_terminal_is_a_credentials_refusal() {
    let sandbox = sandbox_or_skip!();
    let wrong_password = sandbox.client_with("not-the-password", Duration::from_secs(8));
    let err = wrong_password.init(&init_request(&new_order_id(), "10", NOWHERE)).await.unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::Credentials));
    assert_eq!(err.code(), Some("204"));

    let wrong_terminal =
        TbankClient::new(sandbox.settings(Duration::from_secs(8)), terminal("SomeoneElse", &sandbox.password)).unwrap();
    let err = wrong_terminal.check_order("x").await.unwrap_err();
    assert_eq!((err.refusal(), err.code()), (Some(Refusal::Credentials), Some("205")));
}

#[tokio::test]
async fn receipt_mistakes_are_refusals_of_their_kind() {
    let sandbox = sandbox_or_skip!();
    let client = sandbox.client();

    let mut wrong_total = init_request(&new_order_id(), "100", NOWHERE);
    if let Some(receipt) = wrong_total.receipt.as_mut() {
        receipt.items[0].price = "99.99".parse().unwrap();
        receipt.items[0].amount = "99.99".parse().unwrap();
    }
    let err = client.init(&wrong_total).await.unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::ReceiptTotal), "{err:?}");

    let mut no_contact = init_request(&new_order_id(), "100", NOWHERE);
    if let Some(receipt) = no_contact.receipt.as_mut() {
        receipt.email = None;
    }
    let err = client.init(&no_contact).await.unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::ReceiptContact), "{err:?}");
}

#[tokio::test]
async fn cancel_a_new_payment_and_refund_a_paid_one() {
    let sandbox = sandbox_or_skip!();
    let client = sandbox.client();

    let fresh = client.init(&init_request(&new_order_id(), "50", NOWHERE)).await.unwrap();
    let canceled = client.cancel(&CancelRequest::whole(fresh.payment_id.clone())).await.unwrap();
    assert_eq!(canceled.status, PaymentStatus::Canceled);

    let paid = client.init(&init_request(&new_order_id(), "100", NOWHERE)).await.unwrap();
    sandbox.pay(paid.payment_id.as_str(), "2201382000000013").await;
    let partial = CancelRequest {
        amount: Some("25".parse().unwrap()),
        external_request_id: Some(new_order_id()),
        ..CancelRequest::whole(paid.payment_id.clone())
    };
    let first = client.cancel(&partial).await.unwrap();
    assert_eq!(first.status, PaymentStatus::PartialRefunded);
    assert_eq!(first.new_amount, Some("75".parse().unwrap()));
    // A repeated request with the same ExternalRequestId refunds once.
    let repeated = client.cancel(&partial).await.unwrap();
    assert_eq!(repeated.new_amount, Some("75".parse().unwrap()));

    let rest = client.cancel(&CancelRequest::whole(paid.payment_id.clone())).await.unwrap();
    assert_eq!((rest.status, rest.new_amount), (PaymentStatus::Refunded, Some(Money::ZERO)));
    let err = client.cancel(&CancelRequest::whole(paid.payment_id.clone())).await.unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::WrongStatus));
}

#[tokio::test]
async fn a_server_error_or_an_unreadable_answer_is_an_unknown_outcome() {
    let sandbox = sandbox_or_skip!();
    let client = sandbox.client();

    let order_id = new_order_id();
    sandbox.fault("init", "http500", &order_id).await;
    let err = client.init(&init_request(&order_id, "10", NOWHERE)).await.unwrap_err();
    assert_eq!(err, AcquirerError::Unavailable(Unavailability::HttpStatus(500)));
    assert!(err.outcome_unknown());

    let order_id = new_order_id();
    sandbox.fault("check_order", "garbage", &order_id).await;
    let err = client.check_order(&order_id).await.unwrap_err();
    assert_eq!(err, AcquirerError::Unavailable(Unavailability::Unparsable));

    let order_id = new_order_id();
    sandbox.fault("init", "decline", &order_id).await;
    let err = client.init(&init_request(&order_id, "10", NOWHERE)).await.unwrap_err();
    assert!(matches!(err, AcquirerError::Declined { refusal: Refusal::Other, .. }), "{err:?}");
    assert!(!err.outcome_unknown());
}

#[tokio::test]
async fn a_lost_init_answer_is_found_again_by_check_order() {
    let sandbox = sandbox_or_skip!();
    let impatient = sandbox.client_with(&sandbox.password, Duration::from_millis(800));
    let order_id = new_order_id();
    // The sandbox creates the payment, then answers only after 3 s.
    sandbox.fault("init", "timeout", &order_id).await;

    let err = impatient.init(&init_request(&order_id, "10", NOWHERE)).await.unwrap_err();
    assert_eq!(err, AcquirerError::Unavailable(Unavailability::Timeout));

    let order = sandbox.client().check_order(&order_id).await.unwrap();
    assert_eq!(order.payments.len(), 1);
    assert_eq!(order.payments[0].status, PaymentStatus::New);
}
