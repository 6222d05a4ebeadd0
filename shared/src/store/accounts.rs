//! The account profile item: `ACCOUNT#<10 digits>` / `PROFILE`.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::account::TariffGroup;
use crate::domain::address_mask::Address;
use crate::domain::{Account, AccountNumber, Balance, Meter};
use crate::ports::{AccountImport, AccountReader, ImportOutcome, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

impl AccountReader for DynamoStore {
    async fn account(&self, number: &AccountNumber) -> Result<Option<Account>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", item::s(keys::account_pk(number)))
            .key("SK", item::s(keys::PROFILE))
            // A customer who has just paid must see the credited balance.
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(|item| decode(*number, &item)).transpose()
    }
}

impl AccountImport for DynamoStore {
    async fn import_account(&self, account: &Account, exported_at: DateTime<Utc>) -> Result<ImportOutcome, StoreError> {
        let mut item = encode(account)?;
        // Fixed-width UTC text: compares in time order as a string.
        let exported = exported_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        item.insert("exportedAt".to_owned(), item::s(&exported));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR exportedAt < :exported")
            .expression_attribute_values(":exported", item::s(exported))
            .send()
            .await;
        match result {
            Ok(_) => Ok(ImportOutcome::Written),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(ImportOutcome::AlreadyCurrent)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn encode(account: &Account) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("PK".to_owned(), item::s(keys::account_pk(&account.number))),
        ("SK".to_owned(), item::s(keys::PROFILE)),
        ("address".to_owned(), item::to_attr(&account.address)?),
        // Stored beside the address so a look-up never has to touch the full one.
        ("addressMasked".to_owned(), item::s(account.address.masked())),
        ("balance".to_owned(), item::money(account.balance.signed())),
        ("tariffGroup".to_owned(), item::s(account.tariff_group.0.clone())),
        ("meters".to_owned(), item::to_attr(&account.meters)?),
    ]))
}

pub(super) fn decode(number: AccountNumber, item: &Item) -> Result<Account, StoreError> {
    let meters: Vec<Meter> = match item.get("meters") {
        Some(AttributeValue::L(_)) => item::get_de(item, "meters")?,
        _ => Vec::new(),
    };
    Ok(Account {
        number,
        address: item::get_de::<Address>(item, "address")?,
        balance: Balance::new(item::get_money(item, "balance")?),
        tariff_group: TariffGroup(item::get_s(item, "tariffGroup")?.to_owned()),
        meters,
    })
}
