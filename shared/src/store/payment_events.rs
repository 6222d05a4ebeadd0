//! What the callback and the reconciliation write: the payment item's transitions, the account's
//! balance and its ledger (`ACCOUNT#<n>` / `LEDGER#…`), receipts and email marks.
//!
//! A credit or a refund is one `TransactWriteItems` of three actions, in this order:
//! 1. the payment's transition, conditional on the payment being as it was read;
//! 2. the profile's `balance` moved by the amount (`attribute_exists`: never a phantom account);
//! 3. a ledger entry with `attribute_not_exists(PK)`, keyed by payment and movement.
//!
//! So a duplicate delivery, however concurrent, fails a condition and changes nothing.
//!
//! Attributes this module adds to the payment item:
//! - `paidAt`: when the account was credited; `failure`: the bank status that ended it unpaid;
//! - `anomaly`, `anomalyAt`: the last anomaly noted, for an operator;
//! - `receipt` (the sale's fiscal receipt), `refundReceipt#<FD>` (a refund's) and
//!   `otherReceipt#<key>` (one too sparse to tell): maps `{notification, receivedAt}` holding the
//!   verified `RECEIPT` notification whole;
//! - `email#paymentReceived`, `email#receipt`, `email#refundReceipt#<FD>`, `email#otherReceipt#<key>`:
//!   `sending:<ts>#<nonce>` while claimed, then `sent:<ts>` or `rejected:<ts>`. Timestamps are
//!   fixed-width UTC text, so a claim compares with a cut-off as a string inside a condition;
//! - `unrenderedReceipts`: a string set of the receipts whose email could not be composed yet;
//!   while it exists the payment stays listed as PENDING.
//!
//! A payment with nothing left to do moves from PENDING to FINISHED in the payments index; once
//! the retention period is over its `email` is removed, and the buyer's contacts with it from the
//! receipts kept whole (`forget_customer_emails`).

use super::all_items;
use super::item::{self, Item};
use super::keys;
use super::payments::{self, FINISHED, INDEX, INDEX_PK, INDEX_SK, PENDING, RECEIPT, timestamp};
use super::{DynamoStore, unavailable};
use crate::domain::payment_transition::Transition;
use crate::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use crate::ports::StoreError;
use crate::ports::ledger::{
    Applied, BankFacts, CustomerEmail, CustomerEmailRetention, EmailClaim, EmailLedger, EmailMark, EmailOutcome,
    Forgotten, LedgerEntry, LedgerReader, Movement, PaymentLedger, PaymentRecord, PendingCursor, PendingPage,
    PendingPayments, ReceiptSlot, StoredReceipt,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

const PAID_AT: &str = "paidAt";
const ANOMALY: &str = "anomaly";
const REFUND_RECEIPT_PREFIX: &str = "refundReceipt#";
const OTHER_RECEIPT_PREFIX: &str = "otherReceipt#";
const UNRENDERED: &str = "unrenderedReceipts";
const EMAIL_PREFIX: &str = "email#";
const PAYMENT_RECEIVED_EMAIL: &str = "email#paymentReceived";

const SENDING: &str = "sending:";
const SENT: &str = "sent:";
const REJECTED: &str = "rejected:";

/// Positions of the actions in a money transaction: `CancellationReasons` come in this order.
const PAYMENT_ACTION: usize = 0;
const ACCOUNT_ACTION: usize = 1;
const LEDGER_ACTION: usize = 2;

fn receipt_attribute(slot: &ReceiptSlot) -> String {
    match slot {
        ReceiptSlot::Sale => RECEIPT.to_owned(),
        ReceiptSlot::Refund { document } => format!("{REFUND_RECEIPT_PREFIX}{document}"),
        ReceiptSlot::Unidentified { key } => format!("{OTHER_RECEIPT_PREFIX}{key}"),
    }
}

fn email_attribute(email: &CustomerEmail) -> String {
    match email {
        CustomerEmail::PaymentReceived => PAYMENT_RECEIVED_EMAIL.to_owned(),
        CustomerEmail::Receipt(slot) => format!("{EMAIL_PREFIX}{}", receipt_attribute(slot)),
    }
}

fn receipt_slot_of(attribute: &str) -> Option<ReceiptSlot> {
    if attribute == RECEIPT {
        Some(ReceiptSlot::Sale)
    } else if let Some(document) = attribute.strip_prefix(REFUND_RECEIPT_PREFIX) {
        Some(ReceiptSlot::Refund { document: document.to_owned() })
    } else {
        attribute.strip_prefix(OTHER_RECEIPT_PREFIX).map(|key| ReceiptSlot::Unidentified { key: key.to_owned() })
    }
}

fn email_of(attribute: &str) -> Option<CustomerEmail> {
    if attribute == PAYMENT_RECEIVED_EMAIL {
        return Some(CustomerEmail::PaymentReceived);
    }
    attribute.strip_prefix(EMAIL_PREFIX).and_then(receipt_slot_of).map(CustomerEmail::Receipt)
}

fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_mark(value: &str) -> Result<EmailMark, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("email mark {value:?}"));
    if let Some(rest) = value.strip_prefix(SENDING) {
        let since = rest.split_once('#').map_or(rest, |(at, _nonce)| at);
        Ok(EmailMark::Sending { since: parse_time(since, "email claim").map_err(|_| corrupt())? })
    } else if let Some(at) = value.strip_prefix(SENT) {
        Ok(EmailMark::Sent { at: parse_time(at, "email sent").map_err(|_| corrupt())? })
    } else if let Some(at) = value.strip_prefix(REJECTED) {
        Ok(EmailMark::Rejected { at: parse_time(at, "email rejected").map_err(|_| corrupt())? })
    } else {
        Err(corrupt())
    }
}

