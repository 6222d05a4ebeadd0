//! Narrow ports: one trait per capability a function needs, so the look-up is handed a reader and
//! a request counter, nothing that writes money. Implemented by the DynamoDB store (`store`) and
//! the SES mailer. One file per group of capabilities; this one holds accounts, payments and
//! request counting.

use crate::domain::{Account, AccountNumber, Payment, PaymentId};
use chrono::{DateTime, Utc};
use std::future::Future;

pub mod idempotency;
pub mod ledger;
pub mod mail;
pub mod readings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the call: transient, our fault, retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item did not decode: a bug or a bad import, never the caller's fault.
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

pub trait AccountReader {
    fn account(&self, number: &AccountNumber) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;
}

/// What an import did with one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Written,
    /// The store already holds this export or a newer one: nothing changed.
    AlreadyCurrent,
}

pub trait AccountImport {
    /// Writes the account as the billing system exported it at `exported_at`, unless the store
    /// holds an export at least as new: importing the same file twice changes nothing the second
    /// time, and an older file never overwrites a newer one.
    fn import_account(
        &self,
        account: &Account,
        exported_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<ImportOutcome, StoreError>> + Send;
}

pub trait RequestCounter {
    /// Counts one request under `key` in the fixed window starting at `window_start` (unix
    /// seconds) and returns the count so far, the new one included. Counters expire by themselves.
    fn count(
        &self,
        key: &str,
        window_start: i64,
        window_secs: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

pub trait PaymentReader {
    fn payment(&self, id: &PaymentId) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;

    /// The payment, and whether its fiscal receipt has arrived from the acquirer, in one read.
    /// An adapter that keeps no receipts reports none.
    fn payment_with_receipt(
        &self,
        id: &PaymentId,
    ) -> impl Future<Output = Result<Option<(Payment, bool)>, StoreError>> + Send
    where
        Self: Sync,
    {
        async move { Ok(self.payment(id).await?.map(|payment| (payment, false))) }
    }
}

/// What the pay function may do to a payment: write it before `Init`, complete it after, or mark
/// it failed when the bank refused it. Crediting is not here: only the callback credits.
pub trait PaymentWriter {
    /// Writes a new payment; fails if the id exists.
    fn create(&self, payment: &Payment) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn record_init(
        &self,
        id: &PaymentId,
        acquirer_payment_id: &str,
        payment_url: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks a still-pending payment failed; a payment that has moved on is left as it is.
    fn mark_failed(
        &self,
        id: &PaymentId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
