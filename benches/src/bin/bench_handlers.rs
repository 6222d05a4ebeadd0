//! The handlers in-process against a bare call to what they wrap, alternated in one run so both
//! see the same machine load, DynamoDB Local heap and sandbox state:
//!
//! - `lookup`: `account_lookup::handle` (edge auth, the throttle — its counter `UpdateItem` only
//!   when the instance holds none of the caller's minute, `edge::throttle_lease` —, 1 Query, the
//!   view) against a `GetItem` of the same account's profile on the same client and table, and
//!   against the counter write joined with the Query (what a caller's first look-up of a minute
//!   waits for);
//! - `pay`: `pay::handle` (auth, throttle, account read, idempotency claim, `Init`, payment write,
//!   recorded answer) against `TbankClient::init` alone with the same body.
//!
//! Both need the test stack seeded with the demo data; `make bench` provides it. The throttle
//! limits are raised: the benchmark measures the counting, not the refusals.

use account_lookup::App as LookupApp;
use benches::{
    BenchError, Series, comparison_table, counted_dynamodb_client, env, gateway_event, request_of, vk_launch,
};
use chrono::Utc;
use clap::{Parser, Subcommand};
use energosbyt::acquirer::{Acquirer, TbankClient, TbankSettings};
use energosbyt::app::payment_registration::PaySettings;
use energosbyt::config::Env;
use energosbyt::domain::payment_request::PaymentRequest;
use energosbyt::domain::year_month::billing_month;
use energosbyt::domain::{AccountNumber, PaymentId};
use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::auth::Secret;
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::readings::AccountReadingsReader;
use energosbyt::ports::{RequestCounter, Tally};
use energosbyt::secrets::Secrets;
use energosbyt::store::DynamoStore;
use lambda_http::Body;
use pay::App as PayApp;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "The handlers against their bare baselines, against the local stand-ins")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// GET /accounts/{account} in-process against a bare GetItem.
    Lookup {
        /// Measured calls of each kind (after the warm-up).
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        #[arg(long, default_value_t = 200)]
        warmup: usize,
        #[arg(long, default_value = "10000-000-01")]
        account: String,
    },
    /// POST /payments in-process against the sandbox's Init alone.
    Pay {
        #[arg(long, default_value_t = 500)]
        calls: usize,
        #[arg(long, default_value_t = 50)]
        warmup: usize,
        #[arg(long, default_value = "10000-000-01")]
        account: String,
    },
    /// Prints VK launch parameters signed now, for load generators outside this process.
    Launch {
        #[arg(long, default_value_t = BENCH_USER)]
        user: u64,
    },
}

/// High enough that no benchmark call is refused; the counters are still written on every call.
const UNTHROTTLED: ThrottleLimits = ThrottleLimits::UNLIMITED;

/// One VK user for the whole run, as a busy customer would be: the same throttle items are updated.
const BENCH_USER: u64 = 700_001;

#[tokio::main]
async fn main() -> Result<(), BenchError> {
    match Cli::parse().bench {
        Bench::Lookup { calls, warmup, account } => lookup(calls, warmup, &account).await,
        Bench::Pay { calls, warmup, account } => pay(calls, warmup, &account).await,
        Bench::Launch { user } => {
            println!("{}", vk_launch(user, &env("VK_APP_ID")?, &Secret::from(env("VK_APP_SECRET")?), Utc::now()));
            Ok(())
        }
    }
}

/// The secret as the functions read it: from the stack's Secrets Manager stand-in.
async fn secrets() -> Result<Secrets, BenchError> {
    Secrets::from_env(&Env::process()).await.map_err(|e| BenchError::Config(e.to_string()))
}

fn edge(secrets: &Secrets) -> Result<MiniAppEdge, BenchError> {
    let mut edge = MiniAppEdge::from_env(&Env::process(), secrets).map_err(|e| BenchError::Config(e.to_string()))?;
    edge.limits = UNTHROTTLED;
    Ok(edge)
}

fn launch() -> Result<String, BenchError> {
    Ok(vk_launch(BENCH_USER, &env("VK_APP_ID")?, &Secret::from(env("VK_APP_SECRET")?), Utc::now()))
}

