//! What IAM lets the functions touch, checked against what they really send, and what the payments
//! index keeps: DynamoDB Local does not evaluate IAM, so the requests the real handlers send are
//! read on their way out and compared with the template's conditions.

use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::Utc;
use energosbyt::ports::{AccountImport, PaymentWriter};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Every DynamoDB request a client sends: its operation, and for an `UpdateItem` the partition
/// key and the top-level attribute names it touches (what IAM's `dynamodb:Attributes` holds).
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<Vec<Request>>>);

#[derive(Debug, Clone)]
enum Request {
    Update { partition: String, attributes: BTreeSet<String> },
    Other(String),
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let seen = match context.input().downcast_ref::<UpdateItemInput>() {
            Some(update) => Request::Update {
                partition: update
                    .key()
                    .and_then(|k| k.get("PK"))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                attributes: attributes_of(update),
            },
            // The operation's name only: its input holds the customer's data.
            None => Request::Other(format!("{:?}", context.input()).chars().take(40).collect()),
        };
        self.0.lock().unwrap().push(seen);
        Ok(())
    }
}

/// The test stack's table through a client whose every request is recorded.
async fn recording_store() -> (DynamoStore, Requests) {
    let requests = Requests::default();
    let shared = aws_config::load_from_env().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared).interceptor(requests.clone()).build();
    (DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), env("TABLE_NAME")), requests)
}

/// The top-level attribute names an update names: its key, its `#placeholders`, and the names its
/// update and condition expressions spell out.
fn attributes_of(update: &UpdateItemInput) -> BTreeSet<String> {
    const WORDS: [&str; 16] = [
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
    ];
    let mut names: BTreeSet<String> = update.key().into_iter().flat_map(|k| k.keys().cloned()).collect();
    names.extend(update.expression_attribute_names().into_iter().flat_map(|n| n.values().cloned()));
    for expression in [update.update_expression(), update.condition_expression()].into_iter().flatten() {
        for token in expression.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '#' | ':'))) {
            let bare =
                !token.is_empty() && !token.starts_with(['#', ':']) && !token.starts_with(|c: char| c.is_ascii_digit());
            if bare && !WORDS.contains(&token) && token != "list_append" {
                names.insert(token.to_owned());
            }
        }
    }
    names
}

/// The attributes the readings function may write under `ACCOUNT#…` (template.yaml).
fn readings_attributes_allowed() -> BTreeSet<String> {
    let template: serde_norway::Value = serde_norway::from_str(TEMPLATE).unwrap();
    let statements = template["Resources"]["SubmitReadingsFunction"]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .expect("the readings function's policy");
    let statement =
        statements.iter().find(|s| s["Sid"].as_str() == Some("WriteReadingsOnly")).expect("WriteReadingsOnly");
    assert_eq!(
        statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"][0].as_str(),
        Some("ACCOUNT#*")
    );
    statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        .as_sequence()
        .expect("the attribute list")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn given_submissions_replacements_and_repeats_then_the_readings_function_writes_only_what_iam_lets_it_never_the_balance()
 {
    tariffs_loaded().await;
    let (store, requests) = recording_store().await;
    let app = submit_readings::App::new(store.clone(), edge());
    let number = fresh_account_number();
    let meters = vec![meter(json!({"id": "M-1", "zoneSet": "single", "digits": 5,
                                    "lastReadings": {"T1": {"value": 12000, "date": "2026-10-20"}}}))];
    store.import_account(&account(number, "-10.00", meters), fixed_now()).await.unwrap();
    requests.0.lock().unwrap().clear();

    // One customer hands in, corrects and repeats (only the submitter may correct).
    let owner = (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1;
    for value in [12100, 12150, 12150] {
        let request = Event::new("POST", &format!("/accounts/{number}/readings"))
            .vk(&vk_launch(owner, fixed_now()))
            .body(&json!({"meterId": "M-1", "values": {"T1": value}}));
        let response = submit_readings::handle(&app, request.request()).await;
        assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    }

    let allowed = readings_attributes_allowed();
    assert!(!allowed.contains("balance"));
    let seen = requests.0.lock().unwrap().clone();
    let mut account_writes = 0;
    for request in &seen {
        match request {
            Request::Update { partition, attributes } if partition.starts_with("ACCOUNT#") => {
                account_writes += 1;
                let beyond: Vec<_> = attributes.difference(&allowed).collect();
                assert!(beyond.is_empty(), "a readings write names {beyond:?}, which IAM refuses");
            }
            Request::Update { partition, .. } => {
                assert!(partition.starts_with("THROTTLE#"), "a write outside the readings' partitions: {partition}")
            }
            Request::Other(operation) => {
                assert!(
                    !operation.contains("Put") && !operation.contains("Delete") && !operation.contains("Transact"),
                    "{operation}"
                )
            }
        }
    }
    // The repeat of the same figures writes nothing.
    assert_eq!(account_writes, 2, "a submission and its replacement: {seen:?}");
}

#[tokio::test]
async fn given_a_payment_waiting_for_the_bank_then_the_payments_index_holds_what_reconciliation_reads_and_no_personal_data()
 {
    let store = store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "0", vec![]), Utc::now()).await.unwrap();
    let mut payment = new_payment(number, "12.34", Utc::now());
    payment.acquirer_payment_id = Some("7300000001".into());
    payment.form_deadline = Some(Utc::now() + chrono::TimeDelta::hours(24));
    store.create(&payment).await.unwrap();

    let listed = store
        .client()
        .query()
        .table_name(store.table())
        .index_name("GSI2")
        .key_condition_expression("GSI2PK = :pending AND GSI2SK >= :from")
        .expression_attribute_values(":pending", aws_sdk_dynamodb::types::AttributeValue::S("PENDING".into()))
        .expression_attribute_values(
            ":from",
            aws_sdk_dynamodb::types::AttributeValue::S(payment.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        )
        .send()
        .await
        .unwrap();
    let item = listed
        .items()
        .iter()
        .find(|i| i.get("PK").and_then(|v| v.as_s().ok()) == Some(&format!("PAYMENT#{}", payment.id)))
        .expect("the payment is listed");
    let names: BTreeSet<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["PK", "SK", "GSI2PK", "GSI2SK", "status", "acquirerPaymentId", "formDeadline", "createdAt"])
    );
}

