//! A stranger who knows only an account number, against DynamoDB Local, the acquirer sandbox and
//! the real handlers: they can pay the account, but can neither read the meter's full number nor
//! this month's figures (look-up as another VK user or as a Facebook page visitor, payment
//! status), nor change the figures (the masked number, guessed numbers until the account's budget
//! is spent, the right number over another user's submission, an anonymous page visit), nor get
//! them mailed by paying with the submission's id. The customer who handed them in still sees and
//! corrects them.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use energosbyt::config::Env;
use energosbyt::domain::AccountNumber;
use energosbyt::edge::auth::{Secret, facebook};
use energosbyt::ports::AccountImport;
use energosbyt::ports::readings::{ReadingsLookup, ReadingsWriter, SubmittedReadings};
use energosbyt::store::DynamoStore;
use integration_tests::*;
use serde_json::{Value, json};
use std::cell::Cell;

/// The number printed on the owner's meter, and the utility's id it is part of.
const SERIAL: &str = "3391024";
const METER_ID: &str = "Меркурий200-3391024";
const MASKED: &str = "Меркурий200-***024";

thread_local! {
    static NOW: Cell<DateTime<Utc>> = Cell::new(fixed_now());
}

fn clock() -> DateTime<Utc> {
    NOW.with(Cell::get)
}

fn edge_at_test_clock() -> energosbyt::edge::MiniAppEdge {
    let mut edge = edge();
    edge.clock = clock;
    edge
}

async fn readings_app() -> submit_readings::App<DynamoStore> {
    submit_readings::App::new(store().await, edge_at_test_clock())
}

