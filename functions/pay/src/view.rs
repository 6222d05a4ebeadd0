//! The status answer of the pay function (the `201` is `app::payment_registration::PaymentCreated`): camelCase, money as decimal strings, the account masked.

use chrono::{DateTime, Utc};
use energosbyt::domain::{Money, PayMethod, Payment, PaymentStatus};
use serde::Serialize;

/// `200` to `GET /payments/{id}`: what the returning page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    /// `*****-***-90`: the page is reachable by anyone holding the id, so the number is masked.
    pub account: String,
    pub receipt: ReceiptView,
    /// `card` or `sbp`.
    pub method: PayMethod,
    /// Until when the payment can be paid (the bank's form, or the СБП link): after it, a page
    /// still waiting can tell the customer the time is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptView {
    /// The fiscal receipt has arrived (and goes to the customer's email).
    pub available: bool,
}

impl PaymentView {
    pub fn new(payment: &Payment, receipt_available: bool) -> Self {
        Self {
            payment_id: payment.id.to_string(),
            status: payment.status,
            amount: payment.amount,
            account: payment.account.masked(),
            receipt: ReceiptView { available: receipt_available },
            method: payment.method,
            expires_at: payment.form_deadline,
        }
    }
}
