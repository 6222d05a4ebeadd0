//! `GET` and `POST /payments/{id}/receipt` against DynamoDB Local and moto's SES: the printable
//! receipt of the caller's own payment from the kept `RECEIPT` notification, a copy sent again to
//! the payment's email at most three times a day, and nobody else's payment.

use chrono::Utc;
use energosbyt::app::receipt_copy::COPIES_PER_DAY;
use energosbyt::domain::readings_window::moscow_date;
use energosbyt::domain::{CallerId, Payment, PaymentStatus, SellerRequisites};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::PaymentWriter;
use energosbyt::ports::ledger::{PaymentLedger, ReceiptSlot, StoredReceipt};
use energosbyt::ports::receipt_copies::{CopyCounted, ReceiptCopies};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};

fn fresh_vk_user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

fn seller() -> SellerRequisites {
    SellerRequisites {
        name: "АО «Мосэнергосбыт»".into(),
        inn: "7736520080".into(),
        sender_email: env("SES_SENDER"),
        settlement_place: None,
        ofd: None,
    }
}

async fn page_app() -> payment_receipt::App<DynamoStore> {
    payment_receipt::App { store: store().await, edge: edge(), seller: seller() }
}

async fn copy_app() -> resend_receipt::App<DynamoStore, SesMailer> {
    let ses = SesMailer::from_env(&energosbyt::config::Env::process()).await.expect("SES_SENDER is set");
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.expect("moto is running");
    let mailer = Mailer::new(ses, MailFrom::new(&env("SES_SENDER"), "АО «Мосэнергосбыт»").unwrap());
    resend_receipt::App { store: store().await, mailer, edge: edge(), seller: seller() }
}

/// A paid payment of `user`'s, with the sale's RECEIPT notification kept when `with_receipt`.
async fn paid(user: u64, email: Option<&str>, with_receipt: bool) -> Payment {
    let mut payment = new_payment(fresh_account_number(), "1500.05", fixed_now() - chrono::Duration::days(2));
    payment.caller = CallerId::Vk(user);
    payment.status = PaymentStatus::Paid;
    payment.email = email.map(|e| e.parse().unwrap());
    let store = store().await;
    store.create(&payment).await.unwrap();
    if with_receipt {
        let notification = json!({
            "TerminalKey": "DemoTerminalKey", "OrderId": payment.id.as_str(), "Success": true,
            "Status": "RECEIPT", "PaymentId": 5974256058u64, "ErrorCode": "0",
            "Amount": payment.amount.kopecks(), "FiscalNumber": 12, "ShiftNumber": 34,
            "ReceiptDatetime": "2026-11-18T10:21:05+03:00", "FnNumber": "9282000100072197",
            "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
            "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
            "Url": "https://nalog.ru", "SettlePlace": "https://vk.com/app51234567",
            "Receipt": {"Email": "bank-copy@example.ru", "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
                "Name": format!("Оплата электроэнергии, л/с {}", payment.account),
                "Price": payment.amount.kopecks(), "Quantity": 1, "Amount": payment.amount.kopecks(),
                "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service",
                "MeasurementUnit": "шт"}]}
        });
        let kept =
            StoredReceipt { slot: ReceiptSlot::Sale, notification: notification.to_string(), received_at: Utc::now() };
        assert!(store.keep_receipt(&payment.id, &kept, None).await.unwrap().is_some());
    }
    payment
}

fn path(payment: &Payment) -> String {
    format!("/payments/{}/receipt", payment.id)
}

/// The Message-IDs of what moto holds for `recipient`.
async fn message_ids_to(recipient: &str) -> Vec<String> {
    let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
    let data: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| m["destinations"].to_string().contains(recipient))
        .map(|m| {
            let raw = m["raw_data"].as_str().unwrap_or_default();
            raw.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap_or_default().to_owned()
        })
        .collect()
}

async fn mails_to(recipient: &str) -> usize {
    message_ids_to(recipient).await.len()
}

#[tokio::test]
async fn given_a_kept_receipt_when_its_payer_opens_it_then_every_requisite_and_the_fns_qr_code_are_there() {
    let user = fresh_vk_user();
    let payment = paid(user, Some("payer@example.ru"), true).await;
    let event = Event::new("GET", &path(&payment)).vk(&vk_launch(user, fixed_now()));
    let response = payment_receipt::handle(&page_app().await, event.request()).await;
    assert_eq!(response.status(), 200);
    let page = body_json(&response);
    assert_eq!(page["fdNumber"], "64318");
    assert_eq!(page["fnNumber"], "9282000100072197");
    assert_eq!(page["fiscalSign"], "2918241905");
    assert_eq!(page["total"], "1500.05");
    assert_eq!(page["sellerInn"], "7736520080");
    assert_eq!(page["account"], payment.account.masked());
    assert_eq!(page["canSendCopy"], true);
    assert_eq!(page["items"][0]["amount"], "1500.05");
    let qr = page["qrText"].as_str().unwrap();
    assert!(qr.contains("fn=9282000100072197") && qr.contains("i=64318") && qr.contains("s=1500.05"), "{qr}");
    assert!(page["qrPng"].as_str().unwrap().starts_with("data:image/png;base64,iVBORw0KGgo"));
    assert!(page.get("buyerEmail").is_none(), "the page does not show the address");
}

