//! The payment state machine: what one acquirer notification does to a payment, and whether money
//! moves. The only place this is decided; the callback and the reconciliation both apply it.
//!
//! - `AUTHORIZED` records progress, no money;
//! - `CONFIRMED` is the only "paid" signal: it credits the account once, and only when the amount
//!   is what we asked;
//! - `REJECTED`, `AUTH_FAIL`, `CANCELED`, `DEADLINE_EXPIRED` (and a reversal before capture) end
//!   the payment without money;
//! - refunds and reversals after capture take the refunded amount off the balance once;
//! - nothing ever moves a payment backwards: a late `AUTHORIZED` after `CONFIRMED` changes nothing.

use super::Money;
use super::payment::PaymentStatus;

/// An acquirer status, reduced to what matters for the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquirerEvent {
    /// Steps before authorisation (`FORM_SHOWED`, `3DS_CHECKING`, …): nothing to record.
    InProgress,
    Authorized,
    /// Money captured, for `amount`.
    Confirmed {
        amount: Money,
    },
    /// Declined, 3-D Secure failed, cancelled before capture, expired.
    Failed,
    /// Money given back; `remaining` is what the payment still holds (0 when all went back).
    Refunded {
        remaining: Money,
    },
}

/// What applying an event means. Money moves only in `Credit` and `Refund`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Already there, or a step backwards: nothing changes (a duplicate or a late notification).
    Unchanged,
    /// A status change without money.
    Progress(PaymentStatus),
    /// The account gains `amount`; the payment becomes `Paid`.
    Credit { amount: Money },
    /// The account loses `amount` (more of the payment was given back); `total_refunded` is the
    /// payment's refunded sum afterwards.
    Refund { amount: Money, total_refunded: Money, status: PaymentStatus },
    /// The bank reports capturing a different amount than we asked: credit nothing, record it.
    AmountMismatch { expected: Money, reported: Money },
    /// The event contradicts the payment's history (e.g. a refund of a payment never captured):
    /// nothing changes, it is recorded as an anomaly.
    Anomaly(&'static str),
}