async fn lookup_app() -> account_lookup::App<DynamoStore> {
    account_lookup::App { store: store().await, edge: edge_at_test_clock() }
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

/// Who calls: a VK user, a Facebook user who authorised the app, or a page visitor who did not.
#[derive(Clone, Copy)]
enum Caller {
    Vk(u64),
    Facebook(u64),
    FacebookVisitor,
}

impl Caller {
    fn sign(self, event: Event) -> Event {
        let at = clock();
        let fb = |payload: Value| format!("FB {}", facebook::sign(&payload, &Secret::from(env("FB_APP_SECRET"))));
        match self {
            Caller::Vk(id) => event.vk(&vk_launch(id, at)),
            Caller::Facebook(id) => event.header(
                "authorization",
                &fb(json!({"algorithm": "HMAC-SHA256", "issued_at": at.timestamp(), "user_id": id.to_string(),
                           "page": {"id": "118745708161011"}})),
            ),
            Caller::FacebookVisitor => event.header(
                "authorization",
                &fb(json!({"algorithm": "HMAC-SHA256", "issued_at": at.timestamp(),
                           "page": {"id": "118745708161011"}, "user": {"country": "ru", "locale": "ru_RU"}})),
            ),
        }
    }
}

/// An account of the tests' own tariff group with one two-zone meter whose export gives its serial
/// apart, taking readings all month.
async fn account_with_meter() -> AccountNumber {
    tariffs_loaded().await;
    let number = fresh_account_number();
    let meter = meter(json!({
        "id": METER_ID, "serial": SERIAL, "zoneSet": "twoZone", "digits": 6, "window": {"fromDay": 1, "toDay": 31},
        "lastReadings": {"T1": {"value": 18230, "date": "2026-10-20"}, "T2": {"value": 7410, "date": "2026-10-20"}}
    }));
    store()
        .await
        .import_account(&account_with_all_zone_prices(number, "-100.00", vec![meter]), fixed_now())
        .await
        .unwrap();
    number
}

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

async fn submit(number: &AccountNumber, caller: Caller, body: Value) -> Answer {
    let event = caller.sign(Event::new("POST", &format!("/accounts/{number}/readings"))).body(&body);
    let response = submit_readings::handle(&readings_app().await, event.request()).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    Answer { status: response.status().as_u16(), body: body_json(&response), retry_after }
}

async fn look_up(number: &AccountNumber, caller: Caller) -> Value {
    let event = caller.sign(Event::new("GET", &format!("/accounts/{number}")));
    let response = account_lookup::handle(&lookup_app().await, event.request()).await;
    assert_eq!(response.status(), 200);
    body_json(&response)
}

/// The meter's whole id, as earlier clients send it (and as the code before the proof of presence
/// took it, so these attacks reach the rules they test there too).
fn readings(values: (u64, u64)) -> Value {
    json!({"meterId": METER_ID, "values": {"T1": values.0, "T2": values.1}})
}

/// The number printed on the meter, as a customer types it.
fn typed(number: &str, values: (u64, u64)) -> Value {
    json!({"meterId": number, "values": {"T1": values.0, "T2": values.1}})
}

/// The meter's number in any form, or the figures, anywhere in an answer.
fn assert_reveals_nothing(answer: &Value, figures: &[&str], context: &str) {
    let text = answer.to_string();
    for secret in [SERIAL, METER_ID].iter().chain(figures) {
        assert!(!text.contains(secret), "{context}: {secret:?} is in {text}");
    }
}

fn stored(number: &AccountNumber, id: &str) -> impl std::future::Future<Output = Option<SubmittedReadings>> {
    let (number, id) = (*number, id.to_owned());
    async move { store().await.readings_by_id(&number, &id.parse().unwrap()).await.unwrap() }
}

#[tokio::test]
async fn given_only_the_account_number_when_a_stranger_looks_up_then_the_number_is_masked_and_the_figures_hidden() {
    let number = account_with_meter().await;
    let owner = Caller::Vk(user());
    let accepted = submit(&number, owner, readings((18_350, 7_490))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let readings_id = accepted.body["readingsId"].as_str().unwrap().to_owned();
    // Day 120 × 9.61 = 1153.20; night 80 × 4.15 = 332.00; with the debt of 100.00: 1585.20.
    let figures = ["18350", "7490", "1485.20", readings_id.as_str()];

    for (who, caller) in [("another VK user", Caller::Vk(user())), ("a Facebook page visitor", Caller::FacebookVisitor)]
    {
        let seen = look_up(&number, caller).await;
        let meter = &seen["meters"][0];
        assert_eq!((meter["ref"].clone(), meter["number"].clone()), (json!(1), json!(MASKED)), "{who}");
        assert_eq!(meter["submitted"], json!({"byYou": false, "submittedOn": "2026-11-20"}), "{who}");
        // What anyone needs to pay stays.
        assert_eq!(
            (seen["chargedByReadings"].clone(), seen["amountDue"].clone()),
            (json!("1485.20"), json!("1585.20"))
        );
        assert_reveals_nothing(&json!({"meters": seen["meters"]}), &figures, who);
    }

    let mine = look_up(&number, owner).await;
    let meter = &mine["meters"][0];
    assert_eq!(meter["number"], MASKED, "not even the owner gets the full number back");
    assert_eq!(meter["submitted"]["byYou"], true);
    assert_eq!(meter["submitted"]["values"], json!({"T1": 18350, "T2": 7490}));
    assert_eq!(meter["submitted"]["readingsId"], readings_id.as_str());
    assert_eq!(meter["submitted"]["charge"], "1485.20");
    assert_reveals_nothing(&mine, &[], "the owner's look-up");
    // The answer echoes what the owner typed, and nothing more of the meter's number.
    assert_eq!(accepted.body["meterId"], readings((0, 0))["meterId"]);
    let mut answer = accepted.body.clone();
    answer.as_object_mut().unwrap().remove("meterId");
    assert_reveals_nothing(&answer, &[], "the owner's accepted readings");
}

#[tokio::test]
async fn given_the_masked_number_or_guesses_when_a_stranger_submits_then_5_are_refused_and_then_even_the_right_one() {
    let number = account_with_meter().await;
    let stranger = Caller::Vk(user());
    NOW.with(|now| now.set(fixed_now()));

    // The masked number, then guesses at the hidden digits: each refused, the budget counting down.
    let guesses = [MASKED, "3390024", "Меркурий200-3392024", "№ 339 3024", "0000024"];
    for (i, guess) in guesses.iter().enumerate() {
        let refused = submit(&number, stranger, json!({"meterId": guess, "values": {"T1": 28_000, "T2": 9_000}})).await;
        assert_eq!(refused.status, 422, "{guess}: {}", refused.body);
        assert_eq!(refused.body["type"], "/problems/meter-number-wrong");
        assert!(refused.body["title"].as_str().unwrap().starts_with("Номер счётчика не совпадает"));
        assert_eq!(refused.body["attemptsLeft"], 4 - i as u64);
        assert_reveals_nothing(&refused.body, &[], guess);
    }

    // The sixth wrong number, and then the right one, from anyone: 429 until Moscow midnight
    // (15:00 Moscow now: 9 hours).
    let sixth = json!({"meterId": "3394024", "values": {"T1": 28_000, "T2": 9_000}});
    for (what, caller, body) in [
        ("a sixth guess", stranger, sixth),
        ("the right number", stranger, typed(SERIAL, (28_000, 9_000))),
        ("a customer at the meter", Caller::Vk(user()), typed(SERIAL, (18_350, 7_490))),
    ] {
        let spent = submit(&number, caller, body).await;
        assert_eq!(spent.status, 429, "{what}: {}", spent.body);
        assert_eq!(spent.body["type"], "/problems/meter-number-attempts-exhausted", "{what}");
        assert_eq!(spent.retry_after.as_deref(), Some("32400"), "{what}");
    }
    let seen = look_up(&number, stranger).await;
    assert!(seen["meters"][0].get("submitted").is_none(), "nothing was stored: {seen}");

    // The next Moscow day the owner hands readings in.
    NOW.with(|now| now.set(Utc.with_ymd_and_hms(2026, 11, 20, 21, 0, 0).unwrap()));
    let accepted = submit(&number, Caller::Vk(user()), typed("№ 339 10 24", (18_350, 7_490))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

/// A stranger can spend the account's day of wrong numbers, but not lock out the customer whose
/// readings of the meter stand: typing its number again proves nothing new, so they still correct
/// their figures. Anyone else, the stranger with the right number included, is still refused.
#[tokio::test]
async fn given_the_budget_spent_by_a_stranger_when_the_owner_corrects_their_readings_then_they_are_accepted() {
    let number = account_with_meter().await;
    let (owner, stranger) = (Caller::Vk(user()), Caller::Vk(user()));
    NOW.with(|now| now.set(fixed_now()));
    let first = submit(&number, owner, typed(SERIAL, (18_350, 7_490))).await;
    assert_eq!(first.status, 200, "{}", first.body);

    for guess in ["3390024", "3392024", "3393024", "3394024", "3395024", "3396024"] {
        let refused = submit(&number, stranger, typed(guess, (28_000, 9_000))).await;
        assert!(matches!(refused.status, 422 | 429), "{guess}: {}", refused.body);
    }
    for (what, caller) in [("the stranger", stranger), ("another customer", Caller::Vk(user()))] {
        let spent = submit(&number, caller, typed(SERIAL, (28_000, 9_000))).await;
        assert_eq!(spent.status, 429, "{what}: {}", spent.body);
        assert_eq!(spent.body["type"], "/problems/meter-number-attempts-exhausted", "{what}");
    }

    let corrected = submit(&number, owner, typed(SERIAL, (18_360, 7_495))).await;
    assert_eq!(corrected.status, 200, "the owner corrects: {}", corrected.body);
    assert_eq!(corrected.body["values"], json!({"T1": 18_360, "T2": 7_495}));
    assert_eq!(corrected.body["version"], 2);
    // A wrong number from the owner is still a wrong number, and the day's budget is spent.
    let wrong = submit(&number, owner, typed("3397024", (18_360, 7_495))).await;
    assert_eq!(wrong.status, 429, "{}", wrong.body);
}

#[tokio::test]
async fn given_readings_handed_in_by_one_user_when_another_sends_the_right_number_then_409_and_the_figures_stay() {
    let number = account_with_meter().await;
    let owner = Caller::Vk(user());
    let first = submit(&number, owner, readings((18_350, 7_490))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let id = first.body["readingsId"].as_str().unwrap().to_owned();

    // Other figures, the same figures (which would confirm a guess), from VK and from Facebook.
    for (what, caller, body) in [
        ("other figures", Caller::Vk(user()), readings((28_000, 9_000))),
        ("the same figures", Caller::Vk(user()), readings((18_350, 7_490))),
        ("a Facebook user", Caller::Facebook(user()), typed("меркурий 200 3391024", (28_000, 9_000))),
        ("the serial", Caller::Vk(user()), typed(SERIAL, (28_000, 9_000))),
    ] {
        let refused = submit(&number, caller, body).await;
        assert_eq!(refused.status, 409, "{what}: {}", refused.body);
        assert_eq!(refused.body["type"], "/problems/readings-submitted-by-another", "{what}");
        assert_eq!(refused.body["title"], "Показания этого счётчика за месяц уже переданы");
        assert_reveals_nothing(&refused.body, &["18350", "7490", id.as_str(), "vk:"], what);
    }
    let kept = stored(&number, &id).await.expect("the owner's submission stands");
    assert_eq!((kept.accepted.values.values().copied().collect::<Vec<_>>(), kept.version), (vec![18_350, 7_490], 1));

    // A typo after a day of right numbers is one wrong number, not the day's budget.
    let typo = submit(&number, owner, typed("3391042", (18_400, 7_500))).await;
    assert_eq!((typo.status, typo.body["attemptsLeft"].clone()), (422, json!(4)), "{}", typo.body);

    // The owner corrects them, typing the number off the meter, and sees the correction.
    let corrected = submit(&number, owner, typed(SERIAL, (18_400, 7_500))).await;
    assert_eq!((corrected.status, corrected.body["version"].clone()), (200, json!(2)), "{}", corrected.body);
    assert_eq!(look_up(&number, owner).await["meters"][0]["submitted"]["values"], json!({"T1": 18400, "T2": 7500}));
}

#[tokio::test]
async fn given_two_instances_racing_when_another_users_submission_is_saved_over_the_owners_then_the_write_refuses_it() {
    // The handler refuses another user's submission when it reads the owner's; an instance that
    // read the account before the owner's write landed reaches the store, whose condition holds.
    let number = account_with_meter().await;
    let owner = Caller::Vk(user());
    let first = submit(&number, owner, readings((18_350, 7_490))).await;
    let id = first.body["readingsId"].as_str().unwrap().to_owned();
    let owners = stored(&number, &id).await.unwrap();
    let mut accepted = owners.accepted.clone();
    accepted.values.insert(energosbyt::domain::Zone::T1, 28_000);
    let theirs = SubmittedReadings::new(
        number,
        owners.billing_month,
        accepted,
        owners.charge.clone(),
        format!("vk:{}", user()).parse().unwrap(),
        fixed_now(),
    );

    let outcome = store().await.save_readings(&theirs).await.unwrap();

    assert!(format!("{outcome:?}").contains("HandedInByAnother"), "{outcome:?}");
    assert_eq!(stored(&number, &id).await, Some(owners), "the owner's submission was overwritten");
}

#[tokio::test]
async fn given_a_facebook_page_visitor_who_never_logged_in_when_readings_are_handed_in_then_403_asking_to_log_in() {
    let number = account_with_meter().await;

    let refused = submit(&number, Caller::FacebookVisitor, readings((18_350, 7_490))).await;

    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["type"], "/problems/readings-need-login");
    assert_eq!(refused.body["title"], "Чтобы передать показания, войдите в приложение");
    let seen = look_up(&number, Caller::FacebookVisitor).await;
    assert!(seen["meters"][0].get("submitted").is_none(), "nothing was stored: {seen}");
    // A Facebook user who authorised the app hands readings in.
    let fb_user = Caller::Facebook(user());
    assert_eq!(submit(&number, fb_user, readings((18_350, 7_490))).await.status, 200);
    assert_eq!(look_up(&number, fb_user).await["meters"][0]["submitted"]["byYou"], true);
}

#[tokio::test]
async fn given_a_submission_stored_under_the_pages_shared_visitor_id_when_a_visitor_looks_up_then_it_is_not_theirs() {
    // Before visitors were refused, a submission could be stored under the id all of a page's
    // visitors share: none of them is its owner.
    let number = account_with_meter().await;
    let first = submit(&number, Caller::Vk(user()), readings((18_350, 7_490))).await;
    let id = first.body["readingsId"].as_str().unwrap().to_owned();
    let store = store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("ACCOUNT#{}", number.digits())))
        .key("SK", AttributeValue::S(format!("READING#{METER_ID}#2026-11")))
        .update_expression("SET caller = :shared")
        .condition_expression("readingsId = :id")
        .expression_attribute_values(":shared", AttributeValue::S("fb:page:118745708161011:anon".into()))
        .expression_attribute_values(":id", AttributeValue::S(id.clone()))
        .send()
        .await
        .unwrap();

    let seen = look_up(&number, Caller::FacebookVisitor).await;

    assert_eq!(seen["meters"][0]["submitted"]["byYou"], false, "{seen}");
    assert_reveals_nothing(&json!({"meters": seen["meters"]}), &["18350", "7490", id.as_str()], "a page visitor");
}

#[tokio::test]
async fn given_the_owners_readings_id_when_a_stranger_pays_with_it_then_it_is_refused_as_unknown_and_paying_stays_open()
{
    // The sandbox checks the form's deadline against its own clock: everything here runs on it.
    NOW.with(|now| now.set(Utc::now()));
    let number = account_with_meter().await;
    let owner = Caller::Vk(user());
    let accepted = submit(&number, owner, readings((18_350, 7_490))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let readings_id = accepted.body["readingsId"].as_str().unwrap().to_owned();
    let amount = accepted.body["amountToPay"].as_str().unwrap().to_owned();
    let mut pay_edge = edge_at_test_clock();
    pay_edge.clock = Utc::now;
    let pay = pay::App {
        store: store().await,
        acquirer: energosbyt::acquirer::TbankClient::new(
            energosbyt::acquirer::TbankSettings::from_env().unwrap(),
            demo_secrets(),
        )
        .unwrap(),
        edge: pay_edge,
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&Env::process()).unwrap(),
    };
    let post = |caller: Caller, readings_id: Option<&str>| {
        let mut body = json!({"account": number.to_string(), "amount": amount, "email": "stranger@example.ru"});
        if let Some(id) = readings_id {
            body["readingsId"] = json!(id);
        }
        caller
            .sign(Event::new("POST", "/payments"))
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .body(&body)
            .request()
    };

    // With the owner's readings: the success email would list them. Refused as an unknown id.
    for stranger in [Caller::Vk(user()), Caller::FacebookVisitor] {
        let refused = pay::handle(&pay, post(stranger, Some(&readings_id))).await;
        assert_eq!(refused.status(), 400);
        let body = body_json(&refused);
        assert_eq!(body["type"], "/problems/invalid-readings-id");
        let unknown = pay::handle(&pay, post(stranger, Some("2026-11-00000000-000000000000"))).await;
        assert_eq!(body_json(&unknown), body, "the owner's id and an unknown one answer alike");
    }

    // Paying the account is open to anyone, and neither answer tells the figures or the number.
    let stranger = Caller::Vk(user());
    let created = pay::handle(&pay, post(stranger, None)).await;
    assert_eq!(created.status(), 201, "{}", body_json(&created));
    let created = body_json(&created);
    assert_reveals_nothing(&created, &["18350", "7490", readings_id.as_str()], "the payment");
    let path = format!("/payments/{}", created["paymentId"].as_str().unwrap());
    let status = pay::handle(&pay, stranger.sign(Event::new("GET", &path)).request()).await;
    assert_eq!(status.status(), 200);
    assert_reveals_nothing(&body_json(&status), &["18350", "7490", readings_id.as_str()], "the payment status");

    // The owner pays by their readings.
    let own = pay::handle(&pay, post(owner, Some(&readings_id))).await;
    assert_eq!(own.status(), 201, "{}", body_json(&own));
}
