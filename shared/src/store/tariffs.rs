//! Tariffs: `TARIFF#<group>` / `<zoneSet>#<zone>#<validFrom>`, one item per price, so a group's
//! whole table is one Query. Attributes: `group`, `zoneSet`, `zone`, `validFrom`, optional
//! `validTo` (ISO dates), `price` (an exact number, roubles per kWh with VAT), `source` (where the
//! price comes from) and `basis` (`published` or `derived`).

use super::all_items;
use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::account::TariffGroup;
use crate::domain::tariff::TariffId;
use crate::domain::{Tariff, Zone};
use crate::ports::readings::{TariffImport, TariffReader};
use crate::ports::{ImportOutcome, StoreError};
use chrono::NaiveDate;

impl TariffReader for DynamoStore {
    async fn tariffs(&self, group: &TariffGroup) -> Result<Vec<Tariff>, StoreError> {
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", item::s(keys::tariff_pk(group)));
        all_items(query).await?.iter().map(decode).collect()
    }
}

impl TariffImport for DynamoStore {
    async fn import_tariff(&self, tariff: &Tariff) -> Result<ImportOutcome, StoreError> {
        // Written only when absent or different, so importing the same file again writes nothing.
        // `source` is a DynamoDB reserved word, hence the names.
        let mut condition = String::from(
            "attribute_not_exists(PK) OR price <> :price OR attribute_not_exists(#source) OR #source <> :source \
             OR attribute_not_exists(#basis) OR #basis <> :basis",
        );
        let mut request = self
            .put_item()
            .set_item(Some(encode(tariff)?))
            .expression_attribute_names("#source", "source")
            .expression_attribute_names("#basis", "basis")
            .expression_attribute_values(":price", item::money(tariff.price))
            .expression_attribute_values(":source", item::s(tariff.source.clone()))
            .expression_attribute_values(":basis", item::s(tariff.basis.as_str()));
        match tariff.valid_to {
            Some(to) => {
                condition.push_str(" OR attribute_not_exists(validTo) OR validTo <> :to");
                request = request.expression_attribute_values(":to", item::s(to.to_string()));
            }
            None => condition.push_str(" OR attribute_exists(validTo)"),
        }
        match request.condition_expression(condition).send().await {
            Ok(_) => Ok(ImportOutcome::Written),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(ImportOutcome::AlreadyCurrent)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn stored_tariff_ids(&self, group: &TariffGroup) -> Result<Vec<TariffId>, StoreError> {
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk")
            .projection_expression("SK")
            .expression_attribute_values(":pk", item::s(keys::tariff_pk(group)));
        all_items(query)
            .await?
            .iter()
            .map(|found| {
                let sk = item::get_s(found, "SK")?;
                keys::parse_tariff_sk(sk)
                    .map(|(zone_set, zone, valid_from)| TariffId { group: group.clone(), zone_set, zone, valid_from })
                    .ok_or_else(|| StoreError::Corrupt(format!("tariff key {sk:?}")))
            })
            .collect()
    }

    async fn remove_tariff(&self, id: &TariffId) -> Result<(), StoreError> {
        self.delete_at(keys::tariff_pk(&id.group), keys::tariff_sk(id.zone_set, id.zone, id.valid_from))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn encode(tariff: &Tariff) -> Result<Item, StoreError> {
    let mut item = Item::from([
        ("PK".to_owned(), item::s(keys::tariff_pk(&tariff.group))),
        ("SK".to_owned(), item::s(keys::tariff_sk(tariff.zone_set, tariff.zone, tariff.valid_from))),
        ("group".to_owned(), item::s(tariff.group.0.clone())),
        // The import format's spelling: `single`, `twoZone`, `threeZone`.
        ("zoneSet".to_owned(), item::to_attr(&tariff.zone_set)?),
        ("zone".to_owned(), item::s(tariff.zone.as_str())),
        ("validFrom".to_owned(), item::s(tariff.valid_from.to_string())),
        ("price".to_owned(), item::money(tariff.price)),
        ("source".to_owned(), item::s(tariff.source.clone())),
        ("basis".to_owned(), item::s(tariff.basis.as_str())),
    ]);
    if let Some(to) = tariff.valid_to {
        item.insert("validTo".to_owned(), item::s(to.to_string()));
    }
    Ok(item)
}

fn decode(found: &Item) -> Result<Tariff, StoreError> {
    let date = |name: &str| {
        item::get_s(found, name)?.parse::<NaiveDate>().map_err(|_| StoreError::Corrupt(format!("{name}: not a date")))
    };
    let zone: Zone =
        item::get_s(found, "zone")?.parse().map_err(|()| StoreError::Corrupt("zone: not a zone".into()))?;
    Ok(Tariff {
        group: TariffGroup(item::get_s(found, "group")?.to_owned()),
        zone_set: item::get_de(found, "zoneSet")?,
        zone,
        valid_from: date("validFrom")?,
        valid_to: if found.contains_key("validTo") { Some(date("validTo")?) } else { None },
        price: item::get_money(found, "price")?,
        source: item::get_s(found, "source")?.to_owned(),
        basis: item::get_s(found, "basis")?
            .parse()
            .map_err(|()| StoreError::Corrupt("basis: neither published nor derived".into()))?,
    })
}
