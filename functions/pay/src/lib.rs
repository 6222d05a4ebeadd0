//! `POST /payments`: registers a payment with the acquirer and answers the bank's form URL (or,
//! for `method: sbp`, the СБП link and its QR code as SVG), once per `Idempotency-Key`. `GET /payments/{id}`: the payment's status for the page the bank sends
//! the customer back to.
//!
//! HTTP only: the registration flow is `energosbyt::app::payment_registration`, its errors are
//! answered by `edge::payment_problems`. Everything a caller can get wrong is checked before
//! anything is written, so a refused request leaves no payment and does not use up its key.

mod sbp_qr;
mod view;

use energosbyt::acquirer::{Acquirer, SettingsError, TbankClient, TbankSettings};
use energosbyt::app::payment_registration::{self as registration, PaySettings, Registered};
use energosbyt::app::payment_status::payment_status;
use energosbyt::config::ConfigError;
use energosbyt::domain::payment_request::PaymentRequest;
use energosbyt::domain::{PayMethod, PaymentId};
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, json_body, response};
use energosbyt::ports::idempotency::{IdempotencyKey, PaymentClaims};
use energosbyt::ports::readings::AccountReadingsReader;
use energosbyt::ports::{AccountReader, PaymentReader, PaymentWriter, RequestCounter};
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
pub use view::{DeclineView, PaymentView, ReceiptView};

/// The header a client sends to make a retried `POST /payments` safe.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the one recorded for the same key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

pub struct App<S, A> {
    pub store: S,
    pub acquirer: A,
    pub edge: MiniAppEdge,
    pub settings: PaySettings,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("acquirer settings: {0}")]
    Acquirer(#[from] SettingsError),
}

impl App<DynamoStore, TbankClient> {
    /// Configuration and clients, built once per Lambda instance: `TABLE_NAME`, the edge's
    /// settings, the secret (`SECRETS_NAME`: the signing keys, the terminal key and password)
    /// shared by the edge and the acquirer, `TBANK_API_URL`, [`PaySettings`].
    ///
    /// The store's one connection warm-up runs here, beside the secret's read: `main` polls for
    /// events once this returns.
    pub async fn from_env() -> Result<Self, StartupError> {
        let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_item).await?;
        let edge = MiniAppEdge::from_env(&env, &secrets)?;
        let settings = PaySettings::from_env(&env)?;
        let acquirer = TbankClient::new(TbankSettings::from_env()?, secrets)?;
        Ok(Self { store, acquirer, edge, settings })
    }
}

/// Which of the two routes a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Create,
    Status,
}

impl Route {
    fn of(request: &Request) -> Option<Self> {
        if request.path_parameters_ref().and_then(|p| p.first("id")).is_some() {
            return Some(Self::Status);
        }
        let segments: Vec<&str> = request.uri().path().split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [.., "payments"] => Some(Self::Create),
            [.., "payments", _] => Some(Self::Status),
            _ => None,
        }
    }
}

pub async fn handle<S, A>(app: &App<S, A>, request: Request) -> Response<Body>
where
    S: AccountReader + PaymentReader + PaymentWriter + PaymentClaims + AccountReadingsReader + RequestCounter + Sync,
    A: Acquirer,
{
    match Route::of(&request) {
        // `GET /payments` (the payer's list) is another function's; the preflight names both.
        Some(Route::Create) if request.method() == Method::OPTIONS => {
            app.edge.preflight(&request, &[Method::POST, Method::GET])
        }
        Some(Route::Create) => {
            app.edge
                .serve(&app.store, ThrottleScope::Accounts, &[Method::POST], request, |request, context| {
                    create(app, request, context)
                })
                .await
        }
        // Its own throttle budget: the returning page polls it, which must not use up payments.
        Some(Route::Status) => {
            app.edge
                .serve(&app.store, ThrottleScope::PaymentStatus, &[Method::GET], request, |request, context| {
                    status(app, request, context)
                })
                .await
        }
        None => Problem::not_found_route().into_response(),
    }
}

