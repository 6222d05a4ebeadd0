//! The receipt page's answer: camelCase, money as decimal strings, times in UTC (the page shows
//! them in Moscow time), the requisites' Russian names as the receipt email prints them, and the
//! FNS QR code both as its text and as a PNG data URI.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use energosbyt::app::receipt_copy::PaymentReceipt;
use energosbyt::domain::fiscal_receipt::{payment_method_label, payment_object_label, taxation_label};
use energosbyt::domain::{Money, PaymentStatus};
use energosbyt::mail::QrImageError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPage {
    pub payment_id: String,
    pub status: PaymentStatus,
    /// Given back so far; the refund's own receipt goes by email.
    pub refunded: Money,
    /// `*****-***-90`: the receipt prints the account in full, the page does not need it.
    pub account: String,
    /// Whether a copy can be sent: the payment's email is still kept.
    pub can_send_copy: bool,
    pub document: &'static str,
    pub sign: &'static str,
    pub seller_name: String,
    pub seller_inn: String,
    pub taxation: &'static str,
    pub issued_at: DateTime<Utc>,
    pub shift_number: String,
    pub number_in_shift: String,
    pub items: Vec<ItemLine>,
    pub total: Money,
    pub paid_electronically: Money,
    pub vat: Vec<VatLine>,
    pub fn_number: String,
    pub fd_number: String,
    pub fiscal_sign: String,
    pub kkt_registration_number: String,
    pub ofd: String,
    pub settlement_place: String,
    pub sender_email: String,
    pub qr_text: String,
    pub qr_png: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemLine {
    pub name: String,
    pub quantity: String,
    pub price: Money,
    pub amount: Money,
    pub vat_rate: String,
    pub vat_sum: Money,
    pub payment_method: &'static str,
    pub payment_object: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatLine {
    pub rate: String,
    pub sum: Money,
}

impl ReceiptPage {
    pub fn new(found: &PaymentReceipt) -> Result<Self, QrImageError> {
        let (payment, receipt) = (&found.payment, &found.receipt);
        let qr_text = receipt.fns_qr_text();
        let image = energosbyt::mail::qr::qr_png(&qr_text)?;
        Ok(Self {
            payment_id: payment.id.to_string(),
            status: payment.status,
            refunded: payment.refunded,
            account: payment.account.masked(),
            can_send_copy: payment.email.is_some(),
            document: "Кассовый чек",
            sign: receipt.sign.label(),
            seller_name: receipt.seller_name.clone(),
            seller_inn: receipt.seller_inn.clone(),
            taxation: taxation_label(receipt.taxation),
            issued_at: receipt.issued_at,
            shift_number: receipt.shift_number.clone(),
            number_in_shift: receipt.number_in_shift.clone(),
            items: receipt
                .items
                .iter()
                .map(|item| ItemLine {
                    name: item.name.clone(),
                    quantity: item.quantity.normalize().to_string(),
                    price: item.price,
                    amount: item.amount,
                    vat_rate: item.vat_rate.to_string(),
                    vat_sum: item.vat_sum,
                    payment_method: payment_method_label(item.payment_method),
                    payment_object: payment_object_label(item.payment_object),
                })
                .collect(),
            total: receipt.total,
            paid_electronically: receipt.paid_electronically(),
            vat: receipt.vat_totals().into_iter().map(|(rate, sum)| VatLine { rate: rate.to_string(), sum }).collect(),
            fn_number: receipt.fn_number.clone(),
            fd_number: receipt.fd_number.clone(),
            fiscal_sign: receipt.fiscal_sign.clone(),
            kkt_registration_number: receipt.kkt_registration_number.clone(),
            ofd: receipt.ofd.clone(),
            settlement_place: receipt.settlement_place.clone(),
            sender_email: receipt.sender_email.clone(),
            qr_png: format!("data:image/png;base64,{}", STANDARD.encode(&image.png)),
            qr_text,
        })
    }
}
