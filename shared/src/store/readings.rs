//! Readings submissions: `ACCOUNT#<n>` / `READING#<meter>#<yyyy-mm>`, one item per meter and
//! billing month, also indexed as `GSI1PK = READINGS#<yyyy-mm>`, `GSI1SK = <n>#<meter>` for the
//! billing export.
//!
//! Attributes: `readingsId`, `account` (10 digits), `meterId`, `billingMonth`, `values` and
//! `consumption` (zone → kWh), `rollover`, `lines` (zone → `consumption`, `price`, `amount`),
//! `charge`, `contentHash`, `submittedAt`, `caller`, `version`, `exported`, `exportedAt`,
//! `expiresAt`. Money is an exact number.

use super::accounts;
use super::all_items;
use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::unbilled_readings::is_unbilled;
use crate::domain::{AcceptedReadings, AccountNumber, Charge, ChargeLine, MeterId, YearMonth, Zone};
use crate::ports::StoreError;
use crate::ports::readings::{
    AccountReadings, AccountReadingsReader, MarkOutcome, PageCursor, ReadingsExport, ReadingsId, ReadingsLookup,
    ReadingsPage, ReadingsWriter, SaveOutcome, SubmittedReadings,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};

/// How long a submission stays after it was handed in. The billing system is the record of
/// readings; here they serve the look-up, payments by readings and the export, and a year and a
/// bit keeps every account's partition small for the look-up's single Query.
pub const READINGS_KEPT_DAYS: i64 = 400;

/// The index of a billing month's submissions across accounts.
const MONTH_INDEX: &str = "GSI1";

impl AccountReadingsReader for DynamoStore {
    async fn account_with_readings(
        &self,
        number: &AccountNumber,
        month: YearMonth,
    ) -> Result<Option<AccountReadings>, StoreError> {
        // The account's partition is exactly what the look-up needs (`keys::account_pk`): the
        // ledger (the balance is the billed one plus the movements after the export), the profile
        // and every submission, so it is read whole, with the simplest key condition. Which
        // submissions the billed balance holds depends on the profile's export time, which no
        // filter can compare with: they are all read (a year's at most, `READINGS_KEPT_DAYS`) and
        // told apart here.
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", item::s(keys::account_pk(number)))
            // A customer who has just paid or handed in readings must see it.
            .consistent_read(true);
        let items = all_items(query).await?;
        let Some(profile) = items.iter().find(|found| item::get_s(found, "SK").is_ok_and(|sk| sk == keys::PROFILE))
        else {
            return Ok(None);
        };
        let billed_at = item::get_time(profile, "billedAt").ok();
        let account = accounts::decode(*number, profile, &items)?;
        let (mut submitted, mut unbilled) = (Vec::new(), Vec::new());
        for found in &items {
            if !item::get_s(found, "SK")?.starts_with(keys::READING_PREFIX) {
                continue;
            }
            let of = item::get_s(found, "billingMonth")?
                .parse::<YearMonth>()
                .map_err(|_| StoreError::Corrupt("submission billingMonth".into()))?;
            if of == month {
                submitted.push(decode(found)?);
            } else if is_unbilled(of, month, billed_at) {
                unbilled.push(decode(found)?);
            }
        }
        Ok(Some(AccountReadings { account, submitted, unbilled }))
    }
}

