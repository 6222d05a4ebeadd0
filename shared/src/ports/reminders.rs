//! The readings reminders a VK user asked for: which of their accounts (at most
//! [`MAX_ACCOUNTS`]), and which month's reminder of each kind they were already sent.

use super::StoreError;
use crate::domain::AccountNumber;
use crate::domain::YearMonth;
use crate::domain::reminder_day::ReminderKind;
use std::future::Future;

/// As many accounts as the mini app remembers for a customer.
pub const MAX_ACCOUNTS: usize = 5;

/// One VK user who asked for reminders, with the accounts they asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub vk_user: u64,
    pub accounts: Vec<AccountNumber>,
}

/// What asking for a reminder found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// The account is (now, or already was) among the user's reminders.
    On,
    /// Nothing written: the user has [`MAX_ACCOUNTS`] other accounts reminded already.
    LimitReached,
}

pub trait ReminderSubscriptions {
    /// Adds `account` to `vk_user`'s reminders, unless `limit` other accounts are there already.
    fn subscribe(
        &self,
        vk_user: u64,
        account: &AccountNumber,
        limit: usize,
    ) -> impl Future<Output = Result<Subscribed, StoreError>> + Send;

    /// Removes `account` from `vk_user`'s reminders (nothing to remove is no error); the user's
    /// item goes with the last account.
    fn unsubscribe(&self, vk_user: u64, account: &AccountNumber)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The accounts `vk_user` is reminded of.
    fn reminded_accounts(&self, vk_user: u64) -> impl Future<Output = Result<Vec<AccountNumber>, StoreError>> + Send;

    /// Every user with at least one account to be reminded of.
    fn subscribers(&self) -> impl Future<Output = Result<Vec<Subscriber>, StoreError>> + Send;

    /// Marks `month`'s `kind` reminder as sent to `vk_user`, conditionally: `true` when this call
    /// wrote the mark, `false` when it was there already (sent by an earlier run).
    fn claim_sent(
        &self,
        vk_user: u64,
        month: YearMonth,
        kind: ReminderKind,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes a mark back for a reminder that could not be sent, so a later run sends it.
    fn release_sent(
        &self,
        vk_user: u64,
        month: YearMonth,
        kind: ReminderKind,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
