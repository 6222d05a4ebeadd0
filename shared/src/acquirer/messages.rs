//! The bank's messages as typed values, with the bank's exact field names.
//!
//! Amounts travel as integer kopecks and become [`Money`] here, at the boundary. The bank is not
//! consistent about types (`PaymentId` is a string in answers and a number in notifications;
//! `CheckOrder` sends `Success` as `"true"` and `ErrorCode` as a number), so identifiers, codes and
//! flags are read leniently.

use crate::domain::Money;
pub use crate::domain::fiscal_receipt::{PaymentMethod, PaymentObject, Taxation};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The bank's identifier of one payment attempt (`PaymentId`, up to 20 digits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PaymentId(String);

impl PaymentId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for PaymentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = lenient::string(d)?;
        if id.is_empty() {
            return Err(serde::de::Error::custom("an empty PaymentId"));
        }
        Ok(Self(id))
    }
}

/// A payment's status at the bank. Statuses this code does not know are kept as they came.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    New,
    FormShowed,
    Authorizing,
    ThreeDsChecking,
    ThreeDsChecked,
    Authorized,
    Confirming,
    /// Money captured: the only status that means "paid".
    Confirmed,
    Refunding,
    Refunded,
    PartialRefunded,
    Reversing,
    Reversed,
    PartialReversed,
    Rejected,
    /// 3-D Secure failed.
    AuthFail,
    DeadlineExpired,
    Canceled,
    Other(String),
}

impl PaymentStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "NEW",
            Self::FormShowed => "FORM_SHOWED",
            Self::Authorizing => "AUTHORIZING",
            Self::ThreeDsChecking => "3DS_CHECKING",
            Self::ThreeDsChecked => "3DS_CHECKED",
            Self::Authorized => "AUTHORIZED",
            Self::Confirming => "CONFIRMING",
            Self::Confirmed => "CONFIRMED",
            Self::Refunding => "REFUNDING",
            Self::Refunded => "REFUNDED",
            Self::PartialRefunded => "PARTIAL_REFUNDED",
            Self::Reversing => "REVERSING",
            Self::Reversed => "REVERSED",
            Self::PartialReversed => "PARTIAL_REVERSED",
            Self::Rejected => "REJECTED",
            Self::AuthFail => "AUTH_FAIL",
            Self::DeadlineExpired => "DEADLINE_EXPIRED",
            Self::Canceled => "CANCELED",
            Self::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "NEW" => Self::New,
            "FORM_SHOWED" => Self::FormShowed,
            "AUTHORIZING" => Self::Authorizing,
            "3DS_CHECKING" => Self::ThreeDsChecking,
            "3DS_CHECKED" => Self::ThreeDsChecked,
            "AUTHORIZED" => Self::Authorized,
            "CONFIRMING" => Self::Confirming,
            "CONFIRMED" => Self::Confirmed,
            "REFUNDING" => Self::Refunding,
            "REFUNDED" => Self::Refunded,
            "PARTIAL_REFUNDED" => Self::PartialRefunded,
            "REVERSING" => Self::Reversing,
            "REVERSED" => Self::Reversed,
            "PARTIAL_REVERSED" => Self::PartialReversed,
            "REJECTED" => Self::Rejected,
            "AUTH_FAIL" => Self::AuthFail,
            "DEADLINE_EXPIRED" => Self::DeadlineExpired,
            "CANCELED" => Self::Canceled,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The money was captured.
    pub fn is_paid(&self) -> bool {
        matches!(self, Self::Confirmed)
    }

    /// The attempt ended without capturing money and never will.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Rejected | Self::AuthFail | Self::DeadlineExpired | Self::Canceled | Self::Reversed)
    }

    /// Money was captured and then (partly) given back.
    pub fn is_refund(&self) -> bool {
        matches!(self, Self::Refunded | Self::PartialRefunded | Self::PartialReversed)
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PaymentStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaymentStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Self::parse(&text))
    }
}

/// `PayType`: one-stage (`O`, capture at once — ours) or two-stage (`T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayType {
    #[serde(rename = "O")]
    OneStage,
    #[serde(rename = "T")]
    TwoStage,
}

