//! Counts the DynamoDB requests a client sends, by operation: what a flow costs, asserted by the
//! tests that promise a number of requests (the benchmarks' own counter).

use energosbyt::store::DynamoStore;

pub use benches::RequestCount;

/// A store on the test table whose client counts into `count`.
pub async fn counted_store(count: &RequestCount) -> DynamoStore {
    let sdk = aws_config::load_from_env().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(count.clone()).build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), crate::env("TABLE_NAME"))
}
