//! Counts the DynamoDB requests a client sends, by operation: what a flow costs, asserted by the
//! tests that promise a number of requests and printed by the measurements.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use energosbyt::store::DynamoStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Clones share the count.
#[derive(Debug, Clone, Default)]
pub struct RequestCount(Arc<Mutex<BTreeMap<String, u64>>>);

impl RequestCount {
    /// A store on the test table whose client counts into `self`.
    pub async fn store(&self) -> DynamoStore {
        let sdk = aws_config::load_from_env().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(self.clone()).build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), crate::env("TABLE_NAME"))
    }

    /// The requests since the last take, by operation (`Query`, `UpdateItem`, …), and zeroes them.
    pub fn take_by_operation(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
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
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}
