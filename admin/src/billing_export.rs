//! The billing system's export: the file formats `energosbyt-admin import` reads (README,
//! "Import format"), read as a stream so an export of millions of accounts never sits in memory.
//! Two layouts of the same records:
//!
//! - JSON Lines, for exports at city scale and their chunks: a first line `{"exportedAt": "…"}`,
//!   then one account per line. A malformed line is reported by its number and skipped.
//! - One JSON document:
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
//!
//! (`exportedAt` before `accounts`); a malformed account is reported by the line it ends on and
//! skipped, while broken JSON syntax ends the document there.
//!
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
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;
use std::rc::Rc;

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
        accounts.push(validate(record).map_err(|e| format!("{at}: {e}"))?);
    }
    Ok(Export { exported_at: file.exported_at.with_timezone(&Utc), accounts })
}

/// One account of the export, checked as the store needs it.
fn validate(record: AccountRecord) -> Result<Account, String> {
    if record.address.town.trim().is_empty() || record.address.house.trim().is_empty() {
        return Err("the address needs a town and a house".to_owned());
    }
    if record.tariff_group.trim().is_empty() {
        return Err("the tariff group is empty".to_owned());
    }
    let mut meter_ids = HashSet::new();
    let mut numbers = HashSet::new();
    for (position, meter) in record.meters.iter().enumerate() {
        // The import's messages go to the operator's terminal: the meter by position and id.
        let position = position + 1;
        if !meter_ids.insert(meter.id.clone()) {
            return Err(format!("meter {} appears twice", meter.id));
        }
        if meter.serial.as_deref().is_some_and(|serial| normalise(serial).is_empty()) {
            return Err(format!("meter {} has a serial with no letter or digit", meter.id));
        }
        let own: HashSet<String> = [normalise(&meter.id.0), normalise(meter.printed_number())].into();
        if own.iter().any(|number| !numbers.insert(number.clone())) {
            return Err(format!("meter {position} ({}) has the number of another meter of the account", meter.id));
        }
        if let Some(zone) = meter.last_readings.keys().find(|z| !meter.zone_set.has(**z)) {
            return Err(format!("meter {} has no zone {}", meter.id, zone.as_str()));
        }
        if let Some(w) = meter.window
            && !(1 <= w.from_day && w.from_day <= w.to_day && w.to_day <= 31)
        {
            return Err(format!("meter {} has an impossible window", meter.id));
        }
    }
    Ok(Account {
        number: record.account,
        address: record.address,
        balance: Balance::new(record.balance),
        tariff_group: TariffGroup(record.tariff_group),
        meters: record.meters,
    })
}

/// One account record of a streamed export as JSON text: the account, or why it is refused
/// (never naming more than the masked account number).
fn account_of(text: &str) -> Result<Account, String> {
    let record: AccountRecord = serde_json::from_str(text).map_err(|e| without_position(&e))?;
    let masked = record.account.masked();
    validate(record).map_err(|e| format!("{masked}: {e}"))
}

/// serde_json's message without its "at line 1 column N" (the caller names the file's line) and
/// without the values it quotes (`invalid type: string "…"` could be a whole address): the
/// message goes to a terminal or a log.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(cut) => &text[..cut],
        None => text.as_str(),
    };
    let mut redacted = String::with_capacity(text.len());
    for (i, part) in text.split('"').enumerate() {
        redacted.push_str(if i % 2 == 1 { "\"…\"" } else { part });
    }
    redacted
}

