//! Inbound notifications: verified with the same Token algorithm that signs our requests, then
//! read into typed values.

use super::messages::{PaymentId, PaymentStatus, kopecks, lenient};
use super::token::{self, TokenError};
use crate::domain::Money;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// A notification whose Token has been checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    /// A payment's status changed (`AUTHORIZED`, `CONFIRMED`, `REJECTED`, `REFUNDED`, …).
    Payment(Box<PaymentNotification>),
    /// The cloud cash register fiscalised the sale (`Status` = `RECEIPT`).
    Receipt(Box<ReceiptNotification>),
}

impl Notification {
    pub fn terminal_key(&self) -> &str {
        match self {
            Self::Payment(n) => &n.terminal_key,
            Self::Receipt(n) => &n.terminal_key,
        }
    }

    /// Our payment id: the `OrderId` we sent to `Init`.
    pub fn order_id(&self) -> &str {
        match self {
            Self::Payment(n) => &n.order_id,
            Self::Receipt(n) => &n.order_id,
        }
    }

    pub fn payment_id(&self) -> &PaymentId {
        match self {
            Self::Payment(n) => &n.payment_id,
            Self::Receipt(n) => &n.payment_id,
        }
    }

    pub fn amount(&self) -> Option<Money> {
        match self {
            Self::Payment(n) => n.amount,
            Self::Receipt(n) => Some(n.amount),
        }
    }
}

/// A payment status notification. `Pan` comes masked (first 6, last 4) and is safe to keep.
///
/// Which fields come "varies by status": beyond the terminal, the order, the status and the
/// bank's payment id, every field may be missing, and the notification is still read (a
/// `CONFIRMED` without its `Amount` is then not acted on: `acquirer::notified_event`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentNotification {
    pub terminal_key: String,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(default, deserialize_with = "lenient::optional_flag")]
    pub success: Option<bool>,
    pub status: PaymentStatus,
    pub payment_id: PaymentId,
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub error_code: String,
    #[serde(default, with = "kopecks::optional")]
    pub amount: Option<Money>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub card_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub pan: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub exp_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub rebill_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub details: Option<String>,
}

impl PaymentNotification {
    /// The bank's `ErrorCode`, unless it says "no error" (`0`, or none at all).
    pub fn error(&self) -> Option<&str> {
        Some(self.error_code.trim()).filter(|code| !matches!(*code, "" | "0"))
    }
}

/// The fiscal receipt's requisites, as a receipt email shows them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptNotification {
    pub terminal_key: String,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(deserialize_with = "lenient::flag")]
    pub success: bool,
    pub payment_id: PaymentId,
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub error_code: String,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub error_message: Option<String>,
    #[serde(with = "kopecks")]
    pub amount: Money,
    /// Receipt number within the shift.
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub fiscal_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub shift_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub receipt_datetime: Option<String>,
    /// The fiscal drive number (FN, 16 digits).
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub fn_number: Option<String>,
    /// The cash register's registration number.
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub ecr_reg_number: Option<String>,
    /// FD, the fiscal document number.
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub fiscal_document_number: Option<String>,
    /// FPD, the fiscal sign (10 digits).
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub fiscal_document_attribute: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub r#type: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub ofd: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub qr_code_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub calculation_place: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub cashier_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub settle_place: Option<String>,
    /// The receipt as the bank echoes it (not signed).
    #[serde(default)]
    pub receipt: Option<ReceiptEcho>,
    /// The notification's signature: the same for every delivery of the same notification.
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub token: Option<String>,
}

/// The echoed receipt holds the buyer's email: kept out of `Debug` output.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ReceiptEcho(pub serde_json::Value);

impl fmt::Debug for ReceiptEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptEcho(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("a correctly signed notification of an unexpected shape: {0}")]
    Shape(Box<Unreadable>),
}

/// A correctly signed body that does not read as a notification, and what it says of itself as
/// far as that reads: enough for an operator to find the payment, nothing personal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable {
    /// What does not read (a field missing, or not of its type).
    pub reason: String,
    pub terminal_key: Option<String>,
    pub order_id: Option<String>,
    pub status: Option<String>,
    pub payment_id: Option<String>,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The fields that say which notification a body is, each as raw text: one that does not read
/// leaves the others readable.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "TerminalKey", borrow, default)]
    terminal_key: Option<&'a RawValue>,
    #[serde(rename = "OrderId", borrow, default)]
    order_id: Option<&'a RawValue>,
    #[serde(rename = "Status", borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(rename = "PaymentId", borrow, default)]
    payment_id: Option<&'a RawValue>,
}

