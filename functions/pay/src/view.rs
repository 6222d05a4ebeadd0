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
        // The bank's decline codes are a card's (3-D Secure, funds on the card, its expiry, its
        // CVC): an СБП payment is declined in the customer's bank app, which says why itself.
        let declined =
            page.decline.filter(|_| payment.status == PaymentStatus::Failed && payment.method == PayMethod::Card);
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

#[cfg(test)]
mod tests {
    use super::*;
    use energosbyt::domain::{Payment, PaymentId};

    fn page(status: PaymentStatus, method: PayMethod) -> PaymentPage {
        let now = Utc::now();
        let payment = Payment {
            id: PaymentId::random(),
            account: "12345-678-90".parse().unwrap(),
            amount: "100.00".parse().unwrap(),
            email: None,
            caller: "vk:1".parse().unwrap(),
            readings_id: None,
            status,
            acquirer_payment_id: None,
            payment_url: None,
            form_deadline: None,
            refunded: Money::ZERO,
            card: None,
            method,
            created_at: now,
            updated_at: now,
        };
        PaymentPage { payment, receipt_available: false, decline: Some(DeclineReason::InsufficientFunds) }
    }

    #[test]
    fn only_a_failed_card_payment_says_why_its_bank_declined_it() {
        let shown = PaymentView::new(&page(PaymentStatus::Failed, PayMethod::Card)).decline;
        assert_eq!(
            shown.map(|d| (d.reason, d.message)),
            Some((DeclineReason::InsufficientFunds, "Недостаточно средств на карте."))
        );
        assert_eq!(PaymentView::new(&page(PaymentStatus::Failed, PayMethod::Sbp)).decline, None, "not a card");
        assert_eq!(PaymentView::new(&page(PaymentStatus::Paid, PayMethod::Card)).decline, None, "paid after all");
    }
}
