//! `POST /payments`: registers a payment with the acquirer and answers the bank's form URL, once
//! per `Idempotency-Key`. `GET /payments/{id}`: the payment's status for the page the bank sends
//! the customer back to.
//!
//! Everything a caller can get wrong (the body, the key, the account, what the bank would refuse
//! in the `Init` body) is checked before anything is written, so a refused request leaves no
//! payment and does not use up its idempotency key.

mod register;
mod view;

use chrono::{DateTime, Utc};
use energosbyt::acquirer::{
    Acquirer, InitError, InitRequest, InitSettings, PaymentInit, SettingsError, TbankClient, TbankSettings, VatCodes,
};
use energosbyt::config::{ConfigError, Env};
use energosbyt::domain::AccountNumber;
use energosbyt::domain::form_deadline::FormDeadlineError;
use energosbyt::domain::payment_request::{PaymentLimits, PaymentRequest, PaymentRequestError};
use energosbyt::domain::readings_ownership::Submitter;
use energosbyt::domain::{Money, PaymentId};
use energosbyt::edge::mini_app::path_param;
use energosbyt::edge::throttle::ThrottleScope;
use energosbyt::edge::{CallerContext, MiniAppEdge, Problem, response};
use energosbyt::ports::idempotency::{
    self, Claim, IdempotencyKey, IdempotencyPolicy, IdempotencyScope, IdempotencyStore, Lease, RecordedResponse,
};
use energosbyt::ports::readings::{ReadingsId, ReadingsLookup};
use energosbyt::ports::{AccountReader, PaymentReader, PaymentWriter, RequestCounter};
use energosbyt::secrets::Secrets;
use energosbyt::store::DynamoStore;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use register::Outcome;
pub use view::{PaymentCreated, PaymentView, ReceiptView};

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

/// What every payment shares: limits, the `Init` settings, the idempotency policy.
#[derive(Clone, Debug)]
pub struct PaySettings {
    pub limits: PaymentLimits,
    pub init: InitSettings,
    pub idempotency: IdempotencyPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("acquirer settings: {0}")]
    Acquirer(#[from] SettingsError),
}

impl PaySettings {
    /// `PAYMENT_MIN` / `PAYMENT_MAX` (roubles, default 1.00 / 500000.00), `SUCCESS_URL`,
    /// `FAIL_URL`, `NOTIFICATION_URL` (empty: the terminal's own), `VAT_CODE_20` / `VAT_CODE_22`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let min = env.parse_or("PAYMENT_MIN", Money::from_kopecks(100))?;
        let max = env.parse_or("PAYMENT_MAX", Money::from_kopecks(50_000_000))?;
        let limits = PaymentLimits::new(min, max).ok_or_else(|| ConfigError::Malformed {
            name: "PAYMENT_MIN",
            why: "must be positive and not above PAYMENT_MAX".into(),
        })?;
        let notification_url = env.string_or("NOTIFICATION_URL", "");
        if !notification_url.is_empty() {
            check_http_url("NOTIFICATION_URL", &notification_url)?;
        }
        let success_url = env.string("SUCCESS_URL")?;
        check_http_url("SUCCESS_URL", &success_url)?;
        let fail_url = env.string("FAIL_URL")?;
        check_http_url("FAIL_URL", &fail_url)?;
        let mut init = InitSettings::new(notification_url, success_url, fail_url);
        init.vat_codes = VatCodes::from_lookup(|name| match name {
            "VAT_CODE_20" => env.string("VAT_CODE_20").ok(),
            "VAT_CODE_22" => env.string("VAT_CODE_22").ok(),
            _ => None,
        });
        Ok(Self { limits, init, idempotency: IdempotencyPolicy::default() })
    }
}

/// The bank refuses a non-http(s) URL in `Init` with a code that reads as "try later": catch it at
/// start-up instead.
fn check_http_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::Malformed { name, why: "not an http(s) URL".into() })
    }
}