impl Head<'_> {
    fn unreadable(&self, reason: String) -> NotificationError {
        let text = |raw: Option<&RawValue>| raw.and_then(|raw| lenient::text(raw).ok().flatten());
        NotificationError::Shape(Box::new(Unreadable {
            reason,
            terminal_key: text(self.terminal_key),
            order_id: text(self.order_id),
            status: text(self.status),
            payment_id: text(self.payment_id),
        }))
    }
}

/// A kept `RECEIPT` notification without the buyer's contacts: every `Email` and `Phone` the bank
/// echoes (in `Receipt`, or anywhere else) removed, everything else as it was, so the receipt can
/// still be read and mailed to an address given anew. `None` when there was nothing to remove or
/// the text is not a JSON object. Its Token no longer matches: it was checked when it came.
pub fn without_buyer_contacts(notification: &str) -> Option<String> {
    fn strip(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                let before = map.len();
                map.retain(|key, _| !is_contact(key));
                let mut removed = map.len() != before;
                for nested in map.values_mut() {
                    removed |= strip(nested);
                }
                removed
            }
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |removed, item| strip(item) | removed),
            _ => false,
        }
    }
    fn is_contact(key: &str) -> bool {
        key.eq_ignore_ascii_case("email") || key.eq_ignore_ascii_case("phone")
    }
    // The root values stay as written: a `PaymentId` of 20 digits would not survive a float.
    let Ok(members) = token::root_members(notification) else {
        // Not a body the Token check accepts (no kept one is): the whole of it rewritten.
        let mut value: serde_json::Value = serde_json::from_str(notification).ok()?;
        return (value.is_object() && strip(&mut value)).then(|| value.to_string());
    };
    let mut removed = false;
    let mut kept = Vec::with_capacity(members.len());
    for (key, raw) in members {
        if is_contact(&key) {
            removed = true;
            continue;
        }
        let text = raw.get().trim();
        let mut rewritten = None;
        if text.starts_with(['{', '[']) {
            let mut nested: serde_json::Value = serde_json::from_str(text).ok()?;
            if strip(&mut nested) {
                removed = true;
                rewritten = Some(nested.to_string());
            }
        }
        let key = serde_json::to_string(&key).ok()?;
        kept.push(format!("{key}:{}", rewritten.as_deref().unwrap_or(text)));
    }
    removed.then(|| format!("{{{}}}", kept.join(",")))
}

