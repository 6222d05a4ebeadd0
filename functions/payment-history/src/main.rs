use lambda_http::{Error, service_fn};
use payment_history::{App, handle};

// An instance handles one event at a time: one thread serves it, its outside calls still in
// flight together, with no worker threads to start nor wake-ups across cores.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let app = App::from_env().await?;
    lambda_http::run(service_fn(|request| async { Ok::<_, Error>(handle(&app, request).await) })).await
}
