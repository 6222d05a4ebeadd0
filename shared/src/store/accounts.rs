//! The account profile item: `ACCOUNT#<10 digits>` / `PROFILE`.

use super::item::{self, Item};
use super::keys;
use super::{DynamoStore, unavailable};
use crate::domain::account::TariffGroup;
use crate::domain::address_mask::Address;
use crate::domain::{Account, AccountNumber, Balance, Meter, Money};
use crate::ports::ledger::LedgerReader;
use crate::ports::{AccountImport, AccountReader, ImportOutcome, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SubsecRound, Utc};

impl AccountReader for DynamoStore {
    async fn account(&self, number: &AccountNumber) -> Result<Option<Account>, StoreError> {
        let out = self
            .get_at(keys::account_pk(number), keys::PROFILE)
            // A customer who has just paid must see the credited balance.
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(|item| decode(*number, &item)).transpose()
    }
}

impl AccountImport for DynamoStore {
    /// The export's balance is the billing system's as of `exported_at`; money this service moved
    /// after that instant (credits and refunds in the ledger) is not in it yet, so it is added on
    /// top rather than lost. The write is conditional on the balance read, so a credit landing
    /// between the read and the write makes the import start over instead of being overwritten.
    async fn import_account(&self, account: &Account, exported_at: DateTime<Utc>) -> Result<ImportOutcome, StoreError> {
        let exported = item::timestamp(exported_at);
        for _ in 0..IMPORT_ATTEMPTS {
            let stored = self.stored_export(&account.number).await?;
            // Compared as times to the second, as exports are dated (and profiles imported before
            // hold whole seconds).
            let stored_at = stored.as_ref().map(|(at, _)| item::parse_time(at, "exportedAt")).transpose()?;
            if stored_at.is_some_and(|at| at.trunc_subsecs(0) >= exported_at.trunc_subsecs(0)) {
                return Ok(ImportOutcome::AlreadyCurrent);
            }
            let since_export: Money = self
                .ledger_entries(&account.number)
                .await?
                .into_iter()
                .filter(|entry| entry.at > exported_at)
                .map(|entry| entry.amount)
                .sum();
            let mut item = encode(account)?;
            item.insert("balance".to_owned(), item::money(account.balance.signed() + since_export));
            item.insert("exportedAt".to_owned(), item::s(&exported));
            let mut put = self.put_item().set_item(Some(item));
            put = match &stored {
                None => put.condition_expression("attribute_not_exists(PK)"),
                Some((at, balance)) => put
                    .condition_expression("exportedAt = :at AND balance = :balance")
                    .expression_attribute_values(":at", item::s(at))
                    .expression_attribute_values(":balance", item::money(*balance)),
            };
            match put.send().await {
                Ok(_) => return Ok(ImportOutcome::Written),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!("the account kept changing during {IMPORT_ATTEMPTS} import attempts")))
    }
}

const IMPORT_ATTEMPTS: usize = 5;

impl DynamoStore {
    /// The stored profile's export time and balance, if the account exists.
    async fn stored_export(&self, number: &AccountNumber) -> Result<Option<(String, Money)>, StoreError> {
        let out = self
            .get_at(keys::account_pk(number), keys::PROFILE)
            .projection_expression("exportedAt, balance")
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item
            .map(|item| Ok((item::get_s(&item, "exportedAt")?.to_owned(), item::get_money(&item, "balance")?)))
            .transpose()
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
