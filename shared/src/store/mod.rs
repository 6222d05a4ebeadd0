//! The DynamoDB adapter: one table, `PK`/`SK` strings, a `GSI1` index, TTL on `expiresAt`. The
//! table's shape is defined once, in `template.yaml`; the local stack creates it from there.
//!
//! Every endpoint comes from the SDK's environment (`AWS_ENDPOINT_URL_DYNAMODB`), so the same
//! binary talks to AWS, DynamoDB Local, or a DynamoDB-compatible service hosted elsewhere.

mod accounts;
mod email_ledger;
mod email_retention;
mod idempotency;
mod item;
mod keys;
mod operator_desk;
mod payment_history;
mod payment_ledger;
mod payment_record;
mod payments;
mod pending_payments;
mod readings;
mod receipt_copies;
mod reminders;
mod tariffs;
mod throttle;

pub use accounts::IMPORT_BATCH;

use crate::outside_calls::{OutsideCalls, timeouts};
use crate::ports::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use std::time::Duration;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    calls: OutsideCalls,
}

impl DynamoStore {
    /// A request to a database that stopped answering (a half-open connection, a restarting
    /// node) fails and is retried instead of holding the function until its own 10 s timeout,
    /// which would end it with no answer at all: the caller answers 503 and the bank re-sends.
    /// An attempt is generous beside DynamoDB's milliseconds, and leaves room for the SDK's
    /// retries on a loaded local stand-in.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
    pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

    /// Around a client built elsewhere (tests pointing at a dead endpoint, say); its calls are
    /// neither logged nor counted here.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), calls: OutsideCalls::new() }
    }

    /// Builds the client from the environment (region, credentials, endpoint) with the timeouts
    /// above, every call logged with its latency and counted.
    pub async fn from_env(table: impl Into<String>) -> Self {
        Self::from_sdk_config(&crate::outside_calls::sdk_config().await, table)
    }

    /// [`Self::from_env`], with the SDK's environment loaded by the caller once for all its clients.
    pub fn from_sdk_config(shared: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        let calls = OutsideCalls::new();
        let config = aws_sdk_dynamodb::config::Builder::from(shared)
            .timeout_config(timeouts(Self::CONNECT_TIMEOUT, Self::ATTEMPT_TIMEOUT, Self::OPERATION_TIMEOUT))
            .interceptor(calls.clone())
            .build();
        Self { client: Client::from_conf(config), table: table.into(), calls }
    }

    /// The requests this store has sent (for benchmarks and request-count tests).
    pub fn outside_calls(&self) -> &OutsideCalls {
        &self.calls
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A GetItem of the item at `pk` / `sk` in the table.
    fn get_at(&self, pk: impl Into<String>, sk: impl Into<String>) -> GetItemFluentBuilder {
        self.client.get_item().table_name(&self.table).key("PK", item::s(pk)).key("SK", item::s(sk))
    }

    /// An UpdateItem of the item at `pk` / `sk` in the table.
    fn update_at(&self, pk: impl Into<String>, sk: impl Into<String>) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).key("PK", item::s(pk)).key("SK", item::s(sk))
    }

    /// A DeleteItem of the item at `pk` / `sk` in the table.
    fn delete_at(&self, pk: impl Into<String>, sk: impl Into<String>) -> DeleteItemFluentBuilder {
        self.client.delete_item().table_name(&self.table).key("PK", item::s(pk)).key("SK", item::s(sk))
    }

    /// A PutItem into the table.
    fn put_item(&self) -> PutItemFluentBuilder {
        self.client.put_item().table_name(&self.table)
    }

    /// A Query of the table (or, with `index_name`, of an index).
    fn query_items(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.table)
    }

    // Opens the connection (DNS, TCP, TLS, credentials) during init rather than on the first
    // customer's request: one read of a key that never exists. Each function warms up with a read
    // its customers' requests make anyway (its code is then in the binary already, and warmed with
    // the connection) and that its role allows (`template.yaml`). Separate methods, not one with
    // a choice: a function links only the read it names.

    /// The warm-up of the functions that read single items: a `GetItem`.
    pub async fn warm_up_with_item(self) {
        let started = std::time::Instant::now();
        let result = self.get_at("WARMUP", "WARMUP").send().await;
        warmed(started, result.map(drop).map_err(|e| describe(&e)));
    }

    /// The look-up's warm-up: a `Query` of the table, the one read it makes.
    pub async fn warm_up_with_query(self) {
        self.warm_up_by_query(self.query_items(), "PK").await;
    }

    /// The payment history's warm-up: a `Query` of the payer index, the only thing it may read.
    pub async fn warm_up_with_payer_index(self) {
        let index = self.query_items().index_name(payment_history::INDEX);
        self.warm_up_by_query(index, payment_history::INDEX_PK).await;
    }

    /// `query` (of the table or of an index) for a partition `key` that never exists.
    async fn warm_up_by_query(&self, query: QueryFluentBuilder, key: &str) {
        let started = std::time::Instant::now();
        let query = query.key_condition_expression("#pk = :pk").expression_attribute_names("#pk", key);
        let result = query.expression_attribute_values(":pk", item::s("WARMUP")).limit(1).send().await;
        warmed(started, result.map(drop).map_err(|e| describe(&e)));
    }
}

fn warmed(started: std::time::Instant, result: Result<(), String>) {
    match result {
        Ok(()) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "store connection warmed"),
        Err(error) => tracing::warn!(error, "store warm-up failed; the first request will retry"),
    }
}

/// Every item a query matches, over all its pages (the SDK's paginator follows
/// `LastEvaluatedKey`).
pub(crate) async fn all_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<item::Item>, StoreError> {
    query.into_paginator().items().send().try_collect().await.map_err(unavailable)
}

/// The SDK error's code and message chain, without request payloads.
pub(crate) fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            format!("{}: {}", err.code().unwrap_or("unknown"), err.message().unwrap_or(""))
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

/// A transaction's action that could not be built (a required field missing): our bug.
pub(crate) fn build_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("a request could not be built: {e}"))
}

pub(crate) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(describe(&e))
}
