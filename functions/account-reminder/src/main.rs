use account_reminder::{App, handle};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let app = App::from_env().await?;
    app.store.warm_up().await;
    lambda_http::run(service_fn(|request| async { Ok::<_, Error>(handle(&app, request).await) })).await
}
