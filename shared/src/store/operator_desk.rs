//! [`OperatorDesk`] on DynamoDB. A payment set aside for a person sits in the desk index (`GSI4`,
//! sparse) under `DESK`, sorted by when it was first set aside, with the kinds of attention it
//! needs in `deskKinds`; the writes that set a payment aside (an anomaly noted, a review, a receipt
//! held, an email refused) add it in the same update. An operator's action is recorded on the
//! payment item (`deskCredit`, `deskRefund`, `deskReview`) and, once settled, takes it off.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, all_items, unavailable};
use crate::domain::{PaymentId, PaymentStatus};
use crate::ports::StoreError;
use crate::ports::operator_desk::{DeskAction, DeskActionKind, DeskItem, DeskKind, OperatorDesk, Recorded};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

const INDEX: &str = "GSI4";
const DESK: &str = "DESK";
const KINDS: &str = "deskKinds";

/// The update clauses that set a payment aside: `SET` then `ADD` parts, with [`set_aside_values`].
pub(super) const SET_ASIDE: &str = "GSI4PK = :desk, GSI4SK = if_not_exists(GSI4SK, :desk_position)";
pub(super) const SET_ASIDE_ADD: &str = "deskKinds :desk_kind";

pub(super) fn set_aside_values(
    id: &PaymentId,
    kind: DeskKind,
    at: DateTime<Utc>,
) -> [(&'static str, AttributeValue); 3] {
    [
        (":desk", item::s(DESK)),
        (":desk_position", item::s(format!("{}#{id}", item::timestamp(at)))),
        (":desk_kind", AttributeValue::Ss(vec![kind.as_str().to_owned()])),
    ]
}

fn action_attribute(kind: DeskActionKind) -> &'static str {
    match kind {
        DeskActionKind::Credit => "deskCredit",
        DeskActionKind::Refund => "deskRefund",
        DeskActionKind::Review => "deskReview",
    }
}

fn encode_action(action: &DeskAction) -> AttributeValue {
    let mut map = Item::from([
        ("operator".to_owned(), item::s(&action.operator)),
        ("reason".to_owned(), item::s(&action.reason)),
        ("at".to_owned(), item::s(item::timestamp(action.at))),
    ]);
    if let Some(amount) = action.amount {
        map.insert("amount".to_owned(), item::money(amount));
    }
    if let Some(total) = action.total_refunded {
        map.insert("totalRefunded".to_owned(), item::money(total));
    }
    AttributeValue::M(map)
}

fn decode_action(kind: DeskActionKind, value: &AttributeValue) -> Result<DeskAction, StoreError> {
    let map = value.as_m().map_err(|_| StoreError::Corrupt(format!("{}: not a map", action_attribute(kind))))?;
    Ok(DeskAction {
        kind,
        operator: item::get_s(map, "operator")?.to_owned(),
        reason: item::get_s(map, "reason")?.to_owned(),
        at: item::get_time(map, "at")?,
        amount: map.contains_key("amount").then(|| item::get_money(map, "amount")).transpose()?,
        total_refunded: map.contains_key("totalRefunded").then(|| item::get_money(map, "totalRefunded")).transpose()?,
    })
}

fn decode_item(entry: &Item) -> Result<DeskItem, StoreError> {
    let pk = item::get_s(entry, "PK")?;
    let payment = pk
        .strip_prefix("PAYMENT#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("PK: not a payment".into()))?;
    let position = item::get_s(entry, "GSI4SK")?;
    let since = item::parse_time(position.split('#').next().unwrap_or_default(), "GSI4SK")?;
    let mut kinds: Vec<DeskKind> = match entry.get(KINDS) {
        Some(AttributeValue::Ss(kinds)) => kinds.iter().filter_map(|k| k.parse().ok()).collect(),
        _ => Vec::new(),
    };
    kinds.sort();
    let status = item::get_s(entry, "status")?;
    Ok(DeskItem {
        payment,
        kinds,
        since,
        account: item::get_s(entry, "account")?.parse().map_err(|_| StoreError::Corrupt("account".into()))?,
        amount: item::get_money(entry, "amount")?,
        refunded: if entry.contains_key("refunded") { item::get_money(entry, "refunded")? } else { Default::default() },
        status: PaymentStatus::parse(status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
    })
}

impl DynamoStore {
    /// Sets the payment aside for a person, outside another write (an email refused for good).
    pub(super) async fn set_aside(&self, id: &PaymentId, kind: DeskKind, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conditional_update(
            id,
            &format!("SET {SET_ASIDE} ADD {SET_ASIDE_ADD}"),
            "attribute_exists(PK)",
            &[],
            set_aside_values(id, kind, at).into(),
        )
        .await
        .map(|_| ())
    }
}

impl OperatorDesk for DynamoStore {
    async fn desk_items(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        kind: Option<DeskKind>,
    ) -> Result<Vec<DeskItem>, StoreError> {
        // `GSI4SK` is `<set aside at>#<id>`: between the two times as text is between them in time.
        let mut query = self
            .query_items()
            .index_name(INDEX)
            .key_condition_expression("GSI4PK = :desk AND GSI4SK BETWEEN :since AND :until")
            .expression_attribute_values(":desk", item::s(DESK))
            .expression_attribute_values(":since", item::s(item::timestamp(since)))
            .expression_attribute_values(":until", item::s(item::timestamp(until)));
        if let Some(kind) = kind {
            query = query
                .filter_expression("contains(#kinds, :kind)")
                .expression_attribute_names("#kinds", KINDS)
                .expression_attribute_values(":kind", item::s(kind.as_str()));
        }
        all_items(query).await?.iter().map(decode_item).collect()
    }

    async fn record_desk_action(
        &self,
        id: &PaymentId,
        action: &DeskAction,
        leave_desk: bool,
    ) -> Result<Recorded, StoreError> {
        let attribute = action_attribute(action.kind);
        let expression =
            if leave_desk { "SET #action = :action REMOVE GSI4PK, GSI4SK" } else { "SET #action = :action" };
        let written = self
            .conditional_update(
                id,
                expression,
                "attribute_exists(PK) AND attribute_not_exists(#action)",
                &[("#action", attribute)],
                vec![(":action", encode_action(action))],
            )
            .await?;
        if written {
            return Ok(Recorded::Written);
        }
        Ok(match self.desk_action(id, action.kind).await? {
            Some(earlier) => Recorded::Earlier(earlier),
            None => Recorded::NoSuchPayment,
        })
    }

    async fn desk_action(&self, id: &PaymentId, kind: DeskActionKind) -> Result<Option<DeskAction>, StoreError> {
        let attribute = action_attribute(kind);
        let out = self
            .get_at(keys::payment_pk(id), keys::PAYMENT)
            .projection_expression("#action")
            .expression_attribute_names("#action", attribute)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.as_ref().and_then(|item| item.get(attribute)).map(|value| decode_action(kind, value)).transpose()
    }

    async fn withdraw_desk_action(&self, id: &PaymentId, action: &DeskAction) -> Result<(), StoreError> {
        self.conditional_update(
            id,
            "REMOVE #action",
            "#action = :action",
            &[("#action", action_attribute(action.kind))],
            vec![(":action", encode_action(action))],
        )
        .await
        .map(|_| ())
    }

    async fn leave_desk(&self, id: &PaymentId) -> Result<(), StoreError> {
        self.conditional_update(id, "REMOVE GSI4PK, GSI4SK", "attribute_exists(PK)", &[], Vec::new()).await.map(|_| ())
    }
}
