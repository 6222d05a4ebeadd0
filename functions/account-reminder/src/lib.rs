//! `GET` / `PUT` / `DELETE /accounts/{account}/reminder`: whether the verified VK caller is
//! reminded to hand in readings for the account, turning it on, turning it off. Anyone else
//! (Facebook) is `403`. Throttled with the look-ups.
//!
//! HTTP only: the flow is `energosbyt::app::reminders`.

use energosbyt::app::reminders;
use energosbyt::config::ConfigError;
use energosbyt::domain::AccountNumber;
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, json_body, response};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::reminders::ReminderSubscriptions;
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_item).await?;
        Ok(Self { store, edge: MiniAppEdge::from_env(&env, &secrets)? })
    }
}

/// The answer of all three methods: the state the reminder is in now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderView {
    pub account: String,
    pub reminder: bool,
}

pub async fn handle<S: ReminderSubscriptions + RequestCounter + Sync>(
    app: &App<S>,
    request: Request,
) -> Response<Body> {
    app.edge
        .serve(
            &app.store,
            ThrottleScope::Accounts,
            &[Method::GET, Method::PUT, Method::DELETE],
            request,
            |request, context| answer(app, request, context),
        )
        .await
}

async fn answer<S: ReminderSubscriptions + Sync>(
    app: &App<S>,
    request: Request,
    context: CallerContext<'_>,
) -> Result<Response<Body>, Problem> {
    if request.method() == Method::PUT {
        json_body::check(&request)?;
    }
    let raw = path_param(&request, "account", 1).unwrap_or_default();
    let number: AccountNumber = raw.parse()?;
    let caller = &context.caller.id;
    // A change is written only once the request is admitted: nothing runs alongside the
    // admission, so a throttled caller turns nothing on or off.
    let reminder = match *request.method() {
        Method::PUT => {
            context.admission.read(Some(&number), std::future::ready(())).await?;
            reminders::turn_on(&app.store, caller, &number).await?;
            tracing::info!(account = %number.masked(), "readings reminder on");
            true
        }
        Method::DELETE => {
            context.admission.read(Some(&number), std::future::ready(())).await?;
            reminders::turn_off(&app.store, caller, &number).await?;
            tracing::info!(account = %number.masked(), "readings reminder off");
            false
        }
        _ => context.admission.read(Some(&number), reminders::is_on(&app.store, caller, &number)).await??,
    };
    Ok(response::json(StatusCode::OK, &ReminderView { account: number.to_string(), reminder }))
}
