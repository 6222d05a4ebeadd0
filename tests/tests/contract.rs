//! The API contract: `openapi.yaml` against the real handlers on the local stand-ins.
//!
//! Every answer below comes from a handler through an API Gateway v2 event, and is checked
//! against the document: its status is listed for the operation, each required header is there
//! and every documented header's value fits its schema, the content type is one the response
//! lists, and the body validates against that content's schema (JSON Schema 2020-12, OpenAPI 3.1's
//! dialect, formats included). Problem responses list their `type` values, so a new refusal the
//! document does not name fails here. The routes of the local router (Cargo.toml) and of the SAM
//! template must be in the document, and the document must not promise a route the router lacks.

use chrono::Utc;
use energosbyt::config::Env;
use energosbyt::domain::payment_transition::Transition;
use energosbyt::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::ledger::{BankFacts, PaymentLedger};
use energosbyt::ports::{AccountImport, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use std::collections::BTreeSet;
use std::time::Duration;

const OPENAPI: &str = include_str!("../../openapi.yaml");
const CARGO_TOML: &str = include_str!("../../Cargo.toml");
const TEMPLATE: &str = include_str!("../../template.yaml");

/// The document, as JSON.
fn document() -> Value {
    serde_norway::from_str(OPENAPI).expect("openapi.yaml is YAML")
}

/// Where a value sits in the document, as a JSON pointer, and the value itself.
struct Located<'a> {
    pointer: String,
    value: &'a Value,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

struct Contract {
    doc: Value,
}

impl Contract {
    fn new() -> Self {
        Self { doc: document() }
    }

    fn at(&self, pointer: String) -> Located<'_> {
        let value = self.doc.pointer(&pointer).unwrap_or_else(|| panic!("openapi.yaml has nothing at {pointer}"));
        Located { pointer, value }
    }

    /// Follows a local `$ref` (`#/components/...`), as response and header objects use them.
    fn resolved<'a>(&'a self, located: Located<'a>) -> Located<'a> {
        match located.value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("only local references").to_owned();
                self.resolved(self.at(pointer))
            }
            None => located,
        }
    }

    fn child<'a>(&'a self, parent: &Located<'a>, key: &str) -> Option<Located<'a>> {
        parent.value.get(key).map(|value| Located { pointer: format!("{}/{}", parent.pointer, escape(key)), value })
    }

    fn operation(&self, route: &str, method: &str) -> Located<'_> {
        let pointer = format!("/paths/{}/{}", escape(route), method.to_ascii_lowercase());
        assert!(self.doc.pointer(&pointer).is_some(), "openapi.yaml does not document {method} {route}");
        self.at(pointer)
    }

    /// Validates `instance` against the schema at `pointer`: the whole document is the schema's
    /// root, so its `$ref`s into `#/components/schemas` resolve as they do for any reader.
    fn validate(&self, pointer: &str, instance: &Value, what: &str) {
        let mut root = self.doc.clone();
        // A fragment is a URI part: the braces of path templates are percent-encoded there.
        let fragment = pointer.replace('%', "%25").replace('{', "%7B").replace('}', "%7D");
        root.as_object_mut().expect("an object").insert("$ref".into(), Value::String(format!("#{fragment}")));
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{what} does not match openapi.yaml {pointer}:\n  {}\n{instance:#}",
            errors.join("\n  ")
        );
    }

    /// The schema at `pointer`, compiled as [`Contract::validate`] compiles it, to ask many
    /// instances whether they are valid.
    fn validator(&self, pointer: &str) -> jsonschema::Validator {
        let mut root = self.doc.clone();
        let fragment = pointer.replace('%', "%25").replace('{', "%7B").replace('}', "%7D");
        root.as_object_mut().expect("an object").insert("$ref".into(), Value::String(format!("#{fragment}")));
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"))
    }

    /// The schema of the operation's parameter `name` in `location`: the operation's own
    /// declaration wins over the path item's, as OpenAPI says.
    fn parameter_schema(&self, route: &str, method: &str, location: &str, name: &str) -> String {
        let item = format!("/paths/{}", escape(route));
        let operation = format!("{item}/{}", method.to_ascii_lowercase());
        for owner in [operation, item] {
            let Some(list) = self.doc.pointer(&format!("{owner}/parameters")).and_then(Value::as_array) else {
                continue;
            };
            for index in 0..list.len() {
                let parameter = self.resolved(self.at(format!("{owner}/parameters/{index}")));
                if parameter.value["name"] == name && parameter.value["in"] == location {
                    return format!("{}/schema", parameter.pointer);
                }
            }
        }
        panic!("openapi.yaml has no {location} parameter {name} for {method} {route}")
    }

    /// Checks a request body we send against the operation's `requestBody`, so the tests' own
    /// requests are the documented ones.
    fn check_request(&self, route: &str, method: &str, body: &Value) {
        let operation = self.operation(route, method);
        let request_body = self.resolved(self.child(&operation, "requestBody").expect("a requestBody"));
        let content = self.child(&request_body, "content").expect("content");
        let media = self.child(&content, "application/json").expect("application/json");
        let schema = self.child(&media, "schema").expect("a schema");
        self.validate(&schema.pointer, body, &format!("the {method} {route} request body"));
    }

    /// Checks one answer of the operation `method route` against the document; the answer's
    /// body as JSON (or text) for further assertions.
    #[track_caller]
    fn check(&self, route: &str, method: &str, response: &Response<Body>) -> Value {
        let status = response.status().as_u16();
        let what = format!("{method} {route} → {status}");
        let operation = self.operation(route, method);
        let responses = self.child(&operation, "responses").expect("responses");
        let documented = self
            .child(&responses, &status.to_string())
            .unwrap_or_else(|| panic!("{what}: the status is not documented for the operation"));
        let documented = self.resolved(documented);

        if let Some(headers) = self.child(&documented, "headers") {
            for name in headers.value.as_object().expect("a headers map").keys() {
                let header = self.resolved(self.child(&headers, name).expect("the header"));
                let required = header.value.get("required").and_then(Value::as_bool).unwrap_or(false);
                match response.headers().get(name.as_str()) {
                    None => assert!(!required, "{what}: the required header {name} is missing"),
                    Some(value) => {
                        let value = value.to_str().expect("an ASCII header value");
                        let schema = self.child(&header, "schema").expect("a header schema");
                        self.validate(&schema.pointer, &Value::String(value.to_owned()), &format!("{what}: {name}"));
                    }
                }
            }
        }

        let text = match response.body() {
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8(bytes.clone()).expect("a UTF-8 body"),
            _ => String::new(),
        };
        let Some(content) = self.child(&documented, "content") else {
            assert!(text.is_empty(), "{what}: a body where the document has none: {text}");
            return Value::Null;
        };
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no Content-Type"));
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        let media = self
            .child(&content, media_type)
            .unwrap_or_else(|| panic!("{what}: Content-Type {content_type} is not documented"));
        let body = if media_type.ends_with("json") {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
        } else {
            Value::String(text)
        };
        let schema = self.child(&media, "schema").expect("a schema");
        self.validate(&schema.pointer, &body, &format!("{what}: the body"));
        body
    }

    /// Every `(path, method)` the document has.
    fn routes(&self) -> BTreeSet<(String, String)> {
        let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
        self.doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                methods.iter().filter(|m| item.get(**m).is_some()).map(move |m| (path.clone(), m.to_ascii_uppercase()))
            })
            .collect()
    }
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

