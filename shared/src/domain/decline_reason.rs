//! Why a card payment was declined, as the customer can act on it: the acquirer's error codes
//! that name a reason (its published «customer-facing declines»), in Russian. Any other code, or
//! none, names no reason: the page then says only that the payment did not go through.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclineReason {
    /// `101`: the card's bank did not confirm the customer (3-D Secure).
    ThreeDsFailed,
    /// `1051`, `103`, `116`.
    InsufficientFunds,
    /// `1054`.
    CardExpired,
    /// `1082`: the code on the back of the card did not match.
    WrongCvc,
    /// `99`: the card's bank refused without saying why.
    IssuerDeclined,
}

impl DeclineReason {
    /// The reason the acquirer's `ErrorCode` names, if it names one.
    pub fn of_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "101" => Self::ThreeDsFailed,
            "1051" | "103" | "116" => Self::InsufficientFunds,
            "1054" => Self::CardExpired,
            "1082" => Self::WrongCvc,
            "99" => Self::IssuerDeclined,
            _ => return None,
        })
    }

    /// What the payment page tells the customer, and what they can do about it.
    pub fn message(self) -> &'static str {
        match self {
            Self::ThreeDsFailed => "Банк карты не подтвердил платёж: проверка 3-D Secure не пройдена.",
            Self::InsufficientFunds => "Недостаточно средств на карте.",
            Self::CardExpired => "Срок действия карты истёк.",
            Self::WrongCvc => "Неверно введён код CVC/CVV с обратной стороны карты.",
            Self::IssuerDeclined => "Банк, выпустивший карту, отклонил платёж.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_decline_codes_name_their_reasons_and_no_other_code_does() {
        let named = [
            ("101", DeclineReason::ThreeDsFailed),
            ("1051", DeclineReason::InsufficientFunds),
            ("103", DeclineReason::InsufficientFunds),
            ("116", DeclineReason::InsufficientFunds),
            ("1054", DeclineReason::CardExpired),
            ("1082", DeclineReason::WrongCvc),
            ("99", DeclineReason::IssuerDeclined),
        ];
        for (code, reason) in named {
            assert_eq!(DeclineReason::of_code(code), Some(reason), "{code}");
        }
        for code in ["", "0", "9999", "8", "1050", "10510", " 99x"] {
            assert_eq!(DeclineReason::of_code(code), None, "{code:?}");
        }
    }

    #[test]
    fn every_reason_has_its_own_message_and_wire_name() {
        let reasons = [
            DeclineReason::ThreeDsFailed,
            DeclineReason::InsufficientFunds,
            DeclineReason::CardExpired,
            DeclineReason::WrongCvc,
            DeclineReason::IssuerDeclined,
        ];
        let messages: std::collections::BTreeSet<_> = reasons.iter().map(|r| r.message()).collect();
        assert_eq!(messages.len(), reasons.len());
        assert_eq!(serde_json::to_value(DeclineReason::ThreeDsFailed).unwrap(), "three-ds-failed");
        assert_eq!(serde_json::to_value(DeclineReason::WrongCvc).unwrap(), "wrong-cvc");
    }
}
