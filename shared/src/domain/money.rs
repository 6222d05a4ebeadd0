//! Money in roubles on `rust_decimal`, exactly two places. Kopecks as integers exist only at the
//! acquirer boundary (`Money::kopecks` / `Money::from_kopecks`).

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

/// An amount of roubles with at most two decimal places. May be negative (a signed balance uses
/// it); amounts a customer pays are checked to be positive where they are accepted.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal number")]
    NotANumber,
    #[error("more than two decimal places")]
    TooManyDecimals,
    #[error("the amount is out of range")]
    OutOfRange,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// From an exact decimal that must already have at most two places.
    pub fn new(amount: Decimal) -> Result<Self, MoneyError> {
        if amount.normalize().scale() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        Ok(Self::rounded(amount))
    }

    /// Rounds half-up (away from zero at .5) to kopecks: the rule for every computed charge.
    pub fn rounded(amount: Decimal) -> Self {
        let mut d = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(2);
        // −0.00 is a real decimal value, but not one to show a customer.
        if d.is_zero() {
            d.set_sign_positive(true);
        }
        Self(d)
    }

    pub fn from_kopecks(kopecks: i64) -> Self {
        Self(Decimal::new(kopecks, 2))
    }

    /// Whole kopecks, for the acquirer (`Amount` in T-Bank's protocol).
    pub fn kopecks(&self) -> i64 {
        let k = self.0 * Decimal::ONE_HUNDRED;
        i64::try_from(k).expect("money fits in i64 kopecks")
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }

    pub fn is_positive(&self) -> bool {
        self.0 > Decimal::ZERO
    }

    pub fn is_negative(&self) -> bool {
        self.0 < Decimal::ZERO
    }

    pub fn abs(&self) -> Self {
        Self(self.0.abs())
    }

    pub fn max(self, other: Self) -> Self {
        if self >= other { self } else { other }
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money::rounded(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money::rounded(self.0 - rhs.0)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money::rounded(-self.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses what a person or a system writes: `1500`, `1500.5`, `1500.50`, `1500,50`. No
    /// exponents, no thousands separators, no currency signs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let body = s.strip_prefix('-').unwrap_or(s);
        let normalised = body.replacen(',', ".", 1);
        let mut parts = normalised.splitn(2, '.');
        let whole = parts.next().unwrap_or_default();
        let frac = parts.next();
        let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || frac.is_some_and(|f| !digits_only(f)) {
            return Err(MoneyError::NotANumber);
        }
        if frac.is_some_and(|f| f.len() > 2) {
            return Err(MoneyError::TooManyDecimals);
        }
        if whole.len() > 15 {
            return Err(MoneyError::OutOfRange);
        }
        let signed = if s.starts_with('-') { format!("-{normalised}") } else { normalised };
        let d = Decimal::from_str(&signed).map_err(|_| MoneyError::NotANumber)?;
        Money::new(d)
    }
}

impl fmt::Display for Money {
    /// Always two places, dot as separator: `1500.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

/// Money travels in JSON as a decimal string (`"1500.00"`), never as a float.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_two_places() {
        assert_eq!(m("1500").to_string(), "1500.00");
        assert_eq!(m("1500.5").to_string(), "1500.50");
        assert_eq!(m("1500,05").to_string(), "1500.05");
        assert_eq!(m("-0.01").to_string(), "-0.01");
        assert_eq!(m(" 7 ").to_string(), "7.00");
    }

    #[test]
    fn refuses_what_is_not_money() {
        for bad in ["", "abc", "1e3", "1.2.3", "1 000", "+5", "--1", ".5", "5.", "NaN", "₽5", "0x10"] {
            assert_eq!(bad.parse::<Money>(), Err(MoneyError::NotANumber), "{bad:?}");
        }
        assert_eq!("1.005".parse::<Money>(), Err(MoneyError::TooManyDecimals));
        assert_eq!("1234567890123456".parse::<Money>(), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn kopecks_are_exact_both_ways() {
        assert_eq!(m("1234.56").kopecks(), 123_456);
        assert_eq!(m("0.10").kopecks(), 10);
        assert_eq!(Money::from_kopecks(19_200), m("192"));
    }

    #[test]
    fn rounding_is_half_up_to_kopecks() {
        assert_eq!(Money::rounded(Decimal::new(12345, 3)), m("12.35"));
        assert_eq!(Money::rounded(Decimal::new(12344, 3)), m("12.34"));
        assert_eq!(Money::rounded(Decimal::new(-12345, 3)), m("-12.35"));
    }

    #[test]
    fn zero_has_no_sign() {
        assert_eq!((-Money::ZERO).to_string(), "0.00");
        assert_eq!(m("-0").to_string(), "0.00");
        assert_eq!((m("5") - m("5")).to_string(), "0.00");
    }

    #[test]
    fn json_is_a_decimal_string() {
        assert_eq!(serde_json::to_string(&m("10.5")).unwrap(), "\"10.50\"");
        assert_eq!(serde_json::from_str::<Money>("\"10.50\"").unwrap(), m("10.5"));
        assert!(serde_json::from_str::<Money>("10.5").is_err());
    }

    proptest! {
        #[test]
        fn kopecks_round_trip(k in -10_000_000_000i64..10_000_000_000i64) {
            let money = Money::from_kopecks(k);
            prop_assert_eq!(money.kopecks(), k);
            prop_assert_eq!(money.to_string().parse::<Money>().unwrap(), money);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<Money>();
        }
    }
}