#[test]
fn the_document_is_openapi_3_1_with_every_reference_resolvable() {
    let contract = Contract::new();
    assert_eq!(contract.doc["openapi"], "3.1.0");
    // Every `$ref` anywhere in the document points at something.
    fn references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    references(&contract.doc, &mut found);
    assert!(found.len() > 50, "the document uses shared components");
    for reference in found {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(contract.doc.pointer(pointer).is_some(), "{reference} points at nothing");
    }
}

#[test]
fn every_route_of_the_router_and_the_template_is_documented_and_nothing_else() {
    let contract = Contract::new();
    let documented = contract.routes();

    let cargo: toml::Table = CARGO_TOML.parse().expect("Cargo.toml is TOML");
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("the router table");
    let mut routed = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().expect("a list of targets") {
            let method = target["method"].as_str().expect("a method").to_ascii_uppercase();
            routed.insert((path.clone(), method));
        }
    }
    assert!(routed.len() >= 9, "the router table was read: {routed:?}");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routed but not in openapi.yaml: {undocumented:?}");
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(unrouted.is_empty(), "in openapi.yaml but not routed locally: {unrouted:?}");

    // The template's HTTP API events (CloudFormation tags such as !Ref parse as tagged values).
    let template: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template.yaml is YAML");
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut deployed = BTreeSet::new();
    for resource in resources.values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let path = event["Properties"]["Path"].as_str().expect("an HttpApi path").to_owned();
            let method = event["Properties"]["Method"].as_str().expect("an HttpApi method").to_ascii_uppercase();
            deployed.insert((path, method));
        }
    }
    assert!(deployed.len() >= 5, "the template's routes were read: {deployed:?}");
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    assert!(undocumented.is_empty(), "deployed but not in openapi.yaml: {undocumented:?}");
}

#[test]
fn an_answer_the_document_does_not_promise_is_refused() {
    use energosbyt::edge::Problem;
    use http::StatusCode;
    let contract = Contract::new();
    let route = "/accounts/{account}";
    let refused = |response: Response<Body>| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| contract.check(route, "GET", &response))).is_err()
    };
    let json = |status: u16, body: Value| {
        let mut response = energosbyt::edge::response::json(StatusCode::OK, &body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        response
    };
    let found = json!({"account": "10000-000-01", "address": "г. Москва, д. 7***, кв. **", "balance": "-1520.37",
                       "chargedByReadings": "0.00", "balanceAfterReadings": "-1520.37", "amountDue": "1520.37",
                       "recommendedAmount": "1520.37", "currency": "RUB", "meters": []});

    // What the document promises passes.
    contract.check(route, "GET", &json(200, found.clone()));
    contract.check(route, "GET", &Problem::account_not_found().into_response());
    // Money as a JSON number, a member the document does not have, a status it does not list,
    // a problem type another route answers, a 429 without Retry-After: each is refused.
    let mut number = found.clone();
    number["balance"] = json!(-1520.37);
    assert!(refused(json(200, number)));
    let mut extra = found.clone();
    extra["holder"] = json!("Иванов");
    assert!(refused(json(200, extra)));
    assert!(refused(json(418, found)));
    assert!(refused(Problem::payment_not_found().into_response()));
    let mut throttled = Problem::too_many_requests(60).into_response();
    throttled.headers_mut().remove("retry-after");
    assert!(refused(throttled));
}

/// Inputs near the edges of what the service reads, from a fixed seed: digits, the separators
/// people type, whitespace the parsers trim (and some they do not), letters and punctuation.
fn near_misses(alphabet: &[char], count: usize, max_len: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let len = (next() % (max_len as u64 + 1)) as usize;
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
        })
        .collect()
}

