//! The payment item as settlement leaves it, read back whole ([`decode_record`]): the attributes
//! the ledgers below add to a payment item, named here once:
//! - `paidAt`: when the account was credited; `failure`: the bank status that ended it unpaid,
//!   and `declineCode` the bank's `ErrorCode` with it, when it gave one;
//! - `anomaly`, `anomalyAt`: the last anomaly noted, for an operator;
//! - `receipt` (the sale's fiscal receipt), `refundReceipt#<FD>` (a refund's) and
//!   `otherReceipt#<key>` (one too sparse to tell): maps `{notification, receivedAt}` holding the
//!   verified `RECEIPT` notification whole;
//! - `receiptsKept`: how many receipts were kept (every keeping adds one; absent on a payment whose
//!   receipts were all kept by a build from before the count), so a write can be conditioned on
//!   no receipt of any kind having been kept since its read;
//! - `email#paymentReceived`, `email#receipt`, `email#refundReceipt#<FD>`, `email#otherReceipt#<key>`:
//!   `sending:<ts>#<nonce>` while claimed, then `sent:<ts>` or `rejected:<ts>`. Timestamps are
//!   fixed-width UTC text, so a claim compares with a cut-off as a string inside a condition;
//! - `unrenderedReceipts`: a string set of the receipts whose email could not be composed yet;
//!   while it exists the payment stays listed as PENDING.
//!
//! Writes nothing.

use super::item::{self, Item};
use super::payments::{self, RECEIPT};
use crate::ports::StoreError;
use crate::ports::ledger::{CustomerEmail, EmailMark, PaymentRecord, ReceiptSlot, StoredReceipt};
use aws_sdk_dynamodb::types::AttributeValue;

pub(super) const PAID_AT: &str = "paidAt";
pub(super) const DECLINE_CODE: &str = "declineCode";
pub(super) const ANOMALY: &str = "anomaly";
pub(super) const REFUND_RECEIPT_PREFIX: &str = "refundReceipt#";
pub(super) const OTHER_RECEIPT_PREFIX: &str = "otherReceipt#";
pub(super) const UNRENDERED: &str = "unrenderedReceipts";
pub(super) const RECEIPTS_KEPT: &str = "receiptsKept";
pub(super) const EMAIL_PREFIX: &str = "email#";
pub(super) const PAYMENT_RECEIVED_EMAIL: &str = "email#paymentReceived";
/// The sale receipt's email: `email#` and [`RECEIPT`].
pub(super) const SALE_RECEIPT_EMAIL: &str = "email#receipt";

pub(super) const SENDING: &str = "sending:";
pub(super) const SENT: &str = "sent:";
pub(super) const REJECTED: &str = "rejected:";

pub(super) fn receipt_attribute(slot: &ReceiptSlot) -> String {
    match slot {
        ReceiptSlot::Sale => RECEIPT.to_owned(),
        ReceiptSlot::Refund { document } => format!("{REFUND_RECEIPT_PREFIX}{document}"),
        ReceiptSlot::Unidentified { key } => format!("{OTHER_RECEIPT_PREFIX}{key}"),
    }
}

pub(super) fn email_attribute(email: &CustomerEmail) -> String {
    match email {
        CustomerEmail::PaymentReceived => PAYMENT_RECEIVED_EMAIL.to_owned(),
        CustomerEmail::Receipt(slot) => format!("{EMAIL_PREFIX}{}", receipt_attribute(slot)),
    }
}

pub(super) fn receipt_slot_of(attribute: &str) -> Option<ReceiptSlot> {
    if attribute == RECEIPT {
        Some(ReceiptSlot::Sale)
    } else if let Some(document) = attribute.strip_prefix(REFUND_RECEIPT_PREFIX) {
        Some(ReceiptSlot::Refund { document: document.to_owned() })
    } else {
        attribute.strip_prefix(OTHER_RECEIPT_PREFIX).map(|key| ReceiptSlot::Unidentified { key: key.to_owned() })
    }
}

pub(super) fn email_of(attribute: &str) -> Option<CustomerEmail> {
    if attribute == PAYMENT_RECEIVED_EMAIL {
        return Some(CustomerEmail::PaymentReceived);
    }
    attribute.strip_prefix(EMAIL_PREFIX).and_then(receipt_slot_of).map(CustomerEmail::Receipt)
}

