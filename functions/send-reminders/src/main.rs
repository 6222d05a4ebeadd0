use energosbyt::app::reminders;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let sender = send_reminders::from_env().await?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<serde_json::Value>| {
        let sender = &sender;
        async move {
            // The day is read from the clock, never from the event: a retried or late delivery
            // of yesterday's event does not send yesterday's reminder.
            let report = reminders::send_due(&sender.store, &sender.vk, chrono::Utc::now()).await?;
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
