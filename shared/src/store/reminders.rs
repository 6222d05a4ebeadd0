//! Readings reminders: one item per VK user (`REMINDER#<id>` / `ACCOUNTS`, a string set of account
//! digits, listed under `GSI1` `REMINDERS`), its size capped by the write's own condition; and one
//! mark per user, month and kind (`SENT#2026-12#opening`), written only where none is, removed
//! by TTL two months on.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, all_items, unavailable};
use crate::domain::reminder_day::ReminderKind;
use crate::domain::{AccountNumber, YearMonth};
use crate::ports::StoreError;
use crate::ports::reminders::{ReminderSubscriptions, Subscribed, Subscriber};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

const ACCOUNTS: &str = "accounts";
const INDEX: &str = "GSI1";
/// A sent mark outlives its month's two reminders by far; then TTL removes it.
const SENT_MARK_DAYS: i64 = 62;

fn accounts_of(item: &Item) -> Vec<AccountNumber> {
    match item.get(ACCOUNTS) {
        // A stored value that is not an account number is skipped rather than failing everyone's
        // reminders: it could only come from a hand edit.
        Some(AttributeValue::Ss(digits)) => digits.iter().filter_map(|d| d.parse().ok()).collect(),
        _ => Vec::new(),
    }
}

impl ReminderSubscriptions for DynamoStore {
    async fn subscribe(&self, vk_user: u64, account: &AccountNumber, limit: usize) -> Result<Subscribed, StoreError> {
        let digits = account.digits().to_owned();
        let result = self
            .update_at(keys::reminder_pk(vk_user), keys::REMINDER_ACCOUNTS)
            .update_expression("ADD #accounts :one SET GSI1PK = :index, GSI1SK = :user")
            .condition_expression(
                "attribute_not_exists(#accounts) OR size(#accounts) < :limit OR contains(#accounts, :digits)",
            )
            .expression_attribute_names("#accounts", ACCOUNTS)
            .expression_attribute_values(":one", AttributeValue::Ss(vec![digits.clone()]))
            .expression_attribute_values(":digits", item::s(digits))
            .expression_attribute_values(":limit", item::n(limit))
            .expression_attribute_values(":index", item::s(keys::REMINDERS_INDEX_PK))
            .expression_attribute_values(":user", item::s(vk_user.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Subscribed::On),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(Subscribed::LimitReached)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn unsubscribe(&self, vk_user: u64, account: &AccountNumber) -> Result<(), StoreError> {
        self.update_at(keys::reminder_pk(vk_user), keys::REMINDER_ACCOUNTS)
            .update_expression("DELETE #accounts :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#accounts", ACCOUNTS)
            .expression_attribute_values(":one", AttributeValue::Ss(vec![account.digits().to_owned()]))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(unavailable(e)),
            })?;
        // DynamoDB drops an emptied set; the user's item goes with it, unless an account was
        // added meanwhile.
        self.delete_at(keys::reminder_pk(vk_user), keys::REMINDER_ACCOUNTS)
            .condition_expression("attribute_not_exists(#accounts)")
            .expression_attribute_names("#accounts", ACCOUNTS)
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(unavailable(e)),
            })
    }

    async fn reminded_accounts(&self, vk_user: u64) -> Result<Vec<AccountNumber>, StoreError> {
        let out = self
            .get_at(keys::reminder_pk(vk_user), keys::REMINDER_ACCOUNTS)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.as_ref().map(accounts_of).unwrap_or_default())
    }

    async fn subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        let query = self
            .query_items()
            .index_name(INDEX)
            .key_condition_expression("GSI1PK = :index")
            .expression_attribute_values(":index", item::s(keys::REMINDERS_INDEX_PK));
        let items = all_items(query).await?;
        let mut subscribers = Vec::with_capacity(items.len());
        for found in &items {
            let vk_user = item::get_s(found, "GSI1SK")?
                .parse()
                .map_err(|_| StoreError::Corrupt("a reminder's user id is not a number".into()))?;
            let accounts = accounts_of(found);
            if !accounts.is_empty() {
                subscribers.push(Subscriber { vk_user, accounts });
            }
        }
        Ok(subscribers)
    }

    async fn claim_sent(&self, vk_user: u64, month: YearMonth, kind: ReminderKind) -> Result<bool, StoreError> {
        let expires = chrono::Utc::now().timestamp() + SENT_MARK_DAYS * 86_400;
        let result = self
            .put_item()
            .item("PK", item::s(keys::reminder_pk(vk_user)))
            .item("SK", item::s(keys::reminder_sent_sk(month, kind)))
            .item("expiresAt", item::n(expires))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_sent(&self, vk_user: u64, month: YearMonth, kind: ReminderKind) -> Result<(), StoreError> {
        self.delete_at(keys::reminder_pk(vk_user), keys::reminder_sent_sk(month, kind))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
