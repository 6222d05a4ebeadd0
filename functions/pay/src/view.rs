//! The status answer of the pay function (the `201` is `app::payment_registration::PaymentCreated`): camelCase, money as decimal strings, the account masked.

use chrono::{DateTime, Utc};
use energosbyt::domain::decline_reason::DeclineReason;
use energosbyt::domain::{Money, PayMethod, PaymentStatus};
use energosbyt::ports::PaymentPage;
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
    /// Why the card's bank declined the payment, when it failed and the bank said why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline: Option<DeclineView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclineView {
    pub reason: DeclineReason,
    /// What the page tells the customer.
    pub message: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptView {
    /// The fiscal receipt has arrived (and goes to the customer's email).
    pub available: bool,
}

impl PaymentView {
    pub fn new(page: &PaymentPage) -> Self {
        let payment = &page.payment;
        let declined = page.decline.filter(|_| payment.status == PaymentStatus::Failed);
        Self {
            payment_id: payment.id.to_string(),
            status: payment.status,
            amount: payment.amount,
            account: payment.account.masked(),
            receipt: ReceiptView { available: page.receipt_available },
            method: payment.method,
            expires_at: payment.form_deadline,
            decline: declined.map(|reason| DeclineView { reason, message: reason.message() }),
        }
    }
}
