//! The email templates (`shared/templates/`, compiled into every binary) and what they are given:
//! values already formatted for a Russian reader, so templates only lay them out.

use crate::domain::fiscal_receipt::{
    DOCUMENT_NAME, FNS_SITE, payment_method_label, payment_object_label, taxation_label,
};
use crate::domain::{FiscalReceipt, Money};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Moscow;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Template names: the extension decides escaping (`.html` is HTML-escaped, `.txt` is not).
pub(super) const PAYMENT_RECEIVED_TEXT: &str = "payment_received.txt";
pub(super) const PAYMENT_RECEIVED_HTML: &str = "payment_received.html";
pub(super) const FISCAL_RECEIPT_TEXT: &str = "fiscal_receipt.txt";
pub(super) const FISCAL_RECEIPT_HTML: &str = "fiscal_receipt.html";

const SOURCES: [(&str, &str); 5] = [
    ("layout.html", include_str!("../../templates/layout.html")),
    (PAYMENT_RECEIVED_TEXT, include_str!("../../templates/payment_received.txt")),
    (PAYMENT_RECEIVED_HTML, include_str!("../../templates/payment_received.html")),
    (FISCAL_RECEIPT_TEXT, include_str!("../../templates/fiscal_receipt.txt")),
    (FISCAL_RECEIPT_HTML, include_str!("../../templates/fiscal_receipt.html")),
];

/// Every bundled template, parsed once.
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A value a template names but the view lacks is a bug: fail rather than print nothing.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in SOURCES {
        // The sources are part of the binary and a unit test renders each one: a parse error
        // cannot reach production.
        env.add_template(name, source).expect("a bundled email template parses");
    }
    env
}

