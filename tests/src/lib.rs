//! What the integration tests share: the stand-ins' configuration (exported by `make test` from
//! `local.env`), API Gateway HTTP API v2 events, signed launch parameters, fresh accounts.
//!
//! These tests need the test stack; run them with `make test`. Without it they fail and say so,
//! rather than skip: a skipped test proves nothing.

use chrono::{DateTime, TimeZone, Utc};
use energosbyt::config::Env;
use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::address_mask::Address;
use energosbyt::domain::{Account, AccountNumber, Balance, Meter};
use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::auth::{Secret, vk};
use energosbyt::secrets::{SecretValues, Secrets};
use energosbyt::store::DynamoStore;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

mod captured_log;
pub mod population;
mod request_count;
mod slow_counters;
pub use captured_log::CapturedLog;
pub use request_count::{RequestCount, counted_store};
pub use slow_counters::store_with_slow_counters;

/// Ends the whole test process, failing, if it is still running after `limit`: a long run that
/// waits on something that never comes (a stand-in that hangs, a loop that cannot finish) fails
/// in minutes with its name instead of holding the suite until CI gives up on it.
pub fn fail_after(limit: std::time::Duration, what: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("{what} still running after {} s: stopped, failing", limit.as_secs());
        std::process::exit(101);
    });
}

/// A fixed instant inside the November 2026 readings window (20 November, 15:00 Moscow).
pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

pub fn env(name: &'static str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests through `make test`, which starts the local stand-ins")
    })
}

pub async fn store() -> DynamoStore {
    env("AWS_ENDPOINT_URL_DYNAMODB");
    DynamoStore::from_env(env("TABLE_NAME")).await
}

/// The demo values of `local.env` (`VK_APP_SECRET`, `FB_APP_SECRET`, `TBANK_TERMINAL_KEY`,
/// `TBANK_PASSWORD`), fixed: what the stack loads into its Secrets Manager stand-in under
/// `SECRETS_NAME` (tests/tests/secrets.rs proves they are the same). The tests of rotation read
/// the stand-in itself.
pub fn demo_secrets() -> Secrets {
    Secrets::fixed(SecretValues {
        vk_app_secret: Secret::from(env("VK_APP_SECRET")),
        fb_app_secret: Secret::from(env("FB_APP_SECRET")),
        tbank_terminal_key: env("TBANK_TERMINAL_KEY"),
        tbank_password: energosbyt::acquirer::TerminalPassword::new(env("TBANK_PASSWORD")),
        vk_service_token: std::env::var("VK_SERVICE_TOKEN").ok().map(energosbyt::secrets::VkServiceToken::new),
    })
}

/// The acquirer client of `local.env` (the stack's sandbox) with the demo terminal.
pub fn acquirer() -> energosbyt::acquirer::TbankClient {
    let settings = energosbyt::acquirer::TbankSettings::from_env().expect("local.env sets TBANK_API_URL");
    energosbyt::acquirer::TbankClient::new(settings, demo_secrets()).expect("a client for the sandbox")
}

/// The edge as configured by `local.env`, with the clock fixed at [`fixed_now`].
pub fn edge() -> MiniAppEdge {
    let mut edge = MiniAppEdge::from_env(&Env::process(), &demo_secrets()).expect("local.env is complete");
    edge.clock = fixed_now;
    edge
}

/// A number no other test (nor an earlier run) uses: tests share one table.
pub fn fresh_account_number() -> AccountNumber {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000;
    format!("{n:010}").parse().unwrap()
}

pub fn account(number: AccountNumber, balance: &str, meters: Vec<Meter>) -> Account {
    Account {
        number,
        address: Address {
            town: "г. Москва".into(),
            street: Some("ул. Тверская".into()),
            house: "д. 7".into(),
            flat: Some("315".into()),
        },
        balance: Balance::new(balance.parse().unwrap()),
        tariff_group: TariffGroup("gas-stove".into()),
        meters,
    }
}

/// A tariff group of the tests' own: a price for every zone of every meter kind from 1 October
/// 2026 with no end, so zone arithmetic can be checked on the tests' November day. Moscow's zone
/// prices of that period are not published yet, so a `gas-stove` zone meter is refused then
/// (`409 tariff-not-loaded`). These figures are not Moscow's: they are the ones the tests' sums
/// are worked out with by hand.
pub const ALL_ZONES_GROUP: &str = "test-all-zones";

