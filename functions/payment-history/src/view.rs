//! The answer of `GET /payments`: camelCase, money as decimal strings, the account masked (the
//! list shows which account each payment was for, not its number in full).

use energosbyt::app::payment_history::Cursor;
use energosbyt::domain::{Money, PaymentStatus};
use energosbyt::ports::history::{HistoryPage, PaymentSummary};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub payments: Vec<PaymentLine>,
    /// Give it back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLine {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    /// Given back so far: part of the amount for a partial refund, all of it for a full one.
    pub refunded: Money,
    pub account: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl HistoryView {
    pub fn new(page: &HistoryPage) -> Self {
        Self {
            payments: page.payments.iter().map(PaymentLine::new).collect(),
            next_cursor: page.next.clone().map(|position| Cursor(position).encode()),
        }
    }
}

impl PaymentLine {
    fn new(payment: &PaymentSummary) -> Self {
        Self {
            payment_id: payment.id.to_string(),
            status: payment.status,
            amount: payment.amount,
            refunded: payment.refunded,
            account: payment.account.masked(),
            created_at: payment.created_at,
        }
    }
}
