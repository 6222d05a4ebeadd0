//! Idempotency records: `IDEMPOTENCY#<caller>#<key>` / `IDEMPOTENCY`, removed by DynamoDB's TTL
//! some time after `expiresAt`. TTL deletion is late by hours at times, so every condition also
//! compares `expiresAt` itself: an expired record counts as absent.
//!
//! Attributes: `status` (`IN_PROGRESS` / `COMPLETED`), `fingerprint`, `resourceId` (the payment
//! id), `lockToken` and `lockedUntil` while in progress, `responseStatus` / `responseBody` once
//! completed, `expiresAt`.
//!
//! A new payment's claim is written with the payment in one transaction, and its completion with
//! the bank's answer on the payment in another ([`PaymentClaims`]): two requests where there would
//! be four, each all or nothing.

use super::item::{self, Item};
use super::{DynamoStore, build_failed, keys, payments, unavailable};
use crate::domain::Payment;
use crate::ports::idempotency::{
    Begin, IdempotencyError, IdempotencyRecord, IdempotencyScope, IdempotencyStore, InitAnswer, PaymentClaims,
    RecordState, RecordedResponse,
};
use crate::ports::{PaymentWriter, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

const SK: &str = "IDEMPOTENCY";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// A claim is written only where no live record holds the key.
const KEY_FREE: &str = "attribute_not_exists(PK) OR expiresAt < :now";
/// What completing a record sets, alone or with the payment's `Init` answer.
const COMPLETE: &str = "SET #status = :completed, responseStatus = :code, responseBody = :body, expiresAt = :expires \
                        REMOVE lockToken, lockedUntil";
/// Positions of the actions in a transaction: `CancellationReasons` come in this order.
const RECORD_ACTION: usize = 0;
const PAYMENT_ACTION: usize = 1;

fn complete_values(response: &RecordedResponse, expires_at: i64) -> [(&'static str, AttributeValue); 4] {
    [
        (":completed", item::s(COMPLETED)),
        (":code", item::n(response.status)),
        (":body", item::s(&response.body)),
        (":expires", item::n(expires_at)),
    ]
}

/// Why DynamoDB cancelled a transaction, action by action; `None` when it was not cancelled.
fn cancellation_reasons(
    e: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Option<&[CancellationReason]> {
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancel) => Some(cancel.cancellation_reasons()),
        _ => None,
    }
}

fn refused(reasons: &[CancellationReason], action: usize) -> bool {
    reasons.get(action).and_then(CancellationReason::code) == Some("ConditionalCheckFailed")
}

/// A caller id holds no `#` (`vk:1`, `fb:page:42:anon`), so the key after it may hold anything.
fn pk(scope: &IdempotencyScope) -> String {
    format!("IDEMPOTENCY#{}#{}", scope.caller, scope.key.as_str())
}

/// True when the SDK error is the refusal of a write's condition.
fn condition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

/// A conditional write on the record held by `lock`: a refused condition means the lock is gone.
fn lock_result<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<(), IdempotencyError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if condition_failed(&e) => Err(IdempotencyError::LockLost),
        Err(e) => Err(unavailable(e).into()),
    }
}

fn encode(scope: &IdempotencyScope, record: &IdempotencyRecord) -> Item {
    let mut item = Item::from([
        ("PK".to_owned(), item::s(pk(scope))),
        ("SK".to_owned(), item::s(SK)),
        ("fingerprint".to_owned(), item::s(&record.fingerprint)),
        ("resourceId".to_owned(), item::s(&record.resource)),
        ("expiresAt".to_owned(), item::n(record.expires_at)),
    ]);
    match &record.state {
        RecordState::InProgress { lock, locked_until } => {
            item.insert("status".to_owned(), item::s(IN_PROGRESS));
            item.insert("lockToken".to_owned(), item::s(lock));
            item.insert("lockedUntil".to_owned(), item::n(locked_until));
        }
        RecordState::Completed(response) => {
            item.insert("status".to_owned(), item::s(COMPLETED));
            item.insert("responseStatus".to_owned(), item::n(response.status));
            item.insert("responseBody".to_owned(), item::s(&response.body));
        }
    }
    item
}

