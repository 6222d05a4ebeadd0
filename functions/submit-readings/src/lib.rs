//! `POST /accounts/{account}/readings`: a customer hands in one meter's readings for this month
//! ("Оплатить по показаниям") and learns what they cost and what is left to pay.
//!
//! The order of the checks is the order a customer fixes things in: who is asking (403 for a page
//! visitor who never logged in), the account number (400), the body (413, 400), the account (404),
//! the meter named (404) and the number printed on it (422 wrong, 429 once the account's wrong
//! numbers of the day are spent), another user's submission of the month (409), then the
//! readings rules of `domain::readings` (409 for a closed window, 422 for figures), then the price
//! (409 when no tariff is loaded for the day). Nothing is stored unless every check passed.
//!
//! Every accepted submission answers 200, whether it is the month's first for the meter, a
//! replacement or a repeat: the month's submission of a meter is one thing its submitter may
//! correct until the window closes, and a repeat of the same figures (a retry after a timeout)
//! gets the same answer with nothing written. Only the verified user who handed it in replaces it
//! (`domain::readings_ownership`), checked again in the write itself.
//!
//! DynamoDB requests per submission: one Query for the account with this month's submissions (the
//! edge's one throttle counter is written while it is read), two meter-number counters, one Query
//! for the group's tariffs (none while the instance's cached table is fresh), one conditional
//! UpdateItem (none when the same figures are stored already).

mod meter_number_check;
mod request;
pub mod tariff_cache;
mod view;

use energosbyt::config::{ConfigError, Env};
use energosbyt::domain::readings::{self, billing_month};
use energosbyt::domain::readings_ownership::Submitter;
use energosbyt::domain::readings_window::moscow_date;
use energosbyt::domain::{AccountNumber, ReadingsLimits, TariffError, charge::charge};
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, response};
use energosbyt::metrics::{self, Metric};
use energosbyt::ports::readings::{
    AccountReadingsReader, ReadingsWriter, SaveOutcome, SubmittedReadings, TariffReader,
};
use energosbyt::ports::{RequestCounter, StoreError};
use energosbyt::secrets::Secrets;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use request::MAX_BODY_BYTES;
use std::time::Duration;
use tariff_cache::{TariffCache, TariffLoadError};
pub use view::ReadingsView;

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
    pub tariffs: TariffCache,
    pub limits: ReadingsLimits,
}

impl<S> App<S> {
    /// The default rules: tariffs cached for [`tariff_cache::DEFAULT_TTL`], the default plausible
    /// monthly usage.
    pub fn new(store: S, edge: MiniAppEdge) -> Self {
        Self { store, edge, tariffs: TariffCache::new(tariff_cache::DEFAULT_TTL), limits: ReadingsLimits::default() }
    }
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance: `TABLE_NAME`, the edge's
    /// variables, `TARIFF_CACHE_SECS` (default 300, 0 = read every time) and
    /// `READINGS_MAX_KWH_PER_MONTH` (default 10000).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let env = Env::process();
        let secrets = Secrets::from_env(&env).await?;
        let store = DynamoStore::from_env(env.string("TABLE_NAME")?).await;
        let mut app = Self::new(store, MiniAppEdge::from_env(&env, &secrets)?);
        let cache_secs = env.parse_or("TARIFF_CACHE_SECS", tariff_cache::DEFAULT_TTL.as_secs())?;
        app.tariffs = TariffCache::new(Duration::from_secs(cache_secs));
        app.limits.max_kwh_per_month = env.parse_or("READINGS_MAX_KWH_PER_MONTH", app.limits.max_kwh_per_month)?;
        Ok(app)
    }
}

pub async fn handle<S>(app: &App<S>, request: Request) -> Response<Body>
where
    S: AccountReadingsReader + ReadingsWriter + TariffReader + RequestCounter + Sync,
{
    app.edge
        .serve(&app.store, ThrottleScope::Accounts, &[Method::POST], request, |request, context| {
            submit(app, request, context)
        })
        .await
}