fn all_zones_group_tariffs() -> Vec<energosbyt::domain::Tariff> {
    let price = |zone_set: &str, zone: &str, price: &str| {
        json!({"group": ALL_ZONES_GROUP, "zoneSet": zone_set, "zone": zone, "validFrom": "2026-10-01",
               "price": price, "basis": "derived", "source": "test fixture, not a Moscow tariff"})
    };
    serde_json::from_value(json!([
        price("single", "T1", "8.90"),
        price("twoZone", "T1", "9.61"),
        price("twoZone", "T2", "4.15"),
        price("threeZone", "T1", "11.43"),
        price("threeZone", "T2", "4.15"),
        price("threeZone", "T3", "8.00"),
    ]))
    .unwrap()
}

/// The shipped tariffs (`data/tariffs.json`) and those of [`ALL_ZONES_GROUP`], in the shared table
/// (idempotent, so every test may ask).
pub async fn tariffs_loaded() {
    let mut tariffs: Vec<energosbyt::domain::Tariff> =
        serde_json::from_str(include_str!("../../data/tariffs.json")).unwrap();
    tariffs.extend(all_zones_group_tariffs());
    let table = energosbyt::domain::TariffTable::new(tariffs).unwrap();
    admin::tariff_import::import(&store().await, &table, false).await.unwrap();
}

/// An account of [`ALL_ZONES_GROUP`].
pub fn account_with_all_zone_prices(number: AccountNumber, balance: &str, meters: Vec<Meter>) -> Account {
    Account { tariff_group: TariffGroup(ALL_ZONES_GROUP.into()), ..account(number, balance, meters) }
}

