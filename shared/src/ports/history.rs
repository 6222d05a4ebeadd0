//! A caller's own payments, newest first, a page at a time: what "Мои платежи" lists. The store
//! reads them from an index by the caller who created them, never by scanning.

use super::StoreError;
use crate::domain::{AccountNumber, CallerId, Money, PaymentId, PaymentStatus};
use chrono::{DateTime, Utc};
use std::future::Future;

/// One payment as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSummary {
    pub id: PaymentId,
    pub account: AccountNumber,
    pub amount: Money,
    pub refunded: Money,
    pub status: PaymentStatus,
    pub created_at: DateTime<Utc>,
}

/// Where a page ended: the last payment listed. The next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPosition {
    pub created_at: DateTime<Utc>,
    pub id: PaymentId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub payments: Vec<PaymentSummary>,
    /// Present when more payments may follow.
    pub next: Option<HistoryPosition>,
}

pub trait PaymentHistoryReader {
    /// `caller`'s payments created at or after `since`, newest first, at most `limit`, starting
    /// after `after` when given.
    fn payments_of(
        &self,
        caller: &CallerId,
        since: DateTime<Utc>,
        after: Option<&HistoryPosition>,
        limit: u16,
    ) -> impl Future<Output = Result<HistoryPage, StoreError>> + Send;
}
