//! The limit: the least a Rust Lambda can do to answer a look-up — lambda_http, one DynamoDB
//! client built once, one `GetItem` of the account's profile per request, its balance as JSON.
//! No edge, no throttle, no view, no logging: it links neither the domain crate nor this crate's
//! library, so the functions are measured against the runtime, the SDK and one round trip alone
//! (`make bench`, section 12 of BENCHMARKS.md).
//!
//! Reads `TABLE_NAME` and the SDK's own environment (region, credentials,
//! `AWS_ENDPOINT_URL_DYNAMODB`), as the functions do.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};

struct Limit {
    client: Client,
    table: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let limit = Limit { client: Client::new(&config), table: std::env::var("TABLE_NAME")? };
    // The functions open their connection during init the same way: one read of a missing key.
    let _ = limit.get(&AttributeValue::S("WARMUP".into()), &AttributeValue::S("WARMUP".into())).await;
    lambda_http::run(service_fn(|request: Request| limit.answer(request))).await
}

impl Limit {
    async fn get(
        &self,
        pk: &AttributeValue,
        sk: &AttributeValue,
    ) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", pk.clone())
            .key("SK", sk.clone())
            // As the look-up reads: a customer who has just paid must see the credited balance.
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    async fn answer(&self, request: Request) -> Result<Response<Body>, Error> {
        let path = request.path_parameters();
        let digits: String = path.first("account").unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 10 {
            return reply(400, r#"{"error":"account number"}"#.to_owned());
        }
        let pk = AttributeValue::S(format!("ACCOUNT#{digits}"));
        let item = match self.get(&pk, &AttributeValue::S("PROFILE".into())).await {
            Ok(item) => item,
            Err(_) => return reply(503, r#"{"error":"unavailable"}"#.to_owned()),
        };
        // The balance as the billing system exported it: the profile item's one money attribute.
        match item.as_ref().and_then(|item| item.get("billedBalance")) {
            // DynamoDB's exact decimal text, passed through as the service passes money: a string.
            Some(AttributeValue::N(balance)) => reply(200, format!(r#"{{"balance":"{balance}"}}"#)),
            _ => reply(404, r#"{"error":"not found"}"#.to_owned()),
        }
    }
}

fn reply(status: u16, body: String) -> Result<Response<Body>, Error> {
    Ok(Response::builder().status(status).header("content-type", "application/json").body(Body::Text(body))?)
}
