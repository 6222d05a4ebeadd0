//! `GET /payments` ("Мои платежи") against DynamoDB Local: a verified caller's own payments of
//! the last 24 months, newest first, page by page behind the cursor; nobody else's; refusals.
//! The edge's clock is fixed (20 November 2026); payments are written as the pay function writes
//! them, each with a caller of its own test.

use chrono::{DateTime, Duration, Months, Utc};
use energosbyt::domain::{CallerId, Money, Payment, PaymentStatus};
use energosbyt::ports::PaymentWriter;
use energosbyt::store::DynamoStore;
use integration_tests::*;
use lambda_http::{Body, Response};
use payment_history::{App, handle};
use serde_json::Value;

async fn app() -> App<DynamoStore> {
    App { store: store().await, edge: edge() }
}

fn fresh_vk_user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

async fn paid(caller: &CallerId, created_at: DateTime<Utc>, amount: &str) -> Payment {
    let mut payment = new_payment(fresh_account_number(), amount, created_at);
    payment.caller = caller.clone();
    payment.status = PaymentStatus::Paid;
    store().await.create(&payment).await.unwrap();
    payment
}

async fn list(app: &App<DynamoStore>, launch: &str, query: &[(&str, &str)]) -> Response<Body> {
    let mut event = Event::new("GET", "/payments").vk(launch);
    for (name, value) in query {
        event = event.query(name, value);
    }
    handle(app, event.request()).await
}

fn ids(page: &Value) -> Vec<String> {
    page["payments"].as_array().unwrap().iter().map(|p| p["paymentId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn given_payments_over_three_years_when_listed_page_by_page_then_the_last_24_months_come_newest_first_once_each()
{
    let app = app().await;
    let user = fresh_vk_user();
    let caller = CallerId::Vk(user);
    let now = fixed_now();
    // One a month for 27 months back, written oldest last so the store's order is not the
    // insertion order.
    let mut written = Vec::new();
    for months in 0..27u32 {
        let at = now.checked_sub_months(Months::new(months)).unwrap() - Duration::hours(1);
        written.push((at, paid(&caller, at, "100.00").await));
    }
    // Someone else's payment at the same time is never listed.
    let other = paid(&CallerId::Vk(fresh_vk_user()), now - Duration::minutes(5), "100.00").await;

    let cut_off = now.checked_sub_months(Months::new(24)).unwrap();
    let mut expected: Vec<(DateTime<Utc>, String)> =
        written.iter().filter(|(at, _)| *at >= cut_off).map(|(at, p)| (*at, p.id.to_string())).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(expected.len(), 24, "the fixture spans more than the window");

    let launch = vk_launch(user, now);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", "10")];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let response = list(&app, &launch, &query).await;
        assert_eq!(response.status(), 200);
        let page = body_json(&response);
        assert!(page["payments"].as_array().unwrap().len() <= 10);
        seen.extend(ids(&page));
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }
    assert_eq!(seen, expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    assert!(!seen.contains(&other.id.to_string()));
}

#[tokio::test]
async fn given_a_partly_refunded_payment_when_listed_then_it_shows_the_sum_refunded_and_a_masked_account() {
    let app = app().await;
    let user = fresh_vk_user();
    let mut payment = new_payment(fresh_account_number(), "1520.37", fixed_now() - Duration::days(3));
    payment.caller = CallerId::Vk(user);
    payment.status = PaymentStatus::PartiallyRefunded;
    payment.refunded = "520.37".parse::<Money>().unwrap();
    store().await.create(&payment).await.unwrap();

    let page = body_json(&list(&app, &vk_launch(user, fixed_now()), &[]).await);
    let line = &page["payments"][0];
    assert_eq!(line["paymentId"], payment.id.to_string());
    assert_eq!(line["status"], "PARTIALLY_REFUNDED");
    assert_eq!(line["amount"], "1520.37");
    assert_eq!(line["refunded"], "520.37");
    assert_eq!(line["account"], payment.account.masked());
    assert_ne!(line["account"], payment.account.to_string(), "the number is masked");
    assert!(line.get("email").is_none() && line.get("card").is_none());
    assert_eq!(page["nextCursor"], Value::Null);
}

#[tokio::test]
async fn given_an_anonymous_facebook_visitor_when_the_list_is_asked_for_then_403_problem_in_russian() {
    let app = app().await;
    let event = Event::new("GET", "/payments").fb(&fb_signed_request(None, fixed_now()));
    let response = handle(&app, event.request()).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem = body_json(&response);
    assert!(problem["type"].as_str().unwrap().ends_with("/problems/history-needs-sign-in"));
    assert!(problem["title"].as_str().unwrap().contains("платежей"));
}

#[tokio::test]
async fn given_no_launch_parameters_when_the_list_is_asked_for_then_401() {
    let app = app().await;
    let response = handle(&app, Event::new("GET", "/payments").request()).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn given_a_cursor_we_never_handed_out_or_a_bad_limit_when_listed_then_400_naming_the_field() {
    let app = app().await;
    let launch = vk_launch(fresh_vk_user(), fixed_now());
    for (query, field) in [
        (vec![("cursor", "bm90LWEtY3Vyc29y")], "cursor"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "51")], "limit"),
        (vec![("limit", "ten")], "limit"),
    ] {
        let response = list(&app, &launch, &query).await;
        assert_eq!(response.status(), 400, "{query:?}");
        assert_eq!(body_json(&response)["field"], field, "{query:?}");
    }
}

#[tokio::test]
async fn given_a_user_with_no_payments_when_listed_then_an_empty_list_and_no_cursor() {
    let app = app().await;
    let page = body_json(&list(&app, &vk_launch(fresh_vk_user(), fixed_now()), &[]).await);
    assert_eq!(page["payments"], Value::Array(vec![]));
    assert_eq!(page["nextCursor"], Value::Null);
}