fn body_text(body: &Body) -> String {
    match body {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

async fn lookup(calls: usize, warmup: usize, account: &str) -> Result<(), BenchError> {
    let number: AccountNumber = account.parse().map_err(|e| BenchError::Config(format!("{account}: {e}")))?;
    let (client, count) = counted_dynamodb_client().await;
    let table = env("TABLE_NAME")?;
    let app = LookupApp { store: DynamoStore::new(client.clone(), table.clone()), edge: edge(&secrets().await?)? };
    let path = format!("/accounts/{account}");
    // Signed once: the launch stays fresh for the edge's AUTH_MAX_AGE_SECS, far longer than a run.
    let mut event = gateway_event("GET", "/accounts/{account}", &path, &launch()?);
    event["pathParameters"] = json!({ "account": account });

    let handler_call = async || {
        let request = request_of(&event)?;
        let before = count.requests();
        let started = Instant::now();
        let response = account_lookup::handle(&app, request).await;
        let elapsed = started.elapsed();
        if response.status() != 200 {
            return Err(BenchError::UnexpectedAnswer {
                what: "the look-up",
                status: response.status().as_u16(),
                expected: 200,
                body: body_text(response.body()),
            });
        }
        Ok((elapsed, count.requests() - before))
    };
    // The profile item of the account, keyed as the store keys it.
    let get_item = async || {
        let before = count.requests();
        let started = Instant::now();
        let found = client
            .get_item()
            .table_name(&table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("ACCOUNT#{}", number.digits())))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()))
            .send()
            .await
            .map_err(|e| {
                BenchError::Baseline(format!("GetItem failed: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
            })?;
        let elapsed = started.elapsed();
        if found.item.is_none() {
            return Err(BenchError::Baseline(format!("{account} is not in {table}: seed the demo data")));
        }
        Ok::<_, BenchError>((elapsed, count.requests() - before))
    };

    // A caller's first look-up of a minute through the store, without the edge and the view: the
    // counter write joined with the Query.
    let store_calls = async || {
        let before = count.requests();
        let started = Instant::now();
        let now = Utc::now();
        let (day_start, _) = energosbyt::edge::throttle::moscow_day(now);
        let minute_start = now.timestamp() / 60 * 60;
        let user_key = format!("accounts#user#vk:{BENCH_USER}");
        let counted = Some((number.digits(), u64::MAX));
        let tally = Tally { key: &user_key, day_start, minute_start, reserve: 1, account: counted };
        let (counted, found) =
            tokio::join!(app.store.tally(&tally), app.store.account_with_readings(&number, billing_month(now)));
        let elapsed = started.elapsed();
        match (counted, found) {
            (Ok(_), Ok(Some(_))) => Ok((elapsed, count.requests() - before)),
            _ => Err(BenchError::Baseline(format!("the store calls of {account} failed or found nothing"))),
        }
    };

    let mut handler = Series::new("`account_lookup::handle` (in-process)", calls);
    let mut bare_store = Series::new("the counter write joined with the Query (a first look-up's store calls)", calls);
    let mut baseline = Series::new("bare `GetItem` of the profile", calls);
    for _ in 0..warmup {
        handler_call().await?;
        store_calls().await?;
        get_item().await?;
    }
    let started = Instant::now();
    for i in 0..calls {
        // Rotating which goes first cancels any advantage of following another.
        for slot in 0..3 {
            match (i + slot) % 3 {
                0 => {
                    let (t, n) = handler_call().await?;
                    handler.record(t, n);
                }
                1 => {
                    let (t, n) = store_calls().await?;
                    bare_store.record(t, n);
                }
                _ => {
                    let (t, n) = get_item().await?;
                    baseline.record(t, n);
                }
            }
        }
    }
    report("look-up", &[&handler, &bare_store, &baseline], started.elapsed())
}

async fn pay(calls: usize, warmup: usize, account: &str) -> Result<(), BenchError> {
    let (client, count) = counted_dynamodb_client().await;
    let settings = PaySettings::from_env(&Env::process()).map_err(|e| BenchError::Config(e.to_string()))?;
    let secrets = secrets().await?;
    let acquirer =
        TbankClient::new(TbankSettings::from_env().map_err(|e| BenchError::Config(e.to_string()))?, secrets.clone())
            .map_err(|e| BenchError::Config(e.to_string()))?;
    let app = PayApp { store: DynamoStore::new(client, env("TABLE_NAME")?), acquirer, edge: edge(&secrets)?, settings };
    let body = json!({ "account": account, "amount": "100.00", "email": "bench@example.ru" }).to_string();
    let payment = PaymentRequest::from_json(body.as_bytes(), &app.settings.limits)
        .map_err(|e| BenchError::Config(format!("the benchmark payment is refused: {e}")))?;
    let mut event = gateway_event("POST", "/payments", "/payments", &launch()?);
    event["body"] = json!(body);

    let handler_call = async || {
        // A new key per call: a repeated key would measure the replay, not a payment.
        let mut event = event.clone();
        event["headers"]["idempotency-key"] = json!(format!("bench-{}", uuid::Uuid::new_v4()));
        let request = request_of(&event)?;
        let before = count.requests();
        let started = Instant::now();
        let response = pay::handle(&app, request).await;
        let elapsed = started.elapsed();
        if response.status() != 201 {
            return Err(BenchError::UnexpectedAnswer {
                what: "POST /payments",
                status: response.status().as_u16(),
                expected: 201,
                body: body_text(response.body()),
            });
        }
        Ok((elapsed, count.requests() - before))
    };
    let init_call = async || {
        let now = Utc::now();
        let deadline = app
            .settings
            .init
            .form_deadline(now)
            .map_err(|e| BenchError::Config(format!("no form can open now: {e}")))?;
        let init = energosbyt::app::payment_registration::init_request(
            &app.settings,
            &payment,
            &PaymentId::random(),
            now,
            deadline,
        )
        .map_err(|e| BenchError::Config(format!("the Init body cannot be built: {e}")))?;
        let started = Instant::now();
        app.acquirer.init(&init).await.map_err(|e| BenchError::Baseline(format!("Init failed: {e}")))?;
        Ok::<_, BenchError>((started.elapsed(), 0))
    };

    let mut handler = Series::new("`pay::handle` POST /payments (in-process)", calls);
    let mut baseline = Series::new("`TbankClient::init` alone (sandbox)", calls);
    for _ in 0..warmup {
        handler_call().await?;
        init_call().await?;
    }
    let started = Instant::now();
    for i in 0..calls {
        if i % 2 == 0 {
            let (t, n) = handler_call().await?;
            handler.record(t, n);
            let (t, n) = init_call().await?;
            baseline.record(t, n);
        } else {
            let (t, n) = init_call().await?;
            baseline.record(t, n);
            let (t, n) = handler_call().await?;
            handler.record(t, n);
        }
    }
    report("pay", &[&handler, &baseline], started.elapsed())
}

fn report(what: &str, series: &[&Series], elapsed: Duration) -> Result<(), BenchError> {
    let table = comparison_table(series).ok_or_else(|| BenchError::Config("no calls measured".into()))?;
    println!("{table}");
    println!(
        "{what}: measured phase {:.1} s, calls interleaved one by one, sequential (one in flight)",
        elapsed.as_secs_f64()
    );
    Ok(())
}