impl ReadingsWriter for DynamoStore {
    async fn save_readings(&self, readings: &SubmittedReadings) -> Result<SaveOutcome, StoreError> {
        let mut request = self.update_at(
            keys::account_pk(&readings.account),
            keys::reading_sk(readings.meter_id(), readings.billing_month),
        );
        let mut set = Vec::new();
        for (i, (name, value)) in attributes(readings)?.into_iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            request = request
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        let update =
            format!("SET {}, #version = if_not_exists(#version, :zero) + :one REMOVE exportedAt", set.join(", "));
        let result = request
            .update_expression(update)
            // Only the caller who handed the month's submission in replaces it, checked in the
            // write itself so two instances cannot race past it; the same content again writes
            // nothing, and the answer stays the stored one.
            .condition_expression("attribute_not_exists(PK) OR (#caller = :caller AND contentHash <> :hash)")
            .expression_attribute_names("#caller", "caller")
            .expression_attribute_values(":caller", item::s(readings.caller.to_string()))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":zero", item::n(0))
            .expression_attribute_values(":one", item::n(1))
            .expression_attribute_values(":hash", item::s(&readings.content_hash))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let saved = decode(&out.attributes.unwrap_or_default())?;
                Ok(if saved.version == 1 { SaveOutcome::Created(saved) } else { SaveOutcome::Replaced(saved) })
            }
            Err(e) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = e.as_service_error() {
                    // Another caller's, or the same content: the stored item comes back with the
                    // refusal, no second read.
                    let stored = failed
                        .item
                        .as_ref()
                        .ok_or_else(|| StoreError::Corrupt("the stored submission was not returned".into()))?;
                    let stored = decode(stored)?;
                    if stored.caller != readings.caller {
                        return Ok(SaveOutcome::HandedInByAnother);
                    }
                    return Ok(SaveOutcome::Unchanged(stored));
                }
                Err(unavailable(e))
            }
        }
    }
}

impl ReadingsLookup for DynamoStore {
    async fn readings_by_id(
        &self,
        account: &AccountNumber,
        id: &ReadingsId,
    ) -> Result<Option<SubmittedReadings>, StoreError> {
        // The id does not name the meter, but an account has a handful of meters: one Query of
        // its submissions, filtered to the id.
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk AND begins_with(SK, :reading)")
            .filter_expression("readingsId = :id")
            .expression_attribute_values(":pk", item::s(keys::account_pk(account)))
            .expression_attribute_values(":reading", item::s(keys::READING_PREFIX))
            .expression_attribute_values(":id", item::s(id.as_str()))
            .consistent_read(true);
        all_items(query).await?.first().map(decode).transpose()
    }
}

impl ReadingsExport for DynamoStore {
    async fn readings_of_month(
        &self,
        month: YearMonth,
        include_exported: bool,
        page_size: u32,
        after: Option<PageCursor>,
    ) -> Result<ReadingsPage, StoreError> {
        let mut request = self
            .query_items()
            .index_name(MONTH_INDEX)
            .key_condition_expression("GSI1PK = :month")
            .expression_attribute_values(":month", item::s(keys::readings_month_pk(month)))
            .limit(i32::try_from(page_size.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(|cursor| cursor.0.into_iter().map(|(k, v)| (k, item::s(v))).collect()));
        if !include_exported {
            request = request
                .filter_expression("exported = :no")
                .expression_attribute_values(":no", AttributeValue::Bool(false));
        }
        let out = request.send().await.map_err(unavailable)?;
        let readings = out.items.unwrap_or_default().iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(cursor(key)?),
            _ => None,
        };
        Ok(ReadingsPage { readings, next })
    }