/// Every request value the document calls valid is one the service reads, and every one it
/// calls invalid is refused: a looser schema makes generated "valid" requests fail, a stricter
/// one hides what the service really takes.
#[test]
fn request_values_the_document_accepts_are_exactly_those_the_service_reads() {
    use energosbyt::domain::payment_request::{PaymentLimits, PaymentRequest};
    use energosbyt::ports::idempotency::IdempotencyKey;
    use energosbyt::ports::readings::ReadingsId;
    let contract = Contract::new();
    let agree = |what: &str, schema: &jsonschema::Validator, value: &str, read: bool| {
        let documented = schema.is_valid(&Value::String(value.to_owned()));
        assert_eq!(documented, read, "{what} {value:?}: the document says {documented}, the service {read}");
    };

    let in_path = contract.validator(&contract.parameter_schema("/accounts/{account}", "GET", "path", "account"));
    let mut accounts: Vec<String> = [
        "10000-000-01",
        "1000000001",
        "10000 000 01",
        " 10000-000-01\t",
        "\u{a0}10000\u{a0}000 01",
        "10000-000-01\u{3000}",
        "12345--678-90",
        "1234-5678-90",
        "10000-000-011",
        "__main__",
        "",
        "-1000000001",
        "1000000001-",
        "10000-00001",
        "\u{feff}1000000001",
        "10000\t000 01",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    accounts.extend(near_misses(&['0', '1', '9', '-', ' ', '\u{a0}', '\t', '\u{2003}', 'a'], 4000, 16));
    accounts.extend(near_misses(&['0', '5', '-', ' '], 4000, 14));
    for value in &accounts {
        agree("account in the path", &in_path, value, value.parse::<AccountNumber>().is_ok());
    }
    let in_payment = contract.validator("/components/schemas/PaymentRequest/properties/account");
    for value in &accounts {
        agree("account in a payment", &in_payment, value, value.parse::<AccountNumber>().is_ok());
    }

    let id_schema = contract.validator(&contract.parameter_schema("/payments/{id}", "GET", "path", "id"));
    let mut ids: Vec<String> =
        ["8fd114ed0e5641dc9ff4ea60cd463119", "8FD114ED0E5641DC9FF4EA60CD463119", "СЕ101-0457812"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    ids.extend(near_misses(&['0', 'a', 'f', 'g', 'F', '-'], 2000, 34).into_iter().map(|s| format!("{s:0>32}")));
    for value in &ids {
        agree("payment id", &id_schema, value, value.parse::<PaymentId>().is_ok());
    }

    let readings_schema = contract.validator("/components/schemas/ReadingsId");
    let mut readings: Vec<String> =
        ["2026-11-3f2a9c1e-5b7d0e4a8c21", "2026-13-3f2a9c1e-5b7d0e4a8c21", "2026-00-3f2a9c1e-5b7d0e4a8c21", "../1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    readings.extend(
        near_misses(&['0', '1', '9', 'a', 'f', 'g'], 2000, 2)
            .into_iter()
            .map(|month| format!("2026-{month:0>2}-3f2a9c1e-5b7d0e4a8c21")),
    );
    for value in &readings {
        agree("readings id", &readings_schema, value, value.parse::<ReadingsId>().is_ok());
    }

    // The default limits, which the pattern spells out; `null` means no readings id.
    let limits = PaymentLimits::new("1.00".parse().unwrap(), "500000.00".parse().unwrap()).unwrap();
    let mut amounts: Vec<String> = [
        "1520.37",
        "1",
        "1.00",
        "0.99",
        "500000.00",
        "500000.01",
        "499999.99",
        "1500,50",
        "5.",
        ".5",
        "-5.00",
        "5.555",
        "600000",
        "00000000000000500000,00",
        "0000000001.00",
        " 5.00",
        "1e3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    amounts.extend(near_misses(&['0', '1', '5', '9', '.', ',', '-'], 6000, 9));
    let payment_schema = contract.validator("/components/schemas/PaymentRequest");
    for amount in &amounts {
        for readings_id in [Value::Null, json!("2026-11-3f2a9c1e-5b7d0e4a8c21")] {
            let body =
                json!({"account": "10000-000-01", "amount": amount, "email": "a@b.ru", "readingsId": readings_id});
            let read = PaymentRequest::from_json(body.to_string().as_bytes(), &limits).is_ok();
            let documented = payment_schema.is_valid(&body);
            assert_eq!(documented, read, "payment {body}: the document says {documented}, the service {read}");
        }
    }

    let key_schema = contract.validator(&contract.parameter_schema("/payments", "POST", "header", "Idempotency-Key"));
    // A header value reaches the function without surrounding whitespace (HTTP strips it).
    let mut keys: Vec<String> =
        vec!["0".into(), "a b".into(), "x".repeat(128), "x".repeat(129), "\u{7f}".into(), "ключ".into()];
    keys.extend(near_misses(&['a', ' ', '~', '\u{7f}', '\u{1f}', 'é'], 2000, 6).into_iter().filter(|k| k.trim() == k));
    for value in &keys {
        agree("Idempotency-Key", &key_schema, value, IdempotencyKey::from_header(Some(value.as_bytes())).is_ok());
    }
}

// The account look-up.

async fn lookup_app() -> account_lookup::App<DynamoStore> {
    account_lookup::App { store: store().await, edge: edge() }
}

#[tokio::test]
async fn account_look_up_answers_match_the_document() {
    let contract = Contract::new();
    let app = lookup_app().await;
    let number = fresh_account_number();
    let meters = vec![
        meter(json!({"id": "M-2", "zoneSet": "twoZone", "digits": 6,
                     "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"},
                                      "T2": {"value": 7410, "date": "2026-10-20"}}})),
        meter(json!({"id": "AMR-1", "zoneSet": "single", "automatic": true})),
    ];
    store().await.import_account(&account(number, "-1520.37", meters), fixed_now()).await.unwrap();
    let route = "/accounts/{account}";
    let launch = vk_launch(user(), fixed_now());
    let get = |path: String| Event::new("GET", &path).vk(&launch);

    let found =
        contract.check(route, "GET", &account_lookup::handle(&app, get(format!("/accounts/{number}")).request()).await);
    assert_eq!(found["balance"], "-1520.37");

    let cases = [
        (get("/accounts/12345-678".into()), 400),
        (Event::new("GET", &format!("/accounts/{number}")), 401),
        (get(format!("/accounts/{}", fresh_account_number())), 404),
    ];
    for (event, status) in cases {
        let response = account_lookup::handle(&app, event.request()).await;
        assert_eq!(response.status(), status);
        contract.check(route, "GET", &response);
    }
    // A method the route does not take: the 405 documented with the route's operation.
    let delete = Event::new("DELETE", &format!("/accounts/{number}")).vk(&launch);
    let response = account_lookup::handle(&app, delete.request()).await;
    assert_eq!(response.status(), 405);
    contract.check(route, "GET", &response);

    let mut throttled = lookup_app().await;
    throttled.edge.limits =
        ThrottleLimits { user_per_minute: 0, user_accounts_per_day: 0, ..ThrottleLimits::default() };
    let response = account_lookup::handle(&throttled, get(format!("/accounts/{number}")).request()).await;
    assert_eq!(response.status(), 429);
    contract.check(route, "GET", &response);

    let config = aws_config::from_env().endpoint_url("http://127.0.0.1:9").load().await;
    let down = account_lookup::App {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nowhere"),
        edge: edge(),
    };
    let response = account_lookup::handle(&down, get(format!("/accounts/{number}")).request()).await;
    assert_eq!(response.status(), 503);
    contract.check(route, "GET", &response);

    let preflight = |origin: &str| {
        Event::new("OPTIONS", &format!("/accounts/{number}"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .request()
    };
    let allowed = account_lookup::handle(&app, preflight("http://127.0.0.1:5173")).await;
    assert_eq!(allowed.status(), 204);
    contract.check(route, "OPTIONS", &allowed);
    let refused = account_lookup::handle(&app, preflight("https://evil.example")).await;
    assert_eq!(refused.status(), 403);
    contract.check(route, "OPTIONS", &refused);
}

// Meter readings.

#[tokio::test]
async fn readings_answers_match_the_document_and_the_look_up_shows_the_submission() {
    let contract = Contract::new();
    tariffs_loaded().await;
    let number = fresh_account_number();
    let meters = vec![
        meter(json!({"id": "M-2", "zoneSet": "twoZone", "digits": 6,
                     "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"},
                                      "T2": {"value": 7410, "date": "2026-10-20"}}})),
        meter(json!({"id": "AMR-1", "zoneSet": "single", "automatic": true})),
    ];
    store()
        .await
        .import_account(&account_with_all_zone_prices(number, "100.00", meters.clone()), fixed_now())
        .await
        .unwrap();
    // The same meters billed as gas-stove, whose zone prices of November 2026 are not published.
    let unpriced = fresh_account_number();
    store().await.import_account(&account(unpriced, "100.00", meters), fixed_now()).await.unwrap();
    let app = submit_readings::App::new(store().await, edge());
    let route = "/accounts/{account}/readings";
    let launch = vk_launch(user(), fixed_now());
    let post = |path: String, body: &Value| Event::new("POST", &path).vk(&launch).body(body);
    let path = format!("/accounts/{number}/readings");

    let accepted_body = json!({"meterId": "M-2", "meterRef": 1, "values": {"T1": 18350, "T2": 7490}});
    contract.check_request(route, "POST", &accepted_body);
    let accepted = submit_readings::handle(&app, post(path.clone(), &accepted_body).request()).await;
    assert_eq!(accepted.status(), 200);
    let accepted = contract.check(route, "POST", &accepted);
    assert_eq!(accepted["consumption"], json!({"T1": 120, "T2": 80}));

    let wrong_zones = json!({"meterId": "M-2", "values": {"T1": 18350}});
    let automatic = json!({"meterId": "AMR-1", "values": {"T1": 5}});
    let unknown_meter = json!({"meterId": "nope", "values": {"T1": 5}});
    let unknown_ref = json!({"meterId": "M-2", "meterRef": 9, "values": {"T1": 5}});
    let stranger = vk_launch(user(), fixed_now());
    let visitor = format!(
        "FB {}",
        energosbyt::edge::auth::facebook::sign(
            &json!({"algorithm": "HMAC-SHA256", "issued_at": fixed_now().timestamp(), "page": {"id": env("FB_PAGE_ID")}}),
            &energosbyt::edge::auth::Secret::from(env("FB_APP_SECRET")),
        )
    );
    let cases = [
        (post(path.clone(), &json!({"meter": 1})), 400, "/problems/invalid-request"),
        (post("/accounts/123/readings".into(), &accepted_body), 400, "/problems/invalid-account-number"),
        (Event::new("POST", &path).body(&accepted_body), 401, "/problems/unauthenticated"),
        (post(path.clone(), &unknown_ref), 404, "/problems/meter-not-found"),
        (post(path.clone(), &unknown_meter), 422, "/problems/meter-number-wrong"),
        (
            Event::new("POST", &path).header("authorization", &visitor).body(&accepted_body),
            403,
            "/problems/readings-need-login",
        ),
        (Event::new("POST", &path).vk(&stranger).body(&accepted_body), 409, "/problems/readings-submitted-by-another"),
        (
            post(format!("/accounts/{}/readings", fresh_account_number()), &accepted_body),
            404,
            "/problems/account-not-found",
        ),
        (post(path.clone(), &automatic), 409, "/problems/readings-not-accepted"),
        (post(format!("/accounts/{unpriced}/readings"), &accepted_body), 409, "/problems/tariff-not-loaded"),
        (post(path.clone(), &json!({"pad": "x".repeat(17 * 1024)})), 413, "/problems/payload-too-large"),
        (
            post(path.clone(), &accepted_body).header("content-type", "application/x-www-form-urlencoded"),
            415,
            "/problems/unsupported-media-type",
        ),
        (post(path.clone(), &wrong_zones), 422, "/problems/readings-wrong-zones"),
    ];
    for (event, status, problem) in cases {
        let response = submit_readings::handle(&app, event.request()).await;
        assert_eq!(response.status(), status, "{problem}");
        assert_eq!(contract.check(route, "POST", &response)["type"], problem);
    }

    // The account's wrong numbers of the day spent (the one above and four more): 429 to anyone
    // but the submitter whose readings of the meter stand.
    for _ in 0..4 {
        assert_eq!(submit_readings::handle(&app, post(path.clone(), &unknown_meter).request()).await.status(), 422);
    }
    let spent =
        submit_readings::handle(&app, Event::new("POST", &path).vk(&stranger).body(&accepted_body).request()).await;
    assert_eq!(spent.status(), 429);
    assert_eq!(contract.check(route, "POST", &spent)["type"], "/problems/meter-number-attempts-exhausted");

    // The look-up's `submitted` member, documented with the look-up: in full to its submitter,
    // only the day to anyone else.
    let lookup = lookup_app().await;
    let look_up = |launch: &str| Event::new("GET", &format!("/accounts/{number}")).vk(launch).request();
    let response = account_lookup::handle(&lookup, look_up(&launch)).await;
    let shown = contract.check("/accounts/{account}", "GET", &response);
    assert_eq!(shown["meters"][0]["submitted"]["readingsId"], accepted["readingsId"]);
    let response = account_lookup::handle(&lookup, look_up(&stranger)).await;
    let shown = contract.check("/accounts/{account}", "GET", &response);
    assert_eq!(shown["meters"][0]["submitted"], json!({"byYou": false, "submittedOn": "2026-11-20"}));
}

// Payments.

async fn pay_app() -> pay::App<DynamoStore, energosbyt::acquirer::TbankClient> {
    let mut edge = edge();
    // The sandbox checks the bank's redirect due date against its own clock.
    edge.clock = Utc::now;
    let mut settings = energosbyt::acquirer::TbankSettings::from_env().expect("local.env sets TBANK_*");
    settings.timeout = Duration::from_secs(5);
    pay::App {
        store: store().await,
        acquirer: energosbyt::acquirer::TbankClient::new(settings, integration_tests::demo_secrets())
            .expect("a client for the sandbox"),
        edge,
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process())
            .expect("local.env sets the payment settings"),
    }
}