impl App<DynamoStore, TbankClient> {
    /// Configuration and clients, built once per Lambda instance: `TABLE_NAME`, the edge's
    /// settings, the secret (`SECRETS_NAME`: the signing keys, the terminal key and password)
    /// shared by the edge and the acquirer, `TBANK_API_URL`, [`PaySettings`].
    pub async fn from_env() -> Result<Self, StartupError> {
        let env = Env::process();
        let secrets = Secrets::from_env(&env).await?;
        let edge = MiniAppEdge::from_env(&env, &secrets)?;
        let settings = PaySettings::from_env(&env)?;
        let acquirer = TbankClient::new(TbankSettings::from_env()?, secrets)?;
        let store = DynamoStore::from_env(env.string("TABLE_NAME")?).await;
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
    S: AccountReader + PaymentReader + PaymentWriter + IdempotencyStore + ReadingsLookup + RequestCounter + Sync,
    A: Acquirer,
{
    match Route::of(&request) {
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

/// The `Init` body of one payment: what [`PaymentInit`] builds, with the payment id on the return
/// URLs and without `NotificationURL` when the terminal's own is used. `deadline` is the
/// payment's own form deadline, the same for every `Init` of it.
pub fn init_request(
    settings: &PaySettings,
    request: &PaymentRequest,
    id: &PaymentId,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<InitRequest, InitError> {
    let payment = PaymentInit {
        order_id: id.as_str(),
        account: request.account,
        amount: request.amount,
        email: request.email.expose(),
        now,
        deadline,
    };
    let mut body = payment.build(&settings.init)?;
    body.success_url = Some(with_payment_id(&settings.init.success_url, id));
    body.fail_url = Some(with_payment_id(&settings.init.fail_url, id));
    if settings.init.notification_url.is_empty() {
        body.notification_url = None;
    }
    Ok(body)
}

/// Adds `paymentId=<id>` the way the bank adds its own parameters: to the end of the URL, after
/// `?` or `&`. A hash-routed page (`https://app/#/return`) then finds ours and the bank's together
/// in its route (`#/return?paymentId=…&Success=true…`).
fn with_payment_id(url: &str, id: &PaymentId) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}paymentId={id}")
}

/// No form can open now: the VAT rate changes before the bank's shortest form life is over.
pub(crate) fn deadline_problem(e: &FormDeadlineError, now: DateTime<Utc>) -> Problem {
    match e.retry_after_secs(now) {
        Some(secs) => {
            tracing::info!(retry_after = secs, "payment refused: the VAT rate changes in less than a minute");
            Problem::vat_rate_changing(secs)
        }
        None => {
            tracing::error!(error = %e, "the form's lifetime is misconfigured");
            Problem::unavailable()
        }
    }
}

/// What the bank would refuse in an `Init` body is the caller's mistake only for the email.
fn init_problem(e: InitError) -> Problem {
    match e {
        InitError::EmailTooLong => Problem::email_too_long_for_receipt(),
        other => {
            tracing::error!(error = %other, "the Init body cannot be built");
            Problem::unavailable()
        }
    }
}

async fn create<S, A>(app: &App<S, A>, request: Request, context: CallerContext<'_>) -> Result<Response<Body>, Problem>
where
    S: AccountReader + PaymentReader + PaymentWriter + IdempotencyStore + ReadingsLookup + Sync,
    A: Acquirer,
{
    let key = IdempotencyKey::from_header(request.headers().get(IDEMPOTENCY_KEY).map(HeaderValue::as_bytes))?;
    let payment = PaymentRequest::from_json(request.body().as_ref(), &app.settings.limits).inspect_err(|e| {
        tracing::info!(error = %e, "payment request refused");
    })?;
    let masked = payment.account.masked();
    let candidate = PaymentId::random();
    let deadline = app.settings.init.form_deadline(context.now).map_err(|e| deadline_problem(&e, context.now))?;
    init_request(&app.settings, &payment, &candidate, context.now, deadline).map_err(init_problem)?;
    // The throttle's verdict comes with the account read; every write below is after it.
    match context.admission.read(Some(&payment.account), app.store.account(&payment.account)).await? {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!(account = %masked, "payment for an unknown account refused");
            return Err(Problem::account_not_found().with("field", "account"));
        }
        Err(e) => {
            tracing::error!(error = %e, account = %masked, "account read failed");
            return Err(Problem::unavailable());
        }
    }
    if let Some(readings_id) = &payment.readings_id {
        check_readings(&app.store, &payment.account, readings_id, &Submitter::from(&context.caller.id)).await?;
    }

    let caller = context.caller.id.to_string();
    let scope = IdempotencyScope { caller: caller.clone(), key };
    let policy = app.settings.idempotency;
    let claim = idempotency::claim(&app.store, &scope, &payment.fingerprint(), candidate.as_str(), context.now, policy)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "idempotency claim failed");
            Problem::unavailable()
        })?;
    let mut lease = match claim {
        Claim::Acquired(lease) => lease,
        Claim::Replay(recorded) => {
            let status = StatusCode::from_u16(recorded.status).map_err(|_| {
                tracing::error!(status = recorded.status, "the recorded answer has no valid status");
                Problem::unavailable()
            })?;
            tracing::info!(account = %masked, status = recorded.status, "payment answer replayed");
            energosbyt::metrics::count(energosbyt::metrics::Metric::DuplicatesAbsorbed, 1);
            return Ok(recorded_response(status, &recorded.body, true));
        }
        Claim::InProgress => {
            tracing::info!(account = %masked, "the same payment is being created by another request");
            return Err(Problem::payment_in_progress());
        }
        Claim::Mismatch => {
            tracing::info!(account = %masked, "idempotency key reused for another payment");
            return Err(Problem::idempotency_key_reused());
        }
    };
    if lease.resumed {
        tracing::info!(account = %masked, payment_id = %lease.resource, "resuming an unfinished attempt");
    }

    let outcome = register::register(app, &payment, &mut lease, &caller, context.now).await;
    settle(app, lease, outcome, context.now).await
}