    async fn mark_exported(&self, readings: &SubmittedReadings, at: DateTime<Utc>) -> Result<MarkOutcome, StoreError> {
        let result = self
            .update_at(
                keys::account_pk(&readings.account),
                keys::reading_sk(readings.meter_id(), readings.billing_month),
            )
            .update_expression("SET exported = :yes, exportedAt = :at")
            // Only the version that was written out: a replacement since then stays unexported.
            .condition_expression("readingsId = :id")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":at", item::s(item::timestamp(at)))
            .expression_attribute_values(":id", item::s(readings.readings_id.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(MarkOutcome::Marked),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(MarkOutcome::Superseded)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn cursor(key: HashMap<String, AttributeValue>) -> Result<PageCursor, StoreError> {
    key.into_iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name, s)),
            _ => Err(StoreError::Corrupt(format!("page key {name}: expected a string"))),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map(PageCursor)
}

/// Everything a save writes besides the keys, the version and `exportedAt`.
fn attributes(r: &SubmittedReadings) -> Result<Vec<(&'static str, AttributeValue)>, StoreError> {
    let lines = r
        .charge
        .lines
        .iter()
        .map(|(zone, line)| {
            let mut stored = HashMap::from([
                ("consumption".to_owned(), item::n(line.consumption)),
                ("amount".to_owned(), item::money(line.amount)),
            ]);
            // A zone that used nothing on a day without its price has none to keep.
            if let Some(price) = line.price {
                stored.insert("price".to_owned(), item::money(price));
            }
            (zone.as_str().to_owned(), AttributeValue::M(stored))
        })
        .collect();
    let expires = r.submitted_at + Duration::days(READINGS_KEPT_DAYS);
    Ok(vec![
        ("readingsId", item::s(r.readings_id.as_str())),
        ("account", item::s(r.account.digits())),
        ("meterId", item::s(r.meter_id().0.clone())),
        ("billingMonth", item::s(r.billing_month.to_string())),
        ("values", item::to_attr(&r.accepted.values)?),
        ("consumption", item::to_attr(&r.accepted.consumption)?),
        ("rollover", AttributeValue::Bool(r.accepted.rollover)),
        ("lines", AttributeValue::M(lines)),
        ("charge", item::money(r.charge.total)),
        ("contentHash", item::s(&r.content_hash)),
        ("submittedAt", item::s(item::timestamp(r.submitted_at))),
        ("caller", item::s(r.caller.to_string())),
        ("exported", AttributeValue::Bool(false)),
        ("GSI1PK", item::s(keys::readings_month_pk(r.billing_month))),
        ("GSI1SK", item::s(keys::readings_month_sk(&r.account, r.meter_id()))),
        ("expiresAt", item::n(expires.timestamp())),
    ])
}

fn decode(found: &Item) -> Result<SubmittedReadings, StoreError> {
    let corrupt = |name: &str, what: &str| StoreError::Corrupt(format!("{name}: {what}"));
    let lines = match found.get("lines") {
        Some(AttributeValue::M(lines)) => lines
            .iter()
            .map(|(zone, line)| {
                let zone: Zone = zone.parse().map_err(|()| corrupt("lines", "not a zone"))?;
                let AttributeValue::M(line) = line else {
                    return Err(corrupt("lines", "expected a map"));
                };
                let line = ChargeLine {
                    consumption: item::get_u64(line, "consumption")?,
                    price: line.contains_key("price").then(|| item::get_money(line, "price")).transpose()?,
                    amount: item::get_money(line, "amount")?,
                };
                Ok((zone, line))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?,
        _ => return Err(corrupt("lines", "expected a map")),
    };
    let bool_of = |name: &str| match found.get(name) {
        Some(AttributeValue::Bool(b)) => Ok(*b),
        _ => Err(corrupt(name, "expected a boolean")),
    };
    let time_of = |name: &str| item::get_time(found, name);
    let exported_at = match found.get("exportedAt") {
        Some(_) => Some(time_of("exportedAt")?),
        None => None,
    };
    let account: AccountNumber =
        item::get_s(found, "account")?.parse().map_err(|_| corrupt("account", "not an account number"))?;
    let billing_month: YearMonth =
        item::get_s(found, "billingMonth")?.parse().map_err(|_| corrupt("billingMonth", "not a month"))?;
    let values: BTreeMap<Zone, u64> = item::get_de(found, "values")?;
    let consumption: BTreeMap<Zone, u64> = item::get_de(found, "consumption")?;
    Ok(SubmittedReadings {
        readings_id: item::get_s(found, "readingsId")?.parse().map_err(|_| corrupt("readingsId", "malformed"))?,
        account,
        billing_month,
        accepted: AcceptedReadings {
            meter_id: MeterId(item::get_s(found, "meterId")?.to_owned()),
            values,
            consumption,
            rollover: bool_of("rollover")?,
        },
        charge: Charge { lines, total: item::get_money(found, "charge")? },
        content_hash: item::get_s(found, "contentHash")?.to_owned(),
        submitted_at: time_of("submittedAt")?,
        caller: item::get_s(found, "caller")?.parse().map_err(|_| corrupt("caller", "malformed"))?,
        version: u32::try_from(item::get_u64(found, "version")?).map_err(|_| corrupt("version", "out of range"))?,
        exported_at,
    })
}
