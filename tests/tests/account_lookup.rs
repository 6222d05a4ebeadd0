//! `GET /accounts/{account}` against DynamoDB Local: what a customer sees, and every refusal.

use account_lookup::{App, handle};
use chrono::Duration;
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::AccountImport;
use integration_tests::*;
use serde_json::json;

async fn app() -> App<energosbyt::store::DynamoStore> {
    App { store: store().await, edge: edge() }
}

async fn imported(balance: &str) -> energosbyt::domain::AccountNumber {
    let number = fresh_account_number();
    let meters = vec![
        meter(json!({"id": "M-2", "zoneSet": "twoZone", "digits": 6,
                     "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"},
                                      "T2": {"value": 7410, "date": "2026-10-20"}}})),
        meter(json!({"id": "AMR-1", "zoneSet": "single", "automatic": true})),
    ];
    store().await.import_account(&account(number, balance, meters), fixed_now()).await.unwrap();
    number
}

fn user() -> u64 {
    // Each test its own user, so throttling in one test never touches another.
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

#[tokio::test]
async fn a_customer_in_debt_sees_the_masked_address_balance_and_recommended_amount() {
    let app = app().await;
    let number = imported("-1520.37").await;
    let launch = vk_launch(user(), fixed_now());

    let response = handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&launch).request()).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(&response);
    assert_eq!(body["account"], number.to_string());
    assert_eq!(body["address"], "г. Москва, ул. Тверская, д. 7***, кв. **");
    assert_eq!(body["balance"], "-1520.37");
    assert_eq!(body["recommendedAmount"], "1520.37");
    // Nothing handed in this month: the debt is what is due.
    assert_eq!(body["chargedByReadings"], "0.00");
    assert_eq!(body["amountDue"], "1520.37");
    assert_eq!(body["balanceAfterReadings"], "-1520.37");
    assert_eq!(body["currency"], "RUB");
    let meters = body["meters"].as_array().unwrap();
    assert_eq!(meters[0]["zones"], json!(["T1", "T2"]));
    assert_eq!(meters[0]["lastReadings"]["T2"], json!({"value": 7410, "date": "2026-10-20"}));
    assert_eq!(meters[0]["readingsWindow"], json!({"open": true, "from": "2026-11-15", "to": "2026-11-26"}));
    assert_eq!(
        meters[1]["readingsWindow"],
        json!({"open": false, "from": null, "to": null, "neverBecause": "automaticMetering"})
    );
    let text = body.to_string();
    assert!(!text.contains("315"), "the flat number leaked: {text}");
}

#[tokio::test]
async fn credit_and_zero_balances_recommend_nothing() {
    let app = app().await;
    for balance in ["250.00", "0"] {
        let number = imported(balance).await;
        let request = Event::new("GET", &format!("/accounts/{}", number.digits())).vk(&vk_launch(user(), fixed_now()));
        let body = body_json(&handle(&app, request.request()).await);
        assert_eq!(body["recommendedAmount"], "0.00", "balance {balance}");
        assert_eq!(body["amountDue"], "0.00", "balance {balance}");
    }
}

