//! How a customer pays: by card on the bank's form, or through СБП (the Faster Payments System)
//! from their own bank's app. Chosen in the request, kept with the payment, shown in the emails.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayMethod {
    /// The bank's hosted form: card entry and 3-D Secure happen there.
    #[default]
    Card,
    /// A СБП link (a phone opens the bank app) or its QR code (scanned from a computer's screen).
    Sbp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a payment method is \"card\" or \"sbp\"")]
pub struct PayMethodError;

impl PayMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Sbp => "sbp",
        }
    }

    /// The method as a Russian customer reads it on an email.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Card => "Банковская карта",
            Self::Sbp => "СБП (Система быстрых платежей)",
        }
    }
}

impl std::str::FromStr for PayMethod {
    type Err = PayMethodError;
    fn from_str(s: &str) -> Result<Self, PayMethodError> {
        match s {
            "card" => Ok(Self::Card),
            "sbp" => Ok(Self::Sbp),
            _ => Err(PayMethodError),
        }
    }
}

impl fmt::Display for PayMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_name_and_serialises_as_it() {
        for method in [PayMethod::Card, PayMethod::Sbp] {
            assert_eq!(method.as_str().parse::<PayMethod>(), Ok(method));
            assert_eq!(serde_json::to_value(method).unwrap(), method.as_str());
        }
        assert_eq!(PayMethod::default(), PayMethod::Card);
        assert_eq!("SBP".parse::<PayMethod>(), Err(PayMethodError));
        assert_eq!("".parse::<PayMethod>(), Err(PayMethodError));
    }
}
