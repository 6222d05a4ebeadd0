//! Customer emails through the SES stand-in (moto): what reaches the customer's mailbox, read back
//! from moto's record of sent raw messages and taken apart as a mail client would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use energosbyt::acquirer::ReceiptNotification;
use energosbyt::config::Env;
use energosbyt::domain::payment::Card;
use energosbyt::domain::{
    AcceptedReadings, MeterId, Money, Payment, PaymentId, PaymentStatus, SellerRequisites, Zone, ZoneSet,
};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{DeliveryError, HandedInReading, MailError, MailFrom, Mailer, PaymentReceived};
use integration_tests::{env, fresh_account_number};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The configured sender, verified (idempotently) so the suite also runs against a fresh moto.
async fn ses_mailer() -> SesMailer {
    env("AWS_ENDPOINT_URL_SES");
    let mailer = SesMailer::from_env(&Env::process()).await.expect("SES_SENDER is set");
    mailer.client().verify_email_identity().email_address(mailer.sender()).send().await.expect("moto is running");
    mailer
}

fn from() -> MailFrom {
    MailFrom::new(&env("SES_SENDER"), "АО «Мосэнергосбыт»").unwrap()
}

/// Each test its own recipient: tests share one moto, and moto keeps every message.
fn fresh_recipient() -> String {
    format!("buyer-{}@example.ru", uuid::Uuid::new_v4().simple())
}

fn payment(email: &str) -> Payment {
    let at = Utc.with_ymd_and_hms(2026, 1, 15, 7, 19, 0).unwrap();
    Payment {
        id: PaymentId::random(),
        account: fresh_account_number(),
        amount: "1500.05".parse().unwrap(),
        email: Some(email.parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::Paid,
        acquirer_payment_id: Some("5974256058".into()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: Some(Card { pan: "220138******0047".into(), brand: energosbyt::domain::CardBrand::Mir }),
        method: energosbyt::domain::PayMethod::Card,
        created_at: at,
        updated_at: at,
    }
}

/// The acquirer's RECEIPT notification for `payment`, as the bank sends it.
fn receipt_notification(payment: &Payment) -> ReceiptNotification {
    serde_json::from_value(json!({
        "TerminalKey": "DemoTerminalKey", "OrderId": payment.id.as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": 5974256058u64, "ErrorCode": "0",
        "Amount": payment.amount.kopecks(), "FiscalNumber": 12, "ShiftNumber": 34,
        "ReceiptDatetime": "2026-01-15T10:21:05+03:00", "FnNumber": "9282000100072197",
        "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
        "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
        "Url": "https://nalog.ru", "SettlePlace": "https://vk.com/app51234567",
        "Receipt": {"Email": payment.email_address(), "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {}", payment.account),
            "Price": payment.amount.kopecks(), "Quantity": 1, "Amount": payment.amount.kopecks(),
            "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service",
            "MeasurementUnit": "шт"}]}
    }))
    .expect("a RECEIPT notification")
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

/// What moto recorded for one recipient: `(message id, source, destinations, raw MIME)`.
async fn sent_to(recipient: &str) -> Vec<(String, String, Vec<String>, String)> {
    let url = format!("{}/moto-api/data.json", env("AWS_ENDPOINT_URL_SES").trim_end_matches('/'));
    let data: Value = reqwest::get(&url).await.unwrap().error_for_status().unwrap().json().await.unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let destinations: Vec<String> =
                m["destinations"].as_array()?.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect();
            destinations.iter().any(|d| d.contains(recipient)).then(|| {
                let text = |field: &str| m[field].as_str().unwrap_or_default().to_owned();
                (text("id"), text("source"), destinations, text("raw_data"))
            })
        })
        .collect()
}

/// One leaf of a MIME message: its headers (names lowercased, folded lines joined) and its
/// decoded body.
struct Part {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 text part")
    }
}

fn split_head(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = entity.split_once("\n\n").unwrap_or((entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

/// The leaves of a message in order, with the content type of every multipart on the way.
fn leaves(entity: &str, multiparts: &mut Vec<String>, out: &mut Vec<Part>) {
    let (headers, body) = split_head(entity);
    let content_type =
        headers.iter().find(|(n, _)| n == "content-type").map_or("text/plain".into(), |(_, v)| v.clone());
    if content_type.starts_with("multipart/") {
        multiparts.push(content_type.clone());
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("a multipart has a boundary")
            .trim_matches('"');
        let delimiter = format!("--{boundary}");
        for chunk in body.split(delimiter.as_str()).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            leaves(chunk.trim_start_matches('\n'), multiparts, out);
        }
    } else {
        let encoding =
            headers.iter().find(|(n, _)| n == "content-transfer-encoding").map(|(_, v)| v.to_ascii_lowercase());
        let body = match encoding.as_deref() {
            Some("base64") => STANDARD.decode(body.split_whitespace().collect::<String>()).expect("valid base64"),
            None | Some("7bit" | "8bit") => body.trim_end_matches('\n').as_bytes().to_vec(),
            Some(other) => panic!("unexpected transfer encoding {other}"),
        };
        out.push(Part { headers, body });
    }
}

struct Received {
    headers: Vec<(String, String)>,
    multiparts: Vec<String>,
    parts: Vec<Part>,
}

impl Received {
    fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let (headers, _) = split_head(&raw);
        let (mut multiparts, mut parts) = (Vec::new(), Vec::new());
        leaves(&raw, &mut multiparts, &mut parts);
        Self { headers, multiparts, parts }
    }

    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name}"))
    }

    /// The Subject with its RFC 2047 encoded words decoded.
    fn subject(&self) -> String {
        self.header("subject")
            .split_whitespace()
            .map(|word| {
                let encoded = word.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")).expect("a B word");
                String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
            })
            .collect()
    }

    fn part(&self, content_type: &str) -> &Part {
        self.parts
            .iter()
            .find(|p| p.header("content-type").is_some_and(|t| t.starts_with(content_type)))
            .unwrap_or_else(|| panic!("no {content_type} part"))
    }
}

