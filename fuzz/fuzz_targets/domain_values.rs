//! The values a customer types, from a URL path or a JSON body: `AccountNumber` (path and
//! `account`), `Money` (`amount`), `Email`, our `PaymentId` (path) and a `ReadingsId`.
//!
//! Properties, beyond "never panics", each against a rule written out here independently:
//! - an account number is accepted exactly when, spaces aside, it is ten digits with dashes only
//!   as `NNNNN-NNN-NN`; it prints as `NNNNN-NNN-NN`, re-parses to itself and keeps the digits typed;
//! - an amount is accepted exactly when it is `-?digits[.,digits]` with at most 15 whole digits and
//!   at most 2 decimals; it has exactly two decimals, re-parses to itself and converts to kopecks
//!   and back; its value is the one written;
//! - a parsed email re-parses to itself; a payment id is 32 lowercase hex digits;
//! - a meter number as typed (`meterId`) normalises to letters and digits only, and normalising
//!   again changes nothing; a meter whose id is the text (a serial after `|`) is proved by its id
//!   and its serial, and never by the masked number the look-up shows of it;
//! - reading any of these from a JSON string gives the same verdict as parsing the text.
#![no_main]

use energosbyt::domain::email::Email;
use energosbyt::domain::meter_number::{TypedMeterNumber, normalise, proved_meter};
use energosbyt::domain::meter_number_mask::masked;
use energosbyt::domain::readings_id::ReadingsId;
use energosbyt::domain::{AccountNumber, Meter, MeterId, Money, MoneyError, PaymentId, ZoneSet};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let as_json = serde_json::to_string(text).expect("a string serialises");

    let account = text.parse::<AccountNumber>();
    assert_eq!(account.is_ok(), is_account_number(text), "{text:?}: {account:?}");
    assert_eq!(serde_json::from_str::<AccountNumber>(&as_json).ok(), account.clone().ok());
    if let Ok(number) = account {
        let printed = number.to_string();
        assert_eq!(printed.parse::<AccountNumber>(), Ok(number));
        let typed_digits: String = text.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(number.digits(), typed_digits);
        assert_eq!(printed, format!("{}-{}-{}", &typed_digits[..5], &typed_digits[5..8], &typed_digits[8..]));
        assert_eq!(number.masked(), format!("*****-***-{}", &typed_digits[8..]));
        assert!(!format!("{number:?}").contains(&typed_digits[..8]));
    }

    let money = text.parse::<Money>();
    assert_eq!(money, money_rule(text), "{text:?}");
    assert_eq!(serde_json::from_str::<Money>(&as_json).ok(), money.clone().ok());
    if let Ok(amount) = money {
        let printed = amount.to_string();
        assert_eq!(printed.split_once('.').map(|(_, kopecks)| kopecks.len()), Some(2), "{printed}");
        assert_eq!(printed.parse::<Money>(), Ok(amount));
        assert_eq!(Money::from_kopecks(amount.kopecks()), amount);
        assert_eq!(amount.amount().scale(), 2);
        assert!(amount.amount().abs() < Decimal::from(10i64.pow(15)));
        assert_eq!(serde_json::to_string(&amount).ok(), Some(format!("\"{printed}\"")));
    }

    if let Ok(email) = Email::parse(text) {
        assert_eq!(Email::parse(email.expose()).as_ref(), Ok(&email));
        assert!(email.expose().is_ascii() && email.len() <= 254 && email.expose().matches('@').count() == 1);
    }

    let payment_id = text.parse::<PaymentId>();
    let hex32 = text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    assert_eq!(payment_id.is_ok(), hex32);

    if let Ok(id) = text.parse::<ReadingsId>() {
        assert_eq!(id.as_str(), text);
        assert_eq!(id.billing_month().to_string(), &text[..7]);
        assert_eq!(serde_json::from_str::<ReadingsId>(&as_json).ok(), Some(id));
    }

    meter_number(text);
});

fn meter_number(text: &str) {
    let normalised = normalise(text);
    assert!(normalised.chars().all(char::is_alphanumeric), "{text:?} → {normalised:?}");
    assert_eq!(normalise(&normalised), normalised);
    assert_eq!(TypedMeterNumber::new(text).is_some(), !normalised.is_empty());

    let (id, serial) = text.split_once('|').map_or((text, None), |(id, serial)| (id, Some(serial)));
    let meter = Meter {
        id: MeterId(id.to_owned()),
        serial: serial.map(str::to_owned),
        zone_set: ZoneSet::Single,
        digits: None,
        automatic: false,
        faulty: false,
        window: None,
        last_readings: Default::default(),
    };
    let meters = [meter];
    for proof in [Some(id), serial].into_iter().flatten() {
        if let Some(typed) = TypedMeterNumber::new(proof) {
            assert!(proved_meter(&meters, &typed, None).is_some(), "{proof:?} does not prove {text:?}");
        }
    }
    let shown = masked(&meters[0]);
    assert!(shown.contains("***"), "{shown:?}");
    if let Some(typed) = TypedMeterNumber::new(&shown) {
        assert!(proved_meter(&meters, &typed, None).is_none(), "the mask {shown:?} proves {text:?}");
    }
}

/// Ten digits with spaces anywhere and dashes only after the fifth and the eighth digit.
fn is_account_number(text: &str) -> bool {
    let compact: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '\u{a0}')).collect();
    let bytes = compact.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let mut at = 0;
    let mut group = |len: usize, dash_after: bool| {
        if !digits(at..at + len) {
            return false;
        }
        at += len;
        if dash_after && bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        true
    };
    group(5, true) && group(3, true) && group(2, false) && at == bytes.len()
}

/// The amount rule, written out: an optional minus, 1–15 whole digits, optionally `.` or `,` and
/// 1–2 decimals.
fn money_rule(text: &str) -> Result<Money, MoneyError> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match body.find(['.', ',']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(MoneyError::NotANumber);
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > 2 {
        return Err(MoneyError::TooManyDecimals);
    }
    if whole.len() > 15 {
        return Err(MoneyError::OutOfRange);
    }
    let whole: i64 = whole.parse().expect("at most 15 digits");
    let kopecks = whole * 100 + format!("{fraction:0<2}").parse::<i64>().expect("two digits");
    Ok(Money::from_kopecks(if negative { -kopecks } else { kopecks }))
}
