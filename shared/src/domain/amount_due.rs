//! What an account owes now: one figure per account, whatever order its meters are handed in and
//! paid — `max(0, Σ readings charges not billed yet over all the account's meters − balance)`,
//! the balance signed (`+` credit, `−` debt).
//!
//! A payment moves the balance at once; a month's readings charges become a debt only when the
//! billing system bills the month (its next export, imported: `unbilled_readings`). Until then
//! they stand beside the balance, and what the customer is shown as the balance takes them into
//! account, so paying exactly what is due never shows as an overpayment.

use super::{Balance, Money};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmountDue {
    /// The billing system's balance plus what was paid (less refunds) since its export.
    pub balance: Balance,
    /// «Начислено по показаниям»: the charges of the submissions not billed yet on every meter of
    /// the account.
    pub charged_by_readings: Money,
}

impl AmountDue {
    /// The account's figures with `charges`, one per submission not billed yet.
    pub fn new(balance: Balance, charges: impl IntoIterator<Item = Money>) -> Self {
        Self { balance, charged_by_readings: charges.into_iter().sum() }
    }

    /// «К оплате»: what the mini app offers and the look-up recommends. With nothing handed in it
    /// is the debt; a credit comes off the charges; never below zero.
    pub fn due(&self) -> Money {
        (self.charged_by_readings - self.balance.signed()).max(Money::ZERO)
    }

    /// The balance as it will stand once the month's readings are billed, with the payments made
    /// so far: what the customer is shown as their balance.
    pub fn balance_after_readings(&self) -> Money {
        self.balance.signed() - self.charged_by_readings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn due(balance: &str, charges: &[&str]) -> AmountDue {
        AmountDue::new(Balance::new(m(balance)), charges.iter().map(|c| m(c)))
    }

    #[test]
    fn given_nothing_handed_in_when_asked_then_a_debt_is_due_and_a_credit_or_zero_is_not() {
        assert_eq!(due("-1520.37", &[]).due(), m("1520.37"));
        assert_eq!(due("0", &[]).due(), Money::ZERO);
        assert_eq!(due("250.00", &[]).due(), Money::ZERO);
        assert_eq!(due("250.00", &[]).balance_after_readings(), m("250.00"));
    }

    #[test]
    fn given_two_meters_and_a_debt_when_asked_then_the_debt_is_counted_once() {
        // Debt 100.00, meter 1 charged 400.00, meter 2 charged 250.50: 400.00 + 250.50 + 100.00.
        let figures = due("-100.00", &["400.00", "250.50"]);
        assert_eq!(figures.charged_by_readings, m("650.50"));
        assert_eq!(figures.due(), m("750.50"));
        assert_eq!(figures.balance_after_readings(), m("-750.50"));
    }

    #[test]
    fn given_a_credit_when_charges_exceed_it_then_only_the_rest_is_due() {
        // Credit 250.00 against 300.00 + 700.00.
        assert_eq!(due("250.00", &["300.00", "700.00"]).due(), m("750.00"));
        assert_eq!(due("1000.00", &["300.00", "700.00"]).due(), Money::ZERO);
        assert_eq!(due("1200.00", &["300.00", "700.00"]).balance_after_readings(), m("200.00"));
    }

    #[test]
    fn given_meter_1_paid_first_when_meter_2_is_handed_in_then_its_charge_is_still_due() {
        // Balance 0; meter 1 charged 500.00 and paid; then meter 2 charged 300.00.
        let before = due("0", &["500.00"]);
        assert_eq!(before.due(), m("500.00"));
        let paid = before.balance.credited(before.due());
        assert_eq!(AmountDue::new(paid, [m("500.00"), m("300.00")]).due(), m("300.00"));
    }

    proptest! {
        #[test]
        fn paying_what_is_due_leaves_nothing_due_and_no_overpayment_shown(
            balance in -10_000_000i64..10_000_000,
            charges in proptest::collection::vec(0i64..5_000_000, 0..4),
            order in any::<u64>(),
        ) {
            let charges: Vec<Money> = charges.into_iter().map(Money::from_kopecks).collect();
            let figures = AmountDue::new(Balance::new(Money::from_kopecks(balance)), charges.iter().copied());
            // The meters' order changes nothing.
            let mut shuffled = charges.clone();
            shuffled.rotate_left(usize::try_from(order % 4).unwrap_or(0).min(charges.len()));
            let again = AmountDue::new(figures.balance, shuffled);
            prop_assert_eq!(again.due(), figures.due());

            let after = AmountDue::new(figures.balance.credited(figures.due()), charges.iter().copied());
            prop_assert_eq!(after.due(), Money::ZERO);
            if figures.due().is_positive() {
                // Paid exactly: the balance shown is zero, not a credit.
                prop_assert_eq!(after.balance_after_readings(), Money::ZERO);
            } else {
                prop_assert_eq!(after.balance_after_readings(), figures.balance_after_readings());
            }
        }
    }
}
