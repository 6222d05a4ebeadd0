//! The look-up's answer: the shape the mini app and every later endpoint rely on (README,
//! "API"). camelCase, money as decimal strings.
//!
//! Anyone with the account number sees what is needed to pay: the masked address, the balance,
//! the month's charges and the amount due. A meter is named by its `ref` and masked `number`, never
//! its full number (the proof of presence for readings). This month's figures of a meter, its
//! charge and the submission's id go only to the verified user who handed them in; anyone else
//! sees that readings were handed in, and on which day.

use chrono::{DateTime, NaiveDate, Utc};
use energosbyt::domain::meter_number_mask::masked;
use energosbyt::domain::readings_ownership::Submitter;
use energosbyt::domain::readings_window::{NeverOpen, WindowState, moscow_date};
use energosbyt::domain::{AccountNumber, Meter, MeterRef, Money, Reading, ReadingsWindow, Zone, ZoneSet};
use energosbyt::ports::readings::{AccountReadings, ReadingsId, SubmittedReadings};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account: AccountNumber,
    pub address: String,
    /// Signed: the billing system's balance plus what was paid since its export.
    pub balance: Money,
    /// «Начислено по показаниям»: this billing month's charges on every meter, not billed yet.
    pub charged_by_readings: Money,
    /// The balance once those charges are billed: what the customer is shown as their balance.
    pub balance_after_readings: Money,
    /// «К оплате», the account's one figure.
    pub amount_due: Money,
    /// What the mini app prefills: the amount due (the same figure, kept under its first name).
    pub recommended_amount: Money,
    pub currency: &'static str,
    pub meters: Vec<MeterView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterView {
    /// Which of the account's meters: its position from 1, for the readings request's `meterRef`.
    #[serde(rename = "ref")]
    pub reference: MeterRef,
    /// The number printed on the meter, masked: `Меркурий200-***024`.
    pub number: String,
    pub kind: ZoneSet,
    pub zones: Vec<Zone>,
    pub zone_names: BTreeMap<Zone, &'static str>,
    pub last_readings: BTreeMap<Zone, Reading>,
    pub readings_window: WindowView,
    /// What was handed in for this meter in the current billing month; absent when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted: Option<SubmittedView>,
}

/// This month's submission of a meter: in full to whoever handed it in, else only its day.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedView {
    /// The caller handed it in: the members below are theirs to see.
    pub by_you: bool,
    /// The Moscow calendar day it was handed in.
    pub submitted_on: NaiveDate,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub figures: Option<SubmittedFigures>,
}

/// What only the submitter sees, as the readings endpoint accepted it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedFigures {
    pub readings_id: ReadingsId,
    pub values: BTreeMap<Zone, u64>,
    pub submitted_at: DateTime<Utc>,
    pub charge: Money,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowView {
    pub open: bool,
    /// The current window, or the next one when closed; absent when the meter never takes
    /// readings from customers.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub never_because: Option<NeverOpen>,
}

impl AccountView {
    pub fn new(found: &AccountReadings, asking: &Submitter, now: DateTime<Utc>) -> Self {
        let account = &found.account;
        let due = found.amount_due();
        Self {
            account: account.number,
            address: account.address.masked(),
            balance: account.balance.signed(),
            charged_by_readings: due.charged_by_readings,
            balance_after_readings: due.balance_after_readings(),
            amount_due: due.due(),
            recommended_amount: due.due(),
            currency: "RUB",
            meters: MeterRef::enumerate(&account.meters)
                .map(|(reference, m)| MeterView::new(reference, m, found.for_meter(&m.id), asking, now))
                .collect(),
        }
    }
}

impl MeterView {
    fn new(
        reference: MeterRef,
        meter: &Meter,
        submitted: Option<&SubmittedReadings>,
        asking: &Submitter,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            reference,
            number: masked(meter),
            kind: meter.zone_set,
            zones: meter.zones().to_vec(),
            zone_names: meter.zones().iter().map(|z| (*z, meter.zone_set.zone_name(*z))).collect(),
            last_readings: meter.last_readings.clone(),
            readings_window: WindowView::new(ReadingsWindow::at(meter, now)),
            submitted: submitted.map(|s| {
                let by_you = asking.handed_in(&s.caller);
                SubmittedView {
                    by_you,
                    submitted_on: moscow_date(s.submitted_at),
                    figures: by_you.then(|| SubmittedFigures {
                        readings_id: s.readings_id.clone(),
                        values: s.accepted.values.clone(),
                        submitted_at: s.submitted_at,
                        charge: s.charge.total,
                    }),
                }
            }),
        }
    }
}

impl WindowView {
    fn new(state: WindowState) -> Self {
        match state {
            WindowState::Open { from, to } => Self { open: true, from: Some(from), to: Some(to), never_because: None },
            WindowState::Closed { from, to } => {
                Self { open: false, from: Some(from), to: Some(to), never_because: None }
            }
            WindowState::Never(reason) => Self { open: false, from: None, to: None, never_because: Some(reason) },
        }
    }
}