fn decode(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let number = |name: &str| -> Result<i64, StoreError> {
        item::get_u64(item, name)?.try_into().map_err(|_| StoreError::Corrupt(format!("{name}: out of range")))
    };
    let state = match item::get_s(item, "status")? {
        IN_PROGRESS => RecordState::InProgress {
            lock: item::get_s(item, "lockToken")?.to_owned(),
            locked_until: number("lockedUntil")?,
        },
        COMPLETED => RecordState::Completed(RecordedResponse {
            status: u16::try_from(item::get_u64(item, "responseStatus")?)
                .map_err(|_| StoreError::Corrupt("responseStatus: out of range".into()))?,
            body: item::get_s(item, "responseBody")?.to_owned(),
        }),
        other => return Err(StoreError::Corrupt(format!("idempotency status {other}"))),
    };
    Ok(IdempotencyRecord {
        fingerprint: item::get_s(item, "fingerprint")?.to_owned(),
        resource: item::get_s(item, "resourceId")?.to_owned(),
        state,
        expires_at: number("expiresAt")?,
    })
}

impl IdempotencyStore for DynamoStore {
    async fn begin(&self, scope: &IdempotencyScope, record: &IdempotencyRecord, now: i64) -> Result<Begin, StoreError> {
        let result = self
            .put_item()
            .set_item(Some(encode(scope, record)))
            .condition_expression(KEY_FREE)
            .expression_attribute_values(":now", item::n(now))
            // The record in the way comes back with the refusal: no second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Begin::Created),
            Err(e) => {
                let existing = e.as_service_error().filter(|se| se.is_conditional_check_failed_exception()).and_then(
                    |se| match se {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().cloned()
                        }
                        _ => None,
                    },
                );
                match existing {
                    Some(item) => Ok(Begin::Exists(decode(&item)?)),
                    None if condition_failed(&e) => {
                        Err(StoreError::Corrupt("a refused claim came back without the record".into()))
                    }
                    None => Err(unavailable(e)),
                }
            }
        }
    }

    async fn take_over(
        &self,
        scope: &IdempotencyScope,
        seen: &str,
        lock: &str,
        locked_until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .update_at(pk(scope), SK)
            .update_expression("SET lockToken = :lock, lockedUntil = :until")
            .condition_expression("#status = :in_progress AND lockToken = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", item::s(IN_PROGRESS))
            .expression_attribute_values(":seen", item::s(seen))
            .expression_attribute_values(":lock", item::s(lock))
            .expression_attribute_values(":until", item::n(locked_until))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn rebind(&self, scope: &IdempotencyScope, lock: &str, resource: &str) -> Result<(), IdempotencyError> {
        let update = self.update_at(pk(scope), SK).update_expression("SET resourceId = :resource");
        lock_result(
            self.while_locked(update, lock).expression_attribute_values(":resource", item::s(resource)).send().await,
        )
    }

    async fn complete(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
        response: &RecordedResponse,
        expires_at: i64,
    ) -> Result<(), IdempotencyError> {
        let update = self.update_at(pk(scope), SK).update_expression(COMPLETE);
        let update = self.while_locked(update, lock).expression_attribute_names("#status", "status");
        let result = complete_values(response, expires_at)
            .into_iter()
            .fold(update, |update, (name, value)| update.expression_attribute_values(name, value))
            .send()
            .await;
        lock_result(result)
    }

    async fn release(&self, scope: &IdempotencyScope, lock: &str) -> Result<(), IdempotencyError> {
        // Expired since the epoch: the next attempt with the same request takes over at once.
        let update = self.update_at(pk(scope), SK).update_expression("SET lockedUntil = :expired");
        lock_result(self.while_locked(update, lock).expression_attribute_values(":expired", item::n(0)).send().await)
    }

    async fn forget(&self, scope: &IdempotencyScope, lock: &str) -> Result<(), IdempotencyError> {
        let result = self
            .delete_at(pk(scope), SK)
            .condition_expression("lockToken = :lock")
            .expression_attribute_values(":lock", item::s(lock))
            .send()
            .await;
        lock_result(result)
    }
}

