//! Business metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout.
//!
//! Lambda sends stdout to CloudWatch Logs, and CloudWatch Logs turns every line that is an EMF
//! document into a metric: no `PutMetricData` call on the request path, no extra permission, no
//! client to build at start-up. Each event is one JSON document on one line, namespace
//! [`NAMESPACE`], one dimension `Function` (the Lambda function's name, which the template's
//! alarms refer to with `!Ref`).
//!
//! Written with `println!` rather than through `tracing`: the tracing JSON formatter renders a
//! nested value as a string, while EMF needs `_aws` to be a JSON object at the root of the line.
//! A metric never carries personal data: names and numbers only.

use crate::domain::Money;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const NAMESPACE: &str = "Energosbyt";
pub const DIMENSION: &str = "Function";

/// What the service counts. The names are the CloudWatch metric names the alarms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Metric {
    /// A payment registered with the acquirer (a `201` to `POST /payments`).
    PaymentsCreated,
    /// Roubles credited to accounts (a credit transaction written).
    AmountCredited,
    /// A repeat that changed nothing: a replayed `Idempotency-Key`, a notification delivered again.
    DuplicatesAbsorbed,
    /// A report the payment's history cannot explain, noted for an operator.
    Anomalies,
    /// The bank captured another amount than the payment's: nothing credited.
    AmountMismatches,
    EmailsSent,
    /// An email SES refused or could not take (the latter is retried by the next delivery).
    EmailsFailed,
    /// A mini-app request refused with `429` (any of the throttle's budgets).
    RequestsThrottled,
    /// The distinct accounts a verified user has asked for today, reported with each new one from
    /// the notice threshold on (`edge::throttle`): a walk kept under every per-minute limit.
    DistinctAccountsPerUser,
    /// Readings refused because no tariff is loaded for their day (`409 tariff-not-loaded`): an
    /// operator must import the regulator's new prices.
    TariffMissing,
    /// A payment left unsettled past the review time went to an operator (`NEEDS_REVIEW`).
    PaymentsNeedingReview,
    /// A kept fiscal receipt whose email cannot be composed (a requisite missing, no fallback
    /// configured): counted on every attempt until it goes out.
    ReceiptsUnrendered,
    /// A notification refused because its Token does not verify (even with the secret read again)
    /// or it names another terminal: with a wrong password every notification is refused. A body
    /// without a Token is not the bank's and is not counted.
    NotificationsRefused,
    /// The bank refused our terminal key or Token (204 / 205) on `Init`, `GetState`, `CheckOrder`
    /// or `Cancel`, even with the secret read again.
    AcquirerCredentialsRefused,
    /// Payments a reconciliation run could not check (the bank or the store did not answer): the
    /// run's `errors`, emitted when there are any.
    ReconciliationErrors,
    /// A bank status this service cannot act on (unknown, or without the amount it needs).
    UnmappedStatuses,
    /// A customer email that will not go out without an operator: refused by SES for good, or
    /// still failing after it was retried for `EMAIL_OVERDUE_SECS` since it fell due.
    EmailsUndelivered,
    /// Records of a billing export chunk refused by the import (logged by line): the billing
    /// system must send them again.
    ImportRecordsRefused,
    /// Roubles given back to customers (a refund transaction written): the dashboard's refunds.
    AmountRefunded,
    /// A payment that failed (declined, 3-D Secure failed, cancelled, expired): no money moved.
    PaymentsFailed,
}

impl Metric {
    /// Every metric, in declaration order (`Metric::ALL[m as usize] == m`).
    pub const ALL: [Metric; 20] = [
        Self::PaymentsCreated,
        Self::AmountCredited,
        Self::DuplicatesAbsorbed,
        Self::Anomalies,
        Self::AmountMismatches,
        Self::EmailsSent,
        Self::EmailsFailed,
        Self::RequestsThrottled,
        Self::DistinctAccountsPerUser,
        Self::TariffMissing,
        Self::PaymentsNeedingReview,
        Self::ReceiptsUnrendered,
        Self::NotificationsRefused,
        Self::AcquirerCredentialsRefused,
        Self::ReconciliationErrors,
        Self::UnmappedStatuses,
        Self::EmailsUndelivered,
        Self::ImportRecordsRefused,
        Self::AmountRefunded,
        Self::PaymentsFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::PaymentsCreated => "PaymentsCreated",
            Self::AmountCredited => "AmountCredited",
            Self::DuplicatesAbsorbed => "DuplicatesAbsorbed",
            Self::Anomalies => "Anomalies",
            Self::AmountMismatches => "AmountMismatches",
            Self::EmailsSent => "EmailsSent",
            Self::EmailsFailed => "EmailsFailed",
            Self::RequestsThrottled => "RequestsThrottled",
            Self::DistinctAccountsPerUser => "DistinctAccountsPerUser",
            Self::TariffMissing => "TariffMissing",
            Self::PaymentsNeedingReview => "PaymentsNeedingReview",
            Self::ReceiptsUnrendered => "ReceiptsUnrendered",
            Self::NotificationsRefused => "NotificationsRefused",
            Self::AcquirerCredentialsRefused => "AcquirerCredentialsRefused",
            Self::ReconciliationErrors => "ReconciliationErrors",
            Self::UnmappedStatuses => "UnmappedStatuses",
            Self::EmailsUndelivered => "EmailsUndelivered",
            Self::ImportRecordsRefused => "ImportRecordsRefused",
            Self::AmountRefunded => "AmountRefunded",
            Self::PaymentsFailed => "PaymentsFailed",
        }
    }

    /// CloudWatch's unit: roubles have none of their own.
    fn unit(self) -> &'static str {
        match self {
            Self::AmountCredited | Self::AmountRefunded => "None",
            _ => "Count",
        }
    }
}

