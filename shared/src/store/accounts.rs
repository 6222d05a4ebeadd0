//! The account profile item: `ACCOUNT#<10 digits>` / `PROFILE`, written by the import as the
//! billing system exported it (`billedBalance` at `billedAt`, the export's time). The balance shown is that plus the
//! ledger entries dated after the export (`domain::billed_balance`), read in the same Query: the
//! ledger (`LEDGER#…`) sorts just before the profile in the account's partition.

use super::item::{self, Item};
use super::keys;
use super::payment_ledger::decode_entry;
use super::{DynamoStore, all_items, build_failed, unavailable};
use crate::domain::account::TariffGroup;
use crate::domain::address_mask::Address;
use crate::domain::billed_balance::current_balance;
use crate::domain::{Account, AccountNumber, Balance, Meter};
use crate::ports::{AccountImport, AccountReader, ImportOutcome, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::HashMap;
use std::time::Duration;

impl AccountReader for DynamoStore {
    async fn account(&self, number: &AccountNumber) -> Result<Option<Account>, StoreError> {
        let query = self
            .query_items()
            .key_condition_expression("PK = :pk AND SK BETWEEN :ledger AND :profile")
            .expression_attribute_values(":pk", item::s(keys::account_pk(number)))
            .expression_attribute_values(":ledger", item::s(keys::LEDGER_PREFIX))
            .expression_attribute_values(":profile", item::s(keys::PROFILE))
            // A customer who has just paid must see the credited balance.
            .consistent_read(true);
        let items = all_items(query).await?;
        let profile = items.iter().find(|found| matches!(item::get_s(found, "SK"), Ok(keys::PROFILE)));
        profile.map(|profile| decode(*number, profile, &items)).transpose()
    }
}

impl AccountImport for DynamoStore {
    /// Nothing but the export is written: money moved after it stays in the ledger and is added
    /// when the balance is read. The write is conditional on the export as read, so of two imports
    /// racing the newer wins.
    async fn import_account(&self, account: &Account, exported_at: DateTime<Utc>) -> Result<ImportOutcome, StoreError> {
        for _ in 0..IMPORT_ATTEMPTS {
            let out = self
                .get_at(keys::account_pk(&account.number), keys::PROFILE)
                .projection_expression("billedAt, billedBalance")
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            if out.item.as_ref().is_some_and(|stored| is_current(stored, exported_at)) {
                return Ok(ImportOutcome::AlreadyCurrent);
            }
            let mut put = self.put_item().set_item(Some(encode(account, exported_at)?));
            put = match out.item.as_ref().and_then(|stored| stored.get("billedAt")) {
                None => put.condition_expression("attribute_not_exists(billedAt)"),
                Some(at) => put.condition_expression("billedAt = :at").expression_attribute_values(":at", at.clone()),
            };
            match put.send().await {
                Ok(_) => return Ok(ImportOutcome::Written),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!("the account kept changing during {IMPORT_ATTEMPTS} import attempts")))
    }

    /// One BatchGetItem for the whole slice (up to [`IMPORT_BATCH`] accounts) to skip what is
    /// current, then BatchWriteItem by 25 for the rest. A plain put is safe here because the
    /// profile holds only what the export says: a credit landing meanwhile goes to the ledger, and
    /// even an older export written over a newer one reads as a consistent balance.
    async fn import_accounts(
        &self,
        accounts: &[Account],
        exported_at: DateTime<Utc>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        assert!(accounts.len() <= IMPORT_BATCH, "at most {IMPORT_BATCH} accounts per batch");
        let stored = self.stored_exports(accounts).await?;
        let mut outcomes = Vec::with_capacity(accounts.len());
        let mut writes = Vec::new();
        for account in accounts {
            if stored.get(&keys::account_pk(&account.number)).is_some_and(|item| is_current(item, exported_at)) {
                outcomes.push(ImportOutcome::AlreadyCurrent);
            } else {
                let put = PutRequest::builder()
                    .set_item(Some(encode(account, exported_at)?))
                    .build()
                    .map_err(build_failed)?;
                writes.push(WriteRequest::builder().put_request(put).build());
                outcomes.push(ImportOutcome::Written);
            }
        }
        for chunk in writes.chunks(WRITE_BATCH) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(outcomes)
    }
}

/// Accounts per [`AccountImport::import_accounts`] call: one BatchGetItem holds 100 keys.
pub const IMPORT_BATCH: usize = 100;
/// Items per BatchWriteItem, DynamoDB's limit.
const WRITE_BATCH: usize = 25;
const IMPORT_ATTEMPTS: usize = 5;
/// Rounds of unprocessed items (throttling) retried, with a doubling pause, before giving up.
const BATCH_ROUNDS: u32 = 10;

/// Whether the stored profile holds this export or a newer one. Compared as times to the second,
/// as exports are dated (profiles imported before hold whole seconds); a profile of the former
/// layout (a running `balance` at `exportedAt`) is never current, so the next import rewrites it.
fn is_current(stored: &Item, exported_at: DateTime<Utc>) -> bool {
    stored.contains_key("billedBalance")
        && item::get_time(stored, "billedAt").is_ok_and(|at| at.trunc_subsecs(0) >= exported_at.trunc_subsecs(0))
}

impl DynamoStore {
    /// The stored `billedAt` / `billedBalance` of the accounts that exist, by partition key.
    async fn stored_exports(&self, accounts: &[Account]) -> Result<HashMap<String, Item>, StoreError> {
        let keys: Vec<Item> = accounts
            .iter()
            .map(|a| {
                Item::from([
                    ("PK".to_owned(), item::s(keys::account_pk(&a.number))),
                    ("SK".to_owned(), item::s(keys::PROFILE)),
                ])
            })
            .collect();
        let mut found = HashMap::new();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("PK, billedAt, billedBalance")
                .consistent_read(true)
                .build()
                .map_err(build_failed)?,
        );
        let mut round = 0;
        while let Some(request) = pending.take() {
            if request.keys().is_empty() {
                break;
            }
            if round > 0 {
                pause(round).await?;
            }
            round += 1;
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(unavailable)?;
            for stored in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                if let Some(AttributeValue::S(pk)) = stored.get("PK") {
                    found.insert(pk.clone(), stored);
                }
            }
            pending = out.unprocessed_keys.unwrap_or_default().remove(&self.table);
        }
        Ok(found)
    }

    /// One BatchWriteItem, its unprocessed items sent again until none is left.
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut round = 0;
        while !requests.is_empty() {
            if round > 0 {
                pause(round).await?;
            }
            round += 1;
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out.unprocessed_items.unwrap_or_default().remove(&self.table).unwrap_or_default();
        }
        Ok(())
    }
}