pub(super) fn parse_mark(value: &str) -> Result<EmailMark, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("email mark {value:?}"));
    if let Some(rest) = value.strip_prefix(SENDING) {
        let since = rest.split_once('#').map_or(rest, |(at, _nonce)| at);
        let since = item::parse_time(since, "email claim").map_err(|_| corrupt())?;
        Ok(EmailMark::Sending { since, token: value.to_owned() })
    } else if let Some(at) = value.strip_prefix(SENT) {
        Ok(EmailMark::Sent { at: item::parse_time(at, "email sent").map_err(|_| corrupt())? })
    } else if let Some(at) = value.strip_prefix(REJECTED) {
        Ok(EmailMark::Rejected { at: item::parse_time(at, "email rejected").map_err(|_| corrupt())? })
    } else {
        Err(corrupt())
    }
}

pub(crate) fn decode_record(item: &Item) -> Result<PaymentRecord, StoreError> {
    let payment = payments::decode(item)?;
    let paid_at = match item.get(PAID_AT) {
        Some(AttributeValue::S(t)) => Some(item::parse_time(t, PAID_AT)?),
        _ => None,
    };
    let anomaly = match item.get(ANOMALY) {
        Some(AttributeValue::S(a)) => Some(a.clone()),
        _ => None,
    };
    let receipts_kept = if item.contains_key(RECEIPTS_KEPT) { item::get_u64(item, RECEIPTS_KEPT)? } else { 0 };
    let mut receipts = Vec::new();
    let mut emails = Vec::new();
    for (name, value) in item {
        if let Some(slot) = receipt_slot_of(name) {
            let AttributeValue::M(map) = value else {
                return Err(StoreError::Corrupt(format!("{name}: expected a map")));
            };
            receipts.push(StoredReceipt {
                slot,
                notification: item::get_s(map, "notification")?.to_owned(),
                received_at: item::parse_time(item::get_s(map, "receivedAt")?, "receivedAt")?,
            });
        } else if let Some(email) = email_of(name) {
            let AttributeValue::S(mark) = value else {
                return Err(StoreError::Corrupt(format!("{name}: expected a string")));
            };
            emails.push((email, parse_mark(mark)?));
        }
    }
    // The sale's receipt first, then refunds in document order: the order emails go out in.
    receipts.sort_by(|a, b| slot_order(&a.slot).cmp(&slot_order(&b.slot)));
    Ok(PaymentRecord { payment, paid_at, anomaly, receipts, receipts_kept, emails })
}

pub(super) fn slot_order(slot: &ReceiptSlot) -> (u8, usize, &str) {
    match slot {
        ReceiptSlot::Sale => (0, 0, ""),
        ReceiptSlot::Refund { document } => (1, document.len(), document),
        ReceiptSlot::Unidentified { key } => (2, key.len(), key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::timestamp;
    use chrono::{DateTime, Utc};

    #[test]
    fn email_and_receipt_attributes_read_back_as_what_they_name() {
        let refund = ReceiptSlot::Refund { document: "64318".into() };
        let other = ReceiptSlot::Unidentified { key: "0123456789abcdef".into() };
        for email in [
            CustomerEmail::PaymentReceived,
            CustomerEmail::Receipt(ReceiptSlot::Sale),
            CustomerEmail::Receipt(refund.clone()),
            CustomerEmail::Receipt(other.clone()),
        ] {
            assert_eq!(email_of(&email_attribute(&email)), Some(email));
        }
        assert_eq!(receipt_attribute(&ReceiptSlot::Sale), "receipt", "the attribute the status page looks for");
        assert_eq!(email_attribute(&CustomerEmail::Receipt(ReceiptSlot::Sale)), SALE_RECEIPT_EMAIL);
        assert_eq!(receipt_slot_of(&receipt_attribute(&refund)), Some(refund));
        assert_eq!(receipt_slot_of(&receipt_attribute(&other)), Some(other));
        assert_eq!(email_of("emailAddress"), None);
        assert_eq!(receipt_slot_of("receipts"), None);
    }

    #[test]
    fn a_claim_sorts_below_a_later_cut_off_and_above_an_earlier_one() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let claim = format!("{SENDING}{}#{}", timestamp(at("2026-11-25T09:42:00.123Z")), "0123456789ab");
        assert!(claim < format!("{SENDING}{}", timestamp(at("2026-11-25T09:47:00Z"))));
        assert!(claim > format!("{SENDING}{}", timestamp(at("2026-11-25T09:37:00Z"))));
        assert_eq!(
            parse_mark(&claim).unwrap(),
            EmailMark::Sending { since: at("2026-11-25T09:42:00.123Z"), token: claim.clone() }
        );
        assert_eq!(
            parse_mark(&format!("{SENT}2026-11-25T09:42:01.000Z")).unwrap(),
            EmailMark::Sent { at: at("2026-11-25T09:42:01Z") }
        );
        assert!(parse_mark("sent").is_err());
    }
}
