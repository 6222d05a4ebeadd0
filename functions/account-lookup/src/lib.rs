//! `GET /accounts/{account}`: the masked address, the balance, the recommended amount and the
//! meters (masked numbers) with their last readings, readings window and whether readings were
//! handed in this billing month (with the figures for the user who handed them in).
//!
//! HTTP only: the read is `energosbyt::app::lookup`. One DynamoDB read: a Query of the account's partition returns the profile and this month's
//! readings submissions together, run beside the throttle's counter write when there is one
//! (`edge::throttle_lease`: most of a caller's repeats have none).

mod view;

use energosbyt::app::lookup;
use energosbyt::config::ConfigError;
use energosbyt::domain::AccountNumber;
use energosbyt::domain::readings_ownership::Submitter;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, response};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::readings::AccountReadingsReader;
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use view::AccountView;

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance.
    ///
    /// The store's one connection warm-up runs here, beside the secret's read: `main` polls for
    /// events once this returns.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_query).await?;
        Ok(Self { store, edge: MiniAppEdge::from_env(&env, &secrets)? })
    }
}

pub async fn handle<S: AccountReadingsReader + RequestCounter + Sync>(
    app: &App<S>,
    request: Request,
) -> Response<Body> {
    app.edge
        .serve(&app.store, ThrottleScope::Accounts, &[Method::GET], request, |request, context| {
            show(app, request, context)
        })
        .await
}

async fn show<S: AccountReadingsReader>(
    app: &App<S>,
    request: Request,
    context: CallerContext<'_>,
) -> Result<Response<Body>, Problem> {
    let raw = energosbyt::edge::mini_app::path_param(&request, "account", 1).unwrap_or_default();
    let number: AccountNumber = raw.parse()?;
    let read = context.admission.read(Some(&number), lookup::read(&app.store, &number, context.now)).await?;
    let found = lookup::found(read, &number)?;
    tracing::info!(account = %number.masked(), "account shown");
    let asking = Submitter::from(&context.caller.id);
    Ok(response::json(StatusCode::OK, &AccountView::new(&found, &asking, context.now)))
}