/// `1 500,05 ₽`: groups of thousands and the currency sign joined with no-break spaces, a comma
/// before the kopecks.
pub(super) fn rubles(money: Money) -> String {
    let plain = money.abs().to_string();
    let (whole, kopecks) = plain.split_once('.').unwrap_or((&plain, "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 * 2);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    let sign = if money.is_negative() { "−" } else { "" };
    format!("{sign}{grouped},{kopecks}\u{a0}₽")
}

/// `dd.mm.yyyy HH:MM`, Moscow time.
pub(super) fn moscow_time(instant: DateTime<Utc>) -> String {
    instant.with_timezone(&Moscow).format("%d.%m.%Y %H:%M").to_string()
}

#[derive(Serialize)]
pub(super) struct PaymentReceivedView {
    pub seller_name: String,
    pub account: String,
    pub amount: String,
    pub paid_at: String,
    pub payment_id: String,
    pub bank_payment_id: Option<String>,
    /// "СБП (…)" for a СБП payment; none for a card, which the card line names.
    pub pay_method: Option<String>,
    pub card: Option<String>,
    pub readings: Vec<ReadingView>,
}

#[derive(Serialize)]
pub(super) struct ReadingView {
    pub meter: String,
    pub zone: String,
    pub value: u64,
}

#[derive(Serialize)]
pub(super) struct FiscalReceiptView {
    pub document_name: &'static str,
    pub sign: &'static str,
    pub seller_name: String,
    pub seller_inn: String,
    pub taxation: &'static str,
    pub issued_at: String,
    pub shift_number: String,
    pub number_in_shift: String,
    pub items: Vec<FiscalItemView>,
    pub total: String,
    pub paid_electronically: String,
    pub vat_totals: Vec<VatTotalView>,
    pub fn_number: String,
    pub fd_number: String,
    pub fiscal_sign: String,
    pub kkt_registration_number: String,
    pub ofd: String,
    pub fns_site: &'static str,
    pub buyer_email: String,
    pub sender_email: String,
    pub settlement_place: String,
    pub qr_text: String,
    pub qr_cid: String,
    pub qr_size: u32,
}

#[derive(Serialize)]
pub(super) struct FiscalItemView {
    pub name: String,
    pub quantity: String,
    pub price: String,
    pub amount: String,
    pub vat_rate: String,
    pub vat_sum: String,
    pub payment_method: &'static str,
    pub payment_object: &'static str,
}

#[derive(Serialize)]
pub(super) struct VatTotalView {
    pub rate: String,
    pub sum: String,
}

impl FiscalReceiptView {
    pub fn of(receipt: &FiscalReceipt, qr_cid: String, qr_size: u32) -> Self {
        Self {
            document_name: DOCUMENT_NAME,
            sign: receipt.sign.label(),
            seller_name: receipt.seller_name.clone(),
            seller_inn: receipt.seller_inn.clone(),
            taxation: taxation_label(receipt.taxation),
            issued_at: moscow_time(receipt.issued_at),
            shift_number: receipt.shift_number.clone(),
            number_in_shift: receipt.number_in_shift.clone(),
            items: receipt
                .items
                .iter()
                .map(|item| FiscalItemView {
                    name: item.name.clone(),
                    quantity: item.quantity.normalize().to_string(),
                    price: rubles(item.price),
                    amount: rubles(item.amount),
                    vat_rate: item.vat_rate.to_string(),
                    vat_sum: rubles(item.vat_sum),
                    payment_method: payment_method_label(item.payment_method),
                    payment_object: payment_object_label(item.payment_object),
                })
                .collect(),
            total: rubles(receipt.total),
            paid_electronically: rubles(receipt.paid_electronically()),
            vat_totals: receipt
                .vat_totals()
                .into_iter()
                .map(|(rate, sum)| VatTotalView { rate: rate.to_string(), sum: rubles(sum) })
                .collect(),
            fn_number: receipt.fn_number.clone(),
            fd_number: receipt.fd_number.clone(),
            fiscal_sign: receipt.fiscal_sign.clone(),
            kkt_registration_number: receipt.kkt_registration_number.clone(),
            ofd: receipt.ofd.clone(),
            fns_site: FNS_SITE,
            buyer_email: receipt.buyer_email.clone(),
            sender_email: receipt.sender_email.clone(),
            settlement_place: receipt.settlement_place.clone(),
            qr_text: receipt.fns_qr_text(),
            qr_cid,
            qr_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn roubles_read_the_russian_way() {
        let r = |s: &str| rubles(s.parse().unwrap());
        assert_eq!(r("0"), "0,00\u{a0}₽");
        assert_eq!(r("7.5"), "7,50\u{a0}₽");
        assert_eq!(r("999.99"), "999,99\u{a0}₽");
        assert_eq!(r("1000"), "1\u{a0}000,00\u{a0}₽");
        assert_eq!(r("1500.05"), "1\u{a0}500,05\u{a0}₽");
        assert_eq!(r("123456.78"), "123\u{a0}456,78\u{a0}₽");
        assert_eq!(r("1234567"), "1\u{a0}234\u{a0}567,00\u{a0}₽");
        assert_eq!(r("-12.30"), "−12,30\u{a0}₽");
    }

    #[test]
    fn times_are_shown_in_moscow() {
        // 21:30 UTC on 31 December is already 00:30 on 1 January in Moscow.
        let t = Utc.with_ymd_and_hms(2025, 12, 31, 21, 30, 59).unwrap();
        assert_eq!(moscow_time(t), "01.01.2026 00:30");
    }

    #[test]
    fn html_templates_escape_and_text_templates_do_not() {
        let env = environment();
        let view = |name: &str| PaymentReceivedView {
            seller_name: name.into(),
            account: "29614-328-09".into(),
            amount: "1,00".into(),
            paid_at: "01.01.2026 00:30".into(),
            payment_id: "p".into(),
            bank_payment_id: None,
            pay_method: None,
            card: None,
            readings: vec![],
        };
        let html = env.get_template(PAYMENT_RECEIVED_HTML).unwrap().render(view("<b>A&B</b>")).unwrap();
        assert!(
            html.contains("&lt;b&gt;A&amp;B&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;A&amp;B&lt;/b&gt;"),
            "{html}"
        );
        let text = env.get_template(PAYMENT_RECEIVED_TEXT).unwrap().render(view("<b>A&B</b>")).unwrap();
        assert!(text.contains("<b>A&B</b>"), "{text}");
    }
}