/// The pause before retry round `round` (1, 2, …) of a batch: 50 ms doubling, jittered, as AWS
/// advises for unprocessed items; an error once [`BATCH_ROUNDS`] are spent.
async fn pause(round: u32) -> Result<(), StoreError> {
    if round >= BATCH_ROUNDS {
        return Err(StoreError::Unavailable(format!("items still unprocessed after {BATCH_ROUNDS} rounds")));
    }
    let base = 50u64 << round.min(6);
    tokio::time::sleep(Duration::from_millis(base / 2 + fastrand::u64(..base / 2))).await;
    Ok(())
}

fn encode(account: &Account, exported_at: DateTime<Utc>) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("PK".to_owned(), item::s(keys::account_pk(&account.number))),
        ("SK".to_owned(), item::s(keys::PROFILE)),
        ("address".to_owned(), item::to_attr(&account.address)?),
        // What any caller may be shown, kept beside the full address for whoever reads the table
        // (the look-up masks the address it decodes: the rule is `domain::address_mask`'s).
        ("addressMasked".to_owned(), item::s(account.address.masked())),
        ("billedBalance".to_owned(), item::money(account.balance.signed())),
        // Not `exportedAt`: the readings function may write that name (a submission's), never these.
        ("billedAt".to_owned(), item::s(item::timestamp(exported_at))),
        ("tariffGroup".to_owned(), item::s(account.tariff_group.0.clone())),
        ("meters".to_owned(), item::to_attr(&account.meters)?),
    ]))
}

/// The profile, its balance moved by the ledger entries among `partition` (the account's items
/// read with it; anything else among them is ignored).
pub(super) fn decode(number: AccountNumber, profile: &Item, partition: &[Item]) -> Result<Account, StoreError> {
    let meters: Vec<Meter> = match profile.get("meters") {
        Some(AttributeValue::L(_)) => item::get_de(profile, "meters")?,
        _ => Vec::new(),
    };
    let balance = if profile.contains_key("billedBalance") {
        let mut movements = Vec::new();
        for found in partition {
            if item::get_s(found, "SK").is_ok_and(|sk| sk.starts_with(keys::LEDGER_PREFIX)) {
                let entry = decode_entry(number, found)?;
                movements.push((entry.at, entry.amount));
            }
        }
        current_balance(item::get_money(profile, "billedBalance")?, item::get_time(profile, "billedAt")?, movements)
    } else {
        // The former layout kept the running balance in the profile, until its next import.
        Balance::new(item::get_money(profile, "balance")?)
    };
    Ok(Account {
        number,
        address: item::get_de::<Address>(profile, "address")?,
        balance,
        tariff_group: TariffGroup(item::get_s(profile, "tariffGroup")?.to_owned()),
        meters,
    })
}