fn payment_post(launch: &str, key: Option<&str>, body: &Value) -> Request {
    let mut event = Event::new("POST", "/payments").vk(launch).body(body);
    if let Some(key) = key {
        event = event.header("idempotency-key", key);
    }
    event.request()
}

#[tokio::test]
async fn payment_answers_match_the_document() {
    let contract = Contract::new();
    let app = pay_app().await;
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-1520.37", vec![]), fixed_now()).await.unwrap();
    let launch = vk_launch(user(), Utc::now());
    let key = format!("contract-{}", uuid::Uuid::new_v4());
    let body = json!({"account": number.to_string(), "amount": "1520.37", "email": "ivanov@example.ru"});
    contract.check_request("/payments", "POST", &body);

    let created = pay::handle(&app, payment_post(&launch, Some(&key), &body)).await;
    assert_eq!(created.status(), 201);
    let created = contract.check("/payments", "POST", &created);
    let replayed = pay::handle(&app, payment_post(&launch, Some(&key), &body)).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(contract.check("/payments", "POST", &replayed), created);

    let other_amount = json!({"account": number.to_string(), "amount": "10.00", "email": "ivanov@example.ru"});
    let fresh_key = || Some(format!("contract-{}", uuid::Uuid::new_v4()));
    let cases = [
        (payment_post(&launch, None, &body), 400, "/problems/idempotency-key-missing"),
        (
            payment_post(
                &launch,
                fresh_key().as_deref(),
                &json!({"account": number.to_string(), "amount": "0", "email": "a@b.ru"}),
            ),
            400,
            "/problems/invalid-amount",
        ),
        (
            payment_post(
                &launch,
                fresh_key().as_deref(),
                &json!({"account": fresh_account_number().to_string(), "amount": "5.00", "email": "a@b.ru"}),
            ),
            404,
            "/problems/account-not-found",
        ),
        (payment_post(&launch, Some(&key), &other_amount), 422, "/problems/idempotency-key-reused"),
        (
            Event::new("POST", "/payments").header("idempotency-key", "k").body(&body).request(),
            401,
            "/problems/unauthenticated",
        ),
        (
            Event::new("POST", "/payments")
                .vk(&launch)
                .header("idempotency-key", &fresh_key().unwrap())
                .header("content-type", "text/plain; charset=utf-8")
                .body(&body)
                .request(),
            415,
            "/problems/unsupported-media-type",
        ),
    ];
    for (request, status, problem) in cases {
        let response = pay::handle(&app, request).await;
        assert_eq!(response.status(), status, "{problem}");
        assert_eq!(contract.check("/payments", "POST", &response)["type"], problem);
    }

    // A body without Content-Type is read as JSON, as is one whose type is JSON in any case with a
    // charset.
    for content_type in [None, Some("Application/JSON; charset=UTF-8")] {
        let event = Event::new("POST", "/payments").vk(&launch).header("idempotency-key", &fresh_key().unwrap());
        let event = match content_type {
            Some(content_type) => event.header("content-type", content_type),
            None => event.without_header("content-type"),
        };
        let response = pay::handle(&app, event.body(&body).request()).await;
        assert_eq!(response.status(), 201, "{content_type:?}: {}", body_json(&response));
    }

    let id = created["paymentId"].as_str().expect("a payment id");
    let route = "/payments/{id}";
    let get = |id: &str, launch: &str| Event::new("GET", &format!("/payments/{id}")).vk(launch).request();
    let status = pay::handle(&app, get(id, &launch)).await;
    assert_eq!(status.status(), 200);
    assert_eq!(contract.check(route, "GET", &status)["status"], "NEW");
    let stranger = vk_launch(user(), Utc::now());
    let hidden = pay::handle(&app, get(id, &stranger)).await;
    assert_eq!(hidden.status(), 404);
    contract.check(route, "GET", &hidden);
    let malformed = pay::handle(&app, get("not-an-id", &launch)).await;
    assert_eq!(malformed.status(), 400);
    contract.check(route, "GET", &malformed);

    let preflight = Event::new("OPTIONS", "/payments")
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "POST");
    let response = pay::handle(&app, preflight.request()).await;
    assert_eq!(response.status(), 204);
    contract.check("/payments", "OPTIONS", &response);
}

