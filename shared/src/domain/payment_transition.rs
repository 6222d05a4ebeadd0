//! The payment state machine: what one acquirer notification does to a payment, and whether money
//! moves. The only place this is decided; the callback and the reconciliation both apply it.
//!
//! - `AUTHORIZED` records progress, no money;
//! - `CONFIRMED` is the only "paid" signal: it credits the account once, and only when the amount
//!   is what we asked — also after the payment failed, was abandoned or sent for review (the bank
//!   has the money: it is credited, and the late capture is noted for an operator);
//! - `REJECTED`, `AUTH_FAIL`, `CANCELED`, `DEADLINE_EXPIRED` (and a reversal before capture) end
//!   the payment without money;
//! - refunds and reversals after capture take the refunded amount off the balance once, and only
//!   when they are of the attempt that was credited; a partial refund of nothing, of the whole
//!   payment or of more moves nothing and is noted;
//! - a payment still waiting when its time is up goes to an operator (`NEEDS_REVIEW`);
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
    /// A partial refund whose sum given back (`reported`) is not between nothing and the whole
    /// payment: no partial refund of this payment can say that, so it moves no money.
    ImpossiblePartialRefund {
        reported: Money,
    },
    /// The bank gave no final answer within the time a payment may wait (the reconciliation's own
    /// verdict, as abandoning a form nobody paid is).
    Overdue,
}

/// Which of the bank's attempts for our order a status is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt recorded on the payment (the one credited, once it is), or any attempt while
    /// none is recorded.
    Recorded,
    /// Another attempt for the same order.
    Other,
}

impl Attempt {
    /// `recorded` is the payment's acquirer payment id, `reported` the one the status names.
    pub fn of(recorded: Option<&str>, reported: Option<&str>) -> Self {
        match (recorded, reported) {
            (Some(recorded), Some(reported)) if recorded != reported => Self::Other,
            _ => Self::Recorded,
        }
    }
}

