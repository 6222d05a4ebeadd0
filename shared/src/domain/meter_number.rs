//! Proof of presence: to hand in a meter's readings the customer types the number printed on the
//! meter's case, which the look-up never shows in full (`meter_number_mask`). Knowing the account
//! number is not enough to change someone's readings; standing in front of the meter is.
//!
//! What people type is normalised before it is compared: case, spaces, dashes, dots, slashes and a
//! «№» do not matter, and the Cyrillic letters that look like Latin ones (С, Е, М, Т, …) equal them,
//! since a model name on the case reads the same in either alphabet. The comparison runs in
//! constant time over every candidate meter, so timing says nothing about the real number.

use super::meter::{Meter, MeterRef};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// A meter number as the customer typed it, normalised. Never printed: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TypedMeterNumber(String);

impl TypedMeterNumber {
    /// `None` when nothing of a number is left (empty, only spaces or punctuation).
    pub fn new(typed: &str) -> Option<Self> {
        let normalised = normalise(typed);
        (!normalised.is_empty()).then_some(Self(normalised))
    }
}

impl std::fmt::Debug for TypedMeterNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedMeterNumber(***)")
    }
}

/// Letters and digits only, upper-case, Cyrillic look-alikes folded to Latin.
pub fn normalise(text: &str) -> String {
    text.chars().flat_map(char::to_uppercase).filter(|c| c.is_alphanumeric()).map(fold_look_alike).collect()
}

/// Cyrillic capitals drawn like Latin ones, as they appear in model names (`СЕ101`, `МТ124`).
fn fold_look_alike(c: char) -> char {
    match c {
        'А' => 'A',
        'В' => 'B',
        'Е' | 'Ё' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'У' => 'Y',
        'Х' => 'X',
        other => other,
    }
}

/// The meter of `meters` whose printed number (or whole id, which older clients send) is `typed`,
/// with its reference; only the meter at `only` when the caller named one. Every candidate is
/// compared, a match or not, so the time taken does not depend on which meter (if any) matched.
pub fn proved_meter<'a>(
    meters: &'a [Meter],
    typed: &TypedMeterNumber,
    only: Option<MeterRef>,
) -> Option<(MeterRef, &'a Meter)> {
    let typed = typed.0.as_bytes();
    let mut found: u64 = 0;
    for (reference, meter) in MeterRef::enumerate(meters) {
        if only.is_some_and(|wanted| wanted != reference) {
            continue;
        }
        let printed = normalise(meter.printed_number());
        let id = normalise(&meter.id.0);
        let hit: Choice = printed.as_bytes().ct_eq(typed) | id.as_bytes().ct_eq(typed);
        found.conditional_assign(&u64::from(reference.position()), hit);
    }
    let reference = MeterRef::from_position(u16::try_from(found).ok()?)?;
    Some((reference, reference.of(meters)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter::{MeterId, ZoneSet};

    fn meter(id: &str, serial: Option<&str>) -> Meter {
        serde_json::from_value(serde_json::json!({"id": id, "serial": serial, "zoneSet": "single"})).unwrap()
    }

    fn typed(text: &str) -> TypedMeterNumber {
        TypedMeterNumber::new(text).unwrap()
    }

    #[test]
    fn given_what_people_type_when_normalised_then_case_spaces_dashes_and_the_number_sign_do_not_matter() {
        for text in ["3391024", " 339 1024 ", "339-10-24", "№ 3391024", "№3391024", "339.10.24", "339/1024", "339–1024"]
        {
            assert_eq!(normalise(text), "3391024", "{text:?}");
        }
        assert_eq!(normalise("Меркурий 200 — 3391024"), normalise("МЕРКУРИЙ200-3391024"));
        assert_eq!(normalise("ce101-0457812"), normalise("СЕ101-0457812"), "Latin c, e typed for Cyrillic С, Е");
        assert_eq!(normalise("Нева-МТ124"), "HEBAMT124");
        assert_eq!(TypedMeterNumber::new(" № - "), None);
        assert_eq!(TypedMeterNumber::new(""), None);
    }

    #[test]
    fn given_an_account_with_meters_when_a_number_is_typed_then_only_the_printed_number_or_the_whole_id_proves_it() {
        let meters = [meter("Меркурий201-5520417", None), meter("Нева-МТ124-0873361", Some("0873361"))];
        let (reference, found) = proved_meter(&meters, &typed("0873361"), None).unwrap();
        assert_eq!((reference.position(), &found.id), (2, &MeterId("Нева-МТ124-0873361".into())));
        assert_eq!(proved_meter(&meters, &typed("нева мт124 0873361"), None).unwrap().0.position(), 2);
        assert_eq!(proved_meter(&meters, &typed("меркурий201-5520417"), None).unwrap().0.position(), 1);
        // Without a serial in the import only the whole id is the number: its tail is not.
        assert_eq!(proved_meter(&meters, &typed("5520417"), None), None);
        for wrong in ["0873362", "087336", "08733610", "Нева-МТ124-***361", "0000000", "Нева-МТ124"] {
            assert_eq!(proved_meter(&meters, &typed(wrong), None), None, "{wrong}");
        }
    }

    #[test]
    fn given_a_meter_named_by_its_reference_when_another_meters_number_is_typed_then_nothing_is_proved() {
        let meters = [meter("A-1111111", None), meter("B-2222222", None)];
        let first = MeterRef::from_position(1).unwrap();
        let second = MeterRef::from_position(2).unwrap();
        assert_eq!(proved_meter(&meters, &typed("B-2222222"), Some(first)), None);
        assert_eq!(proved_meter(&meters, &typed("B-2222222"), Some(second)).unwrap().0, second);
        let third = MeterRef::from_position(3).unwrap();
        assert_eq!(proved_meter(&meters, &typed("B-2222222"), Some(third)), None);
        assert_eq!(ZoneSet::Single, meters[0].zone_set);
    }

    #[test]
    fn a_typed_number_is_never_printed() {
        assert_eq!(format!("{:?}", typed("3391024")), "TypedMeterNumber(***)");
    }
}
