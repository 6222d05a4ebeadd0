//! The look-up's answer: the shape the mini app and every later endpoint rely on (README,
//! "API"). camelCase, money as decimal strings.

use chrono::{DateTime, NaiveDate, Utc};
use energosbyt::domain::readings_window::{NeverOpen, WindowState};
use energosbyt::domain::{Account, AccountNumber, Meter, Money, Reading, ReadingsWindow, Zone, ZoneSet};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account: AccountNumber,
    pub address: String,
    pub balance: Money,
    pub recommended_amount: Money,
    pub currency: &'static str,
    pub meters: Vec<MeterView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterView {
    pub id: String,
    pub kind: ZoneSet,
    pub zones: Vec<Zone>,
    pub zone_names: BTreeMap<Zone, &'static str>,
    pub last_readings: BTreeMap<Zone, Reading>,
    pub readings_window: WindowView,
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
    pub fn new(account: &Account, now: DateTime<Utc>) -> Self {
        Self {
            account: account.number,
            address: account.address.masked(),
            balance: account.balance.signed(),
            recommended_amount: account.balance.recommended_amount(),
            currency: "RUB",
            meters: account.meters.iter().map(|m| MeterView::new(m, now)).collect(),
        }
    }
}

impl MeterView {
    fn new(meter: &Meter, now: DateTime<Utc>) -> Self {
        Self {
            id: meter.id.0.clone(),
            kind: meter.zone_set,
            zones: meter.zones().to_vec(),
            zone_names: meter.zones().iter().map(|z| (*z, meter.zone_set.zone_name(*z))).collect(),
            last_readings: meter.last_readings.clone(),
            readings_window: WindowView::new(ReadingsWindow::at(meter, now)),
        }
    }
}

impl WindowView {
    fn new(state: WindowState) -> Self {
        match state {
            WindowState::Open { from, to } => Self { open: true, from: Some(from), to: Some(to), never_because: None },
            WindowState::Closed { from, to } => Self { open: false, from: Some(from), to: Some(to), never_because: None },
            WindowState::Never(reason) => Self { open: false, from: None, to: None, never_because: Some(reason) },
        }
    }
}