async fn submit<S>(app: &App<S>, request: Request, context: CallerContext<'_>) -> Result<Response<Body>, Problem>
where
    S: AccountReadingsReader + ReadingsWriter + TariffReader + RequestCounter,
{
    let submitter = Submitter::from(&context.caller.id);
    let Some(caller) = submitter.caller() else {
        tracing::info!("readings refused: a page visitor who never logged in");
        return Err(Problem::readings_need_login());
    };
    let raw = path_param(&request, "account", 1).unwrap_or_default();
    let number: AccountNumber = raw.parse()?;
    let body = request::ReadingsRequest::from_body(request.body())?;
    let Some(typed) = body.meter_number.as_ref() else {
        return Err(Problem::meter_number_missing());
    };
    let month = billing_month(context.now);

    // The throttle's verdict comes with this read, before anything is written.
    let read = app.store.account_with_readings(&number, month);
    let found = context.admission.read(Some(&number), read).await?.map_err(|e| store_fault(&e, &number))?;
    let Some(found) = found else {
        tracing::info!(account = %number.masked(), "account not found");
        return Err(Problem::account_not_found());
    };
    let account = &found.account;
    if body.meter_ref.is_some_and(|named| named.of(&account.meters).is_none()) {
        tracing::info!(account = %number.masked(), "meter reference not on the account");
        return Err(Problem::meter_not_found());
    }
    let (meter_ref, meter) =
        meter_number_check::prove(&app.store, &number, &account.meters, typed, body.meter_ref, context.now).await?;

    let stored = found.for_meter(&meter.id);
    if stored.is_some_and(|stored| !submitter.handed_in(&stored.caller)) {
        tracing::info!(account = %number.masked(), "readings refused: handed in by another user this month");
        return Err(Problem::readings_submitted_by_another());
    }

    let accepted = readings::validate(meter, &body.submission, &app.limits, context.now).map_err(|e| {
        let problem = Problem::from(e);
        tracing::info!(account = %number.masked(), refusal = problem.slug, "readings refused");
        problem
    })?;

    let tariffs = app.tariffs.table(&app.store, &account.tariff_group).await.map_err(|e| match e {
        TariffLoadError::Store(e) => store_fault(&e, &number),
        TariffLoadError::Invalid(e) => {
            tracing::error!(error = %e, "stored tariffs are inconsistent: fix them with energosbyt-admin import-tariffs");
            Problem::from(e)
        }
    })?;
    let bill =
        charge(&accepted, meter.zone_set, &account.tariff_group, &tariffs, moscow_date(context.now)).map_err(|e| {
            // The customer can only wait: the operator has to import the regulator's new prices.
            tracing::error!(error = %e, "no tariff for the submission's day: import it with energosbyt-admin import-tariffs");
            if matches!(e, TariffError::NotFound { .. }) {
                metrics::count(Metric::TariffMissing, 1);
            }
            Problem::from(e)
        })?;

    let submitted = SubmittedReadings::new(number, month, accepted, bill, caller.to_owned(), context.now);
    let outcome = match stored {
        // The figures are stored already: the request is a repeat, nothing to write.
        Some(stored) if stored.content_hash == submitted.content_hash => SaveOutcome::Unchanged(stored.clone()),
        _ => app.store.save_readings(&submitted).await.map_err(|e| store_fault(&e, &number))?,
    };
    let Some(saved) = outcome.readings() else {
        // Another user's submission landed between the read and the write.
        tracing::info!(account = %number.masked(), "readings refused: handed in by another user meanwhile");
        return Err(Problem::readings_submitted_by_another());
    };
    let due = found.clone().with_saved(saved.clone()).amount_due();
    let outcome_name = match &outcome {
        SaveOutcome::Created(_) => "created",
        SaveOutcome::Replaced(_) => "replaced",
        SaveOutcome::Unchanged(_) | SaveOutcome::HandedInByAnother => "unchanged",
    };
    tracing::info!(
        account = %number.masked(),
        readings_id = %saved.readings_id,
        version = saved.version,
        outcome = outcome_name,
        "readings accepted"
    );
    Ok(response::json(StatusCode::OK, &ReadingsView::new(saved, &body.meter_id, (meter_ref, meter), &due)))
}

fn store_fault(e: &StoreError, number: &AccountNumber) -> Problem {
    tracing::error!(error = %e, account = %number.masked(), "store call failed");
    Problem::unavailable()
}
