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
    assert_eq!(body["address"], "г. Москва, д. 7***, кв. **", "the town and the house's first character only");
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

/// A caller's look-ups served by one instance: each reads the account in one Query, and the
/// throttle counter is written only when the instance holds none of the caller's minute
/// (edge::throttle_lease): the first look-up waits on a write beside its Query, most repeats on
/// none. The minute's budget still ends them (tests/tests/enumeration.rs proves it exact).
#[tokio::test]
async fn a_callers_repeated_look_ups_read_once_each_and_write_the_counter_for_a_few() {
    let count = RequestCount::default();
    let app = App { store: counted_store(&count).await, edge: edge() };
    let per_minute = app.edge.limits.user_per_minute;
    let number = imported("-1").await;
    let launch = vk_launch(user(), fixed_now());
    let look_up = || handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&launch).request());
    count.take();

    assert_eq!(look_up().await.status(), 200);
    let first = count.take_by_operation();
    assert_eq!((first["Query"], first["UpdateItem"]), (1, 1), "{first:?}");
    for _ in 1..per_minute {
        assert_eq!(look_up().await.status(), 200);
    }
    let repeats = count.take_by_operation();
    assert_eq!(repeats["Query"], per_minute - 1, "one read each: {repeats:?}");
    let writes = repeats["UpdateItem"];
    let largest = energosbyt::edge::throttle_lease::largest_grant(per_minute);
    assert!(writes < (per_minute - 1) / 2, "{writes} counter writes for {} repeats", per_minute - 1);
    assert!(writes >= (per_minute - 1) / largest, "never more than {largest} served per write: {writes}");
    assert_eq!(repeats.len(), 2, "nothing but the Query and the counter: {repeats:?}");
    assert_eq!(look_up().await.status(), 429, "the minute's budget is spent");
}

/// An address no other test or run uses: the counters of the fixed clock's minute stay in the
/// shared table while the stack runs.
fn fresh_address() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("10.{}.{}.{}", (n >> 16) % 256, (n >> 8) % 256, n % 256)
}

#[tokio::test]
async fn a_user_over_its_minute_is_429_with_retry_after_and_other_users_behind_its_address_are_not() {
    let mut app = app().await;
    app.edge.limits = ThrottleLimits { user_per_minute: 3, address_per_minute: 5, ..ThrottleLimits::default() };
    let number = imported("-1").await;
    let path = format!("/accounts/{number}");
    let ip = fresh_address();
    let one = vk_launch(user(), fixed_now());

    for _ in 0..3 {
        let r = handle(&app, Event::new("GET", &path).vk(&one).source_ip(&ip).request()).await;
        assert_eq!(r.status(), 200);
    }
    let throttled = handle(&app, Event::new("GET", &path).vk(&one).source_ip(&ip).request()).await;
    assert_eq!(throttled.status(), 429);
    let problem = body_json(&throttled);
    assert_eq!(problem["type"], "/problems/too-many-requests");
    assert_eq!(problem["budget"], "user-per-minute");
    // Fixed clock at hh:mm:00 → the whole window is left.
    assert_eq!(throttled.headers()["retry-after"], "60");

    // Carrier NAT: two more verified users behind the same address, six requests past the
    // address's anonymous budget of five, each user within its own budget.
    for _ in 0..2 {
        let other = vk_launch(user(), fixed_now());
        for _ in 0..3 {
            let r = handle(&app, Event::new("GET", &path).vk(&other).source_ip(&ip).request()).await;
            assert_eq!(r.status(), 200, "a verified user is not counted by the address it shares");
        }
    }
    // A verified user is counted by who it is: another address is no fresh budget.
    let elsewhere = handle(&app, Event::new("GET", &path).vk(&one).source_ip(&fresh_address()).request()).await;
    assert_eq!(elsewhere.status(), 429, "the same user from another address is still over its budget");
}

#[tokio::test]
async fn anonymous_facebook_visitors_share_their_addresss_budget_and_another_address_has_its_own() {
    let mut app = app().await;
    // The page's budget is not what this test is about (tests/tests/enumeration.rs has it).
    app.edge.limits = ThrottleLimits { address_per_minute: 5, page_per_minute: u64::MAX, ..ThrottleLimits::default() };
    let number = imported("-1").await;
    let path = format!("/accounts/{number}");
    let ip = fresh_address();
    // Every visitor who never authorised the app is the page's anonymous caller.
    let visitor = fb_signed_request(None, fixed_now());

    for _ in 0..5 {
        let r = handle(&app, Event::new("GET", &path).fb(&visitor).source_ip(&ip).request()).await;
        assert_eq!(r.status(), 200, "{}", body_json(&r));
    }
    let throttled = handle(&app, Event::new("GET", &path).fb(&visitor).source_ip(&ip).request()).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(body_json(&throttled)["budget"], "address-per-minute");
    assert_eq!(throttled.headers()["retry-after"], "60");
    let elsewhere = handle(&app, Event::new("GET", &path).fb(&visitor).source_ip(&fresh_address()).request()).await;
    assert_eq!(elsewhere.status(), 200, "another address has a budget of its own");

    // A visitor who authorised the app is a user of its own, not the page's anonymous caller.
    let member = fb_signed_request(Some(&user().to_string()), fixed_now());
    let r = handle(&app, Event::new("GET", &path).fb(&member).source_ip(&ip).request()).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
}

