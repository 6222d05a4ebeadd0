//! Key layout of the single table. Every key the service writes is built here.

use crate::domain::{AccountNumber, PaymentId};

pub const PROFILE: &str = "PROFILE";

/// An account's partition holds exactly its ledger (`LEDGER#…`), its `PROFILE` and its readings
/// submissions (`READING#…`), all of which the look-up needs: it reads the partition whole, so
/// anything else kept under this key would be read by every look-up.
pub fn account_pk(number: &AccountNumber) -> String {
    format!("ACCOUNT#{}", number.digits())
}

pub fn throttle_pk(key: &str, window_start: i64) -> String {
    format!("THROTTLE#{key}#{window_start}")
}

pub const PAYMENT: &str = "PAYMENT";

pub fn payment_pk(id: &PaymentId) -> String {
    format!("PAYMENT#{id}")
}

// Readings and tariffs.

/// Sort keys of an account's readings submissions start with this: `READING#<meter>#<yyyy-mm>`.
pub const READING_PREFIX: &str = "READING#";

/// One submission per meter per billing month: a new one in the same month replaces it.
pub fn reading_sk(meter: &crate::domain::MeterId, month: crate::domain::YearMonth) -> String {
    format!("{READING_PREFIX}{meter}#{month}")
}

/// `GSI1` partition of a billing month's submissions, across accounts, for the billing export.
pub fn readings_month_pk(month: crate::domain::YearMonth) -> String {
    format!("READINGS#{month}")
}

pub fn readings_month_sk(number: &AccountNumber, meter: &crate::domain::MeterId) -> String {
    format!("{}#{meter}", number.digits())
}

/// All prices of a tariff group live in one partition, so a charge reads them with one Query.
pub fn tariff_pk(group: &crate::domain::account::TariffGroup) -> String {
    format!("TARIFF#{}", group.0)
}

const METER_KINDS: [(crate::domain::ZoneSet, &str); 3] = [
    (crate::domain::ZoneSet::Single, "single"),
    (crate::domain::ZoneSet::TwoZone, "twoZone"),
    (crate::domain::ZoneSet::ThreeZone, "threeZone"),
];

pub fn tariff_sk(zone_set: crate::domain::ZoneSet, zone: crate::domain::Zone, valid_from: chrono::NaiveDate) -> String {
    let kind = METER_KINDS.iter().find(|(set, _)| *set == zone_set).map_or("single", |(_, kind)| kind);
    format!("{kind}#{}#{valid_from}", zone.as_str())
}

/// The meter kind, zone and first day a tariff's sort key names; `None` for anything else.
pub fn parse_tariff_sk(sk: &str) -> Option<(crate::domain::ZoneSet, crate::domain::Zone, chrono::NaiveDate)> {
    let mut parts = sk.splitn(3, '#');
    let kind = parts.next()?;
    let zone_set = METER_KINDS.iter().find(|(_, name)| *name == kind)?.0;
    let zone = parts.next()?.parse().ok()?;
    let valid_from = parts.next()?.parse().ok()?;
    Some((zone_set, zone, valid_from))
}

// The account's ledger: one entry per money movement, keyed so a replay cannot write a second.

/// Sort keys of an account's ledger entries start with this.
pub const LEDGER_PREFIX: &str = "LEDGER#";

/// The credit of a payment: `LEDGER#<payment>#CREDIT`.
pub fn ledger_credit_sk(payment: &PaymentId) -> String {
    format!("{LEDGER_PREFIX}{payment}#CREDIT")
}

/// A refund of a payment, named by the refunded total it brought the payment to:
/// `LEDGER#<payment>#REFUND#<kopecks>`.
pub fn ledger_refund_sk(payment: &PaymentId, total_refunded: crate::domain::Money) -> String {
    format!("{LEDGER_PREFIX}{payment}#REFUND#{}", total_refunded.kopecks())
}

// Copies of a payment's receipt sent again.

/// A payment's receipt copies: one item per Moscow day, `RESEND#<payment>` / `DAY#<yyyy-mm-dd>`.
pub fn receipt_copies_pk(payment: &PaymentId) -> String {
    format!("RESEND#{payment}")
}

pub fn receipt_copies_sk(day: chrono::NaiveDate) -> String {
    format!("DAY#{day}")
}

// A caller's own payments ("Мои платежи").

/// `GSI3` partition of the payments one verified caller created: `PAYER#vk:494075`.
pub fn payer_pk(caller: &crate::domain::CallerId) -> String {
    format!("PAYER#{caller}")
}

/// A payment's place in its payer's partition: by creation time, then id, so newest first is
/// the index read backwards.
pub fn payer_sk(created_at: chrono::DateTime<chrono::Utc>, id: &PaymentId) -> String {
    format!("{}#{id}", super::item::timestamp(created_at))
}

// Readings reminders a VK user asked for.

/// One VK user's reminders: the accounts (`ACCOUNTS`) and the marks of reminders sent.
pub fn reminder_pk(vk_user: u64) -> String {
    format!("REMINDER#{vk_user}")
}

pub const REMINDER_ACCOUNTS: &str = "ACCOUNTS";

/// `GSI1` partition listing every user with reminders, for the scheduled send.
pub const REMINDERS_INDEX_PK: &str = "REMINDERS";

/// The mark of `month`'s reminder of `kind` sent: `SENT#2026-12#opening`.
pub fn reminder_sent_sk(month: crate::domain::YearMonth, kind: crate::domain::reminder_day::ReminderKind) -> String {
    format!("SENT#{month}#{}", kind.as_str())
}
