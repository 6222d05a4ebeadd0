//! Reading and writing attribute values. Money is an exact DynamoDB number (`N`) written from its
//! decimal text; nested structures go through `serde_dynamo`.

use crate::domain::Money;
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

pub type Item = HashMap<String, AttributeValue>;

/// The table's one timestamp format: fixed-width UTC with milliseconds
/// (`2026-11-25T09:42:00.123Z`), so it sorts in time order as text, inside a condition too.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A timestamp as [`timestamp`] writes it, or as items written before it read (whole seconds,
/// `2026-11-25T09:42:00Z`): any RFC 3339 time.
pub fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub fn get_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(get_s(item, name)?, name)
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn money(v: Money) -> AttributeValue {
    AttributeValue::N(v.amount().to_string())
}

pub fn to_attr<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!("{name}: expected a string"))),
    }
}

pub fn get_money(item: &Item, name: &str) -> Result<Money, StoreError> {
    match item.get(name) {
        // DynamoDB normalises numbers (`1.50` comes back as `1.5`): compare as decimals.
        Some(AttributeValue::N(v)) => Decimal::from_str(v)
            .ok()
            .and_then(|d| Money::new(d).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{name}: not money"))),
        _ => Err(StoreError::Corrupt(format!("{name}: expected a number"))),
    }
}

pub fn get_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt(format!("{name}: not an integer"))),
        _ => Err(StoreError::Corrupt(format!("{name}: expected a number"))),
    }
}

pub fn get_de<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let value = item.get(name).cloned().ok_or_else(|| StoreError::Corrupt(format!("{name}: missing")))?;
    serde_dynamo::from_attribute_value(value).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;

    #[test]
    fn given_a_time_when_written_then_it_reads_back_to_the_millisecond_and_sorts_as_text() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T09:42:00.123456Z").unwrap().with_timezone(&Utc);
        assert_eq!(timestamp(at), "2026-11-25T09:42:00.123Z");
        assert_eq!(parse_time(&timestamp(at), "at").unwrap(), at.trunc_subsecs(3));
        let later = at + chrono::TimeDelta::milliseconds(900);
        assert!(timestamp(at) < timestamp(later));
    }

    #[test]
    fn given_an_item_written_in_whole_seconds_when_read_then_it_is_the_same_time() {
        let old = parse_time("2026-11-20T12:00:00Z", "submittedAt").unwrap();
        assert_eq!(timestamp(old), "2026-11-20T12:00:00.000Z");
        assert!(parse_time("20.11.2026 12:00", "submittedAt").is_err());
    }
}
