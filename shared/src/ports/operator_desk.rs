//! The operator's desk: payments the service set aside for a person (an anomaly, a review after
//! the reconciliation's time ran out, a receipt that cannot be composed, an email given up), and
//! what an operator did about each. The store lists them from a sparse index, never by scanning.

use super::StoreError;
use crate::domain::{AccountNumber, Money, PaymentId, PaymentStatus};
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;
use std::str::FromStr;

/// Why a payment needs a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeskKind {
    /// Settlement noted an anomaly (an amount mismatch, a missing account, a refund of nothing, …).
    Anomaly,
    /// Left unsettled past the review time (`NEEDS_REVIEW`).
    Review,
    /// A kept fiscal receipt whose email cannot be composed.
    Receipt,
    /// A customer email the mail service refused for good.
    Email,
}

impl DeskKind {
    pub const ALL: [Self; 4] = [Self::Anomaly, Self::Review, Self::Receipt, Self::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anomaly => "anomaly",
            Self::Review => "review",
            Self::Receipt => "receipt",
            Self::Email => "email",
        }
    }
}

impl fmt::Display for DeskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeskKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("one of anomaly, review, receipt, email; not {s:?}"))
    }
}

/// One payment on the desk, as the list shows it: no email, no card, the account masked by the
/// caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskItem {
    pub payment: PaymentId,
    pub kinds: Vec<DeskKind>,
    /// When it was first set aside.
    pub since: DateTime<Utc>,
    pub account: AccountNumber,
    pub amount: Money,
    pub refunded: Money,
    pub status: PaymentStatus,
}

/// What an operator may do to a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeskActionKind {
    Credit,
    Refund,
    Review,
}

impl DeskActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Refund => "refund",
            Self::Review => "review",
        }
    }
}

/// An operator's action, recorded on the payment: who, when, why, and for a refund how much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskAction {
    pub kind: DeskActionKind,
    pub operator: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// A refund's sum.
    pub amount: Option<Money>,
    /// A refund's: the payment's refunded sum once it is done.
    pub total_refunded: Option<Money>,
}

/// What [`OperatorDesk::record_desk_action`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Written now.
    Written,
    /// An action of that kind was recorded before: it stands, nothing written.
    Earlier(DeskAction),
    NoSuchPayment,
}

pub trait OperatorDesk {
    /// The payments on the desk set aside from `since` to before `until`, oldest first, those of
    /// `kind` only when given.
    fn desk_items(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        kind: Option<DeskKind>,
    ) -> impl Future<Output = Result<Vec<DeskItem>, StoreError>> + Send;

    /// Records `action` on the payment unless one of its kind is there; `leave_desk` takes the
    /// payment off the list in the same write.
    fn record_desk_action(
        &self,
        id: &PaymentId,
        action: &DeskAction,
        leave_desk: bool,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// The action of `kind` recorded on the payment, if any.
    fn desk_action(
        &self,
        id: &PaymentId,
        kind: DeskActionKind,
    ) -> impl Future<Output = Result<Option<DeskAction>, StoreError>> + Send;

    /// Removes `action` (and only it: a claim the bank refused outright).
    fn withdraw_desk_action(
        &self,
        id: &PaymentId,
        action: &DeskAction,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the payment off the list; nothing else changes.
    fn leave_desk(&self, id: &PaymentId) -> impl Future<Output = Result<(), StoreError>> + Send;
}
