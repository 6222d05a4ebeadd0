use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::time::{Duration, Instant, SystemTime};

/// Kept free at the end of each run: the summary is logged and the answer returned in time.
const MARGIN: Duration = Duration::from_secs(10);

// An instance handles one event at a time: one thread serves it, its outside calls still in
// flight together, with no worker threads to start nor wake-ups across cores.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let reconciler = reconcile_payments::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let reconciler = &reconciler;
        async move {
            let left = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
            let stop_at = Instant::now() + left.saturating_sub(MARGIN);
            Ok::<_, Error>(reconciler.run(chrono::Utc::now(), Some(stop_at)).await?)
        }
    }))
    .await
}