/// A payment of `amount` for `account`, just created (`NEW`), as the pay function writes it.
pub fn new_payment(account: AccountNumber, amount: &str, created_at: DateTime<Utc>) -> energosbyt::domain::Payment {
    energosbyt::domain::Payment {
        id: energosbyt::domain::PaymentId::random(),
        account,
        amount: amount.parse().unwrap(),
        email: Some(format!("payer-{}@example.ru", uuid::Uuid::new_v4().simple()).parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: energosbyt::domain::PaymentStatus::New,
        acquirer_payment_id: None,
        payment_url: None,
        form_deadline: None,
        refunded: energosbyt::domain::Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at,
        updated_at: created_at,
    }
}

/// Takes every payment created in `[from, to)` off the list of pending payments: a test that
/// owns that span of time starts clean even when an earlier run of it failed half-way (a
/// reconciliation run takes whatever its cut-off lists).
pub async fn unlist_pending_created_between(from: DateTime<Utc>, to: DateTime<Utc>) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store().await;
    let at = |t: DateTime<Utc>| AttributeValue::S(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    let listed = store
        .client()
        .query()
        .table_name(store.table())
        .index_name("GSI2")
        .key_condition_expression("GSI2PK = :pending AND GSI2SK BETWEEN :from AND :to")
        .expression_attribute_values(":pending", AttributeValue::S("PENDING".into()))
        .expression_attribute_values(":from", at(from))
        .expression_attribute_values(":to", at(to))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("the payments index");
    for item in listed {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("PK", item["PK"].clone())
            .key("SK", item["SK"].clone())
            .update_expression("REMOVE GSI2PK, GSI2SK")
            .send()
            .await
            .expect("unlisted");
    }
}

pub fn meter(json: Value) -> Meter {
    serde_json::from_value(json).unwrap()
}

/// A VK launch query signed with the app's key from `local.env`, as VK would hand it to the
/// mini app at `ts`.
pub fn vk_launch(user_id: u64, ts: DateTime<Utc>) -> String {
    vk_launch_for_app(user_id, &env("VK_APP_ID"), ts)
}

pub fn vk_launch_for_app(user_id: u64, app_id: &str, ts: DateTime<Utc>) -> String {
    vk::launch_query(app_id, user_id, ts.timestamp(), "desktop_web", &Secret::from(env("VK_APP_SECRET")))
}

/// A Facebook page-tab `signed_request` as Facebook would sign it at `ts` for the page of
/// `local.env` (`FB_PAGE_ID`): of the app user `user`, or of a visitor who never authorised the
/// app when `None`.
pub fn fb_signed_request(user: Option<&str>, ts: DateTime<Utc>) -> String {
    fb_signed_request_on(&env("FB_PAGE_ID"), user, ts)
}

pub fn fb_signed_request_on(page: &str, user: Option<&str>, ts: DateTime<Utc>) -> String {
    let mut payload = json!({"algorithm": "HMAC-SHA256", "issued_at": ts.timestamp(),
        "page": {"id": page, "liked": false, "admin": false}});
    if let Some(user) = user {
        payload["user_id"] = json!(user);
    }
    energosbyt::edge::auth::facebook::sign(&payload, &Secret::from(env("FB_APP_SECRET")))
}

/// An API Gateway HTTP API (payload 2.0) event, as the real gateway sends it.
pub struct Event {
    value: Value,
}

impl Event {
    pub fn new(method: &str, path: &str) -> Self {
        let route = if path.starts_with("/accounts/") && path.ends_with("/readings") {
            "/accounts/{account}/readings"
        } else if path.starts_with("/accounts/") && path.ends_with("/reminder") {
            "/accounts/{account}/reminder"
        } else if path.starts_with("/accounts/") {
            "/accounts/{account}"
        } else {
            path
        };
        let mut value = json!({
            "version": "2.0",
            "routeKey": format!("{method} {route}"),
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"host": "api.example.test", "content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.test",
                "domainPrefix": "api", "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": format!("{method} {route}"), "stage": "$default",
                "time": "20/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_176_000_000u64,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": random_ip(), "userAgent": "Mozilla/5.0"}
            },
            "isBase64Encoded": false
        });
        if let Some(account) = path.strip_prefix("/accounts/") {
            let account = account.trim_end_matches("/readings").trim_end_matches("/reminder");
            value["pathParameters"] = json!({ "account": account });
        }
        Self { value }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.value["headers"][name.to_ascii_lowercase()] = Value::String(value.to_owned());
        self
    }

    /// The event without a header the gateway would otherwise carry (`content-type`).
    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(headers) = self.value["headers"].as_object_mut() {
            headers.remove(&name.to_ascii_lowercase());
        }
        self
    }

    pub fn vk(self, launch: &str) -> Self {
        self.header("authorization", &format!("VK {launch}"))
    }

    pub fn fb(self, signed_request: &str) -> Self {
        self.header("authorization", &format!("FB {signed_request}"))
    }

    /// One query parameter, as the gateway passes it both raw and parsed.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let raw = self.value["rawQueryString"].as_str().unwrap_or_default().to_owned();
        let pair = form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish();
        self.value["rawQueryString"] = Value::String(if raw.is_empty() { pair } else { format!("{raw}&{pair}") });
        self.value["queryStringParameters"][name] = Value::String(value.to_owned());
        self
    }

    pub fn source_ip(mut self, ip: &str) -> Self {
        self.value["requestContext"]["http"]["sourceIp"] = Value::String(ip.to_owned());
        self
    }

    pub fn body(mut self, body: &Value) -> Self {
        self.value["body"] = Value::String(body.to_string());
        self
    }

    pub fn json(&self) -> &Value {
        &self.value
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.value.to_string()).expect("a valid HTTP API v2 event")
    }
}

/// Each event its own address by default, so the per-address limit of one test never trips
/// another's (the throttle test sets its own).
fn random_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("198.18.{}.{}", (n >> 8) % 256, n % 256)
}

/// The answer's JSON body (problem or not).
pub fn body_json(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        Body::Empty => Value::Null,
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("a JSON body"),
        _ => Value::Null,
    }
}

/// A notification signed as the acquirer signs it: its Token over the root scalars and the
/// terminal password, computed here independently of the code under test.
pub fn sign_notification_with(mut body: Value, password: &str) -> Value {
    use sha2::{Digest, Sha256};
    let fields = body.as_object_mut().expect("a JSON object");
    let mut pairs: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(key, value)| match value {
            Value::String(s) => Some((key.clone(), s.clone())),
            Value::Number(n) => Some((key.clone(), n.to_string())),
            Value::Bool(b) => Some((key.clone(), b.to_string())),
            _ => None,
        })
        .collect();
    pairs.push(("Password".into(), password.to_owned()));
    pairs.sort();
    let joined: String = pairs.iter().map(|(_, v)| v.as_str()).collect();
    fields.insert("Token".into(), Value::String(hex::encode(Sha256::digest(joined.as_bytes()))));
    body
}

/// Signed with the terminal password from `local.env`.
pub fn sign_notification(body: Value) -> Value {
    sign_notification_with(body, &env("TBANK_PASSWORD"))
}
