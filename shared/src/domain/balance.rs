//! The account's signed balance: `+` is a credit (overpayment), `−` a debt.

use super::Money;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Balance(Money);

impl Balance {
    pub fn new(signed: Money) -> Self {
        Self(signed)
    }

    pub fn signed(&self) -> Money {
        self.0
    }

    /// What the mini app prefills: the debt, or zero when there is none (then the customer types
    /// any amount).
    pub fn recommended_amount(&self) -> Money {
        (-self.0).max(Money::ZERO)
    }

    /// What is left to pay for a charge, taking a credit off it: `max(0, charge − balance)`.
    pub fn amount_to_pay(&self, charge: Money) -> Money {
        (charge - self.0).max(Money::ZERO)
    }

    pub fn credited(&self, amount: Money) -> Self {
        Self(self.0 + amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Balance {
        Balance::new(s.parse().unwrap())
    }

    #[test]
    fn a_debt_is_recommended_a_credit_or_zero_is_not() {
        assert_eq!(b("-1520.37").recommended_amount().to_string(), "1520.37");
        assert_eq!(b("0").recommended_amount(), Money::ZERO);
        assert_eq!(b("250.00").recommended_amount(), Money::ZERO);
    }

    #[test]
    fn a_credit_is_taken_off_a_charge() {
        let charge: Money = "1000.00".parse().unwrap();
        assert_eq!(b("250").amount_to_pay(charge).to_string(), "750.00");
        assert_eq!(b("-100").amount_to_pay(charge).to_string(), "1100.00");
        assert_eq!(b("1500").amount_to_pay(charge), Money::ZERO);
    }

    #[test]
    fn crediting_moves_the_sign_towards_credit() {
        assert_eq!(b("-100").credited("150".parse().unwrap()), b("50"));
    }
}