pub(crate) fn decode_record(item: &Item) -> Result<PaymentRecord, StoreError> {
    let payment = payments::decode(item)?;
    let paid_at = match item.get(PAID_AT) {
        Some(AttributeValue::S(t)) => Some(parse_time(t, PAID_AT)?),
        _ => None,
    };
    let anomaly = match item.get(ANOMALY) {
        Some(AttributeValue::S(a)) => Some(a.clone()),
        _ => None,
    };
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
                received_at: parse_time(item::get_s(map, "receivedAt")?, "receivedAt")?,
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
    Ok(PaymentRecord { payment, paid_at, anomaly, receipts, emails })
}

fn slot_order(slot: &ReceiptSlot) -> (u8, usize, &str) {
    match slot {
        ReceiptSlot::Sale => (0, 0, ""),
        ReceiptSlot::Refund { document } => (1, document.len(), document),
        ReceiptSlot::Unidentified { key } => (2, key.len(), key),
    }
}

fn build_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("a request could not be built: {e}"))
}

/// The outcome of a money transaction that DynamoDB cancelled.
fn cancelled(
    error: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Result<Applied, StoreError> {
    let Some(service) = error.as_service_error() else {
        return Err(unavailable(error));
    };
    if service.is_transaction_in_progress_exception() {
        return Ok(Applied::Stale);
    }
    let TransactWriteItemsError::TransactionCanceledException(cancel) = service else {
        return Err(unavailable(error));
    };
    let reasons: Vec<&str> = cancel.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
    let failed = |action: usize| reasons.get(action).copied() == Some("ConditionalCheckFailed");
    if failed(PAYMENT_ACTION) || reasons.contains(&"TransactionConflict") {
        return Ok(Applied::Stale);
    }
    if failed(ACCOUNT_ACTION) {
        return Ok(Applied::AccountMissing);
    }
    if failed(LEDGER_ACTION) {
        // The movement is in the ledger while the payment does not show it: only a write outside
        // this module could do that. Reading again settles nothing, but neither does moving money.
        tracing::error!(reasons = ?reasons, "ledger entry exists for a payment that does not show it");
        return Ok(Applied::Stale);
    }
    Err(StoreError::Unavailable(format!("transaction cancelled: {reasons:?}")))
}

fn update_outcome<E, R>(
    result: Result<E, SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>>,
) -> Result<Applied, StoreError>
where
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(Applied::Written),
        Err(e)
            if e.as_service_error().is_some_and(|se| {
                se.is_conditional_check_failed_exception() || se.is_transaction_conflict_exception()
            }) =>
        {
            Ok(Applied::Stale)
        }
        Err(e) => Err(unavailable(e)),
    }
}