#[tokio::test]
async fn given_a_reminder_turned_on_shown_and_off_then_the_reminder_function_sends_only_what_iam_lets_it() {
    let (store, requests) = recording_store().await;
    let app = account_reminder::App { store, edge: edge() };
    let (number, user) = (fresh_account_number(), (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1);

    for method in ["PUT", "GET", "DELETE"] {
        let event = Event::new(method, &format!("/accounts/{number}/reminder")).vk(&vk_launch(user, fixed_now()));
        let response = account_reminder::handle(&app, event.request()).await;
        assert_eq!(response.status(), 200, "{method}: {:?}", body_json(&response));
    }

    let template: serde_norway::Value = serde_norway::from_str(TEMPLATE).unwrap();
    let statements = template["Resources"]["AccountReminderFunction"]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .expect("the reminder function's policy");
    let writes = statements
        .iter()
        .find(|s| s["Sid"].as_str() == Some("CountRequestsAndKeepReminders"))
        .expect("CountRequestsAndKeepReminders");
    let prefixes: Vec<String> = writes["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().trim_end_matches('*').to_owned())
        .collect();
    let seen = requests.0.lock().unwrap().clone();
    assert!(seen.iter().any(|r| matches!(r, Request::Update { partition, .. } if partition.starts_with("REMINDER#"))));
    for request in &seen {
        match request {
            Request::Update { partition, .. } => {
                assert!(prefixes.iter().any(|p| partition.starts_with(p.as_str())), "{partition} outside {prefixes:?}");
            }
            Request::Other(operation) => assert!(
                operation.contains("GetItem") || operation.contains("DeleteItem"),
                "{operation} is not in the reminder function's policy"
            ),
        }
    }
}

/// The DynamoDB actions a function's policy allows on the table (statements without conditions
/// and with them alike), as `dynamodb:<Operation>`.
fn dynamodb_actions(function: &str) -> BTreeSet<String> {
    let template: serde_norway::Value = serde_norway::from_str(TEMPLATE).unwrap();
    let statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function}'s policy"));
    statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            serde_norway::Value::String(one) => vec![one.clone()],
            many => many.as_sequence().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
        })
        .filter(|action| action.starts_with("dynamodb:"))
        .collect()
}

/// `Input(TypeErasedBox[!Clone]:QueryInput {` → `dynamodb:Query`: the action IAM checks for a request the interceptor saw.
fn action_of(request: &Request) -> String {
    match request {
        Request::Update { .. } => "dynamodb:UpdateItem".to_owned(),
        Request::Other(input) => {
            let operation = input.rsplit(':').next().and_then(|typed| typed.split("Input").next());
            format!("dynamodb:{}", operation.unwrap_or_default())
        }
    }
}

#[tokio::test]
async fn given_its_warm_up_and_look_ups_found_and_not_then_the_look_up_sends_only_what_iam_lets_it() {
    let (store, requests) = recording_store().await;
    let number = fresh_account_number();
    store.import_account(&account(number, "-10.00", vec![]), fixed_now()).await.unwrap();
    requests.0.lock().unwrap().clear();

    store.clone().warm_up_with_query().await;
    let app = account_lookup::App { store, edge: edge() };
    for (asked, status) in [(number, 200), (fresh_account_number(), 404)] {
        let event = Event::new("GET", &format!("/accounts/{asked}")).vk(&vk_launch(4_242_424, fixed_now()));
        let response = account_lookup::handle(&app, event.request()).await;
        assert_eq!(response.status(), status, "{:?}", body_json(&response));
    }

    let allowed = dynamodb_actions("AccountLookupFunction");
    let sent: BTreeSet<String> = requests.0.lock().unwrap().iter().map(action_of).collect();
    assert_eq!(
        sent,
        BTreeSet::from(["dynamodb:Query".to_owned(), "dynamodb:UpdateItem".to_owned()]),
        "the look-up's requests"
    );
    assert_eq!(allowed, sent, "the look-up's policy allows exactly what it sends");
}

#[tokio::test]
async fn given_its_warm_up_and_a_page_of_payments_then_the_history_sends_only_what_iam_lets_it() {
    let (store, requests) = recording_store().await;

    store.clone().warm_up_with_payer_index().await;
    let app = payment_history::App { store, edge: edge() };
    let event = Event::new("GET", "/payments").vk(&vk_launch(4_343_434, fixed_now()));
    let response = payment_history::handle(&app, event.request()).await;
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));

    let sent: BTreeSet<String> = requests.0.lock().unwrap().iter().map(action_of).collect();
    assert_eq!(sent, dynamodb_actions("PaymentHistoryFunction"), "the history's policy allows exactly what it sends");
}
