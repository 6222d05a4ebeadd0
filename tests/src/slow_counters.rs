//! A store whose throttle counters answer late: DynamoDB Local as it is, but every request that
//! writes a counter (`THROTTLE#…`) held back first. What an endpoint does while the throttle has
//! not spoken yet shows then, whatever the two requests' timing would have been.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use energosbyt::store::DynamoStore;
use std::time::Duration;

/// A store on the test table whose counters answer `delay` late.
pub async fn store_with_slow_counters(delay: Duration) -> DynamoStore {
    let sdk = aws_config::load_from_env().await;
    let client = SlowCounters { http: reqwest::Client::new(), delay };
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk).http_client(client).build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), crate::env("TABLE_NAME"))
}

/// Sends DynamoDB's requests over plain HTTP (DynamoDB Local), a counter's after `delay`.
#[derive(Debug, Clone)]
struct SlowCounters {
    http: reqwest::Client,
    delay: Duration,
}

impl HttpClient for SlowCounters {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for SlowCounters {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (http, delay) = (self.http.clone(), self.delay);
        HttpConnectorFuture::new(async move {
            let body = request.body().bytes().unwrap_or_default().to_vec();
            if String::from_utf8_lossy(&body).contains("\"THROTTLE#") {
                tokio::time::sleep(delay).await;
            }
            let method = reqwest::Method::from_bytes(request.method().as_bytes()).map_err(io)?;
            let mut sent = http.request(method, request.uri()).body(body);
            for (name, value) in request.headers() {
                sent = sent.header(name, value);
            }
            let answer = sent.send().await.map_err(io)?;
            let status = StatusCode::try_from(answer.status().as_u16()).map_err(io)?;
            let headers: Vec<(String, String)> = answer
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
                .collect();
            let bytes = answer.bytes().await.map_err(io)?;
            let mut response = Response::new(status, SdkBody::from(bytes.to_vec()));
            for (name, value) in headers {
                response.headers_mut().insert(name, value);
            }
            Ok(response)
        })
    }
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> ConnectorError {
    ConnectorError::io(Box::new(e))
}
