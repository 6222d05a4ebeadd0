//! The bank's status, reduced to the event the payment state machine
//! ([`crate::domain::payment_transition`]) understands. The callback (a notification's `Status`)
//! and the reconciliation (`GetState`, `CheckOrder`) both read statuses through here.

use super::PaymentNotification;
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
    /// A status that moves money, notified with `Success` false or a non-zero `ErrorCode`.
    #[error("the acquirer notified {status} with Success false or error code {error_code:?}")]
    ContradictedByError { status: String, error_code: String },
}

/// The event a signed payment notification means for one of our payments: [`acquirer_event`]
/// of its status and `Amount`, unless the notification contradicts itself. A status that moves
/// money (a capture, a refund) reported with `Success` false or a non-zero `ErrorCode` moves
/// none: the reconciliation's `GetState` settles a capture, an operator the rest (the
/// `UnmappedStatuses` alarm). A failure status carries its error code as it should.
pub fn notified_event(notification: &PaymentNotification, paid: Money) -> Result<AcquirerEvent, UnmappedStatus> {
    let status = &notification.status;
    let reports_error = notification.success == Some(false) || notification.error().is_some();
    if reports_error && (status.is_paid() || status.is_refund()) {
        return Err(UnmappedStatus::ContradictedByError {
            status: status.to_string(),
            error_code: notification.error_code.clone(),
        });
    }
    acquirer_event(status, notification.amount, paid)
}

/// The event a bank status means for one of our payments.
///
/// `reported` is the `Amount` that came with the status, if any; `paid` is the payment's own
/// amount, what we asked the bank for.
///
/// Refunds: `REFUNDED` and `REVERSED` leave nothing on the payment. For `PARTIAL_REFUNDED` and
/// `PARTIAL_REVERSED` the bank does not document what `Amount` holds; it is read here as the
/// **sum given back so far, in total**, so the payment keeps `paid − Amount`. Under that reading a
/// duplicated or reordered refund notification can never take money off twice: the state machine
/// only ever raises the refunded total. The other possible reading (the sum of the latest refund
/// alone) would make two equal partial refunds indistinguishable from one delivered twice; if the
/// bank turns out to mean that, a second partial refund of an equal or smaller sum is not applied
/// (and is logged as unchanged), which errs towards never debiting a customer twice. A partial
/// refund is of more than nothing and less than the payment: any other `Amount` (nothing, all of
/// it, more) is [`AcquirerEvent::ImpossiblePartialRefund`], which moves no money.
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
        B::PartialRefunded => partial_refund(amount("PARTIAL_REFUNDED")?, paid),
        B::PartialReversed => partial_refund(amount("PARTIAL_REVERSED")?, paid),
        B::Other(other) => return Err(UnmappedStatus::Unknown(other.clone())),
    })
}

/// A partial refund that has given back `total` so far, of a payment of `paid`.
fn partial_refund(total: Money, paid: Money) -> AcquirerEvent {
    if total.is_positive() && total < paid {
        AcquirerEvent::Refunded { remaining: paid - total }
    } else {
        AcquirerEvent::ImpossiblePartialRefund { reported: total }
    }
}

/// The status can only follow a capture: `REFUNDED`, `PARTIAL_REFUNDED` (money given back after
/// `CONFIRMED`) and `PARTIAL_REVERSED`. Unlike `REVERSED` (an authorisation released before any
/// capture), arriving at a payment we have not credited it means the bank captured it: its
/// `CONFIRMED` is still on its way, or came and was not credited. The event maps to the same
/// [`AcquirerEvent::Refunded`], so only the status tells them apart.
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

    fn notified(status: &str, success: Option<bool>, error_code: &str, amount: Option<&str>) -> PaymentNotification {
        PaymentNotification {
            terminal_key: "T".into(),
            order_id: "o".into(),
            success,
            status: BankStatus::parse(status),
            payment_id: crate::acquirer::PaymentId::new("1"),
            error_code: error_code.into(),
            amount: amount.map(m),
            card_id: None,
            pan: None,
            exp_date: None,
            rebill_id: None,
            message: None,
            details: None,
        }
    }

    #[test]
    fn a_capture_or_refund_notified_with_an_error_moves_no_money() {
        let paid = m("10");
        for (status, success, code) in [
            ("CONFIRMED", Some(false), "0"),
            ("CONFIRMED", Some(true), "1051"),
            ("CONFIRMED", None, "99"),
            ("REFUNDED", Some(false), "0"),
            ("PARTIAL_REFUNDED", Some(true), "8"),
        ] {
            let event = notified_event(&notified(status, success, code, Some("10")), paid);
            assert_eq!(
                event,
                Err(UnmappedStatus::ContradictedByError { status: status.into(), error_code: code.into() }),
                "{status} {success:?} {code}"
            );
        }
        // As the bank sends them: a capture without error, a failure with its decline code.
        let confirmed = notified("CONFIRMED", Some(true), "0", Some("10"));
        assert_eq!(notified_event(&confirmed, paid), Ok(AcquirerEvent::Confirmed { amount: paid }));
        let without_code = notified("CONFIRMED", None, "", Some("10"));
        assert_eq!(notified_event(&without_code, paid), Ok(AcquirerEvent::Confirmed { amount: paid }));
        let rejected = notified("REJECTED", Some(false), "1051", None);
        assert_eq!(notified_event(&rejected, paid), Ok(AcquirerEvent::Failed));
        let unpriced = notified("CONFIRMED", Some(true), "0", None);
        assert_eq!(notified_event(&unpriced, paid), Err(UnmappedStatus::MissingAmount("CONFIRMED")));
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
    fn a_partial_refund_of_nothing_of_everything_or_of_more_is_impossible() {
        for s in ["PARTIAL_REFUNDED", "PARTIAL_REVERSED"] {
            for reported in ["0", "-0.01", "1000", "1000.01", "5000"] {
                assert_eq!(
                    acquirer_event(&BankStatus::parse(s), Some(m(reported)), m("1000")),
                    Ok(AcquirerEvent::ImpossiblePartialRefund { reported: m(reported) }),
                    "{s} of {reported} on a payment of 1000"
                );
            }
            for (reported, remaining) in [("0.01", "999.99"), ("999.99", "0.01")] {
                assert_eq!(
                    acquirer_event(&BankStatus::parse(s), Some(m(reported)), m("1000")),
                    Ok(AcquirerEvent::Refunded { remaining: m(remaining) }),
                    "{s} of {reported} on a payment of 1000"
                );
            }
            let unpriced = acquirer_event(&BankStatus::parse(s), None, m("1000"));
            assert!(matches!(unpriced, Err(UnmappedStatus::MissingAmount(_))), "{s}");
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
