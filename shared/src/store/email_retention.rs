//! [`CustomerEmailRetention`] on DynamoDB: once the retention period is over, a finished payment's
//! `email` is removed, and the buyer's contacts with it from the receipts kept whole. Touches
//! nothing else.

use super::item;
use super::payment_record::receipt_slot_of;
use super::payments::{FINISHED, INDEX, INDEX_SK};
use super::{DynamoStore, keys, unavailable};
use crate::domain::{PaymentId, PaymentStatus};
use crate::ports::StoreError;
use crate::ports::ledger::{CustomerEmailRetention, Forgotten};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

impl CustomerEmailRetention for DynamoStore {
    async fn forget_customer_emails(
        &self,
        finished_before: DateTime<Utc>,
        limit: i32,
    ) -> Result<Forgotten, StoreError> {
        let out = self
            .query_items()
            .index_name(INDEX)
            // `GSI2SK` is `<finished at>#<id>`: everything finished before the cut-off sorts first.
            .key_condition_expression("GSI2PK = :finished AND GSI2SK < :before")
            .expression_attribute_values(":finished", item::s(FINISHED))
            .expression_attribute_values(":before", item::s(item::timestamp(finished_before)))
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
        let out =
            self.get_at(keys::payment_pk(id), keys::PAYMENT).consistent_read(true).send().await.map_err(unavailable)?;
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