/// 23:59:30 on 31 December 2025 in Moscow: half a minute before VAT rises to 22 %.
fn half_a_minute_before_2026() -> chrono::DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 12, 31, 20, 59, 30).unwrap()
}

#[tokio::test]
async fn a_payment_refused_before_a_vat_change_and_one_under_review_answer_as_the_document_says() {
    let contract = Contract::new();
    let mut app = pay_app().await;
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-250.00", vec![]), fixed_now()).await.unwrap();

    app.edge.clock = half_a_minute_before_2026;
    let launch = vk_launch(user(), half_a_minute_before_2026());
    let body = json!({"account": number.to_string(), "amount": "250.00", "email": "ivanov@example.ru"});
    let key = format!("contract-{}", uuid::Uuid::new_v4());
    let refused = pay::handle(&app, payment_post(&launch, Some(&key), &body)).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(contract.check("/payments", "POST", &refused)["type"], "/problems/vat-rate-changing");

    // Left waiting past its review time, the payment went to an operator.
    let payment = new_payment(number, 1_000_000_000 + (uuid::Uuid::new_v4().as_u128() % 9_000_000_000) as u64).await;
    let store = store().await;
    let read = store.payment_record(&payment.id).await.unwrap().expect("the payment");
    let facts = BankFacts {
        status: energosbyt::ports::ledger::ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::parse(
            "AUTHORIZED",
        )),
        acquirer_payment_id: None,
        card: None,
        error_code: None,
        at: Utc::now(),
    };
    store.apply_transition(&read, &Transition::Progress(PaymentStatus::NeedsReview), &facts, &[]).await.unwrap();
    app.edge.clock = Utc::now;
    let owner = vk_launch(494_075, Utc::now());
    let shown = pay::handle(&app, Event::new("GET", &format!("/payments/{}", payment.id)).vk(&owner).request()).await;
    assert_eq!(shown.status(), 200);
    assert_eq!(contract.check("/payments/{id}", "GET", &shown)["status"], "NEEDS_REVIEW");
}

