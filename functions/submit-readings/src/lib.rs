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
//! HTTP only: the flow is `energosbyt::app::readings_submission`, its errors are answered by
//! `edge::readings_problems`.
//!
//! DynamoDB requests per submission: one Query for the account with this month's submissions (the
//! edge's one throttle counter is written while it is read), two meter-number counters, one Query
//! for the group's tariffs (none while the instance's cached table is fresh), one conditional
//! UpdateItem (none when the same figures are stored already).

mod request;
mod view;

use energosbyt::app::lookup;
use energosbyt::app::readings_submission::{self as submission, ReadingsInput, ReadingsSettings, SubmissionError};
use energosbyt::config::ConfigError;
use energosbyt::domain::AccountNumber;
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, json_body, response};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::readings::{AccountReadingsReader, ReadingsWriter, TariffReader};
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use request::MAX_BODY_BYTES;
pub use view::ReadingsView;

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
    pub settings: ReadingsSettings,
}

impl<S> App<S> {
    /// The default rules ([`ReadingsSettings::default`]).
    pub fn new(store: S, edge: MiniAppEdge) -> Self {
        Self { store, edge, settings: ReadingsSettings::default() }
    }
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance: `TABLE_NAME`, the edge's
    /// variables and [`ReadingsSettings::from_env`].
    ///
    /// The store's one connection warm-up runs here, beside the secret's read: `main` polls for
    /// events once this returns.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_item).await?;
        let edge = MiniAppEdge::from_env(&env, &secrets)?;
        Ok(Self { store, edge, settings: ReadingsSettings::from_env(&env)? })
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
    json_body::check(&request)?;
    let submitter = submission::submitter(&context.caller.id)?;
    let raw = path_param(&request, "account", 1).unwrap_or_default();
    let number: AccountNumber = raw.parse()?;
    let body = request::ReadingsRequest::from_body(request.body())?;
    let Some(meter_number) = body.meter_number else {
        return Err(Problem::meter_number_missing());
    };
    let input = ReadingsInput { meter_number, meter_ref: body.meter_ref, submission: body.submission };
    // The throttle's verdict comes with this read, before anything is written.
    let read = context.admission.read(Some(&number), lookup::read(&app.store, &number, context.now)).await?;
    let found = lookup::found(read, &number).map_err(SubmissionError::from)?;
    let accepted = submission::submit(&app.store, &app.settings, found, &input, &submitter, context.now).await?;
    Ok(response::json(StatusCode::OK, &ReadingsView::new(&accepted, &body.meter_id)))
}
