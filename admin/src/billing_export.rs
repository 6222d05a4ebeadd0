//! The billing system's export: the file format `energosbyt-admin import` reads (README,
//! "Import format"). One JSON document:
//!
//! ```json
//! { "exportedAt": "2026-11-01T03:00:00+03:00",
//!   "accounts": [ { "account": "12345-678-90",
//!                   "address": {"town": "г. Москва", "street": "ул. Тверская", "house": "д. 7", "flat": "15"},
//!                   "balance": "-1520.37", "tariffGroup": "gas-stove",
//!                   "meters": [ { "id": "…", "serial": "…", "zoneSet": "single|twoZone|threeZone", "digits": 5,
//!                                 "automatic": false, "faulty": false,
//!                                 "window": {"fromDay": 15, "toDay": 26},
//!                                 "lastReadings": {"T1": {"value": 12345, "date": "2026-10-22"}} } ] } ] }
//! ```
//! Unknown fields are refused (a holder's name column must not slip into the store). `serial`, the
//! number printed on the meter, is optional: without it the whole `id` is the number a customer
//! types to hand in readings. No two meters of an account may share a number as typed (case,
//! spaces and dashes aside), or one number would prove two meters.

use chrono::{DateTime, FixedOffset, Utc};
use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::address_mask::Address;
use energosbyt::domain::meter_number::normalise;
use energosbyt::domain::{Account, AccountNumber, Balance, Meter, Money};
use energosbyt::ports::{AccountImport, ImportOutcome, StoreError};
use serde::Deserialize;
use std::collections::HashSet;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExportFile {
    exported_at: DateTime<FixedOffset>,
    accounts: Vec<AccountRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountRecord {
    account: AccountNumber,
    address: Address,
    balance: Money,
    tariff_group: String,
    #[serde(default)]
    meters: Vec<Meter>,
}

#[derive(Debug)]
pub struct Export {
    pub exported_at: DateTime<Utc>,
    pub accounts: Vec<Account>,
}

pub fn parse(text: &str) -> Result<Export, String> {
    let file: ExportFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = HashSet::new();
    let mut accounts = Vec::with_capacity(file.accounts.len());
    for (i, record) in file.accounts.into_iter().enumerate() {
        let at = format!("accounts[{i}] ({})", record.account.masked());
        if !seen.insert(record.account) {
            return Err(format!("{at}: the account appears twice"));
        }
        if record.address.town.trim().is_empty() || record.address.house.trim().is_empty() {
            return Err(format!("{at}: the address needs a town and a house"));
        }
        if record.tariff_group.trim().is_empty() {
            return Err(format!("{at}: the tariff group is empty"));
        }
        let mut meter_ids = HashSet::new();
        let mut numbers = HashSet::new();
        for (position, meter) in record.meters.iter().enumerate() {
            // The import's messages go to the operator's terminal: the meter by position and id.
            let position = position + 1;
            if !meter_ids.insert(meter.id.clone()) {
                return Err(format!("{at}: meter {} appears twice", meter.id));
            }
            if meter.serial.as_deref().is_some_and(|serial| normalise(serial).is_empty()) {
                return Err(format!("{at}: meter {} has a serial with no letter or digit", meter.id));
            }
            let own: HashSet<String> = [normalise(&meter.id.0), normalise(meter.printed_number())].into();
            if own.iter().any(|number| !numbers.insert(number.clone())) {
                return Err(format!(
                    "{at}: meter {position} ({}) has the number of another meter of the account",
                    meter.id
                ));
            }
            if let Some(zone) = meter.last_readings.keys().find(|z| !meter.zone_set.has(**z)) {
                return Err(format!("{at}: meter {} has no zone {}", meter.id, zone.as_str()));
            }
            if let Some(w) = meter.window
                && !(1 <= w.from_day && w.from_day <= w.to_day && w.to_day <= 31)
            {
                return Err(format!("{at}: meter {} has an impossible window", meter.id));
            }
        }
        accounts.push(Account {
            number: record.account,
            address: record.address,
            balance: Balance::new(record.balance),
            tariff_group: TariffGroup(record.tariff_group),
            meters: record.meters,
        });
    }
    Ok(Export { exported_at: file.exported_at.with_timezone(&Utc), accounts })
}

/// What an import did: accounts written, and accounts the store already held at this export or a
/// newer one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub written: usize,
    pub already_current: usize,
}