/// The body of `Init` without `TerminalKey` and `Token` (the client adds both).
/// Build it for our payments with [`super::PaymentInit::build`].
///
/// `Debug` leaves out the description and the receipt: they hold the full account number and
/// the customer's email.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitRequest {
    #[serde(with = "kopecks")]
    pub amount: Money,
    pub order_id: String,
    pub description: String,
    pub pay_type: PayType,
    pub language: String,
    #[serde(rename = "NotificationURL", skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    #[serde(rename = "SuccessURL", skip_serializing_if = "Option::is_none")]
    pub success_url: Option<String>,
    #[serde(rename = "FailURL", skip_serializing_if = "Option::is_none")]
    pub fail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_due_date: Option<String>,
    #[serde(rename = "DATA", skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// A 54-FZ receipt for the cloud cash register attached to the terminal.
/// `Debug` leaves out the email, the phone and the item names (they name the account).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Receipt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub taxation: Taxation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffd_version: Option<String>,
    pub items: Vec<ReceiptItem>,
}

impl fmt::Debug for InitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitRequest")
            .field("amount", &self.amount)
            .field("order_id", &self.order_id)
            .field("pay_type", &self.pay_type)
            .field("redirect_due_date", &self.redirect_due_date)
            .field("receipt", &self.receipt)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt")
            .field("taxation", &self.taxation)
            .field("ffd_version", &self.ffd_version)
            .field("items", &self.items.len())
            .field("total", &self.total())
            .finish_non_exhaustive()
    }
}

impl Receipt {
    /// What the items add up to; the bank refuses a receipt whose total differs from `Amount`.
    pub fn total(&self) -> Money {
        self.items.iter().map(|i| i.amount).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptItem {
    pub name: String,
    #[serde(with = "kopecks")]
    pub price: Money,
    pub quantity: u32,
    #[serde(with = "kopecks")]
    pub amount: Money,
    /// The bank's VAT code (`vat20`, `vat22`, …): configuration, see [`super::VatCodes`].
    pub tax: String,
    pub payment_method: PaymentMethod,
    pub payment_object: PaymentObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_unit: Option<String>,
}

/// `Init`'s answer on success.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitResponse {
    #[serde(default)]
    pub terminal_key: String,
    pub status: PaymentStatus,
    pub payment_id: PaymentId,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(with = "kopecks")]
    pub amount: Money,
    /// Where to send the customer. Log it at debug level only: it opens the payment form.
    #[serde(rename = "PaymentURL")]
    pub payment_url: String,
}

impl fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitResponse")
            .field("status", &self.status)
            .field("payment_id", &self.payment_id)
            .field("order_id", &self.order_id)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// `GetState`'s answer on success.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentState {
    pub status: PaymentStatus,
    pub payment_id: PaymentId,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(default, with = "kopecks::optional")]
    pub amount: Option<Money>,
}

/// `CheckOrder`'s answer on success: every attempt made for one `OrderId`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderState {
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(default)]
    pub payments: Vec<OrderPayment>,
}

impl OrderState {
    /// The attempt that captured money, if any.
    pub fn paid(&self) -> Option<&OrderPayment> {
        self.payments.iter().find(|p| p.status.is_paid())
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderPayment {
    pub payment_id: PaymentId,
    #[serde(default, with = "kopecks::optional")]
    pub amount: Option<Money>,
    pub status: PaymentStatus,
    #[serde(default = "yes", deserialize_with = "lenient::flag")]
    pub success: bool,
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub error_code: String,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub message: Option<String>,
}

fn yes() -> bool {
    true
}

/// `Cancel`'s body without `TerminalKey` and `Token`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelRequest {
    pub payment_id: PaymentId,
    /// A partial refund; absent cancels or refunds the whole payment.
    #[serde(skip_serializing_if = "Option::is_none", with = "kopecks::optional")]
    pub amount: Option<Money>,
    /// The refund receipt; required with a cloud cash register attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Makes a repeated Cancel (after a lost answer) refund once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_request_id: Option<String>,
}

impl CancelRequest {
    /// Cancels or refunds the whole payment.
    pub fn whole(payment_id: PaymentId) -> Self {
        Self { payment_id, amount: None, receipt: None, external_request_id: None }
    }
}

/// `Cancel`'s answer on success.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelResponse {
    pub status: PaymentStatus,
    pub payment_id: PaymentId,
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub order_id: String,
    #[serde(default, with = "kopecks::optional")]
    pub original_amount: Option<Money>,
    #[serde(default, with = "kopecks::optional")]
    pub new_amount: Option<Money>,
}