async fn create<S, A>(app: &App<S, A>, request: Request, context: CallerContext<'_>) -> Result<Response<Body>, Problem>
where
    S: AccountReader + PaymentReader + PaymentWriter + PaymentClaims + AccountReadingsReader + Sync,
    A: Acquirer,
{
    json_body::check(&request)?;
    let key = IdempotencyKey::from_header(request.headers().get(IDEMPOTENCY_KEY).map(HeaderValue::as_bytes))?;
    let payment = PaymentRequest::from_json(request.body().as_ref(), &app.settings.limits).inspect_err(|e| {
        tracing::info!(error = %e, "payment request refused");
    })?;
    let checked = registration::check(&app.settings, &payment, key, context.now)?;
    // The throttle's verdict comes with the account read; every write is after it.
    let read = context
        .admission
        .read(Some(&payment.account), registration::read_account(&app.store, &payment, context.now))
        .await?;
    registration::known_account(read, &payment, &context.caller.id)?;
    let registered = registration::register(
        &app.store,
        &app.acquirer,
        &app.settings,
        &payment,
        &context.caller.id,
        checked,
        context.now,
    )
    .await?;
    let (recorded, replayed) = match registered {
        Registered::Created(recorded) => (recorded, false),
        Registered::Replayed(recorded) => (recorded, true),
    };
    let status = StatusCode::from_u16(recorded.status).map_err(|_| {
        tracing::error!(status = recorded.status, "the recorded answer has no valid status");
        Problem::unavailable()
    })?;
    Ok(recorded_response(status, &with_sbp_qr(&recorded.body), replayed))
}

/// A СБП answer with the QR code of its link (`qrSvg`), drawn afresh for every answer instead of
/// kept with the recorded one. Any other answer as it was recorded.
fn with_sbp_qr(body: &str) -> String {
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_str(body) else {
        return body.to_owned();
    };
    if answer.get("method").and_then(|m| m.as_str()) != Some(PayMethod::Sbp.as_str()) {
        return body.to_owned();
    }
    let Some(svg) = answer.get("paymentUrl").and_then(|link| link.as_str()).and_then(sbp_qr::qr_svg) else {
        tracing::error!("a СБП answer without a link a QR code can hold");
        return body.to_owned();
    };
    answer.insert("qrSvg".to_owned(), svg.into());
    serde_json::Value::Object(answer).to_string()
}

/// The answer recorded for a key, whether it is the first or a replay.
fn recorded_response(status: StatusCode, body: &str, replayed: bool) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store");
    if replayed {
        builder = builder.header(IDEMPOTENT_REPLAYED, "true");
    }
    builder.body(Body::Text(body.to_owned())).expect("a valid response")
}

async fn status<S, A>(app: &App<S, A>, request: Request, context: CallerContext<'_>) -> Result<Response<Body>, Problem>
where
    S: PaymentReader + Sync,
{
    let raw = path_param(&request, "id", 1).unwrap_or_default();
    let id: PaymentId = raw.parse().map_err(|_| Problem::invalid_payment_id())?;
    let page = context.admission.read(None, payment_status(&app.store, &id, &context.caller.id)).await??;
    Ok(response::json(StatusCode::OK, &PaymentView::new(&page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        http::Request::builder().method(method).uri(path).body(Body::Empty).unwrap()
    }

    #[test]
    fn routes_are_told_apart_by_their_path() {
        assert_eq!(Route::of(&request("POST", "/payments")), Some(Route::Create));
        assert_eq!(Route::of(&request("OPTIONS", "/payments/")), Some(Route::Create));
        assert_eq!(Route::of(&request("GET", "/payments/0f8fad5bd9cb469fa16570867728950e")), Some(Route::Status));
        assert_eq!(Route::of(&request("GET", "/accounts/1")), None);
    }

    #[test]
    fn a_sbp_answer_gets_the_qr_of_its_own_link_and_a_card_answer_stays_as_recorded() {
        let card = r#"{"paymentId":"p","paymentUrl":"https://securepay.tinkoff.ru/new/x","amount":"1.00","status":"NEW","method":"card"}"#;
        assert_eq!(with_sbp_qr(card), card);
        let sbp =
            r#"{"paymentId":"p","paymentUrl":"https://qr.nspk.ru/AS1","amount":"1.00","status":"NEW","method":"sbp"}"#;
        let answer: serde_json::Value = serde_json::from_str(&with_sbp_qr(sbp)).unwrap();
        assert_eq!(answer["paymentUrl"], "https://qr.nspk.ru/AS1");
        assert_eq!(answer["qrSvg"], sbp_qr::qr_svg("https://qr.nspk.ru/AS1").unwrap());
    }
}
