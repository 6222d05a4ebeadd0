//! `GET /payments?cursor=…&limit=…`: "Мои платежи", the verified caller's own payments of the last
//! 24 months, newest first, with the cursor of the next page.
//!
//! HTTP only: the read is `energosbyt::app::payment_history`, one Query of the payer index beside
//! the throttle's one counter write.

mod view;

use energosbyt::app::payment_history;
use energosbyt::config::ConfigError;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, response};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::history::PaymentHistoryReader;
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
pub use view::{HistoryView, PaymentLine};

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_payer_index).await?;
        Ok(Self { store, edge: MiniAppEdge::from_env(&env, &secrets)? })
    }
}

pub async fn handle<S: PaymentHistoryReader + RequestCounter + Sync>(app: &App<S>, request: Request) -> Response<Body> {
    // `POST /payments` is the pay function's; the preflight names both.
    if request.method() == Method::OPTIONS {
        return app.edge.preflight(&request, &[Method::POST, Method::GET]);
    }
    app.edge
        .serve(&app.store, ThrottleScope::PaymentHistory, &[Method::GET], request, |request, context| {
            list(app, request, context)
        })
        .await
}

async fn list<S: PaymentHistoryReader + Sync>(
    app: &App<S>,
    request: Request,
    context: CallerContext<'_>,
) -> Result<Response<Body>, Problem> {
    let query = request.query_string_parameters();
    let cursor = query.first("cursor");
    let limit = match query.first("limit") {
        None => None,
        Some(text) => Some(text.parse::<u16>().map_err(|_| Problem::from(payment_history::HistoryError::BadLimit))?),
    };
    let listed = payment_history::list(&app.store, &context.caller.id, cursor, limit, context.now);
    let page = context.admission.read(None, listed).await??;
    Ok(response::json(StatusCode::OK, &HistoryView::new(&page)))
}
