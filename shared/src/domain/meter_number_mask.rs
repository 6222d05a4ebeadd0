//! How a meter's number is shown to a caller who only knows the account number: enough for the
//! customer to recognise their meter, never enough to hand in readings with (`meter_number`).
//!
//! The model part (`Меркурий200-`) is kept, the serial is hidden behind a fixed `***` (so not even
//! its length leaks) but for its last 3 characters, and at least 4 of its letters and digits always
//! stay hidden: `Меркурий200-***024`.

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
    format!("{model}***{tail}")
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
        assert_eq!(masked(&meter("Нева-МТ124-A17", Some("0873361"))), "Нева-МТ124-***361");
        assert_eq!(masked(&meter("1234567", Some("0873361"))), "***361");
    }

    #[test]
    fn at_least_4_characters_stay_hidden_and_the_length_never_shows() {
        assert_eq!(masked(&meter("M-2", None)), "M-***");
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

    #[test]
    fn what_is_shown_never_proves_the_meter() {
        use super::super::meter_number::{TypedMeterNumber, proved_meter};
        for (id, serial) in [
            ("Меркурий200-3391024", None),
            ("Меркурий201-7730215", Some("7730215")),
            ("M-2", None),
            ("0457812-2", None),
            ("АСКУЭ-770012", None),
        ] {
            let meters = [meter(id, serial)];
            let shown = masked(&meters[0]);
            let typed = TypedMeterNumber::new(&shown);
            assert!(typed.is_none_or(|t| proved_meter(&meters, &t, None).is_none()), "{shown} proves {id}");
        }
    }
}
