//! Readings reminders against DynamoDB Local, the VK API stand-in and the real handler: a VK user
//! turns a reminder on and off (anyone else is refused), the scheduled send reminds everyone who
//! asked in calls of at most 100 users, never twice, not those who turned it off, and on the
//! closing day not those whose account has readings this month; VK's transient refusals are
//! retried, and a send VK never took is sent by the next run.
//!
//! The send reads every user with reminders in the table, so these tests run one at a time and
//! each starts from a table with none.

use chrono::{DateTime, TimeZone, Utc};
use energosbyt::app::reminders::{self, SendReport};
use energosbyt::domain::AccountNumber;
use energosbyt::ports::AccountImport;
use energosbyt::ports::reminders::ReminderSubscriptions;
use energosbyt::store::DynamoStore;
use energosbyt::vk::{VkNotifier, VkSettings};
use integration_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The window's first day and the day before it closes, in Moscow, in a month of their own.
fn opening_day(month: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, month, 15, 7, 0, 0).unwrap()
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

fn vk() -> VkNotifier {
    let settings =
        VkSettings { api_url: env("VK_API_URL"), timeout: Duration::from_secs(5), backoff: Duration::from_millis(20) };
    VkNotifier::new(settings, demo_secrets()).unwrap()
}

async fn stand_in(path: &str, body: Value) {
    let url = format!("{}/stand-in/{path}", env("VK_API_URL"));
    let answer = reqwest::Client::new().post(url).json(&body).send().await.expect("the VK API stand-in is running");
    assert!(answer.status().is_success());
}

/// Every call the stand-in took since the last reset: the users of each.
async fn calls() -> Vec<Vec<u64>> {
    let url = format!("{}/stand-in/sent", env("VK_API_URL"));
    let sent: Vec<Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    sent.iter().map(|call| call["userIds"].as_array().unwrap().iter().map(|u| u.as_u64().unwrap()).collect()).collect()
}

/// No reminders in the table, nothing recorded at the stand-in.
async fn clean_slate(store: &DynamoStore) {
    for subscriber in store.subscribers().await.unwrap() {
        for account in &subscriber.accounts {
            store.unsubscribe(subscriber.vk_user, account).await.unwrap();
        }
    }
    stand_in("reset", json!({})).await;
}

async fn send(store: &DynamoStore, now: DateTime<Utc>) -> SendReport {
    reminders::send_due(store, &vk(), now).await.unwrap()
}

#[tokio::test]
async fn given_250_users_with_reminders_when_the_window_opens_twice_then_vk_gets_3_calls_of_at_most_100_and_nobody_twice()
 {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    let users: Vec<u64> = (0..250).map(|_| user()).collect();
    for user in &users {
        store.subscribe(*user, &fresh_account_number(), 5).await.unwrap();
    }

    let first = send(&store, opening_day(1)).await;
    let second = send(&store, opening_day(1) + chrono::Duration::hours(2)).await;

    let calls = calls().await;
    assert_eq!(calls.len(), 3, "{first:?}");
    assert!(calls.iter().all(|call| call.len() <= 100));
    let mut reminded: Vec<u64> = calls.concat();
    reminded.sort_unstable();
    let mut expected = users.clone();
    expected.sort_unstable();
    assert_eq!(reminded, expected, "each user exactly once");
    assert_eq!((first.sent, first.calls), (250, 3));
    assert_eq!((second.sent, second.already_sent, second.calls), (0, 250, 0));
}

#[tokio::test]
async fn given_a_user_who_turned_the_reminder_off_when_the_window_opens_then_only_the_others_are_reminded() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    let (stays, leaves) = (user(), user());
    let account = fresh_account_number();
    for user in [stays, leaves] {
        store.subscribe(user, &account, 5).await.unwrap();
    }
    store.unsubscribe(leaves, &account).await.unwrap();

    send(&store, opening_day(2)).await;

    assert_eq!(calls().await, vec![vec![stays]]);
}