/// What a streamed export yields, in file order: its date first, then every account record.
#[derive(Debug)]
pub enum Record {
    ExportedAt(DateTime<Utc>),
    Account { line: usize, account: Account },
    Malformed { line: usize, message: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Header {
    exported_at: DateTime<FixedOffset>,
}

/// Reads an export of either layout record by record, handing each to `emit` (which may stop the
/// reading with `Break`). An error is a file that cannot be read on: no date, broken syntax.
pub fn stream(reader: impl Read, emit: &mut dyn FnMut(Record) -> ControlFlow<()>) -> Result<(), String> {
    let mut reader = io::BufReader::with_capacity(1 << 16, reader);
    let mut first = String::new();
    reader.read_line(&mut first).map_err(|e| e.to_string())?;
    if let Ok(header) = serde_json::from_str::<Header>(&first) {
        if emit(Record::ExportedAt(header.exported_at.with_timezone(&Utc))).is_break() {
            return Ok(());
        }
        return stream_lines(reader, emit);
    }
    let newlines = Rc::new(Cell::new(0));
    let counted = CountLines { inner: io::Cursor::new(first).chain(reader), newlines: newlines.clone() };
    let mut deserializer = serde_json::Deserializer::from_reader(counted);
    let stopped = Cell::new(false);
    let result = de::Deserializer::deserialize_map(
        &mut deserializer,
        DocumentVisitor { emit, newlines: &newlines, stopped: &stopped, dated: false },
    );
    match result {
        Ok(()) => Ok(()),
        Err(_) if stopped.get() => Ok(()),
        Err(e) => Err(format!("line {}: {}", newlines.get() + 1, without_position(&e))),
    }
}

fn stream_lines(reader: impl BufRead, emit: &mut dyn FnMut(Record) -> ControlFlow<()>) -> Result<(), String> {
    for (index, line) in reader.lines().enumerate() {
        let number = index + 2;
        let line = line.map_err(|e| format!("line {number}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = match account_of(&line) {
            Ok(account) => Record::Account { line: number, account },
            Err(message) => Record::Malformed { line: number, message },
        };
        if emit(record).is_break() {
            break;
        }
    }
    Ok(())
}

/// A reader that counts the line breaks read through it: serde_json reads byte by byte, so the
/// count is the line the parser is on.
struct CountLines<R> {
    inner: R,
    newlines: Rc<Cell<usize>>,
}

impl<R: Read> Read for CountLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines.set(self.newlines.get() + buf[..n].iter().filter(|b| **b == b'\n').count());
        Ok(n)
    }
}

struct DocumentVisitor<'a> {
    emit: &'a mut dyn FnMut(Record) -> ControlFlow<()>,
    newlines: &'a Rc<Cell<usize>>,
    stopped: &'a Cell<bool>,
    dated: bool,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an export: {\"exportedAt\": …, \"accounts\": […]}")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "exportedAt" => {
                    let at: DateTime<FixedOffset> = map.next_value()?;
                    self.dated = true;
                    if (self.emit)(Record::ExportedAt(at.with_timezone(&Utc))).is_break() {
                        self.stopped.set(true);
                        return Err(de::Error::custom("stopped"));
                    }
                }
                "accounts" if !self.dated => {
                    return Err(de::Error::custom("exportedAt must come before accounts"));
                }
                "accounts" => map.next_value_seed(AccountsSeed {
                    emit: &mut *self.emit,
                    newlines: self.newlines,
                    stopped: self.stopped,
                })?,
                other => return Err(de::Error::unknown_field(other, &["exportedAt", "accounts"])),
            }
        }
        if !self.dated {
            return Err(de::Error::missing_field("exportedAt"));
        }
        Ok(())
    }
}

struct AccountsSeed<'a> {
    emit: &'a mut dyn FnMut(Record) -> ControlFlow<()>,
    newlines: &'a Rc<Cell<usize>>,
    stopped: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for AccountsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AccountsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of accounts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let line = self.newlines.get() + 1;
            let record = match account_of(raw.get()) {
                Ok(account) => Record::Account { line, account },
                Err(message) => Record::Malformed { line, message },
            };
            if (self.emit)(record).is_break() {
                self.stopped.set(true);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// What an import did: accounts written, and accounts the store already held at this export or a
/// newer one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub written: usize,
    pub already_current: usize,
}

