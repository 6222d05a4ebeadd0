use super::*;
use crate::domain::fiscal_receipt::FiscalItem;
use crate::domain::fiscal_receipt::{PaymentMethod, PaymentObject, Taxation};
use crate::domain::payment::Card;
use crate::domain::vat::VatRate;
use crate::domain::{Money, Zone};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeZone;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Mutex;

const PAYMENT_ID: &str = "0f8fad5bd9cb469fa16570867728950e";
const NBSP: char = '\u{a0}';

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn fixed_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 7, 25, 0).unwrap()
}

fn from() -> MailFrom {
    MailFrom::new("noreply@pay.example.ru", "АО «Мосэнергосбыт»").unwrap()
}

fn mailer<S>(sender: S) -> Mailer<S> {
    let mut mailer = Mailer::new(sender, from());
    mailer.clock = fixed_clock;
    mailer
}

fn payment() -> Payment {
    Payment {
        readings_id: Some("2026-11-5f3a9c1e-8e7d6c5b4a39".parse().unwrap()),
        card: Some(Card { pan: "220138******0047".into(), brand: crate::domain::CardBrand::Mir }),
        ..crate::domain::payment::paid_example("1500.05", Utc.with_ymd_and_hms(2026, 1, 15, 7, 19, 0).unwrap())
    }
}

fn readings() -> Vec<HandedInReading> {
    let accepted = AcceptedReadings {
        meter_id: MeterId("M-2".into()),
        values: BTreeMap::from([(Zone::T1, 18_250), (Zone::T2, 7_420)]),
        consumption: BTreeMap::from([(Zone::T1, 20), (Zone::T2, 10)]),
        rollover: false,
    };
    HandedInReading::of(&accepted, ZoneSet::TwoZone)
}

fn paid_at() -> DateTime<Utc> {
    // 10:20:30 in Moscow.
    Utc.with_ymd_and_hms(2026, 1, 15, 7, 20, 30).unwrap()
}

fn receipt() -> FiscalReceipt {
    FiscalReceipt {
        sign: SettlementSign::Income,
        seller_name: "АО «Мосэнергосбыт»".into(),
        seller_inn: "7736520080".into(),
        taxation: Taxation::Osn,
        issued_at: Utc.with_ymd_and_hms(2026, 1, 15, 7, 21, 5).unwrap(),
        shift_number: "34".into(),
        number_in_shift: "12".into(),
        items: vec![FiscalItem {
            name: "Оплата электроэнергии, л/с 29614-328-09".into(),
            quantity: Decimal::ONE,
            price: m("1500.05"),
            amount: m("1500.05"),
            vat_rate: VatRate::TwentyTwo,
            vat_sum: m("270.50"),
            payment_method: PaymentMethod::FullPayment,
            payment_object: PaymentObject::Service,
        }],
        total: m("1500.05"),
        fn_number: "9282000100072197".into(),
        fd_number: "64318".into(),
        fiscal_sign: "2918241905".into(),
        kkt_registration_number: "0000000001047231".into(),
        ofd: "ООО «Такском»".into(),
        buyer_email: "ivanov@example.ru".into(),
        sender_email: "noreply@pay.example.ru".into(),
        settlement_place: "https://vk.com/app51234567".into(),
        account: "2961432809".parse().unwrap(),
        payment_id: PAYMENT_ID.parse().unwrap(),
    }
}

/// The HTML as a reader sees it: minijinja escapes `/` and quotes too.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The raw message's header block, continuation lines unfolded.
fn headers(raw: &[u8]) -> String {
    let text = String::from_utf8(raw.to_vec()).expect("the MIME message is ASCII");
    let head = text.split("\r\n\r\n").next().unwrap().to_owned();
    head.replace("\r\n\t", " ").replace("\r\n ", " ")
}