/// The part every answer shares: success or failure is here, never in the HTTP status.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(not(feature = "adapters"), allow(dead_code))]
pub(crate) struct Outcome {
    #[serde(rename = "Success", deserialize_with = "lenient::flag")]
    pub success: bool,
    #[serde(rename = "ErrorCode", default, deserialize_with = "lenient::string_or_empty")]
    pub error_code: String,
    #[serde(rename = "Message", default, deserialize_with = "lenient::optional_string")]
    pub message: Option<String>,
}

/// Money as integer kopecks, the bank's unit. Accepts a digit string too.
pub(crate) mod kopecks {
    use super::*;

    pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(m.kopecks())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let text = super::lenient::string(d)?;
        let k: i64 = text.parse().map_err(|_| serde::de::Error::custom("kopecks must be an integer"))?;
        Ok(Money::from_kopecks(k))
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
            match m {
                Some(m) => s.serialize_i64(m.kopecks()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
            match super::super::lenient::optional_string(d)? {
                None => Ok(None),
                Some(text) => text
                    .parse::<i64>()
                    .map(|k| Some(Money::from_kopecks(k)))
                    .map_err(|_| serde::de::Error::custom("kopecks must be an integer")),
            }
        }
    }
}

/// Readers that accept what the bank actually sends. They take a value's raw text, so they read
/// through `serde_json` only (a body, or a `Value`).
pub(crate) mod lenient {
    use serde::Deserializer;
    use serde::de::{self, Deserialize};
    use serde_json::value::RawValue;