/// Counts `n` occurrences of `metric`.
pub fn count(metric: Metric, n: u64) {
    emit(metric, Value::from(n));
}

/// Records an amount of money (roubles with kopecks as a fraction).
pub fn roubles(metric: Metric, amount: Money) {
    if let Some(value) = roubles_value(amount) {
        emit(metric, value);
    }
}

/// A metric is a statistic, never a balance: the nearest double is exact enough here.
fn roubles_value(amount: Money) -> Option<Value> {
    amount.amount().to_f64().map(Value::from)
}

/// How many events of each metric this process has emitted, by `Metric as usize`.
static EMITTED: [AtomicU64; Metric::ALL.len()] = [const { AtomicU64::new(0) }; Metric::ALL.len()];

fn emit(metric: Metric, value: Value) {
    EMITTED[metric as usize].fetch_add(1, Ordering::Relaxed);
    let now_ms = chrono::Utc::now().timestamp_millis();
    println!("{}", document(metric, value, function_name(), now_ms));
}

/// How many events of `metric` this process has emitted so far: what a test in the same process
/// reads to see that a function counted what CloudWatch would alarm on.
pub fn emitted(metric: Metric) -> u64 {
    EMITTED[metric as usize].load(Ordering::Relaxed)
}

/// One EMF document for one metric event.
pub fn document(metric: Metric, value: Value, function: &str, timestamp_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        DIMENSION: function,
        metric.name(): value,
    })
}

/// The Lambda function's name as deployed (what `!Ref` of the function gives in the template);
/// outside Lambda, the executable's name.
fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "local".to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CloudWatch requires of a document (EMF specification): `_aws` with a timestamp, one
    /// directive naming the namespace, dimension sets that name root members, and each metric's
    /// value as a number at the root.
    fn assert_valid_emf(doc: &Value) {
        let aws = doc["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_i64());
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().unwrap() {
            for dimension in set.as_array().unwrap() {
                let name = dimension.as_str().unwrap();
                assert!(doc[name].is_string(), "dimension {name} is not a string member");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "metric {name} has no numeric value");
        }
    }

    #[test]
    fn a_count_is_one_emf_document_with_the_function_dimension() {
        let doc =
            document(Metric::PaymentsCreated, Value::from(1u64), "energosbyt-PayFunction-1A2B", 1_795_176_000_000);
        assert_valid_emf(&doc);
        assert_eq!(doc["Function"], "energosbyt-PayFunction-1A2B");
        assert_eq!(doc["PaymentsCreated"], 1);
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_176_000_000i64);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "PaymentsCreated", "Unit": "Count"})
        );
        // One line: CloudWatch reads a log event, and a log event is a line.
        assert!(!doc.to_string().contains('\n'));
    }

    #[test]
    fn every_event_is_counted_in_the_process() {
        let before = emitted(Metric::ReceiptsUnrendered);
        count(Metric::ReceiptsUnrendered, 1);
        assert!(emitted(Metric::ReceiptsUnrendered) > before);
    }

    #[test]
    fn a_credited_amount_is_roubles_with_kopecks() {
        let amount: Money = "1520.37".parse().unwrap();
        let doc = document(Metric::AmountCredited, roubles_value(amount).unwrap(), "callback", 0);
        assert_valid_emf(&doc);
        assert_eq!(doc["AmountCredited"].as_f64(), Some(1520.37));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "None");
    }

    #[test]
    fn every_metric_has_its_own_name() {
        let all = Metric::ALL;
        let names: std::collections::BTreeSet<_> = all.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), all.len());
        for (index, metric) in all.iter().enumerate() {
            assert_eq!(*metric as usize, index, "ALL lists {metric:?} in declaration order");
        }
        for metric in all {
            assert_valid_emf(&document(metric, Value::from(1u64), "f", 0));
        }
    }
}
