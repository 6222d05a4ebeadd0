//! The service address and how it is shown to a caller who only knows the account number.
//!
//! The address is personal data (152-FZ) and the 10-digit number space can be enumerated, so the
//! look-up shows only what lets a customer recognise their own account: the town kept, the first
//! character of the house, the rest and the flat hidden behind a fixed number of stars (so not
//! even the length leaks). The street is hidden too: with it a walker of account numbers would
//! narrow an account down to a few houses. The holder's name is never stored.

use serde::{Deserialize, Serialize};

/// The address as the billing system exports it, in parts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// `г. Москва`, `г. Зеленоград`, `пос. Коммунарка`.
    pub town: String,
    /// `ул. Тверская`; absent where houses are numbered by district (Zelenograd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// `д. 7`, `корп. 1125`, `д. 12, стр. 3`.
    pub house: String,
    /// `48`; absent for a private house.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<String>,
}

impl Address {
    /// `г. Зеленоград, корп. 1***, кв. **`.
    pub fn masked(&self) -> String {
        let mut parts = vec![self.town.trim().to_owned(), mask_house(self.house.trim())];
        if self.flat.as_deref().is_some_and(|f| !f.trim().is_empty()) {
            parts.push("кв. **".to_owned());
        }
        parts.join(", ")
    }

    /// The whole address, for the billing system only: never logged, never returned by the API.
    pub fn full(&self) -> String {
        let mut parts = vec![self.town.trim(), self.house.trim()];
        if let Some(street) = self.street.as_deref() {
            parts.insert(1, street.trim());
        }
        let mut text = parts.join(", ");
        if let Some(flat) = self.flat.as_deref() {
            text.push_str(", кв. ");
            text.push_str(flat.trim());
        }
        text
    }
}

impl std::fmt::Debug for Address {
    /// Debug output can reach logs: only the masked form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Address({})", self.masked())
    }
}

/// Keeps the label (`д.`, `корп.`) and the first character of the number: `корп. 1***`.
fn mask_house(house: &str) -> String {
    let first_alnum = house.char_indices().find(|(_, c)| c.is_ascii_digit()).or_else(|| {
        // No digit: a named house. Keep the first letter after a label ending in '.', if any.
        let after_label = house.rfind(". ").map_or(0, |i| i + 2);
        house[after_label..].char_indices().next().map(|(i, c)| (i + after_label, c))
    });
    match first_alnum {
        Some((i, c)) => format!("{}{}***", &house[..i], c),
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(town: &str, street: Option<&str>, house: &str, flat: Option<&str>) -> Address {
        Address { town: town.into(), street: street.map(Into::into), house: house.into(), flat: flat.map(Into::into) }
    }

    #[test]
    fn the_published_example() {
        let a = addr("г. Зеленоград", None, "корп. 1125", Some("48"));
        assert_eq!(a.masked(), "г. Зеленоград, корп. 1***, кв. **");
    }

    #[test]
    fn the_town_kept_the_street_house_and_flat_hidden() {
        let a = addr("г. Москва", Some("ул. Тверская"), "д. 7, стр. 2", Some("315"));
        let masked = a.masked();
        assert_eq!(masked, "г. Москва, д. 7***, кв. **");
        assert!(!masked.contains("Тверская") && !masked.contains("315") && !masked.contains("стр. 2"));
    }

    #[test]
    fn a_private_house_has_no_flat() {
        let a = addr("пос. Внуковское", Some("ул. Лесная"), "д. 15", None);
        assert_eq!(a.masked(), "пос. Внуковское, д. 1***");
    }

    #[test]
    fn the_flat_never_leaks_whatever_its_form() {
        for flat in ["1", "48", "1048", "12А", "кв 5"] {
            let masked = addr("г. Москва", Some("ул. Ленина"), "д. 3", Some(flat)).masked();
            assert!(masked.ends_with("кв. **"), "{masked}");
            assert!(!masked.contains(flat), "{masked}");
        }
    }

    #[test]
    fn a_named_house_keeps_only_its_first_letter() {
        assert_eq!(mask_house("влд. Береговое"), "влд. Б***");
        assert_eq!(mask_house(""), "***");
    }

    #[test]
    fn debug_output_is_masked() {
        let a = addr("г. Москва", Some("ул. Тверская"), "д. 7", Some("15"));
        assert!(!format!("{a:?}").contains("15"));
        assert_eq!(a.full(), "г. Москва, ул. Тверская, д. 7, кв. 15");
    }
}