impl DynamoStore {
    fn payment_key(&self, id: &PaymentId) -> [(&'static str, AttributeValue); 2] {
        [("PK", item::s(keys::payment_pk(id))), ("SK", item::s(keys::PAYMENT))]
    }

    fn balance_update(&self, account: &AccountNumber, delta: Money) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("PK", item::s(keys::account_pk(account)))
            .key("SK", item::s(keys::PROFILE))
            .update_expression("SET balance = balance + :delta")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":delta", item::money(delta))
            .build()
            .map_err(build_failed)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn ledger_put(
        &self,
        entry: &LedgerEntry,
        acquirer_payment_id: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let (sk, kind) = match &entry.movement {
            Movement::Credit => (keys::ledger_credit_sk(&entry.payment), "CREDIT"),
            Movement::Refund { total_refunded } => (keys::ledger_refund_sk(&entry.payment, *total_refunded), "REFUND"),
        };
        let mut attributes = Item::from([
            ("PK".to_owned(), item::s(keys::account_pk(&entry.account))),
            ("SK".to_owned(), item::s(sk)),
            ("kind".to_owned(), item::s(kind)),
            ("amount".to_owned(), item::money(entry.amount)),
            ("paymentId".to_owned(), item::s(entry.payment.as_str())),
            ("at".to_owned(), item::s(timestamp(entry.at))),
        ]);
        if let Movement::Refund { total_refunded } = &entry.movement {
            attributes.insert("totalRefunded".to_owned(), item::money(*total_refunded));
        }
        if let Some(pid) = acquirer_payment_id {
            attributes.insert("acquirerPaymentId".to_owned(), item::s(pid));
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_failed)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn transact(&self, actions: Vec<TransactWriteItem>) -> Result<Applied, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(actions)).send().await {
            Ok(_) => Ok(Applied::Written),
            Err(e) => cancelled(e),
        }
    }

    async fn write_credit(
        &self,
        read: &PaymentRecord,
        amount: Money,
        anomaly: Option<&str>,
        facts: &BankFacts,
    ) -> Result<Applied, StoreError> {
        let payment = &read.payment;
        // Paid, and (back) under PENDING until its emails are settled (`settle_email`): a credit
        // found by reconciliation whose email could not go out gets no notification to retry it,
        // and a late capture of a failed payment had finished.
        let mut set =
            vec!["#status = :paid", "paidAt = :at", "updatedAt = :at", "GSI2PK = :pending", "GSI2SK = :position"];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(&payment.id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            // Only a payment still as read (waiting, failed or under review: never credited) is
            // credited: whoever got here first did it, and a change meanwhile is decided again.
            .condition_expression("#status = :read_status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", item::s(PaymentStatus::Paid.as_str()))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":pending", item::s(PENDING))
            .expression_attribute_values(":position", item::s(payments::pending_position(payment)))
            .expression_attribute_values(":at", item::s(timestamp(facts.at)));
        if let Some(what) = anomaly {
            // In the same write as the credit: the note cannot be lost after the money moved.
            set.push("anomaly = :anomaly");
            set.push("anomalyAt = :at");
            update = update.expression_attribute_values(":anomaly", item::s(what));
        }
        if let Some(pid) = &facts.acquirer_payment_id {
            // The attempt that captured the money, even when `Init`'s answer named another.
            set.push("acquirerPaymentId = :pid");
            update = update.expression_attribute_values(":pid", item::s(pid));
        }
        if let Some(card) = &facts.card {
            set.push("card = :card");
            update = update.expression_attribute_values(":card", item::to_attr(card)?);
        }
        let update = update.update_expression(format!("SET {}", set.join(", "))).build().map_err(build_failed)?;
        let entry = LedgerEntry {
            account: payment.account,
            payment: payment.id.clone(),
            movement: Movement::Credit,
            amount,
            at: facts.at,
        };
        self.transact(vec![
            TransactWriteItem::builder().update(update).build(),
            self.balance_update(&payment.account, amount)?,
            self.ledger_put(&entry, facts.acquirer_payment_id.as_deref())?,
        ])
        .await
    }

    async fn write_refund(
        &self,
        read: &PaymentRecord,
        amount: Money,
        total_refunded: Money,
        status: PaymentStatus,
        facts: &BankFacts,
    ) -> Result<Applied, StoreError> {
        let payment = &read.payment;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(&payment.id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .update_expression("SET #status = :status, refunded = :total, updatedAt = :at")
            // The refunded sum as read: a concurrent refund of the same payment makes us read again.
            .condition_expression("#status = :read_status AND refunded = :read_refunded")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", item::s(status.as_str()))
            .expression_attribute_values(":total", item::money(total_refunded))
            .expression_attribute_values(":at", item::s(timestamp(facts.at)))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":read_refunded", item::money(payment.refunded))
            .build()
            .map_err(build_failed)?;
        let entry = LedgerEntry {
            account: payment.account,
            payment: payment.id.clone(),
            movement: Movement::Refund { total_refunded },
            amount: -amount,
            at: facts.at,
        };
        self.transact(vec![
            TransactWriteItem::builder().update(update).build(),
            self.balance_update(&payment.account, -amount)?,
            self.ledger_put(&entry, facts.acquirer_payment_id.as_deref())?,
        ])
        .await
    }

    async fn write_progress(
        &self,
        read: &PaymentRecord,
        to: PaymentStatus,
        facts: &BankFacts,
    ) -> Result<Applied, StoreError> {
        let payment = &read.payment;
        let mut set = vec!["#status = :to", "updatedAt = :at"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(&payment.id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .condition_expression("#status = :read_status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", item::s(to.as_str()))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":at", item::s(timestamp(facts.at)));
        if let Some(pid) = &facts.acquirer_payment_id {
            // Fills in an id whose `Init` answer was lost; never replaces the one recorded.
            set.push("acquirerPaymentId = if_not_exists(acquirerPaymentId, :pid)");
            request = request.expression_attribute_values(":pid", item::s(pid));
        }
        if let Some(card) = &facts.card {
            set.push("card = :card");
            request = request.expression_attribute_values(":card", item::to_attr(card)?);
        }
        let mut expression = String::new();
        if to == PaymentStatus::Failed {
            set.push("failure = :failure");
            request = request.expression_attribute_values(":failure", item::s(&facts.status));
        }
        if to == PaymentStatus::NeedsReview {
            // An anomaly noted before (an amount mismatch, a missing account) says more: kept.
            set.push("anomaly = if_not_exists(anomaly, :anomaly)");
            set.push("anomalyAt = if_not_exists(anomalyAt, :at)");
            let note = format!("left unsettled past the review time; the bank last said {}", facts.status);
            request = request.expression_attribute_values(":anomaly", item::s(note));
        }
        if to == PaymentStatus::Failed {
            // Nothing left to do: the customer's email goes after the retention period.
            set.push("GSI2PK = :finished");
            set.push("GSI2SK = :position");
            request = request
                .expression_attribute_values(":finished", item::s(FINISHED))
                .expression_attribute_values(":position", item::s(payments::finished_position(&payment.id, facts.at)));
        }
        expression.push_str("SET ");
        expression.push_str(&set.join(", "));
        if !to.is_pending() && to != PaymentStatus::Failed {
            // Under review: the operator may need the customer's email, for as long as it takes.
            expression.push_str(" REMOVE GSI2PK, GSI2SK");
        }
        update_outcome(request.update_expression(expression).send().await)
    }

    /// A conditional update of one attribute: `Ok(false)` when the condition did not hold.
    async fn conditional_update(
        &self,
        id: &PaymentId,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .update_expression(expression)
            .condition_expression(condition);
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            request = request.expression_attribute_values(placeholder, value);
        }
        match update_outcome(request.send().await)? {
            Applied::Written => Ok(true),
            _ => Ok(false),
        }
    }
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
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX)
            // `GSI2SK` is `<created at>#<id>`: everything below the cut-off time sorts before it.
            .key_condition_expression("GSI2PK = :pending AND GSI2SK < :before")
            .expression_attribute_values(":pending", item::s(PENDING))
            .expression_attribute_values(":before", item::s(timestamp(created_before)))
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
        let receipt_email = email_attribute(&CustomerEmail::Receipt(ReceiptSlot::Sale));
        self.conditional_update(
            id,
            "SET GSI2PK = :finished, GSI2SK = :position",
            "GSI2PK = :pending AND (begins_with(#received, :sent) OR begins_with(#received, :rejected)) \
             AND (attribute_not_exists(#receipt) OR begins_with(#receipt_email, :sent) \
             OR begins_with(#receipt_email, :rejected)) AND attribute_not_exists(#unrendered)",
            &[
                ("#received", PAYMENT_RECEIVED_EMAIL),
                ("#receipt", RECEIPT),
                ("#receipt_email", &receipt_email),
                ("#unrendered", UNRENDERED),
            ],
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

impl PaymentLedger for DynamoStore {
    async fn payment_record(&self, id: &PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(|item| decode_record(&item)).transpose()
    }

    async fn apply_transition(
        &self,
        read: &PaymentRecord,
        transition: &Transition,
        facts: &BankFacts,
    ) -> Result<Applied, StoreError> {
        match *transition {
            Transition::Credit { amount, anomaly } => self.write_credit(read, amount, anomaly, facts).await,
            Transition::Refund { amount, total_refunded, status } => {
                self.write_refund(read, amount, total_refunded, status, facts).await
            }
            Transition::Progress(to) => self.write_progress(read, to, facts).await,
            Transition::Unchanged
            | Transition::AmountMismatch { .. }
            | Transition::Anomaly(_)
            | Transition::OtherAttempt => Ok(Applied::Written),
        }
    }

    async fn note_anomaly(&self, id: &PaymentId, anomaly: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conditional_update(
            id,
            "SET anomaly = :anomaly, anomalyAt = :at",
            "attribute_exists(PK)",
            &[],
            vec![(":anomaly", item::s(anomaly)), (":at", item::s(timestamp(at)))],
        )
        .await
        .map(|_| ())
    }

    async fn keep_receipt(&self, id: &PaymentId, receipt: &StoredReceipt) -> Result<bool, StoreError> {
        let value = AttributeValue::M(Item::from([
            ("notification".to_owned(), item::s(&receipt.notification)),
            ("receivedAt".to_owned(), item::s(timestamp(receipt.received_at))),
        ]));
        let attribute = receipt_attribute(&receipt.slot);
        self.conditional_update(
            id,
            // A receipt echoes the buyer's email: one arriving after the payment's email was
            // removed (a late refund) lists it again, so the copy goes after the retention too.
            // A listed payment keeps its place.
            "SET #receipt = :receipt, GSI2PK = if_not_exists(GSI2PK, :finished), \
             GSI2SK = if_not_exists(GSI2SK, :position)",
            // The first report of a receipt stands: a duplicate must not change what was emailed.
            "attribute_exists(PK) AND attribute_not_exists(#receipt)",
            &[("#receipt", &attribute)],
            vec![
                (":receipt", value),
                (":finished", item::s(FINISHED)),
                (":position", item::s(payments::finished_position(id, receipt.received_at))),
            ],
        )
        .await
    }
}

impl EmailLedger for DynamoStore {
    async fn claim_email(
        &self,
        payment: &PaymentId,
        email: &CustomerEmail,
        now: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> Result<Option<EmailClaim>, StoreError> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let token = format!("{SENDING}{}#{}", timestamp(now), &nonce[..12]);
        let attribute = email_attribute(email);
        let claimed = self
            .conditional_update(
                payment,
                "SET #email = :claim",
                "attribute_exists(PK) AND (attribute_not_exists(#email) \
                 OR (begins_with(#email, :sending) AND #email < :abandoned))",
                &[("#email", &attribute)],
                vec![
                    (":claim", item::s(&token)),
                    (":sending", item::s(SENDING)),
                    (":abandoned", item::s(format!("{SENDING}{}", timestamp(abandoned_before)))),
                ],
            )
            .await?;
        Ok(claimed.then(|| EmailClaim { payment: payment.clone(), email: email.clone(), token }))
    }

    async fn settle_email(
        &self,
        claim: &EmailClaim,
        outcome: EmailOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mark = match outcome {
            EmailOutcome::Sent => format!("{SENT}{}", timestamp(at)),
            EmailOutcome::Rejected => format!("{REJECTED}{}", timestamp(at)),
        };
        let attribute = email_attribute(&claim.email);
        let settled = match &claim.email {
            CustomerEmail::PaymentReceived => {
                self.conditional_update(
                    &claim.payment,
                    "SET #email = :mark",
                    "#email = :claim",
                    &[("#email", &attribute)],
                    vec![(":mark", item::s(mark)), (":claim", item::s(&claim.token))],
                )
                .await?
            }
            CustomerEmail::Receipt(slot) => {
                // Composed at last (or refused for good): no longer held back.
                self.conditional_update(
                    &claim.payment,
                    "SET #email = :mark DELETE #unrendered :slot",
                    "#email = :claim",
                    &[("#email", &attribute), ("#unrendered", UNRENDERED)],
                    vec![
                        (":mark", item::s(mark)),
                        (":claim", item::s(&claim.token)),
                        (":slot", AttributeValue::Ss(vec![receipt_attribute(slot)])),
                    ],
                )
                .await?
            }
        };
        if settled {
            // The email is settled either way; still listed, the payment costs the next
            // reconciliation run one read and nothing else.
            if let Err(e) = self.unlist_if_mailed(&claim.payment, at).await {
                tracing::warn!(payment_id = %claim.payment, error = %e, "a mailed payment stays listed as pending");
            }
        }
        Ok(settled)
    }

    async fn release_email(&self, claim: &EmailClaim) -> Result<(), StoreError> {
        let attribute = email_attribute(&claim.email);
        self.conditional_update(
            &claim.payment,
            "REMOVE #email",
            "#email = :claim",
            &[("#email", &attribute)],
            vec![(":claim", item::s(&claim.token))],
        )
        .await
        .map(|_| ())
    }

    async fn hold_unrendered(&self, payment: &Payment, slot: &ReceiptSlot) -> Result<(), StoreError> {
        self.conditional_update(
            &payment.id,
            "ADD #unrendered :slot SET GSI2PK = :pending, GSI2SK = :position",
            // Never for an email settled meanwhile by another delivery.
            "attribute_exists(PK) AND (attribute_not_exists(#email) OR begins_with(#email, :sending))",
            &[("#unrendered", UNRENDERED), ("#email", &email_attribute(&CustomerEmail::Receipt(slot.clone())))],
            vec![
                (":slot", AttributeValue::Ss(vec![receipt_attribute(slot)])),
                (":sending", item::s(SENDING)),
                (":pending", item::s(PENDING)),
                (":position", item::s(payments::pending_position(payment))),
            ],
        )
        .await
        .map(|_| ())
    }
}

impl CustomerEmailRetention for DynamoStore {
    async fn forget_customer_emails(
        &self,
        finished_before: DateTime<Utc>,
        limit: i32,
    ) -> Result<Forgotten, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX)
            // `GSI2SK` is `<finished at>#<id>`: everything finished before the cut-off sorts first.
            .key_condition_expression("GSI2PK = :finished AND GSI2SK < :before")
            .expression_attribute_values(":finished", item::s(FINISHED))
            .expression_attribute_values(":before", item::s(timestamp(finished_before)))
            .limit(limit)
            .send()
            .await
            .map_err(unavailable)?;
        let mut forgotten =
            Forgotten { payments: 0, more: out.last_evaluated_key().is_some_and(|key| !key.is_empty()) };
        for listed in out.items() {
            let pk = item::get_s(listed, "PK")?;
            let id: PaymentId = pk
                .strip_prefix("PAYMENT#")
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
            if self.forget_customer_email(&id, item::get_s(listed, INDEX_SK)?).await? {
                forgotten.payments += 1;
            }
        }
        Ok(forgotten)
    }
}