#[tokio::test]
async fn given_a_day_between_the_reminders_when_the_send_runs_then_nobody_is_reminded() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    store.subscribe(user(), &fresh_account_number(), 5).await.unwrap();

    let report = send(&store, Utc.with_ymd_and_hms(2031, 3, 20, 7, 0, 0).unwrap()).await;

    assert_eq!(report, SendReport::default());
    assert!(calls().await.is_empty());
}

/// An account whose meter takes readings all month, as the look-up test's.
async fn account_with_meter() -> AccountNumber {
    tariffs_loaded().await;
    let number = fresh_account_number();
    let meter = meter(json!({
        "id": "CE101-5512", "serial": "5512", "zoneSet": "single", "digits": 6, "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 1000, "date": "2026-10-20"}}
    }));
    store()
        .await
        .import_account(&account_with_all_zone_prices(number, "0.00", vec![meter]), fixed_now())
        .await
        .unwrap();
    number
}

async fn hand_in_readings(number: &AccountNumber, user: u64) {
    let app = submit_readings::App::new(store().await, edge());
    let event = Event::new("POST", &format!("/accounts/{number}/readings"))
        .vk(&vk_launch(user, fixed_now()))
        .body(&json!({"meterId": "5512", "values": {"T1": 1100}}));
    let response = submit_readings::handle(&app, event.request()).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
}

#[tokio::test]
async fn given_the_day_before_the_window_closes_when_the_send_runs_then_users_who_handed_in_readings_are_skipped() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    let (handed_in, forgot, one_of_two) = (user(), user(), user());
    let (done, pending) = (account_with_meter().await, account_with_meter().await);
    hand_in_readings(&done, handed_in).await;
    store.subscribe(handed_in, &done, 5).await.unwrap();
    store.subscribe(forgot, &pending, 5).await.unwrap();
    store.subscribe(one_of_two, &done, 5).await.unwrap();
    store.subscribe(one_of_two, &pending, 5).await.unwrap();
    // The readings were handed in in November 2026 (the tests' fixed clock): its 25th, Moscow.
    let closing = Utc.with_ymd_and_hms(2026, 11, 25, 7, 0, 0).unwrap();

    let report = send(&store, closing).await;

    let mut reminded = calls().await.concat();
    reminded.sort_unstable();
    let mut expected = vec![forgot, one_of_two];
    expected.sort_unstable();
    assert_eq!(reminded, expected);
    assert_eq!(report.skipped_with_readings, 1);
}

#[tokio::test]
async fn given_vk_failing_once_then_for_good_when_the_send_runs_then_it_retries_and_a_later_run_sends_what_vk_never_took()
 {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    let (first, second) = (user(), user());
    store.subscribe(first, &fresh_account_number(), 5).await.unwrap();

    stand_in("faults", json!({"times": 1, "code": 6})).await;
    let retried = send(&store, opening_day(4)).await;
    assert_eq!((retried.sent, retried.calls), (1, 1));
    assert_eq!(calls().await, vec![vec![first]]);

    store.subscribe(second, &fresh_account_number(), 5).await.unwrap();
    stand_in("faults", json!({"times": 3, "code": 10})).await;
    let failed = reminders::send_due(&store, &vk(), opening_day(4)).await;
    assert!(failed.is_err(), "{failed:?}");
    let again = send(&store, opening_day(4)).await;

    assert_eq!(calls().await, vec![vec![first], vec![second]]);
    assert_eq!((again.sent, again.already_sent), (1, 1));
}

#[tokio::test]
async fn given_a_user_refusing_notifications_when_reminded_then_vk_s_refusal_is_counted_and_the_others_are_sent() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    clean_slate(&store).await;
    let (refusing, willing) = (user(), user());
    for user in [refusing, willing] {
        store.subscribe(user, &fresh_account_number(), 5).await.unwrap();
    }
    stand_in("refuse", json!({"userIds": [refusing]})).await;

    let report = send(&store, opening_day(5)).await;

    assert_eq!((report.sent, report.refused), (1, 1));
}

