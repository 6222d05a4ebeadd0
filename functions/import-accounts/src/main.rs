use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    energosbyt::telemetry::init();
    let importer = import_accounts::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<import_accounts::S3Event>| {
        let importer = &importer;
        async move { Ok::<_, Error>(importer.handle(event.payload).await?) }
    }))
    .await
}