#[tokio::test]
async fn the_customer_receives_the_payment_notice() {
    let mailer = Mailer::new(ses_mailer().await, from());
    let recipient = fresh_recipient();
    let payment = payment(&recipient);
    let accepted = AcceptedReadings {
        meter_id: MeterId("M-2".into()),
        values: BTreeMap::from([(Zone::T1, 18_250), (Zone::T2, 7_420)]),
        consumption: BTreeMap::from([(Zone::T1, 20), (Zone::T2, 10)]),
        rollover: false,
    };
    let readings = HandedInReading::of(&accepted, ZoneSet::TwoZone);
    let paid_at = Utc.with_ymd_and_hms(2026, 1, 15, 7, 20, 30).unwrap();

    let id = mailer.send_payment_received(&PaymentReceived { payment: &payment, paid_at, readings: &readings }).await;

    let id = id.expect("sent");
    let sent = sent_to(&recipient).await;
    assert_eq!(sent.len(), 1, "exactly one message to the customer");
    let (moto_id, source, destinations, raw) = &sent[0];
    assert_eq!(moto_id, &id.0);
    assert_eq!(source, &env("SES_SENDER"));
    assert!(destinations.iter().all(|d| d.contains(&recipient)), "{destinations:?}");

    let mail = Received::parse(raw);
    assert_eq!(mail.header("to"), format!("<{recipient}>"));
    assert_eq!(mail.subject(), format!("Оплата электроэнергии получена — л/с {}", payment.account));
    assert_eq!(mail.multiparts.len(), 1);
    assert!(mail.multiparts[0].starts_with("multipart/alternative"));
    let text = mail.part("text/plain").text();
    for expected in ["1\u{a0}500,05\u{a0}₽", "без комиссии", "15.01.2026 10:20", "Мир •••• 0047", "T2 (ночь): 7420"]
    {
        assert!(text.contains(expected), "the text lacks {expected:?}:\n{text}");
    }
    assert!(text.contains(&payment.account.to_string()));
    assert!(mail.part("text/html").text().contains("без комиссии"));
    assert!(!raw.contains("image/png"));
}

#[tokio::test]
async fn the_customer_receives_the_receipt_with_its_qr_code_inline() {
    let mailer = Mailer::new(ses_mailer().await, from());
    let recipient = fresh_recipient();
    let payment = payment(&recipient);
    let receipt = receipt_notification(&payment).fiscal_receipt(&payment, &seller()).unwrap();

    let id = mailer.send_fiscal_receipt(&receipt).await.expect("sent");

    let sent = sent_to(&recipient).await;
    assert_eq!(sent.len(), 1);
    let (moto_id, _, _, raw) = &sent[0];
    assert_eq!(moto_id, &id.0);
    let mail = Received::parse(raw);
    assert_eq!(mail.header("to"), format!("<{recipient}>"));
    assert_eq!(mail.subject(), format!("Кассовый чек от 15.01.2026 — оплата электроэнергии, л/с {}", payment.account));
    assert!(mail.multiparts[0].starts_with("multipart/related"), "{:?}", mail.multiparts);
    assert!(mail.multiparts[1].starts_with("multipart/alternative"), "{:?}", mail.multiparts);

    let qr_text = "t=20260115T102105&s=1500.05&fn=9282000100072197&i=64318&fp=2918241905&n=1";
    let text = mail.part("text/plain").text();
    assert!(text.contains(qr_text), "{text}");
    for expected in ["Кассовый чек", "Приход", "ИНН 7736520080", "ФПД 2918241905", "nalog.gov.ru", "НДС 22 %"]
    {
        assert!(text.contains(expected), "the text lacks {expected:?}:\n{text}");
    }

    let image = mail.part("image/png");
    assert!(image.header("content-disposition").is_some_and(|d| d.starts_with("inline")));
    let cid = image.header("content-id").expect("a Content-ID").trim_matches(['<', '>']);
    let html = mail.part("text/html").text();
    assert!(html.contains(&format!("src=\"cid:{cid}\"")), "the HTML does not show the inline image");
    let reader = png::Decoder::new(image.body.as_slice()).read_info().expect("the image is a PNG");
    let (width, height) = (reader.info().width, reader.info().height);
    assert_eq!(width, height);
    assert!((150..=400).contains(&width), "{width} px");
}

