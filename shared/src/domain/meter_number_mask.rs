//! How a meter's number is shown to a caller who only knows the account number: enough for the
//! customer to recognise their meter, never enough to hand in readings with (`meter_number`).
//!
//! The model part (`Меркурий200-`) is kept, the serial is hidden behind a fixed `***` (so not even
//! its length leaks) but for its last 3 characters: `Меркурий200-***024`. Whatever is shown, at
//! least 4 letters and digits of every number that proves the meter (the printed number and the
//! whole id) stay hidden; where the model part or the tail would leave fewer, they go too.

use super::meter::Meter;
use super::meter_number::normalise;

/// Characters that part a model name from a serial in the utility's ids.
const SEPARATORS: [char; 6] = ['-', ' ', '/', '_', '.', '№'];

/// Characters of the serial shown at most.
const SHOWN: usize = 3;

/// Letters and digits of the serial that stay hidden at least.
const HIDDEN: usize = 4;

/// `Меркурий200-***024`, `Энергомера-CE301-***765`, `***` for a short or bare number.
pub fn masked(meter: &Meter) -> String {
    let id = meter.id.0.trim();
    let (model, serial) = match meter.serial.as_deref().map(str::trim) {
        Some(serial) if id.len() > serial.len() && id.ends_with(serial) => (&id[..id.len() - serial.len()], serial),
        Some(serial) => (model_part(id), serial),
        None => split_at_last_separator(id),
    };
    let model = if reads_as_model(model) { model } else { "" };
    let alphanumerics: Vec<char> = serial.chars().filter(|c| c.is_alphanumeric()).collect();
    let shown = SHOWN.min(alphanumerics.len().saturating_sub(HIDDEN));
    let tail: String = alphanumerics[alphanumerics.len() - shown..].iter().collect();
    // Less and less shown until every proving number keeps enough hidden.
    [(model, tail.as_str()), (model, ""), ("", tail.as_str()), ("", "")]
        .into_iter()
        .find(|(model, tail)| hides_enough(meter, model, tail))
        .map_or_else(|| "***".to_owned(), |(model, tail)| format!("{model}***{tail}"))
}

/// At least [`HIDDEN`] letters and digits of the printed number and of the id are in neither the
/// model part shown nor the tail shown.
fn hides_enough(meter: &Meter, model: &str, tail: &str) -> bool {
    let (model, tail) = (normalise(model), normalise(tail));
    [meter.printed_number(), meter.id.0.as_str()].into_iter().all(|number| {
        let number = normalise(number);
        let mut hidden = number.chars().count();
        if number.starts_with(&model) {
            hidden = hidden.saturating_sub(model.chars().count());
        }
        if number.ends_with(&tail) {
            hidden = hidden.saturating_sub(tail.chars().count());
        }
        hidden >= HIDDEN
    })
}

/// `Энергомера-CE301-0098765` → (`Энергомера-CE301-`, `0098765`); no separator, no model.
fn split_at_last_separator(id: &str) -> (&str, &str) {
    match id.rfind(SEPARATORS) {
        Some(at) => {
            let cut = at + id[at..].chars().next().map_or(1, char::len_utf8);
            (&id[..cut], &id[cut..])
        }
        None => ("", id),
    }
}

fn model_part(id: &str) -> &str {
    split_at_last_separator(id).0
}