    /// A value's text: a string's value, a number or a boolean as written, `None` for `null`.
    /// Numbers are taken from the body's own text, never through a float: the bank's
    /// `PaymentId` has up to 20 digits, more than a `u64` holds.
    pub fn text(raw: &RawValue) -> Result<Option<String>, &'static str> {
        let raw = raw.get().trim();
        match raw.as_bytes().first() {
            Some(b'"') => serde_json::from_str(raw).map(Some).map_err(|_| "a string that is no text"),
            Some(b'n') => Ok(None),
            Some(b't' | b'f') => Ok(Some(raw.to_owned())),
            // `-0` is a float's (JSON readers take it as `-0.0`).
            Some(b'-' | b'0'..=b'9')
                if raw != "-0" && raw.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Some(raw.to_owned()))
            }
            // A fractional identifier or code would already have lost digits: refuse it.
            Some(b'-' | b'0'..=b'9') => Err("a fractional number where an identifier or code was expected"),
            _ => Err("a string, a number or a boolean"),
        }
    }

    /// A string, or a number / boolean taken as its text.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        optional_string(d)?.ok_or_else(|| de::Error::custom("a value is required here"))
    }

    /// Like [`string`], with `null` as the empty string: for a field whose absence reads as empty
    /// (`ErrorCode`), since the bank may send `null` where it has nothing to say.
    pub fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(optional_string(d)?.unwrap_or_default())
    }

    /// Like [`string`], with `null` as `None`.
    pub fn optional_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        text(&Box::<RawValue>::deserialize(d)?).map_err(de::Error::custom)
    }

    /// `true`, `false`, `"true"` or `"false"`.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        optional_flag(d)?.ok_or_else(|| de::Error::custom("a value is required here"))
    }

    /// Like [`flag`], with `null` as `None`.
    pub fn optional_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match optional_string(d)?.map(|text| text.to_ascii_lowercase()).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(de::Error::custom("expected true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_kept() {
        for s in ["NEW", "3DS_CHECKING", "CONFIRMED", "PARTIAL_REFUNDED", "AUTH_FAIL", "DEADLINE_EXPIRED"] {
            assert_eq!(PaymentStatus::parse(s).as_str(), s);
        }
        assert_eq!(PaymentStatus::parse("NEW_ONE"), PaymentStatus::Other("NEW_ONE".into()));
        assert!(PaymentStatus::Confirmed.is_paid());
        assert!(!PaymentStatus::Authorized.is_paid());
        assert!(PaymentStatus::Rejected.is_failed());
        assert!(!PaymentStatus::New.is_failed());
    }

    #[test]
    fn check_order_is_read_leniently() {
        let body = r#"{"TerminalKey":"T","OrderId":"o-1","Success":true,"ErrorCode":"0",
            "Payments":[
              {"PaymentId":"13660","Amount":1000,"Status":"REJECTED","RRN":"1","Success":"false","ErrorCode":1051,"Message":"Недостаточно средств"},
              {"PaymentId":5974256058,"Amount":"1000","Status":"CONFIRMED","Success":"true","ErrorCode":0}
            ]}"#;
        let state: OrderState = serde_json::from_str(body).unwrap();
        assert_eq!(state.payments.len(), 2);
        assert!(!state.payments[0].success);
        assert_eq!(state.payments[0].error_code, "1051");
        let paid = state.paid().unwrap();
        assert_eq!(paid.payment_id.as_str(), "5974256058");
        assert_eq!(paid.amount, Some(Money::from_kopecks(1000)));

        let nulls: OrderPayment =
            serde_json::from_str(r#"{"PaymentId":1,"Status":"NEW","ErrorCode":null,"Message":null,"Amount":null}"#)
                .unwrap();
        assert_eq!((nulls.error_code.as_str(), nulls.message, nulls.amount), ("", None, None));
        let outcome: Outcome = serde_json::from_str(r#"{"Success":true,"ErrorCode":null}"#).unwrap();
        assert_eq!((outcome.success, outcome.error_code.as_str()), (true, ""));
    }

    #[test]
    fn a_payment_id_of_twenty_digits_is_read_digit_for_digit_and_a_fraction_is_refused() {
        // More than a `u64` holds; a float would keep 17 of these digits.
        let body = r#"{"Status":"CONFIRMED","PaymentId":98765432109876543210,"OrderId":12,"Amount":100}"#;
        let state: PaymentState = serde_json::from_str(body).unwrap();
        assert_eq!(state.payment_id.as_str(), "98765432109876543210");
        assert_eq!(state.order_id, "12");
        let value: serde_json::Value =
            serde_json::from_str(r#"{"Status":"NEW","PaymentId":"98765432109876543210","OrderId":"o"}"#).unwrap();
        let from_value: PaymentState = serde_json::from_value(value).unwrap();
        assert_eq!(from_value.payment_id.as_str(), "98765432109876543210");
        for garbled in ["1.5", "1e20", "-2.0", "-0", "{}", "[1]", "null"] {
            let body = format!(r#"{{"Status":"NEW","PaymentId":{garbled},"OrderId":"o"}}"#);
            assert!(serde_json::from_str::<PaymentState>(&body).is_err(), "{body}");
        }
    }

    #[test]
    fn amounts_are_kopecks_on_the_wire() {
        let item = ReceiptItem {
            name: "x".into(),
            price: "1500.05".parse().unwrap(),
            quantity: 1,
            amount: "1500.05".parse().unwrap(),
            tax: "vat20".into(),
            payment_method: PaymentMethod::FullPayment,
            payment_object: PaymentObject::Service,
            measurement_unit: None,
        };
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["Price"], 150_005);
        assert_eq!(json["Amount"], 150_005);
        assert_eq!(json["PaymentMethod"], "full_payment");
        assert_eq!(json["PaymentObject"], "service");
        assert!(json.get("MeasurementUnit").is_none());
    }

    #[test]
    fn a_fractional_amount_is_refused_rather_than_rounded() {
        let body = r#"{"Status":"NEW","PaymentId":"1","OrderId":"o","Amount":100.5}"#;
        assert!(serde_json::from_str::<PaymentState>(body).is_err());
    }

    #[test]
    fn init_response_debug_hides_the_payment_url() {
        let body = r#"{"Success":true,"ErrorCode":"0","TerminalKey":"T","Status":"NEW",
            "PaymentId":"3093639567","OrderId":"o-1","Amount":19200,
            "PaymentURL":"https://securepay.tinkoff.ru/new/fU1ppgqa"}"#;
        let r: InitResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.payment_url, "https://securepay.tinkoff.ru/new/fU1ppgqa");
        assert_eq!(r.amount, Money::from_kopecks(19200));
        assert!(!format!("{r:?}").contains("fU1ppgqa"));
    }
}
