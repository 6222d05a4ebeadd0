//! The bank's status, reduced to the event the payment state machine
//! ([`crate::domain::payment_transition`]) understands. The callback (a notification's `Status`)
//! and the reconciliation (`GetState`, `CheckOrder`) both read statuses through here.

use super::PaymentStatus as BankStatus;
use crate::domain::Money;
use crate::domain::payment_transition::AcquirerEvent;

/// Why a status cannot be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnmappedStatus {
    /// A status this code does not know (the bank adds statuses now and then).
    #[error("the acquirer status {0} is not one this service knows")]
    Unknown(String),
    /// `CONFIRMED` or a partial refund without the `Amount` the event needs.
    #[error("the acquirer status {0} came without an amount")]
    MissingAmount(&'static str),
}

/// The event a bank status means for one of our payments.
///
/// `reported` is the `Amount` that came with the status (a notification always has one;
/// `GetState` may not); `paid` is the payment's own amount, what we asked the bank for.
///
/// Refunds: `REFUNDED` and `REVERSED` leave nothing on the payment. For `PARTIAL_REFUNDED` and
/// `PARTIAL_REVERSED` the bank does not document what `Amount` holds; it is read here as the
/// **sum given back so far, in total**, so the payment keeps `paid − Amount`. Under that reading a
/// duplicated or reordered refund notification can never take money off twice: the state machine
/// only ever raises the refunded total. The other possible reading (the sum of the latest refund
/// alone) would make two equal partial refunds indistinguishable from one delivered twice; if the
/// bank turns out to mean that, a second partial refund of an equal or smaller sum is not applied
/// (and is logged as unchanged), which errs towards never debiting a customer twice.
pub fn acquirer_event(
    status: &BankStatus,
    reported: Option<Money>,
    paid: Money,
) -> Result<AcquirerEvent, UnmappedStatus> {
    use BankStatus as B;
    let amount = |name| reported.ok_or(UnmappedStatus::MissingAmount(name));
    Ok(match status {
        B::New
        | B::FormShowed
        | B::Authorizing
        | B::ThreeDsChecking
        | B::ThreeDsChecked
        | B::Confirming
        | B::Refunding
        | B::Reversing => AcquirerEvent::InProgress,
        B::Authorized => AcquirerEvent::Authorized,
        B::Confirmed => AcquirerEvent::Confirmed { amount: amount("CONFIRMED")? },
        B::Rejected | B::AuthFail | B::Canceled | B::DeadlineExpired => AcquirerEvent::Failed,
        B::Refunded | B::Reversed => AcquirerEvent::Refunded { remaining: Money::ZERO },
        B::PartialRefunded => AcquirerEvent::Refunded { remaining: paid - amount("PARTIAL_REFUNDED")? },
        B::PartialReversed => AcquirerEvent::Refunded { remaining: paid - amount("PARTIAL_REVERSED")? },
        B::Other(other) => return Err(UnmappedStatus::Unknown(other.clone())),
    })
}

/// The status can only follow a capture: `REFUNDED`, `PARTIAL_REFUNDED` (money given back after
/// `CONFIRMED`) and `PARTIAL_REVERSED`. Unlike `REVERSED` (an authorisation released before any
/// capture), arriving at a payment we have not credited it means its `CONFIRMED` is still on its
/// way: the event maps to the same [`AcquirerEvent::Refunded`], so only the status tells them apart.
pub fn follows_capture(status: &BankStatus) -> bool {
    status.is_refund()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn steps_before_authorisation_and_transitional_states_record_nothing() {
        for s in
            ["NEW", "FORM_SHOWED", "AUTHORIZING", "3DS_CHECKING", "3DS_CHECKED", "CONFIRMING", "REFUNDING", "REVERSING"]
        {
            assert_eq!(acquirer_event(&BankStatus::parse(s), None, m("10")), Ok(AcquirerEvent::InProgress), "{s}");
        }
    }

    #[test]
    fn confirmed_carries_the_amount_the_bank_captured() {
        assert_eq!(
            acquirer_event(&BankStatus::Confirmed, Some(m("1520.36")), m("1520.37")),
            Ok(AcquirerEvent::Confirmed { amount: m("1520.36") })
        );
        assert_eq!(
            acquirer_event(&BankStatus::Confirmed, None, m("1520.37")),
            Err(UnmappedStatus::MissingAmount("CONFIRMED"))
        );
    }

    #[test]
    fn every_failure_status_is_a_failure() {
        for s in ["REJECTED", "AUTH_FAIL", "CANCELED", "DEADLINE_EXPIRED"] {
            assert_eq!(acquirer_event(&BankStatus::parse(s), Some(m("1")), m("1")), Ok(AcquirerEvent::Failed), "{s}");
        }
    }

    #[test]
    fn a_partial_refund_amount_is_the_total_given_back() {
        // 1000 paid, 300 given back in total: 700 remain on the payment.
        for s in ["PARTIAL_REFUNDED", "PARTIAL_REVERSED"] {
            assert_eq!(
                acquirer_event(&BankStatus::parse(s), Some(m("300")), m("1000")),
                Ok(AcquirerEvent::Refunded { remaining: m("700") }),
                "{s}"
            );
        }
        for s in ["REFUNDED", "REVERSED"] {
            assert_eq!(
                acquirer_event(&BankStatus::parse(s), Some(m("300")), m("1000")),
                Ok(AcquirerEvent::Refunded { remaining: Money::ZERO }),
                "{s}: nothing remains, whatever the amount says"
            );
        }
    }

    #[test]
    fn only_refunds_follow_a_capture_a_reversal_does_not() {
        for s in ["REFUNDED", "PARTIAL_REFUNDED", "PARTIAL_REVERSED"] {
            assert!(follows_capture(&BankStatus::parse(s)), "{s}");
        }
        for s in ["REVERSED", "CANCELED", "AUTHORIZED", "CONFIRMED", "REJECTED"] {
            assert!(!follows_capture(&BankStatus::parse(s)), "{s}");
        }
    }

    #[test]
    fn an_unknown_status_is_not_guessed() {
        assert_eq!(
            acquirer_event(&BankStatus::parse("ON_HOLD"), Some(m("1")), m("1")),
            Err(UnmappedStatus::Unknown("ON_HOLD".into()))
        );
    }
}
