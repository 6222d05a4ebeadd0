//! `POST /payments/{id}/receipt`: the sale's fiscal receipt of the caller's own payment sent again
//! to the email the payment was made with, at most three times a Moscow day per payment. Anyone
//! else's payment is `404`, as if it did not exist. Answers `202` once the mail service took it.
//!
//! HTTP only: the flow is `energosbyt::app::receipt_copy` (`receipt`, then `send_copy`).

use energosbyt::app::receipt_copy;
use energosbyt::config::ConfigError;
use energosbyt::domain::{PaymentId, SellerRequisites};
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, json_body, response};
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, MailSender, Mailer};
use energosbyt::ports::RequestCounter;
use energosbyt::ports::ledger::PaymentLedger;
use energosbyt::ports::receipt_copies::ReceiptCopies;
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub struct App<S, M> {
    pub store: S,
    pub mailer: Mailer<M>,
    pub edge: MiniAppEdge,
    pub seller: SellerRequisites,
}

impl App<DynamoStore, SesMailer> {
    /// Configuration and clients, built once per Lambda instance: the edge's settings, SES and
    /// its sender (`SES_SENDER`), the seller's requisites.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, sdk, store, secrets } = Instance::start(DynamoStore::warm_up_with_item).await?;
        let mailer = Mailer::new(SesMailer::from_sdk_config(&env, &sdk)?, MailFrom::from_env(&env)?);
        Ok(Self {
            store,
            mailer,
            edge: MiniAppEdge::from_env(&env, &secrets)?,
            seller: SellerRequisites::from_env(&env)?,
        })
    }
}

/// `202`: the copy is on its way.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopySent {
    pub payment_id: String,
    pub sent: bool,
}

pub async fn handle<S, M>(app: &App<S, M>, request: Request) -> Response<Body>
where
    S: PaymentLedger + ReceiptCopies + RequestCounter + Sync,
    M: MailSender + Sync,
{
    // `GET` (the printable receipt) is another function's; the preflight names both.
    if request.method() == Method::OPTIONS {
        return app.edge.preflight(&request, &[Method::GET, Method::POST]);
    }
    app.edge
        .serve(&app.store, ThrottleScope::PaymentStatus, &[Method::POST], request, |request, context| {
            send(app, request, context)
        })
        .await
}

async fn send<S, M>(app: &App<S, M>, request: Request, context: CallerContext<'_>) -> Result<Response<Body>, Problem>
where
    S: PaymentLedger + ReceiptCopies + Sync,
    M: MailSender + Sync,
{
    json_body::check(&request)?;
    let raw = path_param(&request, "id", 1).unwrap_or_default();
    let id: PaymentId = raw.parse().map_err(|_| Problem::invalid_payment_id())?;
    // Only the receipt's read runs alongside the admission; the copy is counted and mailed once
    // the request is admitted, so a throttled caller neither uses up a copy nor sends one.
    let read = receipt_copy::receipt(&app.store, &app.seller, &id, &context.caller.id);
    let found = context.admission.read(None, read).await??;
    receipt_copy::send_copy(&app.store, &app.mailer, &id, found, context.now).await?;
    Ok(response::json(StatusCode::ACCEPTED, &CopySent { payment_id: id.to_string(), sent: true }))
}
