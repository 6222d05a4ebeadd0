//! Meter readings and tariffs: what the readings endpoint reads and writes, what the look-up shows
//! of this month's submissions, and what the operator's tools import and export.
//!
//! A submission is identified by a [`ReadingsId`]: stable for one account, meter and billing month,
//! with a suffix derived from what was submitted, so a payment "by readings" names exactly the
//! figures it paid for, and the same figures sent twice keep the same id.

use super::{ImportOutcome, StoreError};
use crate::domain::account::TariffGroup;
pub use crate::domain::readings_id::{ReadingsId, ReadingsIdError};
use crate::domain::readings_window::moscow_date;
use crate::domain::unbilled_readings;
use crate::domain::{
    AcceptedReadings, Account, AccountNumber, AmountDue, CallerId, Charge, Meter, MeterId, Tariff, TariffId, YearMonth,
    Zone,
};
use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;

/// One accepted submission as stored: the zone values, what each zone used, the prices and the
/// charge, who handed it in and when, and whether the billing system has it yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmittedReadings {
    pub readings_id: ReadingsId,
    pub account: AccountNumber,
    pub billing_month: YearMonth,
    pub accepted: AcceptedReadings,
    pub charge: Charge,
    /// SHA-256 of the content (meter, values, consumption, rollover, prices and amounts).
    pub content_hash: String,
    pub submitted_at: DateTime<Utc>,
    /// The verified caller (`vk:494075`): who handed this in, the only one who sees its figures
    /// and may replace it (`domain::readings_ownership`).
    pub caller: CallerId,
    /// 1 for the month's first submission of the meter, +1 for each replacement.
    pub version: u32,
    /// When the billing export last took this version; `None` until then.
    pub exported_at: Option<DateTime<Utc>>,
}

impl SubmittedReadings {
    /// A new submission of `accepted` (already priced as `charge`) for `account`, made at `now`
    /// in `billing_month`. The store assigns the version when it saves it.
    pub fn new(
        account: AccountNumber,
        billing_month: YearMonth,
        accepted: AcceptedReadings,
        charge: Charge,
        caller: CallerId,
        now: DateTime<Utc>,
    ) -> Self {
        let content_hash = content_hash(&accepted, &charge);
        Self {
            readings_id: ReadingsId::new(&account, &accepted.meter_id, billing_month, &content_hash),
            account,
            billing_month,
            accepted,
            charge,
            content_hash,
            // To the second, as the customer is shown it and as it has always been kept.
            submitted_at: now.trunc_subsecs(0),
            caller,
            version: 1,
            exported_at: None,
        }
    }

    pub fn meter_id(&self) -> &MeterId {
        &self.accepted.meter_id
    }

    /// The price per kWh of each zone, as charged (a zone that used nothing on a day without its
    /// price has none).
    pub fn tariffs(&self) -> BTreeMap<Zone, crate::domain::Money> {
        self.charge.lines.iter().filter_map(|(zone, line)| Some((*zone, line.price?))).collect()
    }
}

/// The content a customer would recognise as "the same readings": serde_json writes maps in key
/// order, so equal content always hashes alike.
fn content_hash(accepted: &AcceptedReadings, charge: &Charge) -> String {
    let canonical =
        serde_json::to_vec(&(accepted, charge)).expect("readings and charges serialise to JSON without fail");
    hex::encode(Sha256::digest(canonical))
}

/// An account with what it handed in this billing month, and what it handed in earlier that the
/// billing system has not billed yet (`domain::unbilled_readings`).
#[derive(Clone, Debug, PartialEq)]
pub struct AccountReadings {
    pub account: Account,
    /// This billing month's submissions, one per meter.
    pub submitted: Vec<SubmittedReadings>,
    /// Earlier months' submissions not billed yet, in no particular order.
    pub unbilled: Vec<SubmittedReadings>,
}

impl AccountReadings {
    /// The meter's submission of this billing month.
    pub fn for_meter(&self, meter: &MeterId) -> Option<&SubmittedReadings> {
        self.submitted.iter().find(|s| s.meter_id() == meter)
    }

    /// The meter as this month's readings count from: with the figures of its latest earlier
    /// submission not billed yet as its last accepted readings, where there is one.
    pub fn counting_from(&self, meter: &Meter) -> Option<Meter> {
        let latest = self.unbilled.iter().filter(|s| s.meter_id() == &meter.id).max_by_key(|s| s.billing_month)?;
        Some(unbilled_readings::last_accepted(meter, &latest.accepted.values, moscow_date(latest.submitted_at)))
    }

    /// The account's balance against the charges of every submission not billed yet: this
    /// month's of every meter handed in, and earlier months' still waiting for the billing system.
    pub fn amount_due(&self) -> AmountDue {
        AmountDue::new(self.account.balance, self.submitted.iter().chain(&self.unbilled).map(|s| s.charge.total))
    }

    /// The month's submissions with `saved` in place of its meter's earlier one.
    pub fn with_saved(mut self, saved: SubmittedReadings) -> Self {
        self.submitted.retain(|s| s.meter_id() != saved.meter_id());
        self.submitted.push(saved);
        self
    }
}

pub trait AccountReadingsReader {
    /// The account, its submissions of `month` (the billing month now) and its earlier ones not
    /// billed yet, in one read; `None` for an unknown account.
    fn account_with_readings(
        &self,
        number: &AccountNumber,
        month: YearMonth,
    ) -> impl Future<Output = Result<Option<AccountReadings>, StoreError>> + Send;
}

