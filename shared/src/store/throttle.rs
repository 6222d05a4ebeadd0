//! Fixed-window request counters with TTL: `THROTTLE#<key>#<window start>`.

use super::item;
use super::keys;
use super::{DynamoStore, unavailable};
use crate::ports::{RequestCounter, StoreError};
use aws_sdk_dynamodb::types::ReturnValue;

impl RequestCounter for DynamoStore {
    async fn count(&self, key: &str, window_start: i64, window_secs: i64) -> Result<u64, StoreError> {
        let pk = keys::throttle_pk(key, window_start);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", item::s(pk))
            .key("SK", item::s("COUNT"))
            .update_expression("ADD hits :one SET expiresAt = if_not_exists(expiresAt, :expires)")
            .expression_attribute_values(":one", item::n(1))
            // Kept a little past the window, then DynamoDB's TTL removes it.
            .expression_attribute_values(":expires", item::n(window_start + window_secs * 2))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        let attrs = out.attributes.unwrap_or_default();
        item::get_u64(&attrs, "hits")
    }
}