impl DynamoStore {
    /// Removes the email from one finished payment and its kept receipts, and takes it off the
    /// index; `false` when the payment moved on since it was listed at `position`.
    async fn forget_customer_email(&self, id: &PaymentId, position: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(found) = out.item else {
            return Ok(false);
        };
        // Every kept receipt, rewritten without the buyer's contacts.
        let mut receipts = Vec::new();
        for (name, value) in &found {
            if receipt_slot_of(name).is_none() {
                continue;
            }
            let AttributeValue::M(map) = value else {
                return Err(StoreError::Corrupt(format!("{name}: expected a map")));
            };
            if let Some(without) = crate::acquirer::without_buyer_contacts(item::get_s(map, "notification")?) {
                let mut kept = map.clone();
                kept.insert("notification".to_owned(), item::s(without));
                receipts.push((name.as_str(), AttributeValue::M(kept)));
            }
        }
        let under_review = item::get_s(&found, "status")? == PaymentStatus::NeedsReview.as_str();
        let expression = if under_review {
            // Listed again by a receipt while under review: the operator keeps the email.
            "REMOVE GSI2PK, GSI2SK".to_owned()
        } else if receipts.is_empty() {
            "REMOVE email, GSI2PK, GSI2SK".to_owned()
        } else {
            let set: Vec<String> = (0..receipts.len()).map(|i| format!("#r{i} = :r{i}")).collect();
            format!("SET {} REMOVE email, GSI2PK, GSI2SK", set.join(", "))
        };
        let placeholders: Vec<(String, String)> =
            (0..receipts.len()).map(|i| (format!("#r{i}"), format!(":r{i}"))).collect();
        let mut names = Vec::new();
        let mut values = vec![(":finished", item::s(FINISHED)), (":position", item::s(position))];
        if !under_review {
            for ((name_placeholder, value_placeholder), (name, value)) in placeholders.iter().zip(receipts) {
                names.push((name_placeholder.as_str(), name));
                values.push((value_placeholder.as_str(), value));
            }
        }
        // Still where it was listed: one a late capture moved back to PENDING keeps its email
        // until it finishes again.
        let forgotten = self
            .conditional_update(id, &expression, "GSI2PK = :finished AND GSI2SK = :position", &names, values)
            .await?;
        Ok(forgotten && !under_review)
    }
}

