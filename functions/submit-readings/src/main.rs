use lambda_http::{Error, service_fn};
use submit_readings::{App, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let app = App::from_env().await?;
    lambda_http::run(service_fn(|request| async { Ok::<_, Error>(handle(&app, request).await) })).await
}
