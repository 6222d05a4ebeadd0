//! What the handler benchmarks share: latency statistics, API Gateway HTTP API v2 events with
//! freshly signed VK launch parameters, and a DynamoDB client that counts its requests.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::{DateTime, Utc};
use energosbyt::edge::auth::{Secret, vk};
use lambda_http::Request;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0} is not set: run the benchmarks through `make bench`, which starts the local stand-ins")]
    MissingEnv(&'static str),
    #[error("the benchmark event is not a valid HTTP API v2 event: {0}")]
    Event(String),
    #[error("{what} answered {status} where {expected} was expected: {body}")]
    UnexpectedAnswer { what: &'static str, status: u16, expected: u16, body: String },
    #[error("{0}")]
    Baseline(String),
    #[error("the configuration is incomplete: {0}")]
    Config(String),
}

pub fn env(name: &'static str) -> Result<String, BenchError> {
    std::env::var(name).map_err(|_| BenchError::MissingEnv(name))
}

/// Latencies of one kind of call, and what they cost in DynamoDB requests.
pub struct Series {
    pub name: String,
    latencies: Vec<Duration>,
    pub dynamodb_requests: u64,
}

/// p50 / p99 / mean / min / max of a series, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub calls: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub dynamodb_per_call: f64,
}

impl Series {
    pub fn new(name: impl Into<String>, capacity: usize) -> Self {
        Self { name: name.into(), latencies: Vec::with_capacity(capacity), dynamodb_requests: 0 }
    }

    pub fn record(&mut self, latency: Duration, dynamodb_requests: u64) {
        self.latencies.push(latency);
        self.dynamodb_requests += dynamodb_requests;
    }

    /// `None` for an empty series: there is nothing to report.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let calls = sorted.len();
        let total: Duration = sorted.iter().sum();
        Some(Summary {
            calls,
            p50_ms: ms(nearest_rank(&sorted, 0.50)?),
            p99_ms: ms(nearest_rank(&sorted, 0.99)?),
            mean_ms: ms(total) / calls as f64,
            min_ms: ms(*sorted.first()?),
            max_ms: ms(*sorted.last()?),
            dynamodb_per_call: self.dynamodb_requests as f64 / calls as f64,
        })
    }
}

/// The nearest-rank percentile: the smallest latency that at least `p` of the calls did not exceed.
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// A markdown table of series measured in the same run, the baseline last, with each other
/// series' ratio to that baseline. `None` when a series is empty or there is no baseline.
pub fn comparison_table(series: &[&Series]) -> Option<String> {
    let (baseline, others) = series.split_last()?;
    let base = baseline.summary()?;
    let mut table = String::from(
        "| measured | calls | p50 ms | p99 ms | mean ms | min ms | max ms | DynamoDB requests per call |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut ratios = String::new();
    for one in series {
        let x = one.summary()?;
        table.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} |\n",
            one.name, x.calls, x.p50_ms, x.p99_ms, x.mean_ms, x.min_ms, x.max_ms, x.dynamodb_per_call
        ));
    }
    for one in others {
        let x = one.summary()?;
        ratios.push_str(&format!(
            "| ratio: {} / {} | | {:.2}× | {:.2}× | {:.2}× | | | |\n",
            one.name,
            baseline.name,
            x.p50_ms / base.p50_ms,
            x.p99_ms / base.p99_ms,
            x.mean_ms / base.mean_ms
        ));
    }
    table.push_str(&ratios);
    Some(table)
}

/// Counts every HTTP request a client sends (retries included), by operation (`Query`,
/// `UpdateItem`, …), so a figure per call shows what a handler costs in round trips, not only in
/// time. Clones share the count.
#[derive(Debug, Clone, Default)]
pub struct RequestCount(Arc<Mutex<BTreeMap<String, u64>>>);

impl RequestCount {
    /// The requests so far, retries included.
    pub fn requests(&self) -> u64 {
        self.by_operation().values().sum()
    }

