//! A caller's own payments from the payer index (`GSI3`: `PAYER#<caller>` / `<createdAt>#<id>`),
//! newest first, one Query per page. The index projects only what the list shows. Payments
//! written before the index existed carry no payer keys and are not listed.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::{CallerId, PaymentId, PaymentStatus};
use crate::ports::StoreError;
use crate::ports::history::{HistoryPage, HistoryPosition, PaymentHistoryReader, PaymentSummary};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

pub(crate) const INDEX: &str = "GSI3";
pub(crate) const INDEX_PK: &str = "GSI3PK";
pub(crate) const INDEX_SK: &str = "GSI3SK";

impl PaymentHistoryReader for DynamoStore {
    async fn payments_of(
        &self,
        caller: &CallerId,
        since: DateTime<Utc>,
        after: Option<&HistoryPosition>,
        limit: u16,
    ) -> Result<HistoryPage, StoreError> {
        let payer = keys::payer_pk(caller);
        let mut query = self
            .query_items()
            .index_name(INDEX)
            .key_condition_expression("#pk = :payer AND #sk >= :since")
            .expression_attribute_names("#pk", INDEX_PK)
            .expression_attribute_names("#sk", INDEX_SK)
            .expression_attribute_values(":payer", item::s(payer.clone()))
            .expression_attribute_values(":since", item::s(item::timestamp(since)))
            .scan_index_forward(false)
            .limit(i32::from(limit.max(1)));
        if let Some(position) = after {
            query = query.set_exclusive_start_key(Some(Item::from([
                ("PK".to_owned(), item::s(keys::payment_pk(&position.id))),
                ("SK".to_owned(), item::s(keys::PAYMENT)),
                (INDEX_PK.to_owned(), item::s(payer)),
                (INDEX_SK.to_owned(), item::s(keys::payer_sk(position.created_at, &position.id))),
            ])));
        }
        let out = query.send().await.map_err(unavailable)?;
        let payments = out.items.unwrap_or_default().iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        // DynamoDB says whether it stopped at the limit; the position is the last item listed.
        let next = match (out.last_evaluated_key, payments.last()) {
            (Some(_), Some(last)) => Some(HistoryPosition { created_at: last.created_at, id: last.id.clone() }),
            _ => None,
        };
        Ok(HistoryPage { payments, next })
    }
}

fn decode(found: &Item) -> Result<PaymentSummary, StoreError> {
    let id: PaymentId = item::get_s(found, "PK")?
        .strip_prefix("PAYMENT#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
    let status = item::get_s(found, "status")?;
    Ok(PaymentSummary {
        id,
        account: item::get_s(found, "account")?.parse().map_err(|_| StoreError::Corrupt("account".into()))?,
        amount: item::get_money(found, "amount")?,
        refunded: match found.get("refunded") {
            Some(AttributeValue::N(_)) => item::get_money(found, "refunded")?,
            _ => crate::domain::Money::ZERO,
        },
        status: PaymentStatus::parse(status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        created_at: item::get_time(found, "createdAt")?,
    })
}
