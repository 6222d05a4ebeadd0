//! Reading and writing attribute values. Money is an exact DynamoDB number (`N`) written from its
//! decimal text; nested structures go through `serde_dynamo`.

use crate::domain::Money;
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

pub type Item = HashMap<String, AttributeValue>;

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
