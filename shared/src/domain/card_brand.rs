//! The card's brand, told by its first digits: the bank reports only a masked PAN
//! (`220138******0047`, first 6 and last 4 known), and that is enough to name the brand on the
//! customer's emails.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The brands the acquirer accepts, and `Unknown` for anything else (or too few known digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardBrand {
    Mir,
    Visa,
    Mastercard,
    Unknown,
}

impl CardBrand {
    /// The brand of a full or masked PAN. Spaces and dashes between digit groups are ignored; only
    /// the leading digits before the first mask character count.
    pub fn of_pan(pan: &str) -> Self {
        let leading: String = pan
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .take_while(char::is_ascii_digit)
            .collect();
        let prefix = |len: usize| leading.get(..len).and_then(|p| p.parse::<u32>().ok());

        // Mir's 2200–2204 must be tried before Mastercard's 2221–2720: both start with 22.
        if prefix(4).is_some_and(|p| (2200..=2204).contains(&p)) {
            return Self::Mir;
        }
        if prefix(1) == Some(4) {
            return Self::Visa;
        }
        if prefix(2).is_some_and(|p| (51..=55).contains(&p)) || prefix(4).is_some_and(|p| (2221..=2720).contains(&p)) {
            return Self::Mastercard;
        }
        Self::Unknown
    }

    /// The name as a Russian customer reads it on a card or a receipt.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mir => "Мир",
            Self::Visa => "Visa",
            Self::Mastercard => "Mastercard",
            Self::Unknown => "Банковская карта",
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Stored as its name, the form the payment item has always held.
impl Serialize for CardBrand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A name this service never wrote reads as [`CardBrand::Unknown`]: the brand only names the
/// card in an email.
impl<'de> Deserialize<'de> for CardBrand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok([Self::Mir, Self::Visa, Self::Mastercard].into_iter().find(|b| b.name() == name).unwrap_or(Self::Unknown))
    }
}

/// The last four digits of a full or masked PAN, the only part of a card number an email shows.
pub fn last_four(pan: &str) -> Option<&str> {
    let pan = pan.trim();
    let tail = pan.get(pan.len().checked_sub(4)?..)?;
    tail.bytes().all(|b| b.is_ascii_digit()).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mir_is_2200_to_2204_and_wins_over_mastercard() {
        assert_eq!(CardBrand::of_pan("2199999999999999"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("2200000000000000"), CardBrand::Mir);
        assert_eq!(CardBrand::of_pan("2201382000000013"), CardBrand::Mir);
        assert_eq!(CardBrand::of_pan("2204999999999999"), CardBrand::Mir);
        assert_eq!(CardBrand::of_pan("2205000000000000"), CardBrand::Unknown);
        // 19-digit Mir cards exist.
        assert_eq!(CardBrand::of_pan("2200770239097761123"), CardBrand::Mir);
    }

    #[test]
    fn mastercard_is_51_to_55_and_2221_to_2720() {
        assert_eq!(CardBrand::of_pan("5099999999999999"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("5100000000000000"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("5599999999999999"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("5600000000000000"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("2220999999999999"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("2221000000000000"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("2720999999999999"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("2721000000000000"), CardBrand::Unknown);
    }

    #[test]
    fn visa_is_any_4() {
        assert_eq!(CardBrand::of_pan("4000000000000002"), CardBrand::Visa);
        assert_eq!(CardBrand::of_pan("4999999999999999"), CardBrand::Visa);
        assert_eq!(CardBrand::of_pan("3999999999999999"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("6000000000000000"), CardBrand::Unknown);
    }

    #[test]
    fn the_masked_pan_the_bank_sends_is_enough() {
        assert_eq!(CardBrand::of_pan("220138******0047"), CardBrand::Mir);
        assert_eq!(CardBrand::of_pan("430000******0777"), CardBrand::Visa);
        assert_eq!(CardBrand::of_pan("522222******1111"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("272099******0000"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("2201 38** **** 0047"), CardBrand::Mir);
    }

    #[test]
    fn too_few_known_digits_or_no_digits_is_unknown() {
        // "22" alone could be Mir, Mastercard or neither.
        assert_eq!(CardBrand::of_pan("22**************"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("5*"), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan(""), CardBrand::Unknown);
        assert_eq!(CardBrand::of_pan("карта"), CardBrand::Unknown);
        // Two known digits already decide 51–55 and one decides Visa.
        assert_eq!(CardBrand::of_pan("53**************"), CardBrand::Mastercard);
        assert_eq!(CardBrand::of_pan("4***************"), CardBrand::Visa);
    }

    #[test]
    fn names_read_as_on_the_card() {
        assert_eq!(CardBrand::Mir.to_string(), "Мир");
        assert_eq!(CardBrand::Visa.to_string(), "Visa");
        assert_eq!(CardBrand::Mastercard.to_string(), "Mastercard");
        assert_eq!(CardBrand::Unknown.to_string(), "Банковская карта");
    }

    #[test]
    fn only_the_last_four_digits_are_shown() {
        assert_eq!(last_four("220138******0047"), Some("0047"));
        assert_eq!(last_four(" 2201382000000013 "), Some("0013"));
        assert_eq!(last_four("220138******00**"), None);
        assert_eq!(last_four("123"), None);
        assert_eq!(last_four("ёё47"), None);
    }
}
