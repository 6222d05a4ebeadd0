//! The customer's account number (лицевой счёт): 10 digits, printed `NNNNN-NNN-NN`.

use std::fmt;
use std::str::FromStr;

/// A valid account number, stored as its 10 digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountNumber([u8; 10]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNumberError {
    #[error("an account number has 10 digits, this one has {0}")]
    WrongLength(usize),
    #[error("an account number holds only digits, dashes and spaces")]
    UnexpectedCharacter,
    #[error("the dashes of an account number stand as NNNNN-NNN-NN")]
    MisplacedDash,
}

impl AccountNumber {
    /// The 10 digits, as stored and as sent to the acquirer.
    pub fn digits(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }

    /// A form safe for logs: the last two digits only (`*****-***-90`).
    pub fn masked(&self) -> String {
        format!("*****-***-{}", &self.digits()[8..])
    }
}

impl FromStr for AccountNumber {
    type Err = AccountNumberError;

    /// Accepts `1234567890`, `12345-678-90` and the same with spaces instead of (or around) the
    /// dashes, as people type it from a bill. Dashes are accepted only where the bill prints them.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut digits = [0u8; 10];
        let mut count = 0usize;
        let mut dash_after: Option<usize> = None;
        for ch in input.trim().chars() {
            match ch {
                '0'..='9' => {
                    if count < 10 {
                        digits[count] = ch as u8;
                    }
                    count += 1;
                }
                '-' => {
                    if (count != 5 && count != 8) || dash_after == Some(count) {
                        return Err(AccountNumberError::MisplacedDash);
                    }
                    dash_after = Some(count);
                }
                ' ' | '\u{a0}' => {}
                _ => return Err(AccountNumberError::UnexpectedCharacter),
            }
        }
        if count != 10 {
            return Err(AccountNumberError::WrongLength(count));
        }
        Ok(Self(digits))
    }
}

impl fmt::Display for AccountNumber {
    /// The printed form, `NNNNN-NNN-NN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{}-{}-{}", &d[..5], &d[5..8], &d[8..])
    }
}

impl fmt::Debug for AccountNumber {
    /// Debug output ends up in logs: only the masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNumber({})", self.masked())
    }
}

impl serde::Serialize for AccountNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AccountNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_forms_people_type() {
        for input in ["2961432809", "29614-328-09", "29614 328 09", " 29614 - 328 - 09 ", "2961432809\u{a0}"] {
            let n: AccountNumber = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(n.to_string(), "29614-328-09");
            assert_eq!(n.digits(), "2961432809");
        }
    }

    #[test]
    fn refuses_wrong_length_letters_and_stray_dashes() {
        assert_eq!("123456789".parse::<AccountNumber>(), Err(AccountNumberError::WrongLength(9)));
        assert_eq!("12345678901".parse::<AccountNumber>(), Err(AccountNumberError::WrongLength(11)));
        assert_eq!("".parse::<AccountNumber>(), Err(AccountNumberError::WrongLength(0)));
        assert_eq!("12345-678-9O".parse::<AccountNumber>(), Err(AccountNumberError::UnexpectedCharacter));
        assert_eq!("١٢٣٤٥٦٧٨٩٠".parse::<AccountNumber>(), Err(AccountNumberError::UnexpectedCharacter));
        assert_eq!("1234-5678-90".parse::<AccountNumber>(), Err(AccountNumberError::MisplacedDash));
        assert_eq!("-1234567890".parse::<AccountNumber>(), Err(AccountNumberError::MisplacedDash));
        assert_eq!("12345--678-90".parse::<AccountNumber>(), Err(AccountNumberError::MisplacedDash));
    }

    #[test]
    fn debug_and_masked_forms_hide_the_number() {
        let n: AccountNumber = "2961432809".parse().unwrap();
        assert_eq!(n.masked(), "*****-***-09");
        assert!(!format!("{n:?}").contains("29614"));
    }

    #[test]
    fn serde_round_trip_uses_the_printed_form() {
        let n: AccountNumber = "2961432809".parse().unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"29614-328-09\"");
        assert_eq!(serde_json::from_str::<AccountNumber>("\"2961432809\"").unwrap(), n);
        assert!(serde_json::from_str::<AccountNumber>("\"29614\"").is_err());
    }

    proptest! {
        #[test]
        fn any_ten_digits_round_trip_through_every_printed_form(d in "[0-9]{10}") {
            let n: AccountNumber = d.parse().unwrap();
            prop_assert_eq!(n.digits(), d.as_str());
            prop_assert_eq!(n.to_string().parse::<AccountNumber>().unwrap(), n);
            let spaced = format!("{} {} {}", &d[..5], &d[5..8], &d[8..]);
            prop_assert_eq!(spaced.parse::<AccountNumber>().unwrap(), n);
        }

        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,40}") {
            let _ = s.parse::<AccountNumber>();
        }
    }
}