/// What saving a submission did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The month's first submission for the meter.
    Created(SubmittedReadings),
    /// It replaced a different submission of the same meter and month (the version says which).
    Replaced(SubmittedReadings),
    /// The same content was already stored: nothing was written; this is the stored one.
    Unchanged(SubmittedReadings),
    /// Another user handed the meter's readings in this month: nothing was written, and nothing
    /// of theirs is returned.
    HandedInByAnother,
}

impl SaveOutcome {
    /// The submission as stored now, when it is the caller's.
    pub fn readings(&self) -> Option<&SubmittedReadings> {
        match self {
            SaveOutcome::Created(r) | SaveOutcome::Replaced(r) | SaveOutcome::Unchanged(r) => Some(r),
            SaveOutcome::HandedInByAnother => None,
        }
    }
}

pub trait ReadingsWriter {
    /// Stores `readings` as the meter's submission for its billing month, replacing the one the
    /// same caller handed in before, unless the same content is stored already. A submission of
    /// another caller is never replaced, however two requests interleave. A replacement is
    /// exported again.
    fn save_readings(
        &self,
        readings: &SubmittedReadings,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
}

pub trait ReadingsLookup {
    /// The account's current submission with this id: `None` when there is none, or when it was
    /// replaced by other figures since.
    fn readings_by_id(
        &self,
        account: &AccountNumber,
        id: &ReadingsId,
    ) -> impl Future<Output = Result<Option<SubmittedReadings>, StoreError>> + Send;
}

pub trait TariffReader {
    /// Every price of `group`, in one read; empty for a group without prices.
    fn tariffs(&self, group: &TariffGroup) -> impl Future<Output = Result<Vec<Tariff>, StoreError>> + Send;
}

pub trait TariffImport {
    /// Writes one price unless the store holds exactly it already.
    fn import_tariff(&self, tariff: &Tariff) -> impl Future<Output = Result<ImportOutcome, StoreError>> + Send;

    /// The ids of the group's stored prices, read from their keys alone, so rows written by an
    /// older release (without what a price row holds today) can still be replaced or removed.
    fn stored_tariff_ids(&self, group: &TariffGroup) -> impl Future<Output = Result<Vec<TariffId>, StoreError>> + Send;

    fn remove_tariff(&self, id: &TariffId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where the next page of an export starts; opaque to everything but the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageCursor(pub(crate) BTreeMap<String, String>);

pub struct ReadingsPage {
    pub readings: Vec<SubmittedReadings>,
    /// `None` on the last page.
    pub next: Option<PageCursor>,
}

/// What marking a submission exported did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOutcome {
    Marked,
    /// The customer replaced it after it was read: the new version stays for the next export.
    Superseded,
}

pub trait ReadingsExport {
    /// One page (at most `page_size` items read) of the submissions of `month`, across accounts;
    /// only those not exported yet unless `include_exported`. A page may be empty and still have
    /// a next one.
    fn readings_of_month(
        &self,
        month: YearMonth,
        include_exported: bool,
        page_size: u32,
        after: Option<PageCursor>,
    ) -> impl Future<Output = Result<ReadingsPage, StoreError>> + Send;

    /// Records that the billing system has this version of the submission.
    fn mark_exported(
        &self,
        readings: &SubmittedReadings,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<MarkOutcome, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChargeLine, Money};
    use chrono::TimeZone;

    fn submitted(t1: u64) -> SubmittedReadings {
        let accepted = AcceptedReadings {
            meter_id: MeterId("Меркурий200-3391024".into()),
            values: BTreeMap::from([(Zone::T1, 18_230 + t1)]),
            consumption: BTreeMap::from([(Zone::T1, t1)]),
            rollover: false,
        };
        let price: Money = "9.61".parse().unwrap();
        let amount = Money::rounded(rust_decimal::Decimal::from(t1) * price.amount());
        let charge = Charge {
            lines: BTreeMap::from([(Zone::T1, ChargeLine { consumption: t1, price: Some(price), amount })]),
            total: amount,
        };
        SubmittedReadings::new(
            "10000-000-02".parse().unwrap(),
            YearMonth::new(2026, 11).unwrap(),
            accepted,
            charge,
            "vk:1".parse().unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        )
    }

    #[test]
    fn the_id_keeps_its_slot_for_other_figures_and_its_suffix_for_the_same_figures() {
        let (a, again, b) = (submitted(120), submitted(120), submitted(121));
        assert_eq!(a.readings_id, again.readings_id);
        assert_ne!(a.readings_id, b.readings_id);
        assert_eq!(a.readings_id.as_str()[..16], b.readings_id.as_str()[..16]);
        assert!(a.readings_id.as_str().starts_with("2026-11-"), "{}", a.readings_id);
        assert_eq!(a.readings_id.billing_month(), YearMonth::new(2026, 11).unwrap());
        assert!(!a.readings_id.as_str().contains("1000000002"));
    }

    #[test]
    fn an_id_parses_back_and_anything_else_is_refused() {
        let id = submitted(5).readings_id;
        assert_eq!(id.as_str().parse::<ReadingsId>(), Ok(id.clone()));
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::Value::String(id.to_string()));
        for bad in [
            "",
            "2026-11",
            "2026-13-5f3a9c1e-8e7d6c5b4a39",
            "2026-11-5f3a9c1e-8e7d6c5b4a3",
            "2026-11-5F3A9C1E-8e7d6c5b4a39",
            "2026-11_5f3a9c1e-8e7d6c5b4a39",
            "2026-11-5f3a9c1e-8e7d6c5b4a3я",
            "ю026-11-5f3a9c1e-8e7d6c5b4a39",
            "2026-11-5f3a9c1-я8e7d6c5b4a39",
        ] {
            assert_eq!(bad.parse::<ReadingsId>(), Err(ReadingsIdError), "{bad:?}");
        }
    }
}
