//! [`PaymentLedger`] and [`LedgerReader`] on DynamoDB: the credit transaction. A credit or a refund
//! is one `TransactWriteItems` of three actions, in this order:
//! 1. the payment's transition, conditional on the payment being as it was read;
//! 2. the profile's `movedAt` (`attribute_exists`: never a phantom account); the balance shown is
//!    the billed one plus the ledger entries after the export (`store::accounts`);
//! 3. a ledger entry (`ACCOUNT#<n>` / `LEDGER#…`) with `attribute_not_exists(PK)`, keyed by payment
//!    and movement.
//!
//! So a duplicate delivery, however concurrent, fails a condition and changes nothing. The credit
//! and the keeping of a receipt may carry a claim on the emails they make due (`email#…`, as
//! `email_ledger` writes it); the claims are settled there.

use super::all_items;
use super::item::{self, Item};
use super::keys;
use super::operator_desk;
use super::payment_record::{DECLINE_CODE, RECEIPTS_KEPT, decode_record, email_attribute, receipt_attribute};
use super::payments::{self, FINISHED, PENDING, RECEIPT};
use super::{DynamoStore, build_failed, unavailable};
use crate::domain::payment_transition::Transition;
use crate::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use crate::ports::StoreError;
use crate::ports::ledger::{
    Applied, BankFacts, EmailClaim, LedgerEntry, LedgerReader, Movement, PaymentLedger, PaymentRecord, ReceiptSlot,
    StoredReceipt,
};
use crate::ports::operator_desk::DeskKind;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

/// Positions of the actions in a money transaction: `CancellationReasons` come in this order.
const PAYMENT_ACTION: usize = 0;
const ACCOUNT_ACTION: usize = 1;
const LEDGER_ACTION: usize = 2;

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

