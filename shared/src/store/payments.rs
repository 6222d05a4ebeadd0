//! The payment item: `PAYMENT#<id>` / `PAYMENT`. While a payment waits for the bank, and once
//! credited until its "payment received" and receipt emails are settled (and no kept receipt waits
//! to be composed), it also sits in the payments index (`GSI2`, sparse) under `PENDING`, sorted by
//! creation time: that is how reconciliation finds payments whose notifications never came, and
//! credits whose email could not go out, without a scan. Once nothing is left to send (or it
//! failed) it moves to `FINISHED`, sorted by when that happened, until the customer's email is
//! removed after the retention period (`email_retention`). The index projects only what
//! reconciliation reads: the status, the bank's payment id, the form's deadline (`formDeadline`,
//! its `RedirectDueDate`, fixed when the payment is created) and the creation time. Every payment
//! also sits in its payer's partition of `GSI3` (`payment_history`).

use super::item::{self, Item};
use super::keys;
use super::payment_record::DECLINE_CODE;
use super::{DynamoStore, unavailable};
use crate::domain::decline_reason::DeclineReason;
use crate::domain::payment::Card;
use crate::domain::{PayMethod, Payment, PaymentId, PaymentStatus};
use crate::ports::ledger::PendingPayment;
use crate::ports::{PaymentPage, PaymentReader, PaymentWriter, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// The payments index and its keys.
pub(crate) const INDEX: &str = "GSI2";
pub(crate) const INDEX_PK: &str = "GSI2PK";
pub(crate) const INDEX_SK: &str = "GSI2SK";
/// Its partition of payments with something left to do.
pub(crate) const PENDING: &str = "PENDING";
/// Its partition of payments with nothing left to do, whose customer email is kept a while.
pub(crate) const FINISHED: &str = "FINISHED";

/// The attribute of the payment item that holds its fiscal receipt, once the bank reported it.
pub(crate) const RECEIPT: &str = "receipt";

/// Until when the bank's form may be paid, as sent in `RedirectDueDate`.
const FORM_DEADLINE: &str = "formDeadline";

/// How the payment is paid (`sbp`); absent for a card.
const METHOD: &str = "method";

impl PaymentReader for DynamoStore {
    async fn payment(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(self.payment_page(id).await?.map(|page| page.payment))
    }

    /// The callback records the bank's `RECEIPT` notification on the payment item as `receipt`,
    /// and a failure's error code as `declineCode` (`store::payment_record`).
    async fn payment_page(&self, id: &PaymentId) -> Result<Option<PaymentPage>, StoreError> {
        let out =
            self.get_at(keys::payment_pk(id), keys::PAYMENT).consistent_read(true).send().await.map_err(unavailable)?;
        out.item
            .map(|item| {
                Ok(PaymentPage {
                    payment: decode(&item)?,
                    receipt_available: item.contains_key(RECEIPT),
                    decline: item::get_s(&item, DECLINE_CODE).ok().and_then(DeclineReason::of_code),
                })
            })
            .transpose()
    }
}

impl PaymentWriter for DynamoStore {
    async fn create(&self, payment: &Payment) -> Result<(), StoreError> {
        self.put_item()
            .set_item(Some(encode(payment)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn record_init(
        &self,
        id: &PaymentId,
        acquirer_payment_id: &str,
        payment_url: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = self
            .update_at(keys::payment_pk(id), keys::PAYMENT)
            .update_expression(RECORD_INIT)
            .condition_expression("attribute_exists(PK)");
        let values = record_init_values(acquirer_payment_id, payment_url, at);
        values
            .into_iter()
            .fold(update, |update, (name, value)| update.expression_attribute_values(name, value))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn mark_failed(&self, id: &PaymentId, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .update_at(keys::payment_pk(id), keys::PAYMENT)
            .update_expression(
                "SET #status = :failed, failure = :reason, updatedAt = :at, GSI2PK = :finished, GSI2SK = :position",
            )
            // Only a payment still waiting may fail: a notification may have moved it on already.
            .condition_expression("#status IN (:new, :authorized)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", item::s(PaymentStatus::Failed.as_str()))
            .expression_attribute_values(":new", item::s(PaymentStatus::New.as_str()))
            .expression_attribute_values(":authorized", item::s(PaymentStatus::Authorized.as_str()))
            .expression_attribute_values(":reason", item::s(reason))
            .expression_attribute_values(":at", item::s(item::timestamp(at)))
            .expression_attribute_values(":finished", item::s(FINISHED))
            .expression_attribute_values(":position", item::s(finished_position(id, at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// The bank's answer to `Init` on the payment item, alone or within the key's completion
/// (`store::idempotency`).
pub(crate) const RECORD_INIT: &str = "SET acquirerPaymentId = :pid, paymentUrl = :url, updatedAt = :at";

pub(crate) fn record_init_values(
    acquirer_payment_id: &str,
    payment_url: &str,
    at: DateTime<Utc>,
) -> [(&'static str, AttributeValue); 3] {
    [(":pid", item::s(acquirer_payment_id)), (":url", item::s(payment_url)), (":at", item::s(item::timestamp(at)))]
}

/// The payment's place under PENDING: by creation time, then id.
pub(crate) fn pending_position(p: &Payment) -> String {
    format!("{}#{}", item::timestamp(p.created_at), p.id)
}

/// The payment's place under FINISHED: by when it was left with nothing to do, then id.
pub(crate) fn finished_position(id: &PaymentId, at: DateTime<Utc>) -> String {
    format!("{}#{id}", item::timestamp(at))
}

pub(crate) fn encode(p: &Payment) -> Result<Item, StoreError> {
    let mut item = Item::from([
        ("PK".to_owned(), item::s(keys::payment_pk(&p.id))),
        ("SK".to_owned(), item::s(keys::PAYMENT)),
        ("account".to_owned(), item::s(p.account.digits())),
        ("amount".to_owned(), item::money(p.amount)),
        ("caller".to_owned(), item::s(p.caller.to_string())),
        ("status".to_owned(), item::s(p.status.as_str())),
        ("refunded".to_owned(), item::money(p.refunded)),
        ("createdAt".to_owned(), item::s(item::timestamp(p.created_at))),
        ("updatedAt".to_owned(), item::s(item::timestamp(p.updated_at))),
    ]);
    item.insert(super::payment_history::INDEX_PK.to_owned(), item::s(keys::payer_pk(&p.caller)));
    item.insert(super::payment_history::INDEX_SK.to_owned(), item::s(keys::payer_sk(p.created_at, &p.id)));
    if p.status.is_pending() {
        item.insert(INDEX_PK.to_owned(), item::s(PENDING));
        item.insert(INDEX_SK.to_owned(), item::s(pending_position(p)));
    }
    if let Some(email) = &p.email {
        item.insert("email".to_owned(), item::s(email.expose()));
    }
    if let Some(deadline) = p.form_deadline {
        item.insert(FORM_DEADLINE.to_owned(), item::s(item::timestamp(deadline)));
    }
    let optional = [
        ("readingsId", p.readings_id.as_ref().map(|r| r.as_str())),
        ("acquirerPaymentId", p.acquirer_payment_id.as_deref()),
        ("paymentUrl", p.payment_url.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.to_owned(), item::s(v));
        }
    }
    if let Some(card) = &p.card {
        item.insert("card".to_owned(), item::to_attr(card)?);
    }
    // Absent means a card: the items written before there was a choice read as they were.
    if p.method != PayMethod::Card {
        item.insert(METHOD.to_owned(), item::s(p.method.as_str()));
    }
    Ok(item)
}

pub(crate) fn decode(item: &Item) -> Result<Payment, StoreError> {
    let pk = item::get_s(item, "PK")?;
    let id: PaymentId = pk
        .strip_prefix("PAYMENT#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
    let optional = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let status = item::get_s(item, "status")?;
    Ok(Payment {
        id,
        account: item::get_s(item, "account")?.parse().map_err(|_| StoreError::Corrupt("account".into()))?,
        amount: item::get_money(item, "amount")?,
        // Removed once the retention period after its emails is over: empty, never sent to.
        // An address that no longer parses could not be written to either: nothing to send to.
        email: optional("email").and_then(|email| email.parse().ok()),
        caller: item::get_s(item, "caller")?.parse().map_err(|_| StoreError::Corrupt("caller".into()))?,
        readings_id: optional("readingsId")
            .map(|id| id.parse().map_err(|_| StoreError::Corrupt("readingsId".into())))
            .transpose()?,
        status: PaymentStatus::parse(status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        acquirer_payment_id: optional("acquirerPaymentId"),
        payment_url: optional("paymentUrl"),
        form_deadline: item.get(FORM_DEADLINE).map(|_| item::get_time(item, FORM_DEADLINE)).transpose()?,
        refunded: item::get_money(item, "refunded")?,
        card: item.get("card").map(|_| item::get_de::<Card>(item, "card")).transpose()?,
        method: optional(METHOD)
            .map(|m| m.parse().map_err(|_| StoreError::Corrupt(format!("{METHOD} {m}"))))
            .transpose()?
            .unwrap_or_default(),
        created_at: item::get_time(item, "createdAt")?,
        updated_at: item::get_time(item, "updatedAt")?,
    })
}

/// A payment as the payments index projects it.
pub(crate) fn decode_pending(item: &Item) -> Result<PendingPayment, StoreError> {
    let pk = item::get_s(item, "PK")?;
    let id: PaymentId = pk
        .strip_prefix("PAYMENT#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
    let status = item::get_s(item, "status")?;
    Ok(PendingPayment {
        id,
        status: PaymentStatus::parse(status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        acquirer_payment_id: match item.get("acquirerPaymentId") {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        },
        form_deadline: item.get(FORM_DEADLINE).map(|_| item::get_time(item, FORM_DEADLINE)).transpose()?,
        created_at: item::get_time(item, "createdAt")?,
    })
}