/// Checks a notification's Token against the terminal password, then reads it.
///
/// Nothing in an unverified body is trusted or read beyond what the Token check needs.
pub fn verify_notification(raw_body: &str, password: &str) -> Result<Notification, NotificationError> {
    token::verify(raw_body, password)?;

    let head: Head<'_> = serde_json::from_str(raw_body).map_err(|e| {
        NotificationError::Shape(Box::new(Unreadable { reason: e.to_string(), ..Unreadable::default() }))
    })?;
    let shape = |e: serde_json::Error| head.unreadable(e.to_string());
    let receipt = head.status.is_some_and(|raw| lenient::text(raw).ok().flatten().as_deref() == Some("RECEIPT"));
    if receipt {
        serde_json::from_str(raw_body).map(|r| Notification::Receipt(Box::new(r))).map_err(shape)
    } else {
        serde_json::from_str(raw_body).map(|p| Notification::Payment(Box::new(p))).map_err(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(body: &str, password: &str) -> String {
        let token = token::sign_json(body, password).unwrap();
        let end = body.rfind('}').unwrap();
        format!(r#"{}, "Token": "{token}"}}"#, &body[..end])
    }

    #[test]
    fn a_confirmed_payment_notification_reads_with_numbers_as_sent() {
        let body = signed(
            r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"CONFIRMED",
                "PaymentId":5974256058,"ErrorCode":"0","Amount":150005,"CardId":322264,
                "Pan":"220138******0013","ExpDate":"1130","DATA":{"k":"v"}}"#,
            "pw",
        );
        let Notification::Payment(n) = verify_notification(&body, "pw").unwrap() else {
            panic!("a payment notification")
        };
        assert_eq!(n.payment_id.as_str(), "5974256058");
        assert_eq!(n.amount, Some("1500.05".parse().unwrap()));
        assert_eq!(n.status, PaymentStatus::Confirmed);
        assert_eq!(n.success, Some(true));
        assert_eq!(n.card_id.as_deref(), Some("322264"));
        assert_eq!(n.pan.as_deref(), Some("220138******0013"));
    }

    #[test]
    fn a_receipt_notification_is_told_apart_by_its_status() {
        let body = signed(
            r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"RECEIPT",
                "PaymentId":5974256058,"ErrorCode":"0","Amount":150005,
                "FiscalNumber":12,"ShiftNumber":34,"ReceiptDatetime":"2026-01-15T10:20:30+03:00",
                "FnNumber":"9282000100072197","EcrRegNumber":"0000000001047231",
                "FiscalDocumentNumber":64318,"FiscalDocumentAttribute":2918241905,
                "Type":"IncomeReturn","Ofd":"ОФД","Url":"https://nalog.ru","QrCodeUrl":"https://q",
                "CalculationPlace":"https://example.ru","SettlePlace":"https://example.ru",
                "Receipt":{"Email":"buyer@example.ru","Items":[]}}"#,
            "pw",
        );
        let Notification::Receipt(r) = verify_notification(&body, "pw").unwrap() else {
            panic!("a receipt notification")
        };
        assert_eq!(r.fn_number.as_deref(), Some("9282000100072197"));
        assert_eq!(r.fiscal_document_attribute.as_deref(), Some("2918241905"));
        assert_eq!(r.fiscal_number.as_deref(), Some("12"));
        assert!(!format!("{r:?}").contains("buyer@"));
    }

    #[test]
    fn an_unsigned_or_forged_notification_is_refused_before_it_is_read() {
        let body = r#"{"TerminalKey":"T","OrderId":"o","Success":true,"Status":"CONFIRMED",
            "PaymentId":1,"Amount":100}"#;
        assert_eq!(verify_notification(body, "pw"), Err(NotificationError::Token(TokenError::Missing)));
        let forged = signed(body, "guess");
        assert_eq!(verify_notification(&forged, "pw"), Err(NotificationError::Token(TokenError::Mismatch)));
    }

    #[test]
    fn a_kept_receipt_loses_the_buyers_contacts_and_nothing_else() {
        let kept = r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"RECEIPT","PaymentId":5974256058,"Amount":150005,
            "FiscalDocumentNumber":64318,"Receipt":{"Email":"buyer@example.ru","Phone":"+79001234567",
            "Items":[{"Name":"Оплата","Amount":150005}]},"Token":"abc"}"#;
        let without = without_buyer_contacts(kept).expect("contacts to remove");
        assert!(!without.contains("buyer@") && !without.contains("+7900"), "{without}");
        let before: serde_json::Value = serde_json::from_str(kept).unwrap();
        let after: serde_json::Value = serde_json::from_str(&without).unwrap();
        assert_eq!(after["PaymentId"], before["PaymentId"], "numbers kept as they were");
        assert_eq!(after["Receipt"]["Items"], before["Receipt"]["Items"]);
        assert_eq!(
            after.as_object().unwrap().keys().collect::<Vec<_>>(),
            before.as_object().unwrap().keys().collect::<Vec<_>>()
        );
        let read: ReceiptNotification = serde_json::from_str(&without).expect("still a receipt notification");
        assert_eq!(read.fiscal_document_number.as_deref(), Some("64318"));
        assert_eq!(without_buyer_contacts(&without), None, "nothing left to remove");
        assert_eq!(without_buyer_contacts("not json"), None);
        let repeated = without_buyer_contacts(r#"{"Email":"a@example.ru","Email":"b@example.ru","N":1}"#);
        assert_eq!(repeated.as_deref(), Some(r#"{"N":1}"#), "removed from any object");
    }

    #[test]
    fn a_signed_failure_without_an_amount_or_a_success_flag_is_still_read() {
        // "Presence varies by status": refusing it would have the bank deliver it for a day.
        let body =
            signed(r#"{"TerminalKey":"T","OrderId":"o","Status":"REJECTED","PaymentId":1,"ErrorCode":"1051"}"#, "pw");
        let Notification::Payment(n) = verify_notification(&body, "pw").unwrap() else {
            panic!("a payment notification")
        };
        assert_eq!((n.status, n.amount, n.success), (PaymentStatus::Rejected, None, None));
        assert_eq!(n.error_code, "1051");
    }

    #[test]
    fn a_signed_notification_with_null_optional_fields_reads_them_as_absent() {
        let with_nulls = r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"CONFIRMED",
            "PaymentId":5974256058,"ErrorCode":null,"Amount":150005,"CardId":null,"Pan":null,
            "ExpDate":null,"RebillId":null,"Message":null,"Details":null}"#;
        let without = r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"CONFIRMED",
            "PaymentId":5974256058,"Amount":150005}"#;
        // Nulls take no part in the Token: the bank signs what it would sign without them.
        assert_eq!(token::sign_json(with_nulls, "pw").unwrap(), token::sign_json(without, "pw").unwrap());
        let body = signed(with_nulls, "pw");
        let Notification::Payment(n) = verify_notification(&body, "pw").unwrap() else {
            panic!("a payment notification")
        };
        assert_eq!((n.error_code.as_str(), n.error()), ("", None));
        assert_eq!((n.card_id, n.pan, n.message), (None, None, None));
        assert_eq!(n.amount, Some("1500.05".parse().unwrap()));
        assert_eq!(
            verify_notification(&signed(with_nulls, "guess"), "pw"),
            Err(NotificationError::Token(TokenError::Mismatch)),
            "the Token is still checked"
        );

        let receipt = signed(
            r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"RECEIPT","PaymentId":5974256058,
                "ErrorCode":null,"ErrorMessage":null,"Amount":150005,"FiscalNumber":null,"Url":null,
                "Receipt":null}"#,
            "pw",
        );
        let Notification::Receipt(r) = verify_notification(&receipt, "pw").unwrap() else {
            panic!("a receipt notification")
        };
        assert_eq!((r.error_code.as_str(), r.error_message, r.fiscal_number, r.receipt), ("", None, None, None));
    }

    #[test]
    fn a_payment_id_of_twenty_digits_reads_digit_for_digit_and_survives_the_removal_of_contacts() {
        let body = signed(
            r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"RECEIPT",
                "PaymentId":98765432109876543210,"ErrorCode":"0","Amount":150005,
                "Receipt":{"Email":"buyer@example.ru","Items":[]}}"#,
            "pw",
        );
        let read = verify_notification(&body, "pw").unwrap();
        assert_eq!(read.payment_id().as_str(), "98765432109876543210");
        let without = without_buyer_contacts(&body).expect("an email to remove");
        assert!(without.contains(r#""PaymentId":98765432109876543210"#), "{without}");
        let kept: ReceiptNotification = serde_json::from_str(&without).unwrap();
        assert_eq!(kept.payment_id.as_str(), "98765432109876543210");
    }

    #[test]
    fn a_signed_body_that_does_not_read_still_says_which_order_it_is_about() {
        let body = signed(
            r#"{"TerminalKey":"T","OrderId":"7f1c","Success":true,"Status":"RECEIPT",
                "PaymentId":5974256058,"ErrorCode":"0","Receipt":{"Email":"buyer@example.ru"}}"#,
            "pw",
        );
        let Err(NotificationError::Shape(unreadable)) = verify_notification(&body, "pw") else {
            panic!("a receipt without its Amount does not read")
        };
        assert_eq!(unreadable.terminal_key.as_deref(), Some("T"));
        assert_eq!(unreadable.order_id.as_deref(), Some("7f1c"));
        assert_eq!(unreadable.status.as_deref(), Some("RECEIPT"));
        assert_eq!(unreadable.payment_id.as_deref(), Some("5974256058"));
        assert!(unreadable.reason.contains("Amount"), "{}", unreadable.reason);

        // One head field that does not read leaves the others.
        let body = signed(r#"{"TerminalKey":"T","OrderId":"7f1c","Status":"CONFIRMED","PaymentId":1.5e20}"#, "pw");
        let Err(NotificationError::Shape(unreadable)) = verify_notification(&body, "pw") else {
            panic!("a fractional PaymentId does not read")
        };
        assert_eq!((unreadable.order_id.as_deref(), unreadable.payment_id.as_deref()), (Some("7f1c"), None));
    }

    #[test]
    fn a_signed_body_without_its_status_or_ids_is_a_shape_error() {
        for body in [
            r#"{"TerminalKey":"T","OrderId":"o","Success":true,"PaymentId":1,"Amount":100}"#,
            r#"{"TerminalKey":"T","Success":true,"Status":"CONFIRMED","PaymentId":1,"Amount":100}"#,
            r#"{"TerminalKey":"T","OrderId":"o","Success":true,"Status":"CONFIRMED","Amount":100}"#,
        ] {
            let body = signed(body, "pw");
            assert!(matches!(verify_notification(&body, "pw"), Err(NotificationError::Shape(_))), "{body}");
        }
    }
}