#[tokio::test]
async fn a_signed_request_of_another_facebook_page_is_401() {
    let app = app().await;
    let number = imported("-1").await;
    let member = user().to_string();
    let other_page = fb_signed_request_on("100000000000001", Some(&member), fixed_now());
    let response = handle(&app, Event::new("GET", &format!("/accounts/{number}")).fb(&other_page).request()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body_json(&response)["type"], "/problems/unauthenticated");
    let ours = fb_signed_request(Some(&member), fixed_now());
    let response = handle(&app, Event::new("GET", &format!("/accounts/{number}")).fb(&ours).request()).await;
    assert_eq!(response.status(), 200);
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

/// A database that takes the connection and never answers (a half-open connection, a node that
/// hangs) ends in a 503 within the store's operation timeout, not in a function held until AWS
/// ends it with no answer.
#[tokio::test]
async fn a_database_that_never_answers_is_503_within_the_operation_timeout() {
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let endpoint = format!("http://{}", hole.local_addr().expect("its address"));
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = hole.accept().await {
            held.push(connection);
        }
    });
    let config = aws_config::from_env().endpoint_url(endpoint).load().await;
    let app = App { store: energosbyt::store::DynamoStore::from_sdk_config(&config, "nowhere"), edge: edge() };
    let request = Event::new("GET", "/accounts/1000000001").vk(&vk_launch(user(), fixed_now()));
    let started = std::time::Instant::now();
    let response =
        tokio::time::timeout(energosbyt::store::DynamoStore::OPERATION_TIMEOUT * 3, handle(&app, request.request()))
            .await;
    let response = response.expect("the look-up ended instead of waiting for the database forever");
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() >= energosbyt::store::DynamoStore::ATTEMPT_TIMEOUT,
        "the store gave up before its attempt timeout: {:?}",
        started.elapsed()
    );
    holding.abort();
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
async fn a_look_up_costs_two_dynamodb_requests_each_logged_with_its_latency() {
    let app = app().await;
    let number = imported("-1").await;
    let before = app.store.outside_calls().requests();
    let response =
        handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&vk_launch(user(), fixed_now())).request())
            .await;
    assert_eq!(response.status(), 200);
    // One throttle counter (the user's item holds every budget of the user; a verified user is not
    // counted by address) and one read of the account with this month's readings, side by side.
    assert_eq!(app.store.outside_calls().requests() - before, 2);
}

/// What the look-up's DynamoDB client sent and received, in order: the operation of each request
/// as it leaves, `received` as each answer arrives.
#[derive(Clone, Debug, Default)]
struct Sequence(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_dynamodb::config::Intercept for Sequence {
    fn name(&self) -> &'static str {
        "Sequence"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        self.0.lock().unwrap().push(target.rsplit('.').next().unwrap_or(target).to_owned());
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.lock().unwrap().push("received".to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn the_throttle_counter_is_written_while_the_account_is_read_not_before_it() {
    let number = imported("-1").await;
    let sequence = Sequence::default();
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(sequence.clone()).build(),
    );
    let app = App { store: energosbyt::store::DynamoStore::new(client, env("TABLE_NAME")), edge: edge() };

    let response =
        handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&vk_launch(user(), fixed_now())).request())
            .await;

    assert_eq!(response.status(), 200);
    let seen = sequence.0.lock().unwrap().clone();
    // Both requests are out before either answer is in: one round trip, not two in a row.
    let mut sent = seen[..2].to_vec();
    sent.sort();
    assert_eq!(sent, ["Query", "UpdateItem"], "{seen:?}");
    assert_eq!(seen[2..], ["received", "received"], "{seen:?}");
}

#[tokio::test]
async fn a_request_refused_before_any_read_is_still_counted_so_garbage_cannot_outrun_the_budget() {
    let mut app = app().await;
    app.edge.limits = ThrottleLimits { user_per_minute: 3, ..ThrottleLimits::default() };
    let launch = vk_launch(user(), fixed_now());
    let ip = fresh_address();
    for _ in 0..3 {
        let bad = handle(&app, Event::new("GET", "/accounts/12345-678").vk(&launch).source_ip(&ip).request()).await;
        assert_eq!(bad.status(), 400, "the caller's mistake, within its budget");
    }
    let over = handle(&app, Event::new("GET", "/accounts/12345-678").vk(&launch).source_ip(&ip).request()).await;
    assert_eq!(over.status(), 429, "the fourth request of the minute, malformed or not");
    let number = imported("-1").await;
    let good =
        handle(&app, Event::new("GET", &format!("/accounts/{number}")).vk(&launch).source_ip(&ip).request()).await;
    assert_eq!(good.status(), 429, "the minute is spent");
}
