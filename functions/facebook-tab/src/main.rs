use facebook_tab::{App, handle};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let env = energosbyt::config::Env::process();
    let keys = energosbyt::secrets::Secrets::from_env(&env).await?;
    let app = App::from_env(&env, keys)?;
    lambda_http::run(service_fn(|request| async { Ok::<_, Error>(handle(&app, request).await) })).await
}
