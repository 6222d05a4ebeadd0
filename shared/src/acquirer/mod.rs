//! The acquirer: T-Bank internet acquiring, API v2.
//!
//! - [`token`]: the Token algorithm, once, for our requests and the bank's notifications.
//! - [`PaymentInit`]: the `Init` body for a payment of an account, with its 54-FZ receipt.
//! - [`QrRequest`]: `GetQr`, the СБП link of a payment `Init` created.
//! - [`TbankClient`]: `Init`, `GetQr`, `GetState`, `CheckOrder`, `Cancel` over HTTP, behind the
//!   [`Acquirer`] port.
//! - [`verify_notification`]: a notification checked and typed.
//! - [`acquirer_event`]: a bank status as the event the payment state machine applies.
//!
//! The same client serves the bank's production and test environments and the local sandbox:
//! only the base URL differs.

#[cfg(feature = "adapters")]
mod client;
mod event;
mod messages;
mod notification;
mod payment_init;
mod receipt_report;
mod sbp_qr;
pub mod token;

#[cfg(feature = "adapters")]
pub use client::{SettingsError, TbankClient, TbankSettings};
pub use event::{UnmappedStatus, acquirer_event, follows_capture, notified_event};
pub use messages::{
    CancelRequest, CancelResponse, InitRequest, InitResponse, OrderPayment, OrderState, PayType, PaymentId,
    PaymentMethod, PaymentObject, PaymentState, PaymentStatus, Receipt, ReceiptItem, Taxation,
};
pub use notification::{
    Notification, NotificationError, PaymentNotification, ReceiptEcho, ReceiptNotification, Unreadable,
    verify_notification, without_buyer_contacts,
};
pub use payment_init::{InitError, InitSettings, PaymentInit, VatCodes, refund_receipt};
pub use sbp_qr::{QrDataType, QrRequest, QrResponse, is_usable_link};
pub use token::{TerminalPassword, TokenError};

use std::fmt;
use std::future::Future;

/// What a refusal from the bank means for us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 204 / 205: the Token or the terminal is wrong — our configuration, not the customer.
    Credentials,
    /// 8: the operation is not allowed in the payment's current status.
    WrongStatus,
    /// 20 / 623: the `OrderId` was used before, or its order is already paid. Reconcile with
    /// `CheckOrder`.
    OrderConflict,
    /// 308 / 334: the receipt items do not add up to the amount.
    ReceiptTotal,
    /// 329: the receipt has neither an email nor a phone.
    ReceiptContact,
    /// Any other refusal.
    Other,
}

impl Refusal {
    // Only the HTTP client (feature `adapters`) reads the bank's refusals.
    #[cfg_attr(not(feature = "adapters"), allow(dead_code))]
    fn of(code: &str) -> Self {
        match code {
            "204" | "205" => Self::Credentials,
            "8" => Self::WrongStatus,
            "20" | "623" => Self::OrderConflict,
            "308" | "334" => Self::ReceiptTotal,
            "329" => Self::ReceiptContact,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Credentials => "bad token or terminal",
            Self::WrongStatus => "wrong payment status",
            Self::OrderConflict => "order already used or paid",
            Self::ReceiptTotal => "receipt total differs from the amount",
            Self::ReceiptContact => "receipt without email or phone",
            Self::Other => "refused",
        })
    }
}

/// Why the outcome of a call is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailability {
    Timeout,
    Connection,
    /// The request or the answer broke off in transit.
    Transport,
    /// A 5xx, or a non-2xx answer that is not the bank's JSON.
    HttpStatus(u16),
    /// An answer that is not the bank's JSON, or lacks the fields the method promises.
    Unparsable,
    /// 3, 999, 9999: the bank's own internal errors ("try again later").
    RetryLater {
        code: String,
    },
}

