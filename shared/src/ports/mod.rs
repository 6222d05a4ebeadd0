//! Narrow ports: one trait per capability a function needs, so the look-up is handed a reader and
//! a request counter, nothing that writes money. Implemented by the DynamoDB store (`store`) and
//! the SES mailer. One file per group of capabilities; this one holds accounts, payments and
//! request counting.

use crate::domain::{Account, AccountNumber, Payment, PaymentId};
use chrono::{DateTime, Utc};
use std::future::Future;

pub mod history;
pub mod idempotency;
pub mod ledger;
pub mod mail;
pub mod operator_desk;
pub mod readings;
pub mod receipt_copies;
pub mod reminders;

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

    /// [`Self::import_account`] for a slice of distinct accounts of one export (at most
    /// `store::IMPORT_BATCH`), in as few requests as the store allows; outcomes in slice order.
    fn import_accounts(
        &self,
        accounts: &[Account],
        exported_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ImportOutcome>, StoreError>> + Send;
}

/// One request to count in a caller's item of the day (see `edge::throttle`): the minute's count
/// and, when the request concerns an account, the day's set of distinct accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally<'a> {
    /// Whose budgets: `accounts#user#vk:494075`, `accounts#ip#198.51.100.7`, …
    pub key: &'a str,
    /// Where the item's day starts (unix seconds); the item expires a day after it ends.
    pub day_start: i64,
    /// The minute the request falls in (unix seconds, inside the day).
    pub minute_start: i64,
    /// How many of the minute's requests to count (reserve) with this one: 1 for the request
    /// itself, more for an instance's lease (`edge::throttle_lease`), 0 to count only the account.
    pub reserve: u64,
    /// The account the request concerns (its digits) and how many distinct accounts the day may
    /// hold.
    pub account: Option<(&'a str, u64)>,
}

/// What counting one request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tallied {
    /// Counted: the requests of the minute so far, this tally's `reserve` included; the day's
    /// distinct accounts, this one's included; whether this one was new to the day.
    Counted { minute: u64, accounts: u64, new_account: bool },
    /// Nothing written: the account is new to the day and the day holds its limit already.
    AccountsFull,
}

pub trait RequestCounter {
    /// Counts one tally in one DynamoDB request, whatever it counts. Items expire by themselves.
    fn tally(&self, tally: &Tally<'_>) -> impl Future<Output = Result<Tallied, StoreError>> + Send;
}

pub trait PaymentReader {
    fn payment(&self, id: &PaymentId) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;

    /// What the payment's page shows of it, in one read. An adapter that keeps no receipts nor
    /// the bank's error codes reports neither.
    fn payment_page(&self, id: &PaymentId) -> impl Future<Output = Result<Option<PaymentPage>, StoreError>> + Send
    where
        Self: Sync,
    {
        async move {
            Ok(self.payment(id).await?.map(|payment| PaymentPage { payment, receipt_available: false, decline: None }))
        }
    }
}

/// A payment as the page the bank sends the customer back to shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PaymentPage {
    pub payment: Payment,
    /// The fiscal receipt has arrived from the acquirer.
    pub receipt_available: bool,
    /// Why the card's bank declined it, when the bank's error code says.
    pub decline: Option<crate::domain::decline_reason::DeclineReason>,
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