/// The bank's decline, as its notification names it, reaches the payment's page in the customer's
/// words; a decline code it does not publish names no reason.
#[tokio::test]
async fn given_a_card_declined_for_its_funds_when_its_owner_opens_the_page_then_it_says_so() {
    let contract = Contract::new();
    let (pay, callback) = (pay_app().await, callback_app().await);
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-250.00", vec![]), fixed_now()).await.unwrap();
    let owner = vk_launch(494_075, Utc::now());
    let mut shown = Vec::new();
    for code in ["1051", "9999"] {
        let acquirer_id = 1_000_000_000 + (uuid::Uuid::new_v4().as_u128() % 9_000_000_000) as u64;
        let payment = new_payment(number, acquirer_id).await;
        let rejected = sign_notification(json!({
            "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": false,
            "Status": "REJECTED", "PaymentId": acquirer_id, "ErrorCode": code, "Amount": 25000
        }));
        let answer =
            payment_callback::handle(&callback, Event::new("POST", "/callbacks/tbank").body(&rejected).request()).await;
        assert_eq!(answer.status(), 200);

        let page =
            pay::handle(&pay, Event::new("GET", &format!("/payments/{}", payment.id)).vk(&owner).request()).await;
        assert_eq!(page.status(), 200);
        shown.push(contract.check("/payments/{id}", "GET", &page));
    }

    assert_eq!(shown[0]["status"], "FAILED");
    assert_eq!(
        shown[0]["decline"],
        json!({"reason": "insufficient-funds", "message": "Недостаточно средств на карте."})
    );
    assert_eq!(shown[1]["status"], "FAILED");
    assert!(shown[1].get("decline").is_none(), "an unpublished code names no reason: {}", shown[1]);
}

// The acquirer's notifications.

async fn callback_app() -> payment_callback::App<DynamoStore, SesMailer> {
    env("AWS_ENDPOINT_URL_SES");
    let env = Env::process();
    let sender = SesMailer::from_env(&env).await.expect("SES_SENDER is set");
    sender.client().verify_email_identity().email_address(sender.sender()).send().await.expect("moto is running");
    let mailer = Mailer::new(sender, MailFrom::from_env(&env).expect("SES_SENDER and SELLER_NAME are set"));
    payment_callback::App::configure(&env, integration_tests::demo_secrets(), store().await, mailer)
        .expect("local.env is complete")
}

async fn new_payment(number: AccountNumber, acquirer_id: u64) -> Payment {
    let now = Utc::now();
    let payment = Payment {
        id: PaymentId::random(),
        account: number,
        amount: "250.00".parse().unwrap(),
        email: Some(format!("payer-{}@example.ru", uuid::Uuid::new_v4().simple()).parse().unwrap()),
        caller: "vk:494075".parse().unwrap(),
        readings_id: None,
        status: PaymentStatus::New,
        acquirer_payment_id: Some(acquirer_id.to_string()),
        payment_url: None,
        form_deadline: None,
        refunded: Money::ZERO,
        card: None,
        method: energosbyt::domain::PayMethod::Card,
        created_at: now,
        updated_at: now,
    };
    store().await.create(&payment).await.unwrap();
    payment
}

#[tokio::test]
async fn notification_answers_match_the_document() {
    let contract = Contract::new();
    let app = callback_app().await;
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-250.00", vec![]), Utc::now()).await.unwrap();
    let acquirer_id = 1_000_000_000 + (uuid::Uuid::new_v4().as_u128() % 9_000_000_000) as u64;
    let payment = new_payment(number, acquirer_id).await;
    let route = "/callbacks/tbank";
    let confirmed = json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": payment.id.as_str(), "Success": true,
        "Status": "CONFIRMED", "PaymentId": acquirer_id, "ErrorCode": "0", "Amount": 25000,
        "Pan": "220138******0013"
    });
    let deliver = |body: &Value| Event::new("POST", route).body(body).request();

    let notification = sign_notification(confirmed.clone());
    contract.check_request(route, "POST", &notification);
    let ok = payment_callback::handle(&app, deliver(&notification)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(contract.check(route, "POST", &ok), "OK");

    let mut other_terminal = confirmed.clone();
    other_terminal["TerminalKey"] = json!("SomeoneElsesTerminal");
    let cases = [
        (deliver(&json!({"TerminalKey": "x"})), 401, "/problems/notification-unsigned"),
        (deliver(&sign_notification(other_terminal)), 403, "/problems/notification-other-terminal"),
        (
            deliver(&sign_notification(json!({"TerminalKey": env("TBANK_TERMINAL_KEY"), "Status": "CONFIRMED"}))),
            400,
            "/problems/notification-malformed",
        ),
        (deliver(&json!({"Pad": "x".repeat(65 * 1024)})), 413, "/problems/notification-too-large"),
    ];
    for (request, status, problem) in cases {
        let response = payment_callback::handle(&app, request).await;
        assert_eq!(response.status(), status, "{problem}");
        assert_eq!(contract.check(route, "POST", &response)["type"], problem);
    }
    let get = Event::new("GET", route).request();
    let response = payment_callback::handle(&app, get).await;
    assert_eq!(response.status(), 405);
    contract.check(route, "POST", &response);
}