impl fmt::Display for Unavailability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Connection => f.write_str("could not connect"),
            Self::Transport => f.write_str("broke off in transit"),
            Self::HttpStatus(s) => write!(f, "HTTP {s}"),
            Self::Unparsable => f.write_str("an unreadable answer"),
            Self::RetryLater { code } => write!(f, "the bank's internal error {code}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcquirerError {
    /// A definite refusal: the bank answered and did not do it (for `Init`: no payment exists,
    /// the attempt may be marked failed).
    #[error("the acquirer refused ({refusal}): code {code}, {message}")]
    Declined { code: String, message: String, refusal: Refusal },
    /// The outcome is unknown: the bank may or may not have done it. Never treat as a refusal;
    /// reconcile later (`CheckOrder` for a lost `Init`).
    #[error("the acquirer's answer is unknown: {0}")]
    Unavailable(Unavailability),
    /// Our request could not be formed; nothing was sent.
    #[error("the request to the acquirer could not be formed: {0}")]
    InvalidRequest(String),
}

impl AcquirerError {
    /// The call may have taken effect at the bank.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The bank's `ErrorCode`, where it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Declined { code, .. } => Some(code),
            Self::Unavailable(Unavailability::RetryLater { code }) => Some(code),
            _ => None,
        }
    }

    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Declined { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    /// The error for a body with `Success: false`.
    #[cfg_attr(not(feature = "adapters"), allow(dead_code))]
    fn from_failure(code: String, message: String) -> Self {
        match code.as_str() {
            "3" | "999" | "9999" => Self::Unavailable(Unavailability::RetryLater { code }),
            _ => {
                let refusal = Refusal::of(&code);
                Self::Declined { code, message, refusal }
            }
        }
    }
}

/// The port the pay function (and reconciliation) asks for: the acquirer's payment operations.
pub trait Acquirer: Send + Sync {
    /// Creates the payment session; the answer holds the form URL to send the customer to.
    fn init(&self, request: &InitRequest) -> impl Future<Output = Result<InitResponse, AcquirerError>> + Send;

    /// The СБП link (or QR image) of a payment `Init` created. Asking again for the same payment
    /// is harmless: nothing is charged until the customer confirms in their bank's app.
    fn get_qr(&self, request: &QrRequest) -> impl Future<Output = Result<QrResponse, AcquirerError>> + Send;

    /// One payment's current status.
    fn get_state(&self, payment_id: &PaymentId) -> impl Future<Output = Result<PaymentState, AcquirerError>> + Send;

    /// Every attempt for one of our orders: finds a payment whose `Init` answer was lost.
    fn check_order(&self, order_id: &str) -> impl Future<Output = Result<OrderState, AcquirerError>> + Send;

    /// Cancels a new payment or refunds a confirmed one (wholly or in part).
    fn cancel(&self, request: &CancelRequest) -> impl Future<Output = Result<CancelResponse, AcquirerError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_worth_mapping_are_mapped() {
        let e = |code: &str| AcquirerError::from_failure(code.into(), "m".into());
        assert_eq!(e("204").refusal(), Some(Refusal::Credentials));
        assert_eq!(e("205").refusal(), Some(Refusal::Credentials));
        assert_eq!(e("8").refusal(), Some(Refusal::WrongStatus));
        assert_eq!(e("20").refusal(), Some(Refusal::OrderConflict));
        assert_eq!(e("623").refusal(), Some(Refusal::OrderConflict));
        assert_eq!(e("308").refusal(), Some(Refusal::ReceiptTotal));
        assert_eq!(e("334").refusal(), Some(Refusal::ReceiptTotal));
        assert_eq!(e("329").refusal(), Some(Refusal::ReceiptContact));
        assert_eq!(e("1051").refusal(), Some(Refusal::Other));
        for later in ["3", "999", "9999"] {
            assert!(e(later).outcome_unknown(), "{later}");
            assert_eq!(e(later).code(), Some(later));
        }
        assert!(!e("623").outcome_unknown());
    }
}