fn header(raw: &[u8], name: &str) -> String {
    let prefix = format!("{name}: ");
    headers(raw)
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// RFC 2047 `B` encoded words, as mail-builder writes non-ASCII headers.
fn decode_words(value: &str) -> String {
    value
        .split_whitespace()
        .map(|word| {
            let encoded = word.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap_or_else(|| {
                panic!("not a B encoded word: {word}");
            });
            String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn the_payment_notice_says_what_was_paid_when_and_how() {
    let readings = readings();
    let mail = mailer(());
    let notice = PaymentReceived { payment: &payment(), paid_at: paid_at(), readings: &readings };
    let composed = mail.compose_payment_received(&notice).unwrap();

    assert_eq!(composed.subject, "Оплата электроэнергии получена — л/с 29614-328-09");
    assert_eq!(composed.to, "ivanov@example.ru");
    for (part, body) in [("text", composed.text.clone()), ("html", unescaped(&composed.html))] {
        for expected in [
            format!("1{NBSP}500,05{NBSP}₽"),
            "29614-328-09".into(),
            "15.01.2026 10:20".into(),
            PAYMENT_ID.into(),
            "5974256058".into(),
            "Мир •••• 0047".into(),
            "без комиссии".into(),
            "Счётчик".into(),
            "M-2, T1 (день)".into(),
            "18250 кВт·ч".into(),
            "M-2, T2 (ночь)".into(),
            "7420 кВт·ч".into(),
        ] {
            assert!(body.to_lowercase().contains(&expected.to_lowercase()), "{part} lacks {expected:?}:\n{body}");
        }
        // Only the last four digits of the card.
        assert!(!body.contains("220138"), "{part} shows the card's first digits");
    }
}

#[test]
fn a_plain_payment_has_no_card_or_readings_lines() {
    let mut p = payment();
    p.card = None;
    p.acquirer_payment_id = None;
    let composed = mailer(())
        .compose_payment_received(&PaymentReceived { payment: &p, paid_at: paid_at(), readings: &[] })
        .unwrap();
    for body in [&composed.text, &composed.html] {
        assert!(!body.contains("Карта"), "{body}");
        assert!(!body.contains("показания"), "{body}");
        assert!(!body.contains("Номер операции в банке"), "{body}");
        assert!(body.contains("без комиссии"));
    }
}

#[test]
fn a_payment_by_sbp_names_sbp_and_never_a_card() {
    let mut p = payment();
    p.method = crate::domain::PayMethod::Sbp;
    // Whatever the bank reported in place of a card is not one.
    p.card = Some(Card { pan: "+7 (916) ***-**-12".into(), brand: crate::domain::CardBrand::Unknown });
    let composed = mailer(())
        .compose_payment_received(&PaymentReceived { payment: &p, paid_at: paid_at(), readings: &[] })
        .unwrap();
    for body in [&composed.text, &composed.html] {
        assert!(body.contains("Способ оплаты"), "{body}");
        assert!(body.contains("СБП (Система быстрых платежей)"), "{body}");
        assert!(!body.contains("Карта"), "{body}");
        assert!(!body.contains("***-**-12"), "{body}");
    }
    let by_card = mailer(())
        .compose_payment_received(&PaymentReceived { payment: &payment(), paid_at: paid_at(), readings: &[] })
        .unwrap();
    assert!(!by_card.text.contains("СБП") && by_card.text.contains("Карта"), "{}", by_card.text);
}

#[test]
fn the_payment_notice_is_a_mime_alternative_with_encoded_headers() {
    let notice = PaymentReceived { payment: &payment(), paid_at: paid_at(), readings: &[] };
    let email = mailer(()).render_payment_received(&notice).unwrap();
    let raw = &email.raw_mime;

    assert_eq!(email.to, "ivanov@example.ru");
    assert_eq!(header(raw, "To"), "<ivanov@example.ru>");
    let from = header(raw, "From");
    assert!(from.ends_with("<noreply@pay.example.ru>"), "{from}");
    assert_eq!(decode_words(from.trim_end_matches(" <noreply@pay.example.ru>")), "АО «Мосэнергосбыт»");
    assert!(header(raw, "Subject").starts_with("=?utf-8?B?"));
    assert_eq!(decode_words(&header(raw, "Subject")), email.subject);
    assert_eq!(header(raw, "Message-ID"), format!("<payment-received.{PAYMENT_ID}@pay.example.ru>"));
    assert_eq!(header(raw, "Date"), "Thu, 15 Jan 2026 07:25:00 +0000");
    assert_eq!(header(raw, "MIME-Version"), "1.0");
    assert!(header(raw, "Content-Type").starts_with("multipart/alternative"));
    let text = String::from_utf8_lossy(raw);
    assert!(text.contains("Content-Type: text/plain; charset=\"utf-8\""), "{text}");
    assert!(text.contains("Content-Type: text/html; charset=\"utf-8\""), "{text}");
    assert!(!text.contains("image/png"));
    // The customer's address appears in the To header only, the card never in full.
    assert_eq!(text.matches("ivanov@example.ru").count(), 1);
}

#[test]
fn the_receipt_shows_every_requisite_in_text_and_html() {
    let composed = mailer(()).compose_fiscal_receipt(&receipt()).unwrap();
    assert_eq!(composed.subject, "Кассовый чек от 15.01.2026 — оплата электроэнергии, л/с 29614-328-09");
    let qr_text = "t=20260115T102105&s=1500.05&fn=9282000100072197&i=64318&fp=2918241905&n=1";
    for (part, body) in [("text", composed.text.clone()), ("html", unescaped(&composed.html))] {
        for expected in [
            "Кассовый чек",
            "Приход",
            "АО «Мосэнергосбыт»",
            "ИНН 7736520080",
            "ОСН",
            "15.01.2026 10:21",
            "Смена №",
            "34",
            "Чек за смену №",
            "12",
            "Оплата электроэнергии, л/с 29614-328-09",
            "1 × 1\u{a0}500,05\u{a0}₽",
            "НДС 22 %",
            "270,50\u{a0}₽",
            "Полный расчёт",
            "Услуга",
            "Итого",
            "Безналичными (оплачено электронно)",
            "9282000100072197",
            "64318",
            "ФПД",
            "2918241905",
            "РН ККТ",
            "0000000001047231",
            "ООО «Такском»",
            "nalog.gov.ru",
            "ivanov@example.ru",
            "noreply@pay.example.ru",
            "https://vk.com/app51234567",
        ] {
            assert!(body.to_lowercase().contains(&expected.to_lowercase()), "{part} lacks {expected:?}:\n{body}");
        }
    }
    assert!(composed.text.contains(qr_text), "{}", composed.text);
    let (cid, png) = composed.qr.as_ref().expect("a QR code");
    assert!(composed.html.contains(&format!("src=\"cid:{cid}\"")), "{}", composed.html);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn the_receipt_is_related_alternative_with_the_qr_png_inline() {
    let email = mailer(()).render_fiscal_receipt(&receipt()).unwrap();
    let raw = String::from_utf8(email.raw_mime.clone()).unwrap();

    assert_eq!(decode_words(&header(&email.raw_mime, "Subject")), email.subject);
    assert_eq!(header(&email.raw_mime, "Message-ID"), format!("<receipt.{PAYMENT_ID}.64318@pay.example.ru>"));
    let content_type = header(&email.raw_mime, "Content-Type");
    assert!(content_type.starts_with("multipart/related; type=\"multipart/alternative\""), "{content_type}");

    // related ⊃ (alternative ⊃ text, html), png — in that order.
    let alternative = raw.find("Content-Type: multipart/alternative").expect("an alternative part");
    let text = raw.find("Content-Type: text/plain").unwrap();
    let html = raw.find("Content-Type: text/html").unwrap();
    let image = raw.find("Content-Type: image/png").expect("an image part");
    assert!(alternative < text && text < html && html < image);

    let image_part = &raw[image..];
    let head_end = image_part.find("\r\n\r\n").unwrap();
    let image_head = image_part[..head_end].replace("\r\n\t", " ");
    let cid = format!("fns-qr.{PAYMENT_ID}.64318@pay.example.ru");
    assert!(image_head.contains(&format!("Content-ID: <{cid}>")), "{image_head}");
    assert!(image_head.contains("Content-Disposition: inline; filename=\"qr-chek.png\""), "{image_head}");
    assert!(image_head.contains("Content-Transfer-Encoding: base64"), "{image_head}");

    let body = &image_part[head_end + 4..];
    let encoded: String = body[..body.find("\r\n--").unwrap()].split_whitespace().collect();
    let png_bytes = STANDARD.decode(encoded).unwrap();
    let reader = png::Decoder::new(png_bytes.as_slice()).read_info().expect("a valid PNG");
    let info = reader.info();
    assert_eq!(info.width, info.height);
    assert!((150..=400).contains(&info.width), "{} px", info.width);
}

#[test]
fn a_refund_receipt_says_so() {
    let mut r = receipt();
    r.sign = SettlementSign::IncomeReturn;
    let composed = mailer(()).compose_fiscal_receipt(&r).unwrap();
    assert_eq!(composed.subject, "Кассовый чек от 15.01.2026 — возврат оплаты электроэнергии, л/с 29614-328-09");
    assert!(composed.text.contains("Возврат прихода"));
    assert!(composed.text.contains("&n=2"));
}

#[test]
fn hostile_values_are_escaped_in_html_and_left_alone_in_text() {
    let mut r = receipt();
    r.items[0].name = "<img src=x onerror=alert(1)>".into();
    r.ofd = "<script>alert(\"ofd\")</script>".into();
    r.seller_name = "Рога & Копыта".into();
    r.settlement_place = "https://example.ru/?a=1&b=\"2\"".into();
    let composed = mailer(()).compose_fiscal_receipt(&r).unwrap();

    assert!(!composed.html.contains("<script>"), "{}", composed.html);
    assert!(!composed.html.contains("<img src=x"), "{}", composed.html);
    assert!(composed.html.contains("&lt;script&gt;"), "{}", composed.html);
    assert!(composed.html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", composed.html);
    assert!(composed.html.contains("Рога &amp; Копыта"));
    assert!(composed.html.contains("a=1&amp;b=&quot;2&quot;"), "{}", composed.html);
    assert!(composed.text.contains("<script>alert(\"ofd\")</script>"));
    assert!(composed.text.contains("Рога & Копыта"));

    let mut p = payment();
    p.acquirer_payment_id = Some("<b>1</b>".into());
    let notice =
        mailer(()).compose_payment_received(&PaymentReceived { payment: &p, paid_at: paid_at(), readings: &[] });
    assert!(notice.unwrap().html.contains("&lt;b&gt;1&lt;"));
}

#[test]
fn an_address_that_could_inject_headers_or_is_not_deliverable_is_refused() {
    for bad in [
        "ivanov@example.ru\r\nBcc: all@example.ru",
        "ivanov@example.ru, all@example.ru",
        "Ivanov <ivanov@example.ru>",
        "иванов@пример.рф",
        "ivanov@localhost",
        "ivanov@example.ru.",
        "@example.ru",
        "ivanov",
        "",
    ] {
        // A payment cannot hold such an address at all: it is refused where it is parsed.
        assert!(bad.parse::<crate::domain::email::Email>().is_err(), "{bad:?} was accepted");
        let mut r = receipt();
        r.buyer_email = bad.into();
        assert!(matches!(mailer(()).render_fiscal_receipt(&r), Err(RenderError::InvalidRecipient)), "{bad:?}");
    }
    let mut p = payment();
    p.email = Some("  Ivan.Ivanov+bill@xn--e1afmkfd.xn--p1ai ".parse().unwrap());
    let email = mailer(())
        .render_payment_received(&PaymentReceived { payment: &p, paid_at: paid_at(), readings: &[] })
        .unwrap();
    assert_eq!(email.to, "Ivan.Ivanov+bill@xn--e1afmkfd.xn--p1ai");
}

#[test]
fn the_outgoing_email_debug_output_names_no_one() {
    let email = mailer(()).render_fiscal_receipt(&receipt()).unwrap();
    let debug = format!("{email:?}");
    assert!(!debug.contains("ivanov"), "{debug}");
    assert!(!debug.contains("29614"), "{debug}");
}

/// Records what it was asked to send, and answers as told.
struct RecordingSender {
    sent: Mutex<Vec<OutgoingEmail>>,
    answer: Result<MessageId, MailError>,
}

impl RecordingSender {
    fn answering(answer: Result<MessageId, MailError>) -> Self {
        Self { sent: Mutex::new(Vec::new()), answer }
    }
}

impl MailSender for RecordingSender {
    async fn send(&self, email: &OutgoingEmail) -> Result<MessageId, MailError> {
        self.sent.lock().unwrap().push(email.clone());
        self.answer.clone()
    }
}

#[tokio::test]
async fn sending_hands_the_rendered_message_to_the_sender_and_reports_what_is_worth_retrying() {
    let ok = mailer(RecordingSender::answering(Ok(MessageId("ses-1".into()))));
    let id = ok.send_fiscal_receipt(&receipt()).await.unwrap();
    assert_eq!(id, MessageId("ses-1".into()));
    let sent = ok.sender().sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "ivanov@example.ru");
    assert_eq!(sent[0].subject, ok.render_fiscal_receipt(&receipt()).unwrap().subject);
    assert!(String::from_utf8_lossy(&sent[0].raw_mime).contains("Content-Type: image/png"));

    let down = mailer(RecordingSender::answering(Err(MailError::Unavailable("timed out".into()))));
    let notice = PaymentReceived { payment: &payment(), paid_at: paid_at(), readings: &[] };
    let error = down.send_payment_received(&notice).await.unwrap_err();
    assert!(error.is_retryable());

    let refused = mailer(RecordingSender::answering(Err(MailError::Rejected("MessageRejected".into()))));
    assert!(!refused.send_payment_received(&notice).await.unwrap_err().is_retryable());

    let mut p = payment();
    // Removed after the retention period: nothing to send to.
    p.email = None;
    let error = ok.send_payment_received(&PaymentReceived { payment: &p, paid_at: paid_at(), readings: &[] }).await;
    assert!(matches!(error, Err(DeliveryError::Render(RenderError::InvalidRecipient))));
    assert!(!error.unwrap_err().is_retryable());
    assert_eq!(ok.sender().sent.lock().unwrap().len(), 1, "nothing sent for an unrenderable message");
}

#[test]
fn the_sender_comes_from_the_environment() {
    let env = |sender: &'static str| {
        Env::from_fn(move |name: &str| match name {
            "SES_SENDER" => Some(sender.to_owned()),
            "SELLER_NAME" => Some("АО «Мосэнергосбыт»".to_owned()),
            _ => None,
        })
    };
    assert_eq!(MailFrom::from_env(&env("noreply@pay.example.ru")).unwrap(), from());
    assert!(matches!(
        MailFrom::from_env(&env("Мосэнергосбыт <noreply@pay.example.ru>")),
        Err(ConfigError::Malformed { name: "SES_SENDER", .. })
    ));
    assert_eq!(MailFrom::new("noreply@pay.example.ru\r\nBcc: x@y.ru", "x"), Err(InvalidAddress));
}