    /// The requests so far, by operation.
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.0.lock().expect("request count lock").clone()
    }

    /// The requests since the last take, by operation, and zeroes them.
    pub fn take_by_operation(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().expect("request count lock"))
    }

    /// The requests since the last take, and zeroes them.
    pub fn take(&self) -> u64 {
        self.take_by_operation().values().sum()
    }
}

impl Intercept for RequestCount {
    fn name(&self) -> &'static str {
        "RequestCount"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().expect("request count lock").entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A DynamoDB client from the environment (the local stand-in's endpoint), counting its requests.
pub async fn counted_dynamodb_client() -> (aws_sdk_dynamodb::Client, RequestCount) {
    let count = RequestCount::default();
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared).interceptor(count.clone()).build();
    (aws_sdk_dynamodb::Client::from_conf(config), count)
}

/// A VK launch query signed with the app's key, as VK hands it to the mini app at `ts`.
pub fn vk_launch(user_id: u64, app_id: &str, secret: &Secret, ts: DateTime<Utc>) -> String {
    vk::launch_query(app_id, user_id, ts.timestamp(), "mobile_web", secret)
}

/// An API Gateway HTTP API (payload 2.0) event for `route` (`GET /accounts/{account}`), as the
/// gateway sends it: the handler under test parses it exactly as in production.
pub fn gateway_event(method: &str, route: &str, path: &str, launch: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "api.example.test",
            "content-type": "application/json",
            "origin": "http://127.0.0.1:5173",
            "authorization": format!("VK {launch}")
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.test",
            "domainPrefix": "api", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{method} {route}"), "stage": "$default",
            "time": "20/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_176_000_000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "198.18.0.1", "userAgent": "bench"}
        },
        "isBase64Encoded": false
    })
}

pub fn request_of(event: &Value) -> Result<Request, BenchError> {
    lambda_http::request::from_str(&event.to_string()).map_err(|e| BenchError::Event(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(nearest_rank(&sorted, 0.50), Some(ms(50)));
        assert_eq!(nearest_rank(&sorted, 0.99), Some(ms(99)));
        assert_eq!(nearest_rank(&sorted, 1.0), Some(ms(100)));
        assert_eq!(nearest_rank(&[ms(7)], 0.99), Some(ms(7)));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn a_series_reports_its_spread_and_round_trips_per_call() {
        let mut series = Series::new("look-up", 4);
        for (latency, requests) in [(ms(4), 3), (ms(1), 3), (ms(3), 3), (ms(2), 3)] {
            series.record(latency, requests);
        }
        let summary = series.summary().unwrap();
        assert_eq!(summary.calls, 4);
        assert_eq!(summary.p50_ms, 2.0);
        assert_eq!(summary.p99_ms, 4.0);
        assert_eq!(summary.mean_ms, 2.5);
        assert_eq!(summary.dynamodb_per_call, 3.0);
        assert!(Series::new("empty", 0).summary().is_none());
    }

    #[test]
    fn the_ratio_row_divides_the_subject_by_its_baseline() {
        let mut subject = Series::new("handler", 2);
        let mut baseline = Series::new("GetItem", 2);
        subject.record(ms(6), 3);
        baseline.record(ms(2), 1);
        let table = comparison_table(&[&subject, &baseline]).unwrap();
        assert!(table.contains("| ratio: handler / GetItem | | 3.00× | 3.00× | 3.00× |"), "{table}");
        assert!(comparison_table(&[&subject, &Series::new("empty", 0)]).is_none());
    }

    #[test]
    fn the_signed_launch_passes_the_edge_check() {
        let secret = Secret::from("bench-secret");
        let now = Utc::now();
        let launch = vk_launch(42, "51234567", &secret, now);
        let config = energosbyt::edge::auth::AuthConfig {
            max_age: Some(chrono::Duration::hours(1)),
            ..energosbyt::edge::auth::AuthConfig::new(51234567, secret, Secret::from("unused"), "118745708161011")
        };
        let caller = energosbyt::edge::auth::authenticate(Some(&format!("VK {launch}")), &config, now).unwrap();
        assert_eq!(caller.id.to_string(), "vk:42");
    }
}