/// What applying an event means. Money moves only in `Credit` and `Refund`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Already there, or a step backwards: nothing changes (a duplicate or a late notification).
    Unchanged,
    /// A status change without money.
    Progress(PaymentStatus),
    /// The account gains `amount`; the payment becomes `Paid`. `anomaly` says why an operator
    /// should look at it all the same (a capture after the payment failed or went for review).
    Credit { amount: Money, anomaly: Option<&'static str> },
    /// The account loses `amount` (more of the payment was given back); `total_refunded` is the
    /// payment's refunded sum afterwards.
    Refund { amount: Money, total_refunded: Money, status: PaymentStatus },
    /// The bank reports capturing a different amount than we asked: credit nothing, record it.
    AmountMismatch { expected: Money, reported: Money },
    /// The event contradicts the payment's history (a refund of a payment never credited, a
    /// second capture): nothing changes, it is recorded as an anomaly.
    Anomaly(&'static str),
    /// A status of another attempt that moves no money: nothing changes.
    OtherAttempt,
}

/// The anomaly a partial refund of nothing, of the whole payment or of more is.
pub const IMPOSSIBLE_PARTIAL_REFUND: &str = "partial refund of an impossible amount";

/// `status` and `refunded` are the payment's current state; `amount` what we asked; `attempt`
/// whether the event is about the payment's recorded attempt.
pub fn apply(
    status: PaymentStatus,
    amount: Money,
    refunded: Money,
    event: AcquirerEvent,
    attempt: Attempt,
) -> Transition {
    use PaymentStatus as S;
    let other = attempt == Attempt::Other;
    match event {
        AcquirerEvent::InProgress => Transition::Unchanged,
        AcquirerEvent::Authorized if other => Transition::OtherAttempt,
        AcquirerEvent::Authorized => match status {
            S::New => Transition::Progress(S::Authorized),
            _ => Transition::Unchanged,
        },
        AcquirerEvent::Confirmed { .. } if status.was_credited() => {
            if other {
                // Two captures for one order: the customer paid twice and an operator must refund one.
                Transition::Anomaly("second capture: another attempt confirmed after the credit")
            } else {
                Transition::Unchanged
            }
        }
        // Not credited yet (pending, failed, abandoned or under review): money the bank took is
        // money the account gets, whichever attempt took it.
        AcquirerEvent::Confirmed { amount: reported } if reported != amount => {
            Transition::AmountMismatch { expected: amount, reported }
        }
        AcquirerEvent::Confirmed { .. } => Transition::Credit {
            amount,
            anomaly: match status {
                S::Failed => Some("confirmed after failure"),
                S::NeedsReview => Some("confirmed after review"),
                _ => None,
            },
        },
        AcquirerEvent::Failed if other => Transition::OtherAttempt,
        AcquirerEvent::Failed => match status {
            S::New | S::Authorized => Transition::Progress(S::Failed),
            _ => Transition::Unchanged,
        },
        AcquirerEvent::Refunded { .. } if other => {
            if status.was_credited() {
                // Only the credited attempt's money is on the balance.
                Transition::Anomaly("refund of another attempt")
            } else {
                Transition::OtherAttempt
            }
        }
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
        // Whatever the payment's state: an operator has to learn what the bank did.
        AcquirerEvent::ImpossiblePartialRefund { .. } => Transition::Anomaly(IMPOSSIBLE_PARTIAL_REFUND),
        AcquirerEvent::Overdue => match status {
            S::New | S::Authorized => Transition::Progress(S::NeedsReview),
            _ => Transition::Unchanged,
        },
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
    const OURS: Attempt = Attempt::Recorded;
    const OTHER: Attempt = Attempt::Other;

    #[test]
    fn authorized_records_progress_without_money_and_never_downgrades() {
        assert_eq!(apply(S::New, m("100"), ZERO, AcquirerEvent::Authorized, OURS), Transition::Progress(S::Authorized));
        for later in [S::Authorized, S::Paid, S::Failed, S::Refunded, S::NeedsReview] {
            assert_eq!(
                apply(later, m("100"), ZERO, AcquirerEvent::Authorized, OURS),
                Transition::Unchanged,
                "{later:?}"
            );
        }
    }

    #[test]
    fn confirmed_credits_once_and_only_the_amount_asked() {
        let confirmed = AcquirerEvent::Confirmed { amount: m("1520.37") };
        let credit = Transition::Credit { amount: m("1520.37"), anomaly: None };
        assert_eq!(apply(S::New, m("1520.37"), ZERO, confirmed, OURS), credit);
        assert_eq!(apply(S::Authorized, m("1520.37"), ZERO, confirmed, OURS), credit);
        assert_eq!(apply(S::Paid, m("1520.37"), ZERO, confirmed, OURS), Transition::Unchanged, "a duplicate");
        assert_eq!(
            apply(S::Authorized, m("1520.37"), ZERO, AcquirerEvent::Confirmed { amount: m("1520.36") }, OURS),
            Transition::AmountMismatch { expected: m("1520.37"), reported: m("1520.36") }
        );
    }

    #[test]
    fn money_confirmed_after_a_failure_or_a_review_is_credited_and_noted() {
        let confirmed = AcquirerEvent::Confirmed { amount: m("10") };
        assert_eq!(
            apply(S::Failed, m("10"), ZERO, confirmed, OURS),
            Transition::Credit { amount: m("10"), anomaly: Some("confirmed after failure") }
        );
        assert_eq!(
            apply(S::NeedsReview, m("10"), ZERO, confirmed, OURS),
            Transition::Credit { amount: m("10"), anomaly: Some("confirmed after review") }
        );
        for status in [S::Failed, S::NeedsReview] {
            assert_eq!(
                apply(status, m("10"), ZERO, AcquirerEvent::Confirmed { amount: m("9.99") }, OURS),
                Transition::AmountMismatch { expected: m("10"), reported: m("9.99") },
                "{status:?}: another amount stays a mismatch"
            );
        }
    }

    #[test]
    fn failures_end_pending_payments_only() {
        assert_eq!(apply(S::New, m("1"), ZERO, AcquirerEvent::Failed, OURS), Transition::Progress(S::Failed));
        assert_eq!(apply(S::Authorized, m("1"), ZERO, AcquirerEvent::Failed, OURS), Transition::Progress(S::Failed));
        assert_eq!(apply(S::Paid, m("1"), ZERO, AcquirerEvent::Failed, OURS), Transition::Unchanged);
        assert_eq!(apply(S::NeedsReview, m("1"), ZERO, AcquirerEvent::Failed, OURS), Transition::Unchanged);
    }

    #[test]
    fn refunds_take_only_the_new_part_off_the_balance() {
        // 1000 paid; 300 given back (700 remain), then all of it.
        let partial = apply(S::Paid, m("1000"), ZERO, AcquirerEvent::Refunded { remaining: m("700") }, OURS);
        assert_eq!(
            partial,
            Transition::Refund { amount: m("300"), total_refunded: m("300"), status: S::PartiallyRefunded }
        );
        let again =
            apply(S::PartiallyRefunded, m("1000"), m("300"), AcquirerEvent::Refunded { remaining: m("700") }, OURS);
        assert_eq!(again, Transition::Unchanged, "the same refund twice");
        let full = apply(S::PartiallyRefunded, m("1000"), m("300"), AcquirerEvent::Refunded { remaining: ZERO }, OURS);
        assert_eq!(full, Transition::Refund { amount: m("700"), total_refunded: m("1000"), status: S::Refunded });
        let late_partial =
            apply(S::Refunded, m("1000"), m("1000"), AcquirerEvent::Refunded { remaining: m("700") }, OURS);
        assert_eq!(late_partial, Transition::Unchanged, "an older refund arriving late");
    }

    #[test]
    fn a_reversal_before_capture_is_a_failure_and_a_refund_of_nothing_an_anomaly() {
        assert_eq!(
            apply(S::Authorized, m("10"), ZERO, AcquirerEvent::Refunded { remaining: ZERO }, OURS),
            Transition::Progress(S::Failed)
        );
        for never_credited in [S::Failed, S::NeedsReview] {
            assert!(matches!(
                apply(never_credited, m("10"), ZERO, AcquirerEvent::Refunded { remaining: ZERO }, OURS),
                Transition::Anomaly(_)
            ));
        }
        assert!(matches!(
            apply(S::Paid, m("10"), ZERO, AcquirerEvent::Refunded { remaining: m("11") }, OURS),
            Transition::Anomaly(_)
        ));
    }

    #[test]
    fn a_partial_refund_of_an_impossible_amount_moves_no_money_whatever_the_payment() {
        let impossible = AcquirerEvent::ImpossiblePartialRefund { reported: m("1000") };
        for (status, refunded) in
            [(S::Paid, ZERO), (S::PartiallyRefunded, m("300")), (S::New, ZERO), (S::Refunded, m("1000"))]
        {
            for attempt in [OURS, OTHER] {
                assert_eq!(
                    apply(status, m("1000"), refunded, impossible, attempt),
                    Transition::Anomaly(IMPOSSIBLE_PARTIAL_REFUND),
                    "{status:?} {attempt:?}"
                );
            }
        }
    }

    #[test]
    fn only_the_credited_attempt_moves_money_back() {
        for credited in [S::Paid, S::PartiallyRefunded] {
            for remaining in [ZERO, m("400")] {
                assert_eq!(
                    apply(credited, m("1000"), ZERO, AcquirerEvent::Refunded { remaining }, OTHER),
                    Transition::Anomaly("refund of another attempt"),
                    "{credited:?}, {remaining} remaining"
                );
            }
        }
        // Before any credit another attempt's reversal, decline or authorisation changes nothing.
        for event in [AcquirerEvent::Refunded { remaining: ZERO }, AcquirerEvent::Failed, AcquirerEvent::Authorized] {
            for pending in [S::New, S::Authorized] {
                assert_eq!(apply(pending, m("10"), ZERO, event, OTHER), Transition::OtherAttempt, "{event:?}");
            }
        }
    }

    #[test]
    fn another_attempts_capture_credits_a_pending_payment_and_never_a_credited_one() {
        let confirmed = AcquirerEvent::Confirmed { amount: m("10") };
        assert_eq!(
            apply(S::New, m("10"), ZERO, confirmed, OTHER),
            Transition::Credit { amount: m("10"), anomaly: None }
        );
        for credited in [S::Paid, S::PartiallyRefunded, S::Refunded] {
            assert!(
                matches!(apply(credited, m("10"), ZERO, confirmed, OTHER), Transition::Anomaly(what) if what.starts_with("second capture"))
            );
        }
    }

    #[test]
    fn an_overdue_payment_goes_for_review_only_while_it_waits() {
        for pending in [S::New, S::Authorized] {
            assert_eq!(
                apply(pending, m("1"), ZERO, AcquirerEvent::Overdue, OURS),
                Transition::Progress(S::NeedsReview)
            );
        }
        for settled in [S::Paid, S::Failed, S::Refunded, S::NeedsReview] {
            assert_eq!(apply(settled, m("1"), ZERO, AcquirerEvent::Overdue, OURS), Transition::Unchanged);
        }
    }

    #[test]
    fn an_attempt_is_another_only_when_both_ids_are_known_and_differ() {
        assert_eq!(Attempt::of(Some("1"), Some("1")), Attempt::Recorded);
        assert_eq!(Attempt::of(Some("1"), Some("2")), Attempt::Other);
        assert_eq!(Attempt::of(None, Some("2")), Attempt::Recorded);
        assert_eq!(Attempt::of(Some("1"), None), Attempt::Recorded);
    }
}