#[tokio::test]
async fn an_unverified_sender_is_rejected_for_good() {
    let verified = ses_mailer().await;
    let stranger = format!("stranger-{}@pay.example.ru", uuid::Uuid::new_v4().simple());
    let unverified = SesMailer::new(verified.client().clone(), stranger.clone());
    let mailer = Mailer::new(unverified, MailFrom::new(&stranger, "Не мы").unwrap());
    let recipient = fresh_recipient();
    let payment = payment(&recipient);
    let paid_at = Utc::now();

    let result = mailer.send_payment_received(&PaymentReceived { payment: &payment, paid_at, readings: &[] }).await;

    let Err(DeliveryError::Mail(MailError::Rejected(why))) = &result else {
        panic!("expected a rejection, got {result:?}")
    };
    assert!(!why.contains('@'), "an address leaked into the error: {why}");
    assert!(!result.unwrap_err().is_retryable());
    assert!(sent_to(&recipient).await.is_empty());
}

#[tokio::test]
async fn a_mail_service_that_cannot_be_reached_is_unavailable_and_worth_retrying() {
    // A port nobody listens on: bound for a moment, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_ses::config::Builder::from(&shared).endpoint_url(format!("http://127.0.0.1:{closed}")).build();
    let mailer = Mailer::new(SesMailer::new(aws_sdk_ses::Client::from_conf(config), env("SES_SENDER")), from());
    let payment = payment(&fresh_recipient());

    let result =
        mailer.send_payment_received(&PaymentReceived { payment: &payment, paid_at: Utc::now(), readings: &[] }).await;

    assert!(matches!(result, Err(DeliveryError::Mail(MailError::Unavailable(_)))), "{result:?}");
    assert!(result.unwrap_err().is_retryable());
}

/// The receipt email of a payment made just before the VAT rise (its `Init` sent 20 %),
/// fiscalised `issued` with `tax` (or no code) in the echoed receipt: the text the customer reads.
async fn receipt_text_at_new_year(issued: &str, tax: Option<&str>) -> String {
    let mailer = Mailer::new(ses_mailer().await, from());
    let recipient = fresh_recipient();
    let mut payment = payment(&recipient);
    payment.created_at = Utc.with_ymd_and_hms(2025, 12, 31, 20, 58, 0).unwrap();
    payment.updated_at = payment.created_at;
    let mut notification = json!({
        "TerminalKey": "DemoTerminalKey", "OrderId": payment.id.as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": 5974256058u64, "ErrorCode": "0",
        "Amount": payment.amount.kopecks(), "FiscalNumber": 12, "ShiftNumber": 34,
        "ReceiptDatetime": issued, "FnNumber": "9282000100072197",
        "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
        "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
        "SettlePlace": "https://vk.com/app51234567",
        "Receipt": {"Email": payment.email_address(), "Taxation": "osn", "Items": [{
            "Name": format!("Оплата электроэнергии, л/с {}", payment.account),
            "Price": payment.amount.kopecks(), "Quantity": 1, "Amount": payment.amount.kopecks(),
            "PaymentMethod": "full_payment", "PaymentObject": "service"}]}
    });
    if let Some(tax) = tax {
        notification["Receipt"]["Items"][0]["Tax"] = json!(tax);
    }
    let notification: ReceiptNotification = serde_json::from_value(notification).unwrap();
    let receipt = notification.fiscal_receipt(&payment, &seller()).unwrap();
    mailer.send_fiscal_receipt(&receipt).await.expect("sent");
    let sent = sent_to(&recipient).await;
    assert_eq!(sent.len(), 1);
    Received::parse(&sent[0].3).part("text/plain").text()
}

#[tokio::test]
async fn given_a_payment_at_new_year_then_the_receipt_email_shows_the_vat_the_register_printed_or_that_of_the_payment_date()
 {
    // 1500.05 × 20/120 = 250.0083… → 250.01; × 22/122 = 270.4959… → 270.50.
    let printed_20_after_midnight = receipt_text_at_new_year("2026-01-01T00:00:05+03:00", Some("vat20")).await;
    assert!(printed_20_after_midnight.contains("НДС 20 %"), "{printed_20_after_midnight}");
    assert!(printed_20_after_midnight.contains("250,01"), "{printed_20_after_midnight}");
    assert!(!printed_20_after_midnight.contains("22 %"));

    let no_code_on_31_december = receipt_text_at_new_year("2025-12-31T23:59:50+03:00", None).await;
    assert!(no_code_on_31_december.contains("НДС 20 %"), "{no_code_on_31_december}");

    // Fiscalised after midnight without a code: the rate the payment's `Init` sent, not the day's.
    let no_code_on_1_january = receipt_text_at_new_year("2026-01-01T00:00:05+03:00", None).await;
    assert!(no_code_on_1_january.contains("НДС 20 %"), "{no_code_on_1_january}");
    assert!(no_code_on_1_january.contains("250,01"), "{no_code_on_1_january}");
    assert!(!no_code_on_1_january.contains("22 %"), "{no_code_on_1_january}");
}