fn update_outcome<E, R>(result: Result<E, SdkError<UpdateItemError, R>>) -> Result<Applied, StoreError>
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
    pub(super) fn payment_key(&self, id: &PaymentId) -> [(&'static str, AttributeValue); 2] {
        [("PK", item::s(keys::payment_pk(id))), ("SK", item::s(keys::PAYMENT))]
    }

    /// The account must exist (never a phantom account). Its balance is not written: the ledger
    /// entry is the movement, added to the billed balance when it is read (`store::accounts`). The
    /// profile notes when money last moved: an update rather than a bare condition check, so no
    /// function needs a grant to check items it does not write; an import overwrites the note.
    fn account_exists(&self, account: &AccountNumber, at: DateTime<Utc>) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("PK", item::s(keys::account_pk(account)))
            .key("SK", item::s(keys::PROFILE))
            .update_expression("SET movedAt = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", item::s(item::timestamp(at)))
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
            ("at".to_owned(), item::s(item::timestamp(entry.at))),
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
        claims: &[EmailClaim],
    ) -> Result<Applied, StoreError> {
        let payment = &read.payment;
        // Paid, and (back) under PENDING until its emails are settled (`settle_email`): a credit
        // found by reconciliation whose email could not go out gets no notification to retry it,
        // and a late capture of a failed payment had finished.
        let mut set: Vec<String> =
            ["#status = :paid", "paidAt = :at", "updatedAt = :at", "GSI2PK = :pending", "GSI2SK = :position"]
                .map(String::from)
                .to_vec();
        // Only a payment still as read (waiting, failed or under review: never credited) is
        // credited: whoever got here first did it, and a change meanwhile is decided again. Its
        // emails were never claimed (none is due before the credit): the claims need no condition.
        //
        // A receipt kept since the read, of the sale or of a refund, would be in no claim and its
        // keeping saw no credit to claim it with: decided again with it. Every keeping counts
        // itself; a sale receipt kept by a build from before the count is checked by name.
        let mut condition = "#status = :read_status".to_owned();
        if read.receipts_kept == 0 {
            condition.push_str(" AND attribute_not_exists(#receipts_kept)");
        } else {
            condition.push_str(" AND #receipts_kept = :receipts_kept");
        }
        if read.receipt(&ReceiptSlot::Sale).is_none() {
            condition.push_str(" AND attribute_not_exists(#sale_receipt)");
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.payment_key(&payment.id).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", item::s(PaymentStatus::Paid.as_str()))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":pending", item::s(PENDING))
            .expression_attribute_values(":position", item::s(payments::pending_position(payment)))
            .expression_attribute_values(":at", item::s(item::timestamp(facts.at)));
        update = update.expression_attribute_names("#receipts_kept", RECEIPTS_KEPT);
        if read.receipts_kept > 0 {
            update = update.expression_attribute_values(":receipts_kept", item::n(read.receipts_kept));
        }
        if read.receipt(&ReceiptSlot::Sale).is_none() {
            update = update.expression_attribute_names("#sale_receipt", RECEIPT);
        }
        for (n, claim) in claims.iter().enumerate() {
            set.push(format!("#claimed{n} = :claim{n}"));
            update = update
                .expression_attribute_names(format!("#claimed{n}"), email_attribute(&claim.email))
                .expression_attribute_values(format!(":claim{n}"), item::s(&claim.token));
        }
        if let Some(what) = anomaly {
            // In the same write as the credit: the note cannot be lost after the money moved.
            set.push("anomaly = :anomaly".into());
            set.push("anomalyAt = :at".into());
            set.push(operator_desk::SET_ASIDE.into());
            update = update.expression_attribute_values(":anomaly", item::s(what));
            for (placeholder, value) in operator_desk::set_aside_values(&payment.id, DeskKind::Anomaly, facts.at) {
                update = update.expression_attribute_values(placeholder, value);
            }
        }
        if let Some(pid) = &facts.acquirer_payment_id {
            // The attempt that captured the money, even when `Init`'s answer named another.
            set.push("acquirerPaymentId = :pid".into());
            update = update.expression_attribute_values(":pid", item::s(pid));
        }
        if let Some(card) = &facts.card {
            set.push("card = :card".into());
            update = update.expression_attribute_values(":card", item::to_attr(card)?);
        }
        let add = if anomaly.is_some() { format!(" ADD {}", operator_desk::SET_ASIDE_ADD) } else { String::new() };
        let update = update.update_expression(format!("SET {}{add}", set.join(", "))).build().map_err(build_failed)?;
        self.move_money(update, payment, Movement::Credit, amount, facts).await
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
            .expression_attribute_values(":at", item::s(item::timestamp(facts.at)))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":read_refunded", item::money(payment.refunded))
            .build()
            .map_err(build_failed)?;
        self.move_money(update, payment, Movement::Refund { total_refunded }, -amount, facts).await
    }

    /// The payment's own update, the account's existence and the money's ledger entry: one
    /// transaction, so money never moves without the payment's transition, nor twice.
    async fn move_money(
        &self,
        update: Update,
        payment: &Payment,
        movement: Movement,
        amount: Money,
        facts: &BankFacts,
    ) -> Result<Applied, StoreError> {
        let entry =
            LedgerEntry { account: payment.account, payment: payment.id.clone(), movement, amount, at: facts.at };
        self.transact(vec![
            TransactWriteItem::builder().update(update).build(),
            self.account_exists(&payment.account, facts.at)?,
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
            .update_at(keys::payment_pk(&payment.id), keys::PAYMENT)
            .condition_expression("#status = :read_status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", item::s(to.as_str()))
            .expression_attribute_values(":read_status", item::s(payment.status.as_str()))
            .expression_attribute_values(":at", item::s(item::timestamp(facts.at)));
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
            request = request.expression_attribute_values(":failure", item::s(facts.status.as_str()));
            if let Some(code) = &facts.error_code {
                set.push("#decline = :decline");
                request = request
                    .expression_attribute_names("#decline", DECLINE_CODE)
                    .expression_attribute_values(":decline", item::s(code));
            }
        }
        if to == PaymentStatus::NeedsReview {
            // An anomaly noted before (an amount mismatch, a missing account) says more: kept.
            set.push("anomaly = if_not_exists(anomaly, :anomaly)");
            set.push("anomalyAt = if_not_exists(anomalyAt, :at)");
            let note = format!("left unsettled past the review time; the bank last said {}", facts.status);
            request = request.expression_attribute_values(":anomaly", item::s(note));
            // On the operator's desk until someone settles it.
            set.push(operator_desk::SET_ASIDE);
            for (placeholder, value) in operator_desk::set_aside_values(&payment.id, DeskKind::Review, facts.at) {
                request = request.expression_attribute_values(placeholder, value);
            }
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
        if to == PaymentStatus::NeedsReview {
            expression.push_str(" ADD ");
            expression.push_str(operator_desk::SET_ASIDE_ADD);
        }
        update_outcome(request.update_expression(expression).send().await)
    }

    /// A conditional update of one attribute: `Ok(false)` when the condition did not hold.
    pub(super) async fn conditional_update(
        &self,
        id: &PaymentId,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let request = self.conditional_request(id, expression, condition, names, values);
        Ok(conditional_outcome(request.send().await)?.is_some())
    }

    /// [`Self::conditional_update`], answering the item as the write left it (`None`: the
    /// condition failed). A write's answer costs no read capacity.
    pub(super) async fn conditional_update_returning(
        &self,
        id: &PaymentId,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Item>, StoreError> {
        let request = self.conditional_request(id, expression, condition, names, values);
        conditional_outcome(request.return_values(ReturnValue::AllNew).send().await)
    }

    fn conditional_request(
        &self,
        id: &PaymentId,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> UpdateItemFluentBuilder {
        let mut request = self
            .update_at(keys::payment_pk(id), keys::PAYMENT)
            .update_expression(expression)
            .condition_expression(condition);
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            request = request.expression_attribute_values(placeholder, value);
        }
        request
    }
}

/// A conditional update's answer: the item as it left it, `None` when the condition did not hold.
/// A credit's or refund's transaction on the item at that moment (`TransactionConflict`) says
/// nothing about the condition: an error, so the write is tried again (an email marked sent, say)
/// or the delivery answered 503, never taken for a condition that failed.
fn conditional_outcome<R: std::fmt::Debug>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Option<Item>, StoreError> {
    match result {
        Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

impl PaymentLedger for DynamoStore {
    async fn payment_record(&self, id: &PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        let out =
            self.get_at(keys::payment_pk(id), keys::PAYMENT).consistent_read(true).send().await.map_err(unavailable)?;
        out.item.map(|item| decode_record(&item)).transpose()
    }

    async fn apply_transition(
        &self,
        read: &PaymentRecord,
        transition: &Transition,
        facts: &BankFacts,
        claims: &[EmailClaim],
    ) -> Result<Applied, StoreError> {
        match *transition {
            Transition::Credit { amount, anomaly } => self.write_credit(read, amount, anomaly, facts, claims).await,
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
        let mut values = vec![(":anomaly", item::s(anomaly)), (":at", item::s(item::timestamp(at)))];
        values.extend(operator_desk::set_aside_values(id, DeskKind::Anomaly, at));
        self.conditional_update(
            id,
            &format!(
                "SET anomaly = :anomaly, anomalyAt = :at, {} ADD {}",
                operator_desk::SET_ASIDE,
                operator_desk::SET_ASIDE_ADD
            ),
            "attribute_exists(PK)",
            &[],
            values,
        )
        .await
        .map(|_| ())
    }

    async fn keep_receipt(
        &self,
        id: &PaymentId,
        receipt: &StoredReceipt,
        claim: Option<&EmailClaim>,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let value = AttributeValue::M(Item::from([
            ("notification".to_owned(), item::s(&receipt.notification)),
            ("receivedAt".to_owned(), item::s(item::timestamp(receipt.received_at))),
        ]));
        // A receipt echoes the buyer's email: one arriving after the payment's email was removed
        // (a late refund) lists it again, so the copy goes after the retention too. A listed
        // payment keeps its place.
        let mut expression = "SET #receipt = :receipt, GSI2PK = if_not_exists(GSI2PK, :finished), \
                              GSI2SK = if_not_exists(GSI2SK, :position)"
            .to_owned();
        let mut request = self
            .update_at(keys::payment_pk(id), keys::PAYMENT)
            // The first report of a receipt stands: a duplicate must not change what was emailed.
            // Its email is never claimed before the receipt is kept: the claim needs no condition.
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#receipt)")
            .expression_attribute_names("#receipt", receipt_attribute(&receipt.slot))
            .expression_attribute_values(":receipt", value)
            .expression_attribute_values(":finished", item::s(FINISHED))
            .expression_attribute_values(":position", item::s(payments::finished_position(id, receipt.received_at)))
            .return_values(ReturnValue::AllNew);
        if let Some(claim) = claim {
            expression.push_str(", #email = :claim");
            request = request
                .expression_attribute_names("#email", email_attribute(&claim.email))
                .expression_attribute_values(":claim", item::s(&claim.token));
        }
        // Counted: a credit that read the payment before this keeping fails its condition and is
        // decided again with this receipt in it.
        expression.push_str(" ADD #receipts_kept :one");
        request = request
            .expression_attribute_names("#receipts_kept", RECEIPTS_KEPT)
            .expression_attribute_values(":one", item::n(1));
        conditional_outcome(request.update_expression(expression).send().await)?
            .map(|kept| decode_record(&kept))
            .transpose()
    }
}

impl LedgerReader for DynamoStore {
    async fn ledger_entries(&self, account: &AccountNumber) -> Result<Vec<LedgerEntry>, StoreError> {
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk AND begins_with(SK, :ledger)")
            .expression_attribute_values(":pk", item::s(keys::account_pk(account)))
            .expression_attribute_values(":ledger", item::s(keys::LEDGER_PREFIX))
            .consistent_read(true);
        all_items(query).await?.iter().map(|entry| decode_entry(*account, entry)).collect()
    }
}

pub(super) fn decode_entry(account: AccountNumber, entry: &Item) -> Result<LedgerEntry, StoreError> {
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
        at: item::parse_time(item::get_s(entry, "at")?, "at")?,
    })
}
