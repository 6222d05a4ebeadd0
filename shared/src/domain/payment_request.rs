//! What a customer asks for with `POST /payments`, checked completely before anything is written:
//! the account (any accepted form), the amount (a decimal, within the configured limits), the
//! receipt email, for "Оплатить по показаниям" the readings submission it pays for, and how it is
//! paid (`method`: `card`, the default, or `sbp`).
//!
//! Wire format: `{"account": "12345-678-90", "amount": "1520.37", "email": "…", "readingsId": "…",
//! "method": "sbp"}`.
//! The amount is a decimal string; a JSON number is accepted too, but only as the exact text it
//! was written as (never through a float), so `1520.37` is 1520.37 and `1e3` is refused.

use super::email::{Email, EmailError};
use super::pay_method::PayMethod;
use super::readings_id::ReadingsId;
use super::{AccountNumber, AccountNumberError, Money, MoneyError};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;

/// The largest body accepted: a real request is under 300 bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

const FIELDS: [&str; 5] = ["account", "amount", "email", "readingsId", "method"];

/// The smallest and the largest single payment (`PAYMENT_MIN`, `PAYMENT_MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentLimits {
    pub min: Money,
    pub max: Money,
}

impl PaymentLimits {
    /// `None` for limits that would let a non-positive amount through or accept nothing.
    pub fn new(min: Money, max: Money) -> Option<Self> {
        (min.is_positive() && min <= max).then_some(Self { min, max })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub account: AccountNumber,
    /// Exactly what the customer pays and what is credited: there is no commission.
    pub amount: Money,
    pub email: Email,
    pub readings_id: Option<ReadingsId>,
    pub method: PayMethod,
}

impl fmt::Debug for PaymentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentRequest")
            .field("account", &self.account)
            .field("amount", &self.amount)
            .field("email", &self.email)
            .field("readings_id", &self.readings_id)
            .field("method", &self.method)
            .finish()
    }
}