#[tokio::test]
async fn given_someone_elses_payment_when_its_receipt_is_asked_for_or_sent_then_404_as_if_it_did_not_exist() {
    let payment = paid(fresh_vk_user(), Some("payer@example.ru"), true).await;
    let stranger = vk_launch(fresh_vk_user(), fixed_now());
    let shown =
        payment_receipt::handle(&page_app().await, Event::new("GET", &path(&payment)).vk(&stranger).request()).await;
    assert_eq!(shown.status(), 404);
    let sent =
        resend_receipt::handle(&copy_app().await, Event::new("POST", &path(&payment)).vk(&stranger).request()).await;
    assert_eq!(sent.status(), 404);
    assert!(body_json(&sent)["type"].as_str().unwrap().ends_with("/problems/payment-not-found"));
}

#[tokio::test]
async fn given_a_paid_payment_when_its_receipt_is_sent_again_then_three_copies_a_day_reach_the_payments_email_and_the_fourth_is_429()
 {
    let user = fresh_vk_user();
    let recipient = format!("copy-{}@example.ru", uuid::Uuid::new_v4().simple());
    let payment = paid(user, Some(&recipient), true).await;
    let app = copy_app().await;
    let launch = vk_launch(user, fixed_now());
    for _ in 0..3 {
        let response = resend_receipt::handle(&app, Event::new("POST", &path(&payment)).vk(&launch).request()).await;
        assert_eq!(response.status(), 202);
    }
    let fourth = resend_receipt::handle(&app, Event::new("POST", &path(&payment)).vk(&launch).request()).await;
    assert_eq!(fourth.status(), 429);
    assert!(body_json(&fourth)["type"].as_str().unwrap().ends_with("/problems/too-many-receipt-copies"));
    // 20 November 15:00 Moscow: nine hours to Moscow midnight.
    assert_eq!(fourth.headers()["retry-after"], "32400");
    let ids = message_ids_to(&recipient).await;
    assert_eq!(ids.len(), 3, "three copies, to the payment's own address");
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 3, "each copy its own Message-ID, so no mail client drops one: {ids:?}");
    assert!(ids.iter().all(|id| id.contains("receipt-copy.")), "{ids:?}");
    assert_eq!(mails_to("bank-copy@example.ru").await, 0, "never to the address the bank printed");
}

#[tokio::test]
async fn given_no_receipt_yet_or_no_email_kept_when_a_copy_is_asked_for_then_409_in_russian() {
    let user = fresh_vk_user();
    let launch = vk_launch(user, fixed_now());
    let app = copy_app().await;
    let waiting = paid(user, Some("payer@example.ru"), false).await;
    let response = resend_receipt::handle(&app, Event::new("POST", &path(&waiting)).vk(&launch).request()).await;
    assert_eq!(response.status(), 409);
    assert!(body_json(&response)["type"].as_str().unwrap().ends_with("/problems/receipt-not-issued"));

    let forgotten = paid(user, None, true).await;
    let response = resend_receipt::handle(&app, Event::new("POST", &path(&forgotten)).vk(&launch).request()).await;
    assert_eq!(response.status(), 409);
    let problem = body_json(&response);
    assert!(problem["type"].as_str().unwrap().ends_with("/problems/receipt-email-removed"));
    assert!(problem["title"].as_str().unwrap().contains("почты"));
    let page = body_json(
        &payment_receipt::handle(&page_app().await, Event::new("GET", &path(&forgotten)).vk(&launch).request()).await,
    );
    assert_eq!(page["canSendCopy"], false);
}

/// The copy endpoint on an instance of its own whose throttle counter answers late, with a
/// budget of one request a minute: whatever it did before the verdict came has happened by then.
async fn copy_app_with_slow_counters() -> resend_receipt::App<DynamoStore, SesMailer> {
    let mut app = copy_app().await;
    app.store = store_with_slow_counters(std::time::Duration::from_millis(800)).await;
    app.edge.limits.user_per_minute = 1;
    app
}

#[tokio::test]
async fn given_a_payer_over_the_minute_budget_when_a_copy_is_asked_for_then_429_and_no_copy_is_counted_or_mailed() {
    let user = fresh_vk_user();
    let recipient = format!("throttled-{}@example.ru", uuid::Uuid::new_v4().simple());
    let payment = paid(user, Some(&recipient), true).await;
    let launch = vk_launch(user, fixed_now());
    let ask = || Event::new("POST", &path(&payment)).vk(&launch).request();

    let first = resend_receipt::handle(&copy_app_with_slow_counters().await, ask()).await;
    let throttled = resend_receipt::handle(&copy_app_with_slow_counters().await, ask()).await;

    assert_eq!(first.status(), 202);
    assert_eq!(throttled.status(), 429);
    assert_eq!(body_json(&throttled)["budget"], "user-per-minute");
    assert_eq!(mails_to(&recipient).await, 1, "the throttled request mailed nothing");
    let next = store().await.count_copy(&payment.id, moscow_date(fixed_now()), COPIES_PER_DAY).await.unwrap();
    assert_eq!(next, CopyCounted::Counted { nth: 2 }, "the throttled request used up no copy");
}
