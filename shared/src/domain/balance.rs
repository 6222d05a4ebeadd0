//! The account's signed balance: `+` is a credit (overpayment), `−` a debt. What is due against
//! it lives in `amount_due`.

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
    fn crediting_moves_the_sign_towards_credit() {
        assert_eq!(b("-100").credited("150".parse().unwrap()), b("50"));
    }
}
