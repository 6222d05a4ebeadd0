//! `GET /payments/{id}/receipt`: the sale's fiscal receipt of the caller's own payment, for a
//! printable page: every requisite the bank's `RECEIPT` notification gave, and the FNS QR code.
//! Anyone else's payment is `404`, as if it did not exist.
//!
//! HTTP only: the read is `energosbyt::app::receipt_copy::receipt`.

mod view;

use energosbyt::app::receipt_copy;
use energosbyt::config::ConfigError;
use energosbyt::domain::{PaymentId, SellerRequisites};
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, response};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::ledger::PaymentLedger;
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
pub use view::ReceiptPage;

pub struct App<S> {
    pub store: S,
    pub edge: MiniAppEdge,
    pub seller: SellerRequisites,
}

impl App<DynamoStore> {
    /// Configuration and clients, built once per Lambda instance: the seller's requisites as the
    /// receipt emails print them (`SELLER_NAME`, `SELLER_INN`, …).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_item).await?;
        Ok(Self { store, edge: MiniAppEdge::from_env(&env, &secrets)?, seller: SellerRequisites::from_env(&env)? })
    }
}

pub async fn handle<S: PaymentLedger + RequestCounter + Sync>(app: &App<S>, request: Request) -> Response<Body> {
    // `POST` (a copy by email) is another function's; the preflight names both.
    if request.method() == Method::OPTIONS {
        return app.edge.preflight(&request, &[Method::GET, Method::POST]);
    }
    app.edge
        .serve(&app.store, ThrottleScope::PaymentStatus, &[Method::GET], request, |request, context| {
            show(app, request, context)
        })
        .await
}

async fn show<S: PaymentLedger + Sync>(
    app: &App<S>,
    request: Request,
    context: CallerContext<'_>,
) -> Result<Response<Body>, Problem> {
    let raw = path_param(&request, "id", 1).unwrap_or_default();
    let id: PaymentId = raw.parse().map_err(|_| Problem::invalid_payment_id())?;
    let found =
        context.admission.read(None, receipt_copy::receipt(&app.store, &app.seller, &id, &context.caller.id)).await??;
    tracing::info!(payment_id = %id, "receipt shown");
    let page = ReceiptPage::new(&found).map_err(|e| {
        tracing::error!(payment_id = %id, error = %e, "receipt QR code cannot be drawn");
        Problem::unavailable()
    })?;
    Ok(response::json(StatusCode::OK, &page))
}
