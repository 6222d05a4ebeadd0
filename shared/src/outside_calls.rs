//! Every call to an outside service made through the AWS SDK (DynamoDB, SES) is logged once it
//! ends, with its service, operation, latency and outcome, and counted. One interceptor serves
//! both clients; the acquirer's client logs its own calls the same way (`acquirer::client`).
//!
//! Silence it with `RUST_LOG=info,energosbyt::outside_calls=warn` where the volume matters.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::timeout::TimeoutConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The SDK's environment (region, credentials, endpoints), loaded once per instance and handed
/// to every client built from it: each load resolves the same chains again.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_from_env().await
}

/// The limits of a client that must not hang on a request's path: to connect, per attempt, and for
/// a whole operation with its retries.
pub fn timeouts(connect: Duration, attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Logs and counts the calls of the clients it is attached to. Clones share the count.
#[derive(Debug, Clone, Default)]
pub struct OutsideCalls {
    requests: Arc<AtomicU64>,
}

impl OutsideCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// HTTP requests sent so far, retries included: what the service bills.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Intercept for OutsideCalls {
    fn name(&self) -> &'static str {
        "OutsideCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let elapsed_ms = cfg.load::<Started>().map(|s| s.0.elapsed().as_secs_f64() * 1000.0).unwrap_or_default();
        let (service, operation) =
            cfg.load::<Metadata>().map(|m| (m.service().to_owned(), m.name().to_owned())).unwrap_or_default();
        let failed = context.output_or_error().is_none_or(|result| result.is_err());
        // Only names and timings: request and response payloads hold personal data.
        tracing::info!(service, operation, elapsed_ms = (elapsed_ms * 10.0).round() / 10.0, failed, "outside call");
        Ok(())
    }
}