// What the local emulator cannot carry to a function (tests/api/hooks.py leaves it out of the
// schemathesis run), answered by the handlers themselves.

/// An event as API Gateway builds it for a body that is not UTF-8: base64, `isBase64Encoded`.
fn with_binary_body(event: Event, bytes: &[u8]) -> Request {
    use base64::Engine as _;
    let mut value = event.json().clone();
    value["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    value["isBase64Encoded"] = Value::Bool(true);
    lambda_http::request::from_str(&value.to_string()).expect("a valid HTTP API v2 event")
}

#[tokio::test]
async fn bytes_the_local_emulator_cannot_carry_are_refused_by_the_handlers() {
    let contract = Contract::new();
    let launch = vk_launch(user(), Utc::now());
    let garbage: &[u8] = &[0xff, 0x00, 0xfe, b'{'];

    let pay = pay_app().await;
    let payment = Event::new("POST", "/payments").vk(&launch).header("idempotency-key", "bytes-1");
    let response = pay::handle(&pay, with_binary_body(payment, garbage)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(contract.check("/payments", "POST", &response)["type"], "/problems/malformed-body");

    // A key with bytes outside ASCII (obs-text) is not a key, whatever the body.
    let body = json!({"account": "10000-000-01", "amount": "10.00", "email": "a@b.ru"});
    let foreign_key =
        Event::new("POST", "/payments").vk(&launch).header("idempotency-key", "ключ×ø").body(&body).request();
    let response = pay::handle(&pay, foreign_key).await;
    assert_eq!(response.status(), 400);
    assert_eq!(contract.check("/payments", "POST", &response)["type"], "/problems/idempotency-key-invalid");

    let readings = submit_readings::App::new(store().await, edge());
    let route = "/accounts/{account}/readings";
    let submit = Event::new("POST", "/accounts/10000-000-01/readings").vk(&vk_launch(user(), fixed_now()));
    let response = submit_readings::handle(&readings, with_binary_body(submit, garbage)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(contract.check(route, "POST", &response)["type"], "/problems/invalid-request");

    let callback = callback_app().await;
    let response =
        payment_callback::handle(&callback, with_binary_body(Event::new("POST", "/callbacks/tbank"), garbage)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(contract.check("/callbacks/tbank", "POST", &response)["type"], "/problems/notification-malformed");
}

/// A notification the document calls valid is one the service can read once it is signed, and
/// one the service cannot read (members missing) the document refuses: the bank's members the
/// service needs are all required, and those a status change may come without are not.
#[tokio::test]
async fn a_signed_notification_the_document_accepts_is_applied_and_one_it_refuses_is_not() {
    let contract = Contract::new();
    let app = callback_app().await;
    let schema = contract.validator("/components/schemas/AcquirerNotification");
    let route = "/callbacks/tbank";
    let unknown_order = json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": PaymentId::random().as_str(), "Success": true,
        "Status": "CONFIRMED", "PaymentId": 4_200_000_001u64, "Amount": 25000
    });
    let signed = sign_notification(unknown_order.clone());
    assert!(schema.is_valid(&signed));
    let response = payment_callback::handle(&app, Event::new("POST", route).body(&signed).request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(contract.check(route, "POST", &response), "OK");

    let receipt = json!({
        "TerminalKey": env("TBANK_TERMINAL_KEY"), "OrderId": PaymentId::random().as_str(), "Success": true,
        "Status": "RECEIPT", "PaymentId": 4_200_000_002u64, "Amount": 25000
    });
    let without = |notification: &Value, member: &str| {
        let mut partial = notification.clone();
        partial.as_object_mut().expect("an object").remove(member);
        sign_notification(partial)
    };
    for (notification, member) in [
        (&unknown_order, "Status"),
        (&unknown_order, "PaymentId"),
        (&unknown_order, "OrderId"),
        (&receipt, "Success"),
        (&receipt, "Amount"),
    ] {
        let signed = without(notification, member);
        let response = payment_callback::handle(&app, Event::new("POST", route).body(&signed).request()).await;
        assert_eq!(response.status(), 400, "{} without {member}", notification["Status"]);
        assert_eq!(contract.check(route, "POST", &response)["type"], "/problems/notification-malformed");
        assert!(!schema.is_valid(&signed), "the document accepts a {} without {member}", notification["Status"]);
    }
    for member in ["Success", "Amount"] {
        let signed = without(&unknown_order, member);
        assert!(schema.is_valid(&signed), "the document refuses a status change without {member}");
        let response = payment_callback::handle(&app, Event::new("POST", route).body(&signed).request()).await;
        assert_eq!(response.status(), 200, "a status change without {member}");
        assert_eq!(contract.check(route, "POST", &response), "OK");
    }
}

/// A preflight does not look at the path's values, and the document says so: any account or id.
#[tokio::test]
async fn a_preflight_is_answered_whatever_the_path_holds() {
    let contract = Contract::new();
    let lookup = lookup_app().await;
    let preflight = Event::new("OPTIONS", "/accounts/__main__")
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "GET")
        .request();
    let response = account_lookup::handle(&lookup, preflight).await;
    assert_eq!(response.status(), 204);
    contract.check("/accounts/{account}", "OPTIONS", &response);
    for (route, name) in
        [("/accounts/{account}", "account"), ("/accounts/{account}/readings", "account"), ("/payments/{id}", "id")]
    {
        let schema = contract.validator(&contract.parameter_schema(route, "OPTIONS", "path", name));
        assert!(schema.is_valid(&json!("__main__")), "OPTIONS {route} refuses a {name} its function answers");
    }
}

// "Мои платежи".

#[tokio::test]
async fn payment_history_answers_match_the_document() {
    let contract = Contract::new();
    let app = payment_history::App { store: store().await, edge: edge() };
    let route = "/payments";
    let id = user();
    let caller = energosbyt::domain::CallerId::Vk(id);
    for (days, status) in [(1, "PAID"), (2, "PARTIALLY_REFUNDED"), (3, "FAILED")] {
        let mut payment = integration_tests::new_payment(
            fresh_account_number(),
            "250.00",
            fixed_now() - chrono::Duration::days(days),
        );
        payment.caller = caller.clone();
        payment.status = PaymentStatus::parse(status).unwrap();
        if status == "PARTIALLY_REFUNDED" {
            payment.refunded = "50.00".parse().unwrap();
        }
        store().await.create(&payment).await.unwrap();
    }
    let launch = vk_launch(id, fixed_now());
    let first = Event::new("GET", route).vk(&launch).query("limit", "2");
    let page = contract.check(route, "GET", &payment_history::handle(&app, first.request()).await);
    assert_eq!(page["payments"].as_array().unwrap().len(), 2);
    let next = Event::new("GET", route).vk(&launch).query("cursor", page["nextCursor"].as_str().unwrap());
    let last = contract.check(route, "GET", &payment_history::handle(&app, next.request()).await);
    assert_eq!(last["payments"][0]["status"], "FAILED");

    let cases = [
        (Event::new("GET", route).vk(&launch).query("cursor", "x"), 400),
        (Event::new("GET", route).vk(&launch).query("limit", "500"), 400),
        (Event::new("GET", route), 401),
        (Event::new("GET", route).fb(&fb_signed_request(None, fixed_now())), 403),
        (Event::new("DELETE", route).vk(&launch), 405),
    ];
    for (event, status) in cases {
        let response = payment_history::handle(&app, event.request()).await;
        assert_eq!(response.status(), status);
        contract.check(route, "GET", &response);
    }
    // The preflight of /payments is the pay function's and names GET as well.
    let preflight = Event::new("OPTIONS", route)
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "GET")
        .request();
    let allowed = pay::handle(&pay_app().await, preflight).await;
    assert_eq!(allowed.status(), 204);
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));
    contract.check(route, "OPTIONS", &allowed);
}

