//! The limit of the look-up's own read: the limit (`limit_getitem.rs`) with the look-up's `Query`
//! in place of its `GetItem` — the same key condition (the account's whole partition: its ledger,
//! profile and readings submissions), no filter (as the look-up has none), a consistent read — so
//! that section 12 of BENCHMARKS.md can tell what the look-up adds to its read from what the read itself costs. Everything else is the
//! limit's, copied rather than shared so that the limit's own binary stays byte for byte the one
//! every earlier run measured. The expressions are written out, not taken from the domain crate
//! (which neither limit links): `account_with_readings` in `shared/src/store/readings.rs` is the
//! read they copy.
//!
//! With `LIMIT_QUERY_FORM=conditions` it makes the same read in DynamoDB's legacy form, the
//! partition key as `KeyConditions`, so that section 12 can tell what DynamoDB Local spends parsing the
//! expressions of a request, which it does anew every time.
//! The functions keep the expressions (see BENCHMARKS.md §12 for why).
//!
//! Reads `TABLE_NAME` and the SDK's own environment (region, credentials,
//! `AWS_ENDPOINT_URL_DYNAMODB`), as the functions do.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ComparisonOperator, Condition};
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};

struct Limit {
    client: Client,
    table: String,
    /// The legacy form of the read rather than the look-up's expressions.
    conditions: bool,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let limit = Limit {
        client: Client::new(&config),
        table: std::env::var("TABLE_NAME")?,
        conditions: std::env::var("LIMIT_QUERY_FORM").is_ok_and(|form| form == "conditions"),
    };
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
        let query = self.client.query().table_name(&self.table);
        let query = if self.conditions { conditions(query, pk)? } else { expressions(query, pk) };
        let out = query.consistent_read(true).send().await?;
        Ok(out.items.unwrap_or_default().into_iter().find(|item| item.get("SK") == Some(sk)))
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

fn expressions(query: QueryFluentBuilder, pk: &AttributeValue) -> QueryFluentBuilder {
    query.key_condition_expression("PK = :pk").expression_attribute_values(":pk", pk.clone())
}

fn conditions(query: QueryFluentBuilder, pk: &AttributeValue) -> Result<QueryFluentBuilder, Error> {
    let condition = |operator, values: Vec<AttributeValue>| {
        Condition::builder().comparison_operator(operator).set_attribute_value_list(Some(values)).build()
    };
    Ok(query.key_conditions("PK", condition(ComparisonOperator::Eq, vec![pk.clone()])?))
}

fn reply(status: u16, body: String) -> Result<Response<Body>, Error> {
    Ok(Response::builder().status(status).header("content-type", "application/json").body(Body::Text(body))?)
}
