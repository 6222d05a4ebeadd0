//! Request counters: one item per caller and day, `THROTTLE#<key>#<day start>`, holding the
//! requests counted in each minute (`m<minute of the day>`: served or reserved by an instance,
//! `edge::throttle_lease`) and the day's distinct accounts (`accounts`, a string set), all updated
//! by one conditional `UpdateItem`. DynamoDB's TTL removes the item a day later.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::ports::{RequestCounter, StoreError, Tallied, Tally};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

const DAY_SECS: i64 = 86_400;
const ACCOUNTS: &str = "accounts";

impl RequestCounter for DynamoStore {
    async fn tally(&self, tally: &Tally<'_>) -> Result<Tallied, StoreError> {
        let minute_name = |start: i64| format!("m{}", (start - tally.day_start) / 60);
        let this_minute = minute_name(tally.minute_start);
        let mut add = "ADD #minute :reserve".to_owned();
        let mut update = self
            .update_at(keys::throttle_pk(tally.key, tally.day_start), "COUNT")
            .expression_attribute_names("#minute", &this_minute)
            .expression_attribute_values(":reserve", item::n(tally.reserve))
            .expression_attribute_values(":expires", item::n(tally.day_start + 2 * DAY_SECS))
            // The old item tells both counts and whether the account is new; a write's answer
            // costs no read capacity either way.
            .return_values(ReturnValue::AllOld);
        let mut tail = String::new();
        // Only the current minute is ever read: the previous one goes, so a caller busy all day
        // keeps one minute counter, not 1 440.
        if tally.minute_start > tally.day_start {
            update = update.expression_attribute_names("#previous", minute_name(tally.minute_start - 60));
            tail.push_str(" REMOVE #previous");
        }
        if let Some((account, limit)) = tally.account {
            add.push_str(", #accounts :account");
            // The set never grows past its limit — a user's or an address's item stays under 1 KB
            // (one write unit), the page's day of anonymous accounts some 22 KB when full — and a
            // request for one more new account is refused with nothing written.
            update = update
                .expression_attribute_names("#accounts", ACCOUNTS)
                .expression_attribute_values(":account", AttributeValue::Ss(vec![account.to_owned()]))
                .expression_attribute_values(":digits", item::s(account))
                .expression_attribute_values(":limit", item::n(limit))
                .condition_expression(
                    "attribute_not_exists(#accounts) OR contains(#accounts, :digits) OR size(#accounts) < :limit",
                );
        }
        let expression = format!("{add} SET expiresAt = if_not_exists(expiresAt, :expires){tail}");
        let out = match update.update_expression(expression).send().await {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                return Ok(Tallied::AccountsFull);
            }
            Err(e) => return Err(unavailable(e)),
        };
        let before: Item = out.attributes.unwrap_or_default();
        let minute =
            if before.contains_key(&this_minute) { item::get_u64(&before, &this_minute)? } else { 0 } + tally.reserve;
        let (accounts, new_account) = match (tally.account, before.get(ACCOUNTS)) {
            (None, _) => (0, false),
            (Some(_), None) => (1, true),
            (Some((account, _)), Some(AttributeValue::Ss(set))) => {
                let new = !set.iter().any(|held| held == account);
                (set.len() as u64 + u64::from(new), new)
            }
            (Some(_), Some(_)) => return Err(StoreError::Corrupt(format!("{ACCOUNTS}: expected a string set"))),
        };
        Ok(Tallied::Counted { minute, accounts, new_account })
    }
}
