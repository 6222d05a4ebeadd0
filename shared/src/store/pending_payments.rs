//! [`PendingPayments`] on DynamoDB: the payments index's PENDING list the reconciliation walks,
//! oldest first. A payment with nothing left to do moves from PENDING to FINISHED; it never moves
//! money.

use super::item::{self, Item};
use super::keys;
use super::payment_record::{PAYMENT_RECEIVED_EMAIL, REJECTED, SALE_RECEIPT_EMAIL, SENT, UNRENDERED};
use super::payments::{self, FINISHED, INDEX, INDEX_PK, INDEX_SK, PENDING, RECEIPT};
use super::{DynamoStore, unavailable};
use crate::domain::PaymentId;
use crate::ports::StoreError;
use crate::ports::ledger::{CustomerEmail, PendingCursor, PendingPage, PendingPayments, ReceiptSlot};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// Whether `item` (as a write just left it) meets [`PendingPayments::unlist_if_mailed`]'s
/// condition, read in Rust: the same rule, so a settlement that leaves an email due skips the
/// request. The request itself still checks the condition.
pub(super) fn mailed(item: &Item) -> bool {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let settled = |name: &str| text(name).is_some_and(|v| v.starts_with(SENT) || v.starts_with(REJECTED));
    text(INDEX_PK) == Some(PENDING)
        && settled(PAYMENT_RECEIVED_EMAIL)
        && (!item.contains_key(RECEIPT) || settled(SALE_RECEIPT_EMAIL))
        && !item.contains_key(UNRENDERED)
}

impl PendingPayments for DynamoStore {
    async fn pending_payments(
        &self,
        created_before: DateTime<Utc>,
        after: Option<&PendingCursor>,
        limit: i32,
    ) -> Result<PendingPage, StoreError> {
        let start = after.map(|cursor| {
            Item::from([
                ("PK".to_owned(), item::s(keys::payment_pk(&cursor.payment))),
                ("SK".to_owned(), item::s(keys::PAYMENT)),
                (INDEX_PK.to_owned(), item::s(PENDING)),
                (INDEX_SK.to_owned(), item::s(&cursor.position)),
            ])
        });
        let out = self
            .query_items()
            .index_name(INDEX)
            // `GSI2SK` is `<created at>#<id>`: everything below the cut-off time sorts before it.
            .key_condition_expression("GSI2PK = :pending AND GSI2SK < :before")
            .expression_attribute_values(":pending", item::s(PENDING))
            .expression_attribute_values(":before", item::s(item::timestamp(created_before)))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(unavailable)?;
        let payments = out.items().iter().map(payments::decode_pending).collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key() {
            Some(last) => {
                let pk = item::get_s(last, "PK")?;
                let payment = pk
                    .strip_prefix("PAYMENT#")
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
                Some(PendingCursor { payment, position: item::get_s(last, INDEX_SK)?.to_owned() })
            }
            None => None,
        };
        Ok(PendingPage { payments, next })
    }

    /// Moves a credited payment from PENDING to FINISHED once its "payment received" email and
    /// its sale receipt's email (if a receipt was kept) are settled and no kept receipt waits to
    /// be composed. Each settlement calls this after its own write, so whichever of two racing
    /// settlements comes second sees both.
    async fn unlist_if_mailed(&self, id: &PaymentId, at: DateTime<Utc>) -> Result<(), StoreError> {
        // A payment that is not (or no longer) listed fails the condition: nothing to do.
        let (mailed, names) = mailed_condition(None);
        self.conditional_update(
            id,
            "SET GSI2PK = :finished, GSI2SK = :position",
            &format!("GSI2PK = :pending AND {mailed}"),
            &names,
            vec![
                (":sent", item::s(SENT)),
                (":rejected", item::s(REJECTED)),
                (":pending", item::s(PENDING)),
                (":finished", item::s(FINISHED)),
                (":position", item::s(payments::finished_position(id, at))),
            ],
        )
        .await
        .map(|_| ())
    }
}

/// [`mailed`] as a condition (with `:sent` and `:rejected`), and the names it uses; `but`, the
/// email the same write settles, is left out of it.
pub(super) fn mailed_condition(but: Option<&CustomerEmail>) -> (String, Vec<(&'static str, &'static str)>) {
    let settled = |name: &str| format!("begins_with({name}, :sent) OR begins_with({name}, :rejected)");
    let mut parts = Vec::new();
    let mut names = vec![("#unrendered", UNRENDERED)];
    if but != Some(&CustomerEmail::PaymentReceived) {
        parts.push(format!("({})", settled("#received")));
        names.push(("#received", PAYMENT_RECEIVED_EMAIL));
    }
    if but != Some(&CustomerEmail::Receipt(ReceiptSlot::Sale)) {
        parts.push(format!("(attribute_not_exists(#receipt) OR {})", settled("#receipt_email")));
        names.push(("#receipt", RECEIPT));
        names.push(("#receipt_email", SALE_RECEIPT_EMAIL));
    }
    parts.push("attribute_not_exists(#unrendered)".to_owned());
    (parts.join(" AND "), names)
}
