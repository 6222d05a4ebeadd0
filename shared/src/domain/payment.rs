//! A payment as we keep it: our id is the acquirer's `OrderId`, so a notification finds it in one
//! read.

use super::email::Email;
use super::readings_id::ReadingsId;
use super::{AccountNumber, CallerId, CardBrand, Money, PayMethod};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Our payment id, sent to the acquirer as `OrderId`: 32 hex digits of a random UUID, so a
/// payment cannot be guessed from another one (≤ 36 characters, as the bank requires).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a payment id is 32 lowercase hex digits")]
pub struct PaymentIdError;

impl PaymentId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PaymentId {
    type Err = PaymentIdError;
    fn from_str(s: &str) -> Result<Self, PaymentIdError> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PaymentIdError)
        }
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentId({})", self.0)
    }
}

/// Where a payment stands, as the customer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Written before `Init`; the customer is on (or on the way to) the bank's form.
    New,
    /// The bank authorised the card; no money yet.
    Authorized,
    /// The bank captured the money (`CONFIRMED`) and the account was credited.
    Paid,
    /// Declined, 3-D Secure failed, cancelled or expired: no money moved.
    Failed,
    /// Paid, then part of it given back.
    PartiallyRefunded,
    /// Paid, then all of it given back.
    Refunded,
    /// Left unsettled past the time a payment may wait for the bank (an amount the bank captured
    /// differently, an account that is missing, a status the bank never finished): to be settled
    /// by an operator. Money the bank confirms later for the amount asked is still credited.
    NeedsReview,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Authorized => "AUTHORIZED",
            Self::Paid => "PAID",
            Self::Failed => "FAILED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
            Self::NeedsReview => "NEEDS_REVIEW",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::New,
            Self::Authorized,
            Self::Paid,
            Self::Failed,
            Self::PartiallyRefunded,
            Self::Refunded,
            Self::NeedsReview,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }

    /// Still waiting for the bank: reconciliation looks at these.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::New | Self::Authorized)
    }

    /// The account was credited (and perhaps partly or wholly refunded since).
    pub fn was_credited(self) -> bool {
        matches!(self, Self::Paid | Self::PartiallyRefunded | Self::Refunded)
    }
}

/// The masked card the bank reports (`430000******0777`) and its brand, told once from the PAN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub pan: String,
    pub brand: CardBrand,
}

impl Card {
    /// The card of a masked PAN as the bank reports it; none for an empty one.
    pub fn of_pan(pan: &str) -> Option<Self> {
        let pan = pan.trim();
        (!pan.is_empty()).then(|| Self { pan: pan.to_owned(), brand: CardBrand::of_pan(pan) })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub id: PaymentId,
    pub account: AccountNumber,
    /// Exactly what the customer pays and what is credited: there is no commission.
    pub amount: Money,
    /// Where the success message and the receipt go; never logged. `None` once removed after the
    /// retention period: nothing is sent to it then.
    pub email: Option<Email>,
    /// The verified VK/Facebook user who created it (`vk:494075`): only they may read its status.
    pub caller: CallerId,
    /// A readings submission paid with it ("Оплатить по показаниям").
    pub readings_id: Option<ReadingsId>,
    pub status: PaymentStatus,
    /// The acquirer's `PaymentId`, once `Init` answered.
    pub acquirer_payment_id: Option<String>,
    pub payment_url: Option<String>,
    /// Until when the bank's form may be paid (`RedirectDueDate`), fixed when the payment was
    /// created. None for payments stored before it was kept.
    pub form_deadline: Option<DateTime<Utc>>,
    /// Of the amount, how much has been given back.
    pub refunded: Money,
    /// The masked card the bank reported; none for СБП, whatever the bank sends in its place.
    pub card: Option<Card>,
    /// Card or СБП, as the customer chose. For СБП, `payment_url` holds the СБП payment link.
    pub method: PayMethod,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    /// The customer's address, or "" once it was removed.
    pub fn email_address(&self) -> &str {
        self.email.as_ref().map_or("", Email::expose)
    }
}

/// The paid card payment the unit tests of receipts and emails start from: 1500.05 by the demo
/// customer (account 29614-328-09), order `0f8fad5b…`, the bank's payment 5974256058.
#[cfg(test)]
pub(crate) fn paid_example(amount: &str, at: DateTime<Utc>) -> Payment {
    Payment {
        id: "0f8fad5bd9cb469fa16570867728950e".parse().unwrap(),
        account: "2961432809".parse().unwrap(),
        amount: amount.parse().unwrap(),
        email: Some("ivanov@example.ru".parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::Paid,
        acquirer_payment_id: Some("5974256058".into()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: PayMethod::Card,
        created_at: at,
        updated_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name_and_serialises_as_it() {
        use PaymentStatus as S;
        for status in [S::New, S::Authorized, S::Paid, S::Failed, S::PartiallyRefunded, S::Refunded, S::NeedsReview] {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(S::NeedsReview.as_str(), "NEEDS_REVIEW");
        assert!(!S::NeedsReview.is_pending() && !S::NeedsReview.was_credited());
    }
}