// A payment's receipt.

#[tokio::test]
async fn payment_receipt_answers_match_the_document() {
    use energosbyt::ports::ledger::{ReceiptSlot, StoredReceipt};
    let contract = Contract::new();
    let route = "/payments/{id}/receipt";
    let id = user();
    let store = store().await;
    let seller = energosbyt::domain::SellerRequisites {
        name: "АО «Мосэнергосбыт»".into(),
        inn: "7736520080".into(),
        sender_email: env("SES_SENDER"),
        settlement_place: None,
        ofd: None,
    };
    let page_app = payment_receipt::App { store: store.clone(), edge: edge(), seller: seller.clone() };
    let ses = energosbyt::mail::ses::SesMailer::from_env(&Env::process()).await.unwrap();
    ses.client().verify_email_identity().email_address(ses.sender()).send().await.unwrap();
    let copy_app = resend_receipt::App {
        store: store.clone(),
        mailer: Mailer::new(ses, MailFrom::new(&env("SES_SENDER"), "АО «Мосэнергосбыт»").unwrap()),
        edge: edge(),
        seller,
    };
    let made = |with_receipt: bool| {
        let store = store.clone();
        async move {
            let mut payment = integration_tests::new_payment(fresh_account_number(), "99.90", fixed_now());
            payment.caller = energosbyt::domain::CallerId::Vk(id);
            payment.status = PaymentStatus::Paid;
            store.create(&payment).await.unwrap();
            if with_receipt {
                let notification = json!({
                    "TerminalKey": "DemoTerminalKey", "OrderId": payment.id.as_str(), "Success": true,
                    "Status": "RECEIPT", "PaymentId": 1u64, "ErrorCode": "0", "Amount": 9990,
                    "FiscalNumber": 1, "ShiftNumber": 2, "ReceiptDatetime": "2026-11-20T10:00:00+03:00",
                    "FnNumber": "9282000100072197", "EcrRegNumber": "0000000001047231",
                    "FiscalDocumentNumber": 7, "FiscalDocumentAttribute": 123456u64, "Type": "Income",
                    "Ofd": "ООО «Такском»", "Url": "https://nalog.ru", "SettlePlace": "https://vk.com/app51234567",
                    "Receipt": {"Email": "x@example.ru", "Taxation": "osn", "FfdVersion": "1.2", "Items": [{
                        "Name": "Оплата электроэнергии", "Price": 9990, "Quantity": 1, "Amount": 9990,
                        "Tax": "vat22", "PaymentMethod": "full_payment", "PaymentObject": "service",
                        "MeasurementUnit": "шт"}]}
                });
                let kept = StoredReceipt {
                    slot: ReceiptSlot::Sale,
                    notification: notification.to_string(),
                    received_at: Utc::now(),
                };
                store.keep_receipt(&payment.id, &kept, None).await.unwrap();
            }
            payment
        }
    };
    let launch = vk_launch(id, fixed_now());
    let issued = made(true).await;
    let waiting = made(false).await;
    let at = |payment: &Payment| format!("/payments/{}/receipt", payment.id);
    let gets = [
        (Event::new("GET", &at(&issued)).vk(&launch), 200),
        (Event::new("GET", "/payments/nope/receipt").vk(&launch), 400),
        (Event::new("GET", &at(&issued)), 401),
        (Event::new("GET", &at(&issued)).vk(&vk_launch(user(), fixed_now())), 404),
        (Event::new("GET", &at(&waiting)).vk(&launch), 409),
    ];
    for (event, status) in gets {
        let response = payment_receipt::handle(&page_app, event.request()).await;
        assert_eq!(response.status(), status);
        contract.check(route, "GET", &response);
    }
    let posts = [(202, &issued), (202, &issued), (202, &issued), (429, &issued), (409, &waiting)];
    for (status, payment) in posts {
        let response = resend_receipt::handle(&copy_app, Event::new("POST", &at(payment)).vk(&launch).request()).await;
        assert_eq!(response.status(), status);
        contract.check(route, "POST", &response);
    }
    let preflight = Event::new("OPTIONS", &at(&issued))
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "POST")
        .request();
    let allowed = payment_receipt::handle(&page_app, preflight).await;
    assert_eq!(allowed.status(), 204);
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    contract.check(route, "OPTIONS", &allowed);
}