/// A model name has a letter in each of its parts (`Меркурий200`, `Нева-МТ124`); a part of bare
/// digits may be a serial itself, so such a prefix is hidden too.
fn reads_as_model(prefix: &str) -> bool {
    !normalise(prefix).is_empty()
        && prefix.split(SEPARATORS).filter(|part| !part.is_empty()).all(|part| part.chars().any(char::is_alphabetic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(id: &str, serial: Option<&str>) -> Meter {
        serde_json::from_value(serde_json::json!({"id": id, "serial": serial, "zoneSet": "single"})).unwrap()
    }

    #[test]
    fn given_a_model_and_serial_id_when_masked_then_the_model_and_the_last_3_characters_are_shown() {
        assert_eq!(masked(&meter("Меркурий200-3391024", None)), "Меркурий200-***024");
        assert_eq!(masked(&meter("Энергомера-CE301-0098765", None)), "Энергомера-CE301-***765");
        assert_eq!(masked(&meter("СЕ101-0457812", None)), "СЕ101-***812");
        assert_eq!(masked(&meter("Меркурий201-7730215", Some("7730215"))), "Меркурий201-***215");
        assert_eq!(masked(&meter("Меркурий2017730215", Some("7730215"))), "Меркурий201***215");
    }

    #[test]
    fn given_a_serial_apart_from_an_unrelated_id_when_masked_then_only_the_ids_model_part_and_the_serials_tail_show() {
        assert_eq!(masked(&meter("Нева-МТ124-A1703", Some("0873361"))), "Нева-МТ124-***361");
        assert_eq!(masked(&meter("1234567", Some("0873361"))), "***361");
        // The whole id proves the meter too: its short tail after the model keeps the model hidden.
        assert_eq!(masked(&meter("Нева-МТ124-A17", Some("0873361"))), "***361");
    }

    #[test]
    fn at_least_4_characters_stay_hidden_and_the_length_never_shows() {
        assert_eq!(masked(&meter("M-2", None)), "***");
        assert_eq!(masked(&meter("AB-", None)), "***");
        assert_eq!(masked(&meter("Меркурий", None)), "***рий");
        assert_eq!(masked(&meter("АСКУЭ-7700", None)), "АСКУЭ-***");
        assert_eq!(masked(&meter("АСКУЭ-77001", None)), "АСКУЭ-***1");
        assert_eq!(masked(&meter("АСКУЭ-770012", None)), "АСКУЭ-***12");
        assert_eq!(masked(&meter("SERIAL", None)), "***AL");
        assert_eq!(masked(&meter("123456789012", None)), "***012");
        assert_eq!(masked(&meter("X-1234567", None)).len(), masked(&meter("X-1234567890567", None)).len());
    }

    #[test]
    fn given_a_prefix_of_bare_digits_when_masked_then_it_is_hidden_as_a_possible_serial() {
        assert_eq!(masked(&meter("0457812-2", None)), "***");
        assert_eq!(masked(&meter("77-ABC-3391024", None)), "***024");
    }

    proptest::proptest! {
        #[test]
        fn given_any_id_and_serial_when_masked_then_the_mask_never_proves_the_meter(
            id in "[0-9A-Za-zА-Яа-я№ ./_-]{0,20}",
            serial in proptest::option::of("[0-9A-Za-zСЕМТ -]{0,10}"),
        ) {
            use super::super::meter_number::{TypedMeterNumber, proved_meter};
            let meters = [meter(&id, serial.as_deref())];
            let shown = masked(&meters[0]);
            proptest::prop_assert!(shown.contains("***"));
            if let Some(typed) = TypedMeterNumber::new(&shown) {
                proptest::prop_assert!(proved_meter(&meters, &typed, None).is_none(), "{} proves {}", shown, id);
            }
        }
    }

    #[test]
    fn what_is_shown_never_proves_the_meter() {
        use super::super::meter_number::{TypedMeterNumber, proved_meter};
        for (id, serial) in [
            ("Меркурий200-3391024", None),
            ("Меркурий201-7730215", Some("7730215")),
            ("M-2", None),
            ("0457812-2", None),
            ("АСКУЭ-770012", None),
            ("AB-", None),
            ("Нева-МТ124-A17", Some("0873361")),
        ] {
            let meters = [meter(id, serial)];
            let shown = masked(&meters[0]);
            let typed = TypedMeterNumber::new(&shown);
            assert!(typed.is_none_or(|t| proved_meter(&meters, &t, None).is_none()), "{shown} proves {id}");
        }
    }
}
