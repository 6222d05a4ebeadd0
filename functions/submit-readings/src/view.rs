//! The answer to an accepted submission (README, "API"): camelCase, money as decimal strings.
//!
//! ```json
//! {"readingsId": "2026-11-5f3a9c1e-8e7d6c5b4a39", "meterId": "3391024", "meterRef": 1,
//!  "meterNumber": "Меркурий200-***024",
//!  "billingMonth": "2026-11", "values": {"T1": 18350, "T2": 7490},
//!  "consumption": {"T1": 120, "T2": 80}, "tariffs": {"T1": "9.61", "T2": "4.15"},
//!  "lines": {"T1": {"consumption": 120, "price": "9.61", "amount": "1153.20"}, "T2": {…}},
//!  "charge": "1485.20", "rollover": false, "submittedAt": "2026-11-20T12:00:00Z", "version": 1,
//!  "balance": "0.00", "chargedByReadings": "1485.20", "balanceAfterReadings": "-1485.20",
//!  "amountToPay": "1485.20"}
//! ```
//! Up to `version` it is the stored submission: sending the same figures again gives the same
//! answer. The meter is named as the look-up names it (`ref`, masked `number`), and `meterId` is
//! what the caller typed, echoed: the stored id of the meter is in no answer. The last four are the account's figures now, with this submission in place of the
//! meter's earlier one (`domain::amount_due`): `amountToPay` is what the whole account owes, every
//! meter handed in this month counted once.

use chrono::{DateTime, Utc};
use energosbyt::app::readings_submission::Accepted;
use energosbyt::domain::meter_number_mask::masked;
use energosbyt::domain::{ChargeLine, MeterRef, Money, YearMonth, Zone};
use energosbyt::ports::readings::ReadingsId;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadingsView {
    pub readings_id: ReadingsId,
    /// The number as the caller sent it.
    pub meter_id: String,
    pub meter_ref: MeterRef,
    pub meter_number: String,
    pub billing_month: YearMonth,
    pub values: BTreeMap<Zone, u64>,
    pub consumption: BTreeMap<Zone, u64>,
    pub tariffs: BTreeMap<Zone, Money>,
    pub lines: BTreeMap<Zone, ChargeLine>,
    pub charge: Money,
    pub rollover: bool,
    pub submitted_at: DateTime<Utc>,
    /// 1 for the month's first submission of the meter, +1 for each replacement.
    pub version: u32,
    pub balance: Money,
    /// The month's charges of every meter of the account, this one included.
    pub charged_by_readings: Money,
    pub balance_after_readings: Money,
    /// «К оплате» for the whole account.
    pub amount_to_pay: Money,
}

impl ReadingsView {
    pub fn new(accepted: &Accepted, typed: &str) -> Self {
        let (readings, due) = (&accepted.saved, &accepted.due);
        Self {
            readings_id: readings.readings_id.clone(),
            meter_id: typed.to_owned(),
            meter_ref: accepted.meter_ref,
            meter_number: masked(&accepted.meter),
            billing_month: readings.billing_month,
            values: readings.accepted.values.clone(),
            consumption: readings.accepted.consumption.clone(),
            tariffs: readings.tariffs(),
            lines: readings.charge.lines.clone(),
            charge: readings.charge.total,
            rollover: readings.accepted.rollover,
            submitted_at: readings.submitted_at,
            version: readings.version,
            balance: due.balance.signed(),
            charged_by_readings: due.charged_by_readings,
            balance_after_readings: due.balance_after_readings(),
            amount_to_pay: due.due(),
        }
    }
}