/// Loads every account of a parsed export into the store, by batches of
/// [`energosbyt::store::IMPORT_BATCH`] (`account_import` does the same from a stream).
pub async fn import<S: AccountImport>(store: &S, export: &Export) -> Result<ImportSummary, StoreError> {
    let mut summary = ImportSummary::default();
    for batch in export.accounts.chunks(energosbyt::store::IMPORT_BATCH) {
        for outcome in store.import_accounts(batch, export.exported_at).await? {
            match outcome {
                ImportOutcome::Written => summary.written += 1,
                ImportOutcome::AlreadyCurrent => summary.already_current += 1,
            }
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

    fn streamed(text: &str) -> (Vec<Record>, Result<(), String>) {
        let mut records = Vec::new();
        let result = stream(text.as_bytes(), &mut |record| {
            records.push(record);
            ControlFlow::Continue(())
        });
        (records, result)
    }

    fn lines_of(records: &[Record]) -> (Vec<usize>, Vec<(usize, String)>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for record in records {
            match record {
                Record::Account { line, .. } => good.push(*line),
                Record::Malformed { line, message } => bad.push((*line, message.clone())),
                Record::ExportedAt(_) => {}
            }
        }
        (good, bad)
    }

    #[test]
    fn given_the_demo_document_when_streamed_then_it_yields_what_parse_reads() {
        let text = include_str!("../../data/demo.json");
        let (records, result) = streamed(text);
        result.unwrap();
        let parsed = parse(text).unwrap();
        assert!(matches!(records[0], Record::ExportedAt(at) if at == parsed.exported_at));
        let accounts: Vec<&Account> = records
            .iter()
            .filter_map(|r| match r {
                Record::Account { account, .. } => Some(account),
                _ => None,
            })
            .collect();
        assert_eq!(accounts, parsed.accounts.iter().collect::<Vec<_>>());
    }

    #[test]
    fn given_json_lines_with_a_malformed_line_when_streamed_then_it_is_reported_by_number_and_the_rest_read() {
        let text = "{\"exportedAt\":\"2026-11-01T00:00:00Z\"}\n\
            {\"account\":\"1000000001\",\"address\":{\"town\":\"г\",\"house\":\"1\"},\"balance\":\"0\",\"tariffGroup\":\"g\"}\n\
            {\"account\":\"1000000002\",\"address\":{\"town\":\"г\",\"house\":\"1\"},\"balance\":\"0\",\"tariffGroup\":\"g\",\"holder\":\"Иванов\"}\n\
            {\"account\":\"1000000003\",\"address\":{\"town\":\"г\",\"ho\n\
            {\"account\":\"1000000004\",\"address\":{\"town\":\"г\",\"house\":\"1\"},\"balance\":\"0\",\"tariffGroup\":\"g\"}\n";
        let (records, result) = streamed(text);
        result.unwrap();
        let (good, bad) = lines_of(&records);
        assert_eq!(good, [2, 5]);
        assert_eq!(bad.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [3, 4]);
        assert!(bad[0].1.contains("holder") && !bad[0].1.contains("Иванов"), "{}", bad[0].1);
        assert!(!bad[0].1.contains("line 1"), "the file's line, not the record's: {}", bad[0].1);
        let address_as_text = r#"{"account":"1000000005","address":"г. Москва, ул. Тверская, д. 7, кв. 15","balance":"0","tariffGroup":"g"}"#;
        let message = account_of(address_as_text).unwrap_err();
        assert!(message.contains("invalid type") && !message.contains("Тверская"), "{message}");
    }

    #[test]
    fn given_a_document_with_a_bad_account_when_streamed_then_its_line_is_reported_and_broken_syntax_stops_there() {
        let good = r#"{"account":"1000000001","address":{"town":"г","house":"1"},"balance":"0","tariffGroup":"g"}"#;
        let bad = r#"{"account":"1000000002","address":{"town":"г","house":"1"},"balance":"x","tariffGroup":"g"}"#;
        let text =
            format!("{{\"exportedAt\":\"2026-11-01T00:00:00Z\",\n\"accounts\":[\n{good},\n{bad},\n{good}\n]}}\n");
        let (records, result) = streamed(&text);
        result.unwrap();
        let (good_lines, bad_lines) = lines_of(&records);
        assert_eq!(good_lines, [3, 5]);
        assert_eq!(bad_lines.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [4]);

        let broken = format!("{{\"exportedAt\":\"2026-11-01T00:00:00Z\",\n\"accounts\":[\n{good},\n{{\"account\": ]}}");
        let (records, result) = streamed(&broken);
        assert_eq!(lines_of(&records).0, [3]);
        assert!(result.unwrap_err().starts_with("line 4"));
        let undated = format!("{{\"accounts\":[{good}],\"exportedAt\":\"2026-11-01T00:00:00Z\"}}");
        assert!(streamed(&undated).1.unwrap_err().contains("exportedAt must come before accounts"));
    }
}