/// A payment "by readings" must name this account's current submission: not another account's,
/// and not figures replaced since (the amount the customer saw would not be what is billed). And
/// it must be the caller's own: the success email lists the figures paid for, which only their
/// submitter sees. Anyone else's is refused as if it did not exist, so the answer tells nothing
/// about it; paying the account without it stays open to everyone.
async fn check_readings<S: ReadingsLookup>(
    store: &S,
    account: &AccountNumber,
    id: &ReadingsId,
    asking: &Submitter,
) -> Result<(), Problem> {
    let refused = || Problem::from(PaymentRequestError::BadReadingsId);
    match store.readings_by_id(account, id).await {
        Ok(Some(readings)) if asking.handed_in(&readings.caller) => Ok(()),
        Ok(Some(_)) => {
            tracing::info!(account = %account.masked(), "payment names readings another user handed in");
            Err(refused())
        }
        Ok(None) => {
            tracing::info!(account = %account.masked(), "payment names readings this account does not have");
            Err(refused())
        }
        Err(e) => {
            tracing::error!(error = %e, "readings read failed");
            Err(Problem::unavailable())
        }
    }
}

/// Ends the lease as the outcome requires and answers.
async fn settle<S: IdempotencyStore, A>(
    app: &App<S, A>,
    lease: Lease,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Response<Body>, Problem> {
    match outcome {
        Outcome::Created(created) => {
            tracing::info!(payment_id = %created.payment_id, amount = %created.amount, "payment created");
            energosbyt::metrics::count(energosbyt::metrics::Metric::PaymentsCreated, 1);
            let recorded = RecordedResponse {
                status: StatusCode::CREATED.as_u16(),
                body: serde_json::to_string(&created).expect("our response types serialise"),
            };
            if let Err(e) = lease.complete(&app.store, &recorded, now, app.settings.idempotency).await {
                // The payment stands; a retry with the key resumes it and finds the same form URL.
                tracing::error!(error = %e, "recording the answer for replay failed");
            }
            Ok(recorded_response(StatusCode::CREATED, &recorded.body, false))
        }
        Outcome::Refused(problem) => {
            if let Err(e) = lease.forget(&app.store).await {
                tracing::error!(error = %e, "freeing the idempotency key failed");
            }
            Err(problem)
        }
        Outcome::Unsettled(problem) => {
            if let Err(e) = lease.release(&app.store).await {
                tracing::error!(error = %e, "releasing the idempotency key failed; it frees itself within a minute");
            }
            Err(problem)
        }
    }
}

/// The answer recorded for a key, byte for byte, whether it is the first or a replay.
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
    let found = context.admission.read(None, app.store.payment_with_receipt(&id)).await?.map_err(|e| {
        tracing::error!(error = %e, payment_id = %id, "payment read failed");
        Problem::unavailable()
    })?;
    match found {
        Some((payment, receipt)) if payment.caller == context.caller.id.to_string() => {
            tracing::info!(payment_id = %id, status = payment.status.as_str(), "payment status shown");
            Ok(response::json(StatusCode::OK, &PaymentView::new(&payment, receipt)))
        }
        Some(_) => {
            tracing::warn!(payment_id = %id, "payment status asked by another caller");
            Err(Problem::payment_not_found())
        }
        None => {
            tracing::info!(payment_id = %id, "payment status asked for an unknown payment");
            Err(Problem::payment_not_found())
        }
    }
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
    fn the_payment_id_joins_the_return_url_as_the_bank_joins_its_own() {
        let id: PaymentId = "0f8fad5bd9cb469fa16570867728950e".parse().unwrap();
        assert_eq!(
            with_payment_id("https://app.example.ru/#/return", &id),
            "https://app.example.ru/#/return?paymentId=0f8fad5bd9cb469fa16570867728950e"
        );
        assert_eq!(
            with_payment_id("https://app.example.ru/return?from=vk", &id),
            "https://app.example.ru/return?from=vk&paymentId=0f8fad5bd9cb469fa16570867728950e"
        );
    }

    #[test]
    fn settings_refuse_limits_and_urls_that_could_not_work() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> Env<impl Fn(&str) -> Option<String> + 'a> {
            Env::from_fn(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
        }
        let urls =
            [("SUCCESS_URL", "https://app.example.ru/#/return"), ("FAIL_URL", "https://app.example.ru/#/return")];
        let settings = PaySettings::from_env(&env(&urls)).unwrap();
        assert_eq!(settings.limits.min.to_string(), "1.00");
        assert_eq!(settings.limits.max.to_string(), "500000.00");
        assert_eq!(settings.init.vat_codes, VatCodes::default());

        let inverted = [
            ("SUCCESS_URL", "https://a.ru"),
            ("FAIL_URL", "https://a.ru"),
            ("PAYMENT_MIN", "100"),
            ("PAYMENT_MAX", "10"),
        ];
        assert!(matches!(PaySettings::from_env(&env(&inverted)), Err(ConfigError::Malformed { .. })));
        let relative = [("SUCCESS_URL", "/return"), ("FAIL_URL", "https://a.ru")];
        assert!(matches!(
            PaySettings::from_env(&env(&relative)),
            Err(ConfigError::Malformed { name: "SUCCESS_URL", .. })
        ));
        assert!(matches!(PaySettings::from_env(&env(&[])), Err(ConfigError::Missing("SUCCESS_URL"))));
    }
}