/// `status` and `refunded` are the payment's current state; `amount` what we asked.
pub fn apply(status: PaymentStatus, amount: Money, refunded: Money, event: AcquirerEvent) -> Transition {
    use PaymentStatus as S;
    match event {
        AcquirerEvent::InProgress => Transition::Unchanged,
        AcquirerEvent::Authorized => match status {
            S::New => Transition::Progress(S::Authorized),
            _ => Transition::Unchanged,
        },
        AcquirerEvent::Confirmed { amount: reported } => match status {
            S::New | S::Authorized if reported != amount => Transition::AmountMismatch { expected: amount, reported },
            S::New | S::Authorized => Transition::Credit { amount },
            // A capture after a failure would be money we never credited: never ignore it.
            S::Failed => Transition::Anomaly("confirmed after failure"),
            S::Paid | S::PartiallyRefunded | S::Refunded => Transition::Unchanged,
        },
        AcquirerEvent::Failed => match status {
            S::New | S::Authorized => Transition::Progress(S::Failed),
            _ => Transition::Unchanged,
        },
        AcquirerEvent::Refunded { remaining } => {
            if !status.was_credited() {
                return match status {
                    // A reversal of an authorisation that was never captured: no money moved.
                    S::New | S::Authorized if !remaining.is_positive() => Transition::Progress(S::Failed),
                    _ => Transition::Anomaly("refund of a payment never credited"),
                };
            }
            if remaining.is_negative() || remaining > amount {
                return Transition::Anomaly("refund leaves an impossible remainder");
            }
            let total_refunded = amount - remaining;
            if total_refunded <= refunded {
                // Already applied (or an older, smaller refund arriving late).
                return Transition::Unchanged;
            }
            let status = if remaining.is_positive() { S::PartiallyRefunded } else { S::Refunded };
            Transition::Refund { amount: total_refunded - refunded, total_refunded, status }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus as S;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    const ZERO: Money = Money::ZERO;

    #[test]
    fn authorized_records_progress_without_money_and_never_downgrades() {
        assert_eq!(apply(S::New, m("100"), ZERO, AcquirerEvent::Authorized), Transition::Progress(S::Authorized));
        for later in [S::Authorized, S::Paid, S::Failed, S::Refunded] {
            assert_eq!(apply(later, m("100"), ZERO, AcquirerEvent::Authorized), Transition::Unchanged, "{later:?}");
        }
    }

    #[test]
    fn confirmed_credits_once_and_only_the_amount_asked() {
        let confirmed = AcquirerEvent::Confirmed { amount: m("1520.37") };
        assert_eq!(apply(S::New, m("1520.37"), ZERO, confirmed), Transition::Credit { amount: m("1520.37") });
        assert_eq!(apply(S::Authorized, m("1520.37"), ZERO, confirmed), Transition::Credit { amount: m("1520.37") });
        assert_eq!(apply(S::Paid, m("1520.37"), ZERO, confirmed), Transition::Unchanged, "a duplicate");
        assert_eq!(
            apply(S::Authorized, m("1520.37"), ZERO, AcquirerEvent::Confirmed { amount: m("1520.36") }),
            Transition::AmountMismatch { expected: m("1520.37"), reported: m("1520.36") }
        );
        assert!(matches!(
            apply(S::Failed, m("1"), ZERO, AcquirerEvent::Confirmed { amount: m("1") }),
            Transition::Anomaly(_)
        ));
    }

    #[test]
    fn failures_end_pending_payments_only() {
        assert_eq!(apply(S::New, m("1"), ZERO, AcquirerEvent::Failed), Transition::Progress(S::Failed));
        assert_eq!(apply(S::Authorized, m("1"), ZERO, AcquirerEvent::Failed), Transition::Progress(S::Failed));
        assert_eq!(apply(S::Paid, m("1"), ZERO, AcquirerEvent::Failed), Transition::Unchanged);
    }

    #[test]
    fn refunds_take_only_the_new_part_off_the_balance() {
        // 1000 paid; 300 given back (700 remain), then all of it.
        let partial = apply(S::Paid, m("1000"), ZERO, AcquirerEvent::Refunded { remaining: m("700") });
        assert_eq!(
            partial,
            Transition::Refund { amount: m("300"), total_refunded: m("300"), status: S::PartiallyRefunded }
        );
        let again = apply(S::PartiallyRefunded, m("1000"), m("300"), AcquirerEvent::Refunded { remaining: m("700") });
        assert_eq!(again, Transition::Unchanged, "the same refund twice");
        let full = apply(S::PartiallyRefunded, m("1000"), m("300"), AcquirerEvent::Refunded { remaining: ZERO });
        assert_eq!(full, Transition::Refund { amount: m("700"), total_refunded: m("1000"), status: S::Refunded });
        let late_partial = apply(S::Refunded, m("1000"), m("1000"), AcquirerEvent::Refunded { remaining: m("700") });
        assert_eq!(late_partial, Transition::Unchanged, "an older refund arriving late");
    }

    #[test]
    fn a_reversal_before_capture_is_a_failure_and_a_refund_of_nothing_an_anomaly() {
        assert_eq!(
            apply(S::Authorized, m("10"), ZERO, AcquirerEvent::Refunded { remaining: ZERO }),
            Transition::Progress(S::Failed)
        );
        assert!(matches!(
            apply(S::Failed, m("10"), ZERO, AcquirerEvent::Refunded { remaining: ZERO }),
            Transition::Anomaly(_)
        ));
        assert!(matches!(
            apply(S::Paid, m("10"), ZERO, AcquirerEvent::Refunded { remaining: m("11") }),
            Transition::Anomaly(_)
        ));
    }
}
