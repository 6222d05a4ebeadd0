//! How many copies of a payment's receipt were sent again on one Moscow day: the customer may ask
//! for a few, never for a stream of emails to whoever paid.

use super::StoreError;
use crate::domain::PaymentId;
use chrono::NaiveDate;
use std::future::Future;

/// What counting one more copy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyCounted {
    /// Counted: this is the day's `nth` copy.
    Counted { nth: u64 },
    /// Nothing written: the day holds its limit already.
    LimitReached,
}

pub trait ReceiptCopies {
    /// Counts one more copy of `payment`'s receipt on `day`, unless `limit` were sent already.
    fn count_copy(
        &self,
        payment: &PaymentId,
        day: NaiveDate,
        limit: u64,
    ) -> impl Future<Output = Result<CopyCounted, StoreError>> + Send;

    /// Gives back a copy counted for a send that did not happen (the mail service was down).
    fn uncount_copy(&self, payment: &PaymentId, day: NaiveDate) -> impl Future<Output = Result<(), StoreError>> + Send;
}