/// Loads every account of a parsed export into the store, one after the other: what
/// `energosbyt-admin import` does with its file.
pub async fn import<S: AccountImport>(store: &S, export: &Export) -> Result<ImportSummary, StoreError> {
    let mut summary = ImportSummary::default();
    for account in &export.accounts {
        match store.import_account(account, export.exported_at).await? {
            ImportOutcome::Written => summary.written += 1,
            ImportOutcome::AlreadyCurrent => summary.already_current += 1,
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_export_parses() {
        let export = parse(include_str!("../../data/demo.json")).unwrap();
        assert_eq!(export.accounts.len(), 8);
        let balances: Vec<String> = export.accounts.iter().map(|a| a.balance.signed().to_string()).collect();
        assert!(balances.iter().any(|b| b.starts_with('-')), "one account in debt");
        assert!(balances.contains(&"0.00".to_owned()), "one at zero");
        assert!(balances.iter().any(|b| !b.starts_with('-') && b != "0.00"), "one in credit");
        assert!(export.accounts.iter().flat_map(|a| &a.meters).any(|m| m.automatic));
    }

    #[test]
    fn given_serials_when_parsed_then_they_are_kept_and_one_number_for_two_meters_is_refused() {
        let file = |meters: &str| {
            format!(
                r#"{{"exportedAt":"2026-11-01T00:00:00Z","accounts":[{{"account":"1000000001",
                "address":{{"town":"г. Москва","house":"д. 1"}},"balance":"0","tariffGroup":"g","meters":{meters}}}]}}"#
            )
        };
        let parsed = parse(&file(
            r#"[{"id":"Меркурий200-3391024","serial":"3391024","zoneSet":"single"},
            {"id":"СЕ101-0457812","zoneSet":"single"}]"#,
        ))
        .unwrap();
        let meters = &parsed.accounts[0].meters;
        assert_eq!((meters[0].printed_number(), meters[1].printed_number()), ("3391024", "СЕ101-0457812"));
        let same_serial = file(
            r#"[{"id":"A-1","serial":"777","zoneSet":"single"},{"id":"B-2","serial":"7-7-7","zoneSet":"single"}]"#,
        );
        assert!(parse(&same_serial).unwrap_err().contains("meter 2 (B-2) has the number of another meter"));
        let serial_is_other_id =
            file(r#"[{"id":"A-1","zoneSet":"single"},{"id":"B-2","serial":"a1","zoneSet":"single"}]"#);
        assert!(parse(&serial_is_other_id).unwrap_err().contains("number of another meter"));
        let blank = file(r#"[{"id":"A-1","serial":" - ","zoneSet":"single"}]"#);
        assert!(parse(&blank).unwrap_err().contains("no letter or digit"));
    }

    #[test]
    fn a_bad_record_refuses_the_whole_file() {
        let with_name = r#"{"exportedAt":"2026-11-01T00:00:00Z","accounts":[{"account":"1000000001",
            "address":{"town":"г. Москва","house":"д. 1"},"balance":"0","tariffGroup":"g","holder":"Иванов"}]}"#;
        assert!(parse(with_name).unwrap_err().contains("holder"));
        let wrong_zone = r#"{"exportedAt":"2026-11-01T00:00:00Z","accounts":[{"account":"1000000001",
            "address":{"town":"г. Москва","house":"д. 1"},"balance":"0","tariffGroup":"g",
            "meters":[{"id":"m","zoneSet":"single","lastReadings":{"T2":{"value":1,"date":"2026-10-01"}}}]}]}"#;
        assert!(parse(wrong_zone).unwrap_err().contains("no zone T2"));
        let twice = r#"{"exportedAt":"2026-11-01T00:00:00Z","accounts":[
            {"account":"1000000001","address":{"town":"г","house":"1"},"balance":"0","tariffGroup":"g"},
            {"account":"10000-000-01","address":{"town":"г","house":"1"},"balance":"0","tariffGroup":"g"}]}"#;
        assert!(parse(twice).unwrap_err().contains("twice"));
    }
}