impl LedgerReader for DynamoStore {
    async fn ledger_entries(&self, account: &AccountNumber) -> Result<Vec<LedgerEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :ledger)")
            .expression_attribute_values(":pk", item::s(keys::account_pk(account)))
            .expression_attribute_values(":ledger", item::s(keys::LEDGER_PREFIX))
            .consistent_read(true);
        all_items(query).await?.iter().map(|entry| decode_entry(*account, entry)).collect()
    }
}

fn decode_entry(account: AccountNumber, entry: &Item) -> Result<LedgerEntry, StoreError> {
    let movement = match item::get_s(entry, "kind")? {
        "CREDIT" => Movement::Credit,
        "REFUND" => Movement::Refund { total_refunded: item::get_money(entry, "totalRefunded")? },
        other => return Err(StoreError::Corrupt(format!("ledger kind {other}"))),
    };
    Ok(LedgerEntry {
        account,
        payment: item::get_s(entry, "paymentId")?
            .parse()
            .map_err(|_| StoreError::Corrupt("ledger paymentId".into()))?,
        movement,
        amount: item::get_money(entry, "amount")?,
        at: parse_time(item::get_s(entry, "at")?, "at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_mark(&claim).unwrap(), EmailMark::Sending { since: at("2026-11-25T09:42:00.123Z") });
        assert_eq!(
            parse_mark(&format!("{SENT}2026-11-25T09:42:01.000Z")).unwrap(),
            EmailMark::Sent { at: at("2026-11-25T09:42:01Z") }
        );
        assert!(parse_mark("sent").is_err());
    }
}