/// Why a payment request was refused; every variant is the caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRequestError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not JSON")]
    NotJson,
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("unknown field {0:?}")]
    UnknownField(String),
    #[error("field {0} appears more than once")]
    DuplicateField(&'static str),
    #[error("field {0} is missing")]
    MissingField(&'static str),
    #[error("field {0} must be a string")]
    NotAString(&'static str),
    #[error("the account number is malformed: {0}")]
    Account(#[from] AccountNumberError),
    /// Not a plain decimal: an exponent, a sign other than `-`, a boolean, an object…
    #[error("the amount is not a decimal number")]
    AmountNotDecimal,
    #[error("the amount has more than two decimal places")]
    AmountTooManyDecimals,
    #[error("the amount must be positive")]
    AmountNotPositive,
    #[error("the amount is below the minimum {0}")]
    AmountBelowMinimum(Money),
    #[error("the amount is above the maximum {0}")]
    AmountAboveMaximum(Money),
    #[error("the email is malformed: {0}")]
    Email(#[from] EmailError),
    #[error("the readings id is malformed")]
    BadReadingsId,
    #[error("the payment method is neither card nor sbp")]
    BadMethod,
}

impl PaymentRequestError {
    /// True for a body refused for its size alone (413 rather than 400).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge)
    }
}

impl PaymentRequest {
    /// Parses and checks a request body. Every field is checked before the request is accepted;
    /// the first mistake found is reported.
    pub fn from_json(body: &[u8], limits: &PaymentLimits) -> Result<Self, PaymentRequestError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(PaymentRequestError::TooLarge);
        }
        let RawObject(fields) = serde_json::from_slice(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => PaymentRequestError::NotAnObject,
            _ => PaymentRequestError::NotJson,
        })?;

        let mut found: [Option<&RawValue>; 5] = [None; 5];
        for (name, value) in &fields {
            let index = FIELDS
                .iter()
                .position(|known| known == name)
                .ok_or_else(|| PaymentRequestError::UnknownField(shorten(name)))?;
            if found[index].replace(value).is_some() {
                return Err(PaymentRequestError::DuplicateField(FIELDS[index]));
            }
        }
        let [account, amount, email, readings_id, method] = found;

        let account: AccountNumber = required_string("account", account)?.parse()?;
        let amount = parse_amount(amount.ok_or(PaymentRequestError::MissingField("amount"))?, limits)?;
        let email = Email::parse(&required_string("email", email)?)?;
        let readings_id = match readings_id {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => {
                Some(string_value("readingsId", raw)?.parse().map_err(|_| PaymentRequestError::BadReadingsId)?)
            }
        };
        let method = match method {
            None => PayMethod::default(),
            Some(raw) if raw.get() == "null" => PayMethod::default(),
            Some(raw) => string_value("method", raw)?.parse().map_err(|_| PaymentRequestError::BadMethod)?,
        };
        Ok(Self { account, amount, email, readings_id, method })
    }

    /// A digest of the request's meaning, for telling a repeated request from a different one
    /// under the same idempotency key: `12345-678-90` and `1234567890`, `"100"` and `100.00` are
    /// the same request; another amount, account, email or readings id is not.
    pub fn fingerprint(&self) -> String {
        let mut canonical = serde_json::json!({
            "account": self.account.digits(),
            "amount": self.amount.to_string(),
            "email": self.email.expose(),
            "readingsId": self.readings_id.as_ref().map(ReadingsId::as_str),
        });
        // Only a non-default method joins: a card payment keeps the fingerprint it always had, so
        // keys recorded before the method existed still replay.
        if self.method != PayMethod::Card {
            canonical["method"] = self.method.as_str().into();
        }
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

fn parse_amount(raw: &RawValue, limits: &PaymentLimits) -> Result<Money, PaymentRequestError> {
    let text = raw.get();
    let decimal_text = if text.starts_with('"') {
        string_value("amount", raw)?
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        // A JSON number, read from its own text: no float ever holds it.
        text.to_owned()
    } else {
        return Err(PaymentRequestError::AmountNotDecimal);
    };
    let amount: Money = decimal_text.parse().map_err(|e| match e {
        MoneyError::TooManyDecimals => PaymentRequestError::AmountTooManyDecimals,
        MoneyError::NotANumber | MoneyError::OutOfRange => PaymentRequestError::AmountNotDecimal,
    })?;
    if !amount.is_positive() {
        return Err(PaymentRequestError::AmountNotPositive);
    }
    if amount < limits.min {
        return Err(PaymentRequestError::AmountBelowMinimum(limits.min));
    }
    if amount > limits.max {
        return Err(PaymentRequestError::AmountAboveMaximum(limits.max));
    }
    Ok(amount)
}

fn required_string(name: &'static str, raw: Option<&RawValue>) -> Result<String, PaymentRequestError> {
    string_value(name, raw.ok_or(PaymentRequestError::MissingField(name))?)
}

fn string_value(name: &'static str, raw: &RawValue) -> Result<String, PaymentRequestError> {
    serde_json::from_str::<String>(raw.get()).map_err(|_| PaymentRequestError::NotAString(name))
}

/// A caller-chosen field name goes into the problem's detail: keep it short.
fn shorten(name: &str) -> String {
    name.chars().take(40).collect()
}

/// A JSON object's members in order, duplicates kept (so they can be refused), each value as its
/// exact text.
struct RawObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push((name, value));
                }
                Ok(RawObject(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> PaymentLimits {
        PaymentLimits::new("1.00".parse().unwrap(), "500000.00".parse().unwrap()).unwrap()
    }

    fn parse(body: &serde_json::Value) -> Result<PaymentRequest, PaymentRequestError> {
        PaymentRequest::from_json(body.to_string().as_bytes(), &limits())
    }

    fn parse_text(text: &str) -> Result<PaymentRequest, PaymentRequestError> {
        PaymentRequest::from_json(text.as_bytes(), &limits())
    }

    #[test]
    fn a_complete_request_is_read_with_the_account_in_any_form() {
        let request = parse(&json!({
            "account": "29614 328 09", "amount": "1520.37", "email": "ivanov@example.ru", "readingsId": "2026-11-5f3a9c1e-8e7d6c5b4a39"
        }))
        .unwrap();
        assert_eq!(request.account.to_string(), "29614-328-09");
        assert_eq!(request.amount.to_string(), "1520.37");
        assert_eq!(request.email.expose(), "ivanov@example.ru");
        assert_eq!(request.readings_id.as_ref().map(ReadingsId::as_str), Some("2026-11-5f3a9c1e-8e7d6c5b4a39"));
        let plain = parse(&json!({"account": "2961432809", "amount": "5", "email": "a@b.ru", "readingsId": null}));
        assert_eq!(plain.unwrap().readings_id, None);
    }

    #[test]
    fn a_json_number_counts_only_as_the_text_it_was_written_as() {
        assert_eq!(
            parse_text(r#"{"account":"2961432809","amount":1520.37,"email":"a@b.ru"}"#).unwrap().amount.to_string(),
            "1520.37"
        );
        // 0.1 + 0.2 style surprises cannot happen: no float ever holds the amount.
        assert_eq!(
            parse_text(r#"{"account":"2961432809","amount":100000.10,"email":"a@b.ru"}"#).unwrap().amount.to_string(),
            "100000.10"
        );
        for (amount, expected) in [
            ("1e3", PaymentRequestError::AmountNotDecimal),
            ("\"1e3\"", PaymentRequestError::AmountNotDecimal),
            ("1.001", PaymentRequestError::AmountTooManyDecimals),
            ("\"1.001\"", PaymentRequestError::AmountTooManyDecimals),
            ("true", PaymentRequestError::AmountNotDecimal),
            ("null", PaymentRequestError::AmountNotDecimal),
            ("[1]", PaymentRequestError::AmountNotDecimal),
        ] {
            let body = format!(r#"{{"account":"2961432809","amount":{amount},"email":"a@b.ru"}}"#);
            assert_eq!(parse_text(&body), Err(expected), "{amount}");
        }
    }

    #[test]
    fn the_amount_is_positive_and_within_the_limits() {
        let with = |amount: &str| parse(&json!({"account": "2961432809", "amount": amount, "email": "a@b.ru"}));
        assert_eq!(with("0"), Err(PaymentRequestError::AmountNotPositive));
        assert_eq!(with("-5"), Err(PaymentRequestError::AmountNotPositive));
        assert_eq!(with("0.99"), Err(PaymentRequestError::AmountBelowMinimum("1".parse().unwrap())));
        assert_eq!(with("500000.01"), Err(PaymentRequestError::AmountAboveMaximum("500000".parse().unwrap())));
        assert!(with("1").is_ok());
        assert!(with("500000").is_ok());
        assert_eq!(with("1500,50").unwrap().amount.to_string(), "1500.50");
    }

    #[test]
    fn shape_mistakes_are_named() {
        assert_eq!(parse_text("not json"), Err(PaymentRequestError::NotJson));
        assert_eq!(parse_text(""), Err(PaymentRequestError::NotJson));
        assert_eq!(parse_text(r#"{"account":"#), Err(PaymentRequestError::NotJson));
        assert_eq!(parse_text("[1,2]"), Err(PaymentRequestError::NotAnObject));
        assert_eq!(parse_text("\"x\""), Err(PaymentRequestError::NotAnObject));
        assert_eq!(
            parse(&json!({"account": "2961432809", "amount": "5", "email": "a@b.ru", "comission": "0"})),
            Err(PaymentRequestError::UnknownField("comission".into()))
        );
        assert_eq!(
            parse_text(r#"{"account":"2961432809","amount":"5","amount":"500","email":"a@b.ru"}"#),
            Err(PaymentRequestError::DuplicateField("amount"))
        );
        assert_eq!(
            parse(&json!({"amount": "5", "email": "a@b.ru"})),
            Err(PaymentRequestError::MissingField("account"))
        );
        assert_eq!(
            parse(&json!({"account": 2961432809u64, "amount": "5", "email": "a@b.ru"})),
            Err(PaymentRequestError::NotAString("account"))
        );
        assert_eq!(
            parse(&json!({"account": "12345", "amount": "5", "email": "a@b.ru"})),
            Err(PaymentRequestError::Account(AccountNumberError::WrongLength(5)))
        );
        assert_eq!(
            parse(&json!({"account": "2961432809", "amount": "5", "email": "a b@c.ru"})),
            Err(PaymentRequestError::Email(EmailError::Whitespace))
        );
        assert_eq!(
            parse(&json!({"account": "2961432809", "amount": "5", "email": "a@b.ru", "readingsId": "a#b"})),
            Err(PaymentRequestError::BadReadingsId)
        );
    }

    #[test]
    fn an_oversized_body_is_refused_before_it_is_read() {
        let padding = " ".repeat(MAX_BODY_BYTES);
        let body = format!(r#"{{"account":"2961432809","amount":"5","email":"a@b.ru"}}{padding}"#);
        assert_eq!(parse_text(&body), Err(PaymentRequestError::TooLarge));
    }

    #[test]
    fn the_fingerprint_is_the_meaning_not_the_spelling() {
        let a = parse(&json!({"account": "29614-328-09", "amount": "100", "email": "a@B.ru"})).unwrap();
        let b = parse_text(r#"{"email":"a@b.ru","amount":100.00,"account":"2961432809"}"#).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        let other_amount = parse(&json!({"account": "2961432809", "amount": "100.01", "email": "a@b.ru"})).unwrap();
        let other_email = parse(&json!({"account": "2961432809", "amount": "100", "email": "A@b.ru"})).unwrap();
        let with_readings =
            parse(&json!({"account": "2961432809", "amount": "100", "email": "a@b.ru", "readingsId": "2026-11-5f3a9c1e-8e7d6c5b4a39"})).unwrap();
        let by_sbp =
            parse(&json!({"account": "2961432809", "amount": "100", "email": "a@b.ru", "method": "sbp"})).unwrap();
        for other in [other_amount, other_email, with_readings, by_sbp] {
            assert_ne!(a.fingerprint(), other.fingerprint(), "{other:?}");
        }
        let by_card =
            parse(&json!({"account": "2961432809", "amount": "100", "email": "a@b.ru", "method": "card"})).unwrap();
        assert_eq!(a.fingerprint(), by_card.fingerprint(), "card is the default and fingerprints as before");
    }

    #[test]
    fn the_method_is_card_unless_sbp_is_asked_and_nothing_else_is_accepted() {
        let base = json!({"account": "2961432809", "amount": "100", "email": "a@b.ru"});
        assert_eq!(parse(&base).unwrap().method, PayMethod::Card);
        let with = |method: serde_json::Value| {
            let mut body = base.clone();
            body["method"] = method;
            parse(&body)
        };
        assert_eq!(with(json!("sbp")).unwrap().method, PayMethod::Sbp);
        assert_eq!(with(json!("card")).unwrap().method, PayMethod::Card);
        assert_eq!(with(json!(null)).unwrap().method, PayMethod::Card);
        assert_eq!(with(json!("SBP")), Err(PaymentRequestError::BadMethod));
        assert_eq!(with(json!("cash")), Err(PaymentRequestError::BadMethod));
        assert_eq!(with(json!(1)), Err(PaymentRequestError::NotAString("method")));
    }
}