impl PaymentClaims for DynamoStore {
    async fn begin_with_payment(
        &self,
        scope: &IdempotencyScope,
        record: &IdempotencyRecord,
        now: i64,
        payment: &Payment,
    ) -> Result<Begin, StoreError> {
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(scope, record)))
            .condition_expression(KEY_FREE)
            .expression_attribute_values(":now", item::n(now))
            // The record in the way comes back with the refusal: no second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_failed)?;
        let create = Put::builder()
            .table_name(&self.table)
            .set_item(Some(payments::encode(payment)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_failed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(claim).build())
            .transact_items(TransactWriteItem::builder().put(create).build())
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Begin::Created),
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&e) else {
            return Err(unavailable(e));
        };
        if refused(reasons, RECORD_ACTION) {
            if let Some(existing) = reasons[RECORD_ACTION].item() {
                return Ok(Begin::Exists(decode(existing)?));
            }
        } else if refused(reasons, PAYMENT_ACTION) {
            return Err(StoreError::Corrupt(format!("a payment with the fresh id {} exists", payment.id)));
        }
        // A concurrent write to the record (another attempt with the same key, in its own
        // transaction) cancels this one without saying who holds the key: ask again the plain way.
        tracing::info!(reasons = ?reasons.iter().map(|r| r.code().unwrap_or("None")).collect::<Vec<_>>(), "claim transaction cancelled; claiming alone");
        self.begin_then_create(scope, record, now, payment).await
    }

    async fn complete_with_init(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
        response: &RecordedResponse,
        expires_at: i64,
        init: &InitAnswer,
    ) -> Result<(), IdempotencyError> {
        let complete = complete_values(response, expires_at).into_iter().fold(
            Update::builder()
                .table_name(&self.table)
                .key("PK", item::s(pk(scope)))
                .key("SK", item::s(SK))
                .update_expression(COMPLETE)
                .condition_expression("lockToken = :lock")
                .expression_attribute_values(":lock", item::s(lock))
                .expression_attribute_names("#status", "status"),
            |update, (name, value)| update.expression_attribute_values(name, value),
        );
        let record_init =
            payments::record_init_values(&init.acquirer_payment_id, &init.payment_url, init.at).into_iter().fold(
                Update::builder()
                    .table_name(&self.table)
                    .key("PK", item::s(keys::payment_pk(&init.payment)))
                    .key("SK", item::s(keys::PAYMENT))
                    .update_expression(payments::RECORD_INIT)
                    .condition_expression("attribute_exists(PK)"),
                |update, (name, value)| update.expression_attribute_values(name, value),
            );
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(complete.build().map_err(build_failed)?).build())
            .transact_items(TransactWriteItem::builder().update(record_init.build().map_err(build_failed)?).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_reasons(&e) {
                Some(reasons) if refused(reasons, RECORD_ACTION) => Err(IdempotencyError::LockLost),
                _ => Err(unavailable(e).into()),
            },
        }
    }
}

impl DynamoStore {
    /// The claim, then the payment, each in a request of its own; a claim whose payment could not
    /// be written is dropped again, so neither stands without the other.
    async fn begin_then_create(
        &self,
        scope: &IdempotencyScope,
        record: &IdempotencyRecord,
        now: i64,
        payment: &Payment,
    ) -> Result<Begin, StoreError> {
        let begun = self.begin(scope, record, now).await?;
        if begun != Begin::Created {
            return Ok(begun);
        }
        if let Err(e) = self.create(payment).await {
            if let RecordState::InProgress { lock, .. } = &record.state
                && let Err(forgot) = self.forget(scope, lock).await
            {
                tracing::warn!(error = %forgot, "dropping a claim without its payment failed; it frees itself with its lock");
            }
            return Err(e);
        }
        Ok(begun)
    }

    /// `update`, on condition that the attempt holding `lock` still holds the record.
    fn while_locked(&self, update: UpdateItemFluentBuilder, lock: &str) -> UpdateItemFluentBuilder {
        update.condition_expression("lockToken = :lock").expression_attribute_values(":lock", item::s(lock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::idempotency::IdempotencyKey;

    fn scope() -> IdempotencyScope {
        IdempotencyScope { caller: "vk:494075".into(), key: IdempotencyKey::from_header(Some(b"k#1")).unwrap() }
    }

    #[test]
    fn records_round_trip_in_both_states() {
        let in_progress = IdempotencyRecord {
            fingerprint: "f".repeat(64),
            resource: "0f8fad5bd9cb469fa16570867728950e".into(),
            state: RecordState::InProgress { lock: "l".into(), locked_until: 1_795_176_060 },
            expires_at: 1_795_262_400,
        };
        let completed = IdempotencyRecord {
            state: RecordState::Completed(RecordedResponse { status: 201, body: r#"{"status":"NEW"}"#.into() }),
            ..in_progress.clone()
        };
        for record in [in_progress, completed] {
            let item = encode(&scope(), &record);
            assert_eq!(item::get_s(&item, "PK").unwrap(), "IDEMPOTENCY#vk:494075#k#1");
            assert_eq!(decode(&item).unwrap(), record);
        }
    }
}