#[tokio::test]
async fn the_number_may_be_typed_with_spaces_in_the_path() {
    let app = app().await;
    let number = imported("-10").await;
    let d = number.digits();
    let path = format!("/accounts/{}%20{}%20{}", &d[..5], &d[5..8], &d[8..]);
    let response = handle(&app, Event::new("GET", &path).vk(&vk_launch(user(), fixed_now())).request()).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_malformed_number_is_400_and_an_unknown_one_404_both_problem_json() {
    let app = app().await;
    let launch = vk_launch(user(), fixed_now());

    let bad = handle(&app, Event::new("GET", "/accounts/12345-678").vk(&launch).request()).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let body = body_json(&bad);
    assert_eq!(body["type"], "/problems/invalid-account-number");
    assert_eq!(body["status"], 400);
    assert!(body["title"].as_str().unwrap().contains("10 цифр"));

    let unknown = fresh_account_number();
    let missing = handle(&app, Event::new("GET", &format!("/accounts/{unknown}")).vk(&launch).request()).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(body_json(&missing)["type"], "/problems/account-not-found");
}

#[tokio::test]
async fn missing_forged_stale_or_foreign_credentials_are_401() {
    let app = app().await;
    let number = imported("-1").await;
    let path = format!("/accounts/{number}");
    let good = vk_launch(user(), fixed_now());
    let forged = good.replacen("vk_user_id=", "vk_user_id=1", 1);
    let stale = vk_launch(user(), fixed_now() - Duration::hours(2));
    let foreign_app = vk_launch_for_app(user(), "7000001", fixed_now());

    let cases = [
        ("none", Event::new("GET", &path)),
        ("forged", Event::new("GET", &path).vk(&forged)),
        ("stale", Event::new("GET", &path).vk(&stale)),
        ("another app", Event::new("GET", &path).vk(&foreign_app)),
        ("garbage", Event::new("GET", &path).header("authorization", "VK ???")),
        ("facebook garbage", Event::new("GET", &path).header("authorization", "FB abc.def")),
    ];
    for (what, event) in cases {
        let response = handle(&app, event.request()).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(body_json(&response)["type"], "/problems/unauthenticated", "{what}");
    }
    assert_eq!(handle(&app, Event::new("GET", &path).vk(&good).request()).await.status(), 200);
}

#[tokio::test]
async fn a_caller_over_the_limit_is_429_with_retry_after_per_user_and_per_ip() {
    let mut app = app().await;
    app.edge.limits = ThrottleLimits { per_user: 3, per_ip: 5, window_secs: 60 };
    let number = imported("-1").await;
    let path = format!("/accounts/{number}");
    // Unique to this run: the counters live in the shared table for a minute.
    let ip = format!("198.51.100.{}", uuid::Uuid::new_v4().as_u128() % 250);
    let one = vk_launch(user(), fixed_now());

    for _ in 0..3 {
        let r = handle(&app, Event::new("GET", &path).vk(&one).source_ip(&ip).request()).await;
        assert_eq!(r.status(), 200);
    }
    let throttled = handle(&app, Event::new("GET", &path).vk(&one).source_ip(&ip).request()).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(body_json(&throttled)["type"], "/problems/too-many-requests");
    // Fixed clock at hh:mm:00 → the whole window is left.
    assert_eq!(throttled.headers()["retry-after"], "60");

    // Another user from the same address: its fifth request is the last one allowed.
    let other = vk_launch(user(), fixed_now());
    let fifth = handle(&app, Event::new("GET", &path).vk(&other).source_ip(&ip).request()).await;
    assert_eq!(fifth.status(), 200);
    let sixth = handle(&app, Event::new("GET", &path).vk(&other).source_ip(&ip).request()).await;
    assert_eq!(sixth.status(), 429, "the address has made 5 requests already");
    let elsewhere = handle(&app, Event::new("GET", &path).vk(&other).source_ip("192.0.2.77").request()).await;
    assert_eq!(elsewhere.status(), 200, "the same user from another address is within limits");
}

#[tokio::test]
async fn cors_preflight_and_headers_follow_the_allowed_origins() {
    let app = app().await;
    let allowed = "http://127.0.0.1:5173";
    let preflight = Event::new("OPTIONS", "/accounts/1000000001")
        .header("origin", allowed)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization");
    let response = handle(&app, preflight.request()).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
    let allow_headers = response.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allow_headers.contains("authorization"));
    assert!(response.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));

    let foreign = Event::new("OPTIONS", "/accounts/1000000001")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET");
    let response = handle(&app, foreign.request()).await;
    assert_ne!(response.status(), 204);
    assert!(response.headers().get("access-control-allow-origin").is_none());

    let number = imported("-1").await;
    let get =
        Event::new("GET", &format!("/accounts/{number}")).header("origin", allowed).vk(&vk_launch(user(), fixed_now()));
    let response = handle(&app, get.request()).await;
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
    // Errors carry CORS headers too, or the mini app could not read the problem's title.
    let unauth = Event::new("GET", &format!("/accounts/{number}")).header("origin", allowed);
    let response = handle(&app, unauth.request()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
}

#[tokio::test]
async fn a_store_outage_is_503_problem_not_a_bare_error() {
    let config = aws_config::from_env().endpoint_url("http://127.0.0.1:9").load().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let app = App { store: energosbyt::store::DynamoStore::new(client, "nowhere"), edge: edge() };
    let request = Event::new("GET", "/accounts/1000000001").vk(&vk_launch(user(), fixed_now()));
    let response = handle(&app, request.request()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body_json(&response)["type"], "/problems/service-unavailable");
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = app().await;
    let request = Event::new("DELETE", "/accounts/1000000001").vk(&vk_launch(user(), fixed_now()));
    let response = handle(&app, request.request()).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, OPTIONS", "a 405 names the methods the route takes");
}

#[tokio::test]
async fn a_look_up_costs_three_dynamodb_requests_each_logged_with_its_latency() {
    let app = app().await;
    let number = imported("-1").await;
    let before = app.store.outside_calls().requests();
    let response =
        handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&vk_launch(user(), fixed_now())).request())
            .await;
    assert_eq!(response.status(), 200);
    // Two throttle counters (user, address) and one read of the account with this month's readings.
    assert_eq!(app.store.outside_calls().requests() - before, 3);
}