// The endpoints.

async fn call(event: Event) -> (u16, Value) {
    let app = account_reminder::App { store: store().await, edge: edge() };
    let response = account_reminder::handle(&app, event.request()).await;
    (response.status().as_u16(), body_json(&response))
}

fn as_vk(method: &str, number: &AccountNumber, user: u64) -> Event {
    Event::new(method, &format!("/accounts/{number}/reminder")).vk(&vk_launch(user, fixed_now()))
}

#[tokio::test]
async fn given_a_vk_user_when_they_turn_a_reminder_on_and_off_then_each_answer_says_so_and_the_store_agrees() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    let (number, me) = (fresh_account_number(), user());

    let on = call(as_vk("PUT", &number, me)).await;
    let shown = call(as_vk("GET", &number, me)).await;
    let stored = store.reminded_accounts(me).await.unwrap();
    let off = call(as_vk("DELETE", &number, me)).await;
    let gone = store.reminded_accounts(me).await.unwrap();

    assert_eq!(on, (200, json!({"account": number.to_string(), "reminder": true})));
    assert_eq!(shown.1["reminder"], true);
    assert_eq!(stored, vec![number]);
    assert_eq!(off, (200, json!({"account": number.to_string(), "reminder": false})));
    assert!(gone.is_empty());
}

#[tokio::test]
async fn given_a_facebook_caller_when_they_ask_for_a_reminder_then_it_is_403_in_russian() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let number = fresh_account_number();
    let event = Event::new("PUT", &format!("/accounts/{number}/reminder"))
        .fb(&fb_signed_request(Some("1029384756"), fixed_now()));

    let (status, body) = call(event).await;

    assert_eq!(status, 403);
    assert!(body["type"].as_str().unwrap().ends_with("/reminders-need-vk"), "{body}");
    assert!(body["title"].as_str().unwrap().contains("ВКонтакте"));
}

#[tokio::test]
async fn given_five_accounts_reminded_when_a_sixth_is_asked_for_then_it_is_409_and_an_old_one_still_answers_200() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let me = user();
    let accounts: Vec<AccountNumber> = (0..6).map(|_| fresh_account_number()).collect();
    for number in &accounts[..5] {
        assert_eq!(call(as_vk("PUT", number, me)).await.0, 200);
    }

    let sixth = call(as_vk("PUT", &accounts[5], me)).await;
    let again = call(as_vk("PUT", &accounts[0], me)).await;

    assert_eq!(sixth.0, 409, "{}", sixth.1);
    assert_eq!(sixth.1["limit"], 5);
    assert_eq!(again.0, 200);
}

/// The reminder endpoint on an instance of its own whose throttle counter answers late, with a
/// budget of one account a day: whatever it did before the verdict came has happened by then.
async fn call_with_slow_counters(event: Event) -> (u16, Value) {
    let mut app =
        account_reminder::App { store: store_with_slow_counters(Duration::from_millis(800)).await, edge: edge() };
    app.edge.limits.user_accounts_per_day = 1;
    let response = account_reminder::handle(&app, event.request()).await;
    (response.status().as_u16(), body_json(&response))
}

#[tokio::test]
async fn given_a_user_over_the_daily_accounts_budget_when_they_turn_a_reminder_on_or_off_then_429_and_nothing_changes()
{
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = store().await;
    let (first, kept, never, me) = (fresh_account_number(), fresh_account_number(), fresh_account_number(), user());
    store.subscribe(me, &kept, 5).await.unwrap();
    assert_eq!(call_with_slow_counters(as_vk("GET", &first, me)).await.0, 200, "the day's one account");

    let on = call_with_slow_counters(as_vk("PUT", &never, me)).await;
    let off = call_with_slow_counters(as_vk("DELETE", &kept, me)).await;

    for (status, body) in [&on, &off] {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["budget"], "user-accounts-per-day");
    }
    assert_eq!(store.reminded_accounts(me).await.unwrap(), vec![kept], "nothing turned on or off");
}
