//! The day's count of a payment's receipt sent again: `RESEND#<payment>` / `DAY#<yyyy-mm-dd>`,
//! one conditional `UpdateItem` per copy; DynamoDB's TTL removes the item two days later.

use super::item;
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::PaymentId;
use crate::ports::StoreError;
use crate::ports::receipt_copies::{CopyCounted, ReceiptCopies};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::NaiveDate;

const COUNT: &str = "copies";

fn expires(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp() + 3 * 86_400
}

impl ReceiptCopies for DynamoStore {
    async fn count_copy(&self, payment: &PaymentId, day: NaiveDate, limit: u64) -> Result<CopyCounted, StoreError> {
        let result = self
            .update_at(keys::receipt_copies_pk(payment), keys::receipt_copies_sk(day))
            .update_expression("ADD #count :one SET expiresAt = if_not_exists(expiresAt, :expires)")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":one", item::n(1))
            .expression_attribute_values(":limit", item::n(limit))
            .expression_attribute_values(":expires", item::n(expires(day)))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(CopyCounted::Counted { nth: item::get_u64(&out.attributes.unwrap_or_default(), COUNT)? }),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(CopyCounted::LimitReached)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn uncount_copy(&self, payment: &PaymentId, day: NaiveDate) -> Result<(), StoreError> {
        self.update_at(keys::receipt_copies_pk(payment), keys::receipt_copies_sk(day))
            .update_expression("ADD #count :minus")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":minus", item::n(-1))
            .expression_attribute_values(":zero", item::n(0))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(unavailable(e)),
            })
    }
}
