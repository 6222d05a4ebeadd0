//! Payment registration: a checked payment request registered with the bank once per
//! `Idempotency-Key` (the rule itself is `app::idempotency`), whatever is retried. Answers a typed
//! outcome or a [`RegistrationError`]; the pay function maps those to HTTP, nothing here does.
//!
//! The payment is written `NEW` before `Init` (so a notification or the reconciliation always
//! finds it), in the same request as the key's claim, then completed with the bank's `PaymentId`
//! and form URL in the same request as the key's completion: four DynamoDB requests in all, with
//! the throttle's counter and the account's read, and two round trips before `Init`. A definite refusal marks it
//! `FAILED`; an unknown outcome leaves it `NEW` for the reconciliation (`CheckOrder`).
//!
//! # A retry after an unknown outcome never makes a second payable payment
//!
//! Our payment id is the bank's `OrderId`, and the bank refuses a second `Init` for an `OrderId`
//! it holds (error 20 / 623). So when the bank's answer is lost, the idempotency key is released
//! but stays bound to the payment id ([`Lease::release`]), and a
//! retry with the same key resumes that payment instead of starting a new one:
//!
//! - the payment already has its form URL (the answer was recorded) → that URL again;
//! - it is still `NEW` without one → `Init` again with the same `OrderId` and the same form
//!   deadline (fixed when the payment was created, so a retry never keeps a form open longer than
//!   the reconciliation waits). If the first `Init` never reached the bank, this creates the one
//!   payment. If it did, the bank refuses the repeated `OrderId`: that payment exists but its form
//!   URL is lost, so nobody can pay it. It is cancelled (`CheckOrder` finds it, `Cancel` ends it)
//!   and a new payment takes its place, bound to the key — unless its form has been opened or
//!   paid, when nothing new is started. The same happens when its deadline leaves no time for a
//!   form;
//! - it is `FAILED` (replaced or refused before) → a new payment takes its place.
//!
//! At any moment at most one payment per request can be paid at the bank.
//!
//! # СБП
//!
//! A payment by СБП (`method: sbp`) is the same payment with one more step: after `Init`,
//! `GetQr` gives its СБП link, recorded in place of the form URL. Until the link is recorded
//! nobody can pay the payment, and a retry with the key resumes it like a lost `Init` answer,
//! except that a payment still open at the bank is asked for its link again instead of being
//! replaced ([`Flow::resume_sbp`]): the bank never holds two payable payments for one request. A
//! definite refusal of `GetQr` cancels the payment at the bank and frees the key.

use super::idempotency::{self, Claim, IdempotencyPolicy, Lease};
use super::lookup::{self, LookupError};
use crate::acquirer::PaymentId as AcquirerPaymentId;
use crate::acquirer::{
    Acquirer, AcquirerError, CancelRequest, InitError, InitRequest, InitSettings, PaymentInit, QrRequest, Refusal,
    Unavailability, VatCodes, is_usable_link,
};
use crate::config::{ConfigError, Env};
use crate::domain::form_deadline::{self, FormDeadlineError};
use crate::domain::payment_request::{PaymentLimits, PaymentRequest};
use crate::domain::readings_ownership::Submitter;
use crate::domain::year_month::billing_month;
use crate::domain::{AccountNumber, CallerId, Money, PayMethod, Payment, PaymentId, PaymentStatus};
use crate::metrics::{self, Metric};
use crate::ports::idempotency::{IdempotencyKey, IdempotencyScope, InitAnswer, PaymentClaims, RecordedResponse};
use crate::ports::readings::{AccountReadingsReader, ReadingsId, SubmittedReadings};
use crate::ports::{AccountReader, PaymentReader, PaymentWriter, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What every payment shares: limits, the `Init` settings, the idempotency policy.
#[derive(Clone, Debug)]
pub struct PaySettings {
    pub limits: PaymentLimits,
    pub init: InitSettings,
    pub idempotency: IdempotencyPolicy,
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

/// `201` to `POST /payments`: where to send the customer. Recorded under the key and replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCreated {
    pub payment_id: String,
    /// The bank's hosted form: card entry and 3-D Secure happen there, never with us. For СБП,
    /// the СБП payment link (a phone opens the customer's bank app with it).
    pub payment_url: String,
    pub amount: Money,
    pub status: PaymentStatus,
    pub method: PayMethod,
}

/// Why a payment was not registered. Each variant is answered once, by the pay function's edge
/// (`edge::payment_problems`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("no such account")]
    AccountNotFound,
    /// The readings named are not this account's current ones, or not the caller's.
    #[error("the readings named are not this caller's current ones")]
    ReadingsNotFound,
    #[error("the same payment is being created by another request")]
    InProgress,
    #[error("the idempotency key was used for another payment")]
    KeyReused,
    #[error("the VAT rate changes in {retry_after_secs} s; no form can open before")]
    VatRateChanging { retry_after_secs: u64 },
    #[error("the email is too long for the bank's receipt")]
    EmailTooLongForReceipt,
    #[error("the bank refused the payment")]
    AcquirerRefused,
    #[error("the bank did not answer in time")]
    AcquirerTimeout,
    #[error("the bank is unavailable")]
    AcquirerUnavailable,
    /// Our own fault (store, configuration): logged where it happened.
    #[error("unavailable")]
    Unavailable,
}

/// What a registration answers: the first answer for a key, or the one recorded for it before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created(RecordedResponse),
    Replayed(RecordedResponse),
}

/// The payment's id to be (unless a retry resumes an earlier one) and its form's deadline, once
/// every check that needs no I/O has passed: nothing is written for a request refused here.
#[derive(Debug, Clone)]
pub struct Checked {
    candidate: PaymentId,
    deadline: DateTime<Utc>,
    key: IdempotencyKey,
}

/// What the bank would refuse in the `Init` body, and whether a form can open now at all: checked
/// before the key is claimed, so a refused request does not use up its key.
pub fn check(
    settings: &PaySettings,
    request: &PaymentRequest,
    key: IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<Checked, RegistrationError> {
    let candidate = PaymentId::random();
    let deadline = settings.init.form_deadline(now).map_err(|e| deadline_error(&e, now))?;
    init_request(settings, request, &candidate, now, deadline).map_err(|e| match e {
        InitError::EmailTooLong => RegistrationError::EmailTooLongForReceipt,
        other => {
            tracing::error!(error = %other, "the Init body cannot be built");
            RegistrationError::Unavailable
        }
    })?;
    Ok(Checked { candidate, deadline, key })
}

/// What the edge reads beside its throttle counter, in one request: whether the account exists
/// and, for a payment "by readings", its submissions the billing system has not billed yet (this
/// billing month's, and an earlier month's until an export made after that month is imported:
/// `domain::unbilled_readings`). [`known_account`] reads the answer once the request is admitted.
pub async fn read_account<S: AccountReader + AccountReadingsReader>(
    store: &S,
    request: &PaymentRequest,
    now: DateTime<Utc>,
) -> Result<Option<Vec<SubmittedReadings>>, StoreError> {
    if request.readings_id.is_none() {
        return Ok(store.account(&request.account).await?.map(|_| Vec::new()));
    }
    let read = store.account_with_readings(&request.account, billing_month(now)).await?;
    Ok(read.map(|found| found.submitted.into_iter().chain(found.unbilled).collect()))
}

/// Whether [`read_account`] found the account and, for a payment "by readings", the submission it
/// names among those not billed yet.
pub fn known_account(
    read: Result<Option<Vec<SubmittedReadings>>, StoreError>,
    request: &PaymentRequest,
    caller: &CallerId,
) -> Result<(), RegistrationError> {
    let unbilled = lookup::found(read, &request.account).map_err(|e| match e {
        LookupError::AccountNotFound => RegistrationError::AccountNotFound,
        LookupError::Unavailable => RegistrationError::Unavailable,
    })?;
    match &request.readings_id {
        Some(id) => check_readings(&unbilled, &request.account, id, &Submitter::from(caller)),
        None => Ok(()),
    }
}

/// Registers `request` for `caller` under `key`, after [`check`] and [`known_account`].
pub async fn register<S, A>(
    store: &S,
    acquirer: &A,
    settings: &PaySettings,
    request: &PaymentRequest,
    caller: &CallerId,
    checked: Checked,
    now: DateTime<Utc>,
) -> Result<Registered, RegistrationError>
where
    S: PaymentReader + PaymentWriter + PaymentClaims + Sync,
    A: Acquirer,
{
    let masked = request.account.masked();
    let scope = IdempotencyScope { caller: caller.to_string(), key: checked.key };
    let policy = settings.idempotency;
    // Written with the claim: a fresh lease's payment exists, `NEW`, before `Init`.
    let candidate = new_payment(request, caller, checked.candidate, checked.deadline, now);
    let claim =
        idempotency::claim(store, &scope, &request.fingerprint(), &candidate, now, policy).await.map_err(|e| {
            tracing::error!(error = %e, "idempotency claim failed");
            RegistrationError::Unavailable
        })?;
    let mut lease = match claim {
        Claim::Acquired(lease) => lease,
        Claim::Replay(recorded) => {
            tracing::info!(account = %masked, status = recorded.status, "payment answer replayed");
            metrics::count(Metric::DuplicatesAbsorbed, 1);
            return Ok(Registered::Replayed(recorded));
        }
        Claim::InProgress => {
            tracing::info!(account = %masked, "the same payment is being created by another request");
            return Err(RegistrationError::InProgress);
        }
        Claim::Mismatch => {
            tracing::info!(account = %masked, "idempotency key reused for another payment");
            return Err(RegistrationError::KeyReused);
        }
    };
    if lease.resumed {
        tracing::info!(account = %masked, payment_id = %lease.resource, "resuming an unfinished attempt");
    }
    let flow = Flow { store, acquirer, settings, request, caller, now, fresh_deadline: checked.deadline };
    let outcome = flow.register(&mut lease).await;
    flow.end_lease(lease, outcome).await
}

/// The payment as it is written before its first `Init`; `deadline` is its form's, the same for
/// every `Init` of it.
fn new_payment(
    request: &PaymentRequest,
    caller: &CallerId,
    id: PaymentId,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Payment {
    Payment {
        id,
        account: request.account,
        amount: request.amount,
        email: Some(request.email.clone()),
        caller: caller.clone(),
        readings_id: request.readings_id.clone(),
        status: PaymentStatus::New,
        acquirer_payment_id: None,
        payment_url: None,
        form_deadline: Some(deadline),
        refunded: Money::ZERO,
        card: None,
        method: request.method,
        created_at: now,
        updated_at: now,
    }
}

/// A payment "by readings" must name this account's current submission: not another account's,
/// not figures replaced since (the amount the customer saw would not be what is billed), and not a
/// submission the billing system has billed already (its charge is in the balance; paying it
/// again "by readings" would list figures that are no longer what the payment is for). And it must
/// be the caller's own: the success email lists the figures paid for, which only their submitter
/// sees. Anyone else's is refused as if it did not exist, so the answer tells nothing about it;
/// paying the account without it stays open to everyone.
fn check_readings(
    unbilled: &[SubmittedReadings],
    account: &AccountNumber,
    id: &ReadingsId,
    asking: &Submitter,
) -> Result<(), RegistrationError> {
    match unbilled.iter().find(|readings| readings.readings_id == *id) {
        Some(readings) if asking.handed_in(&readings.caller) => Ok(()),
        Some(_) => {
            tracing::info!(account = %account.masked(), "payment names readings another user handed in");
            Err(RegistrationError::ReadingsNotFound)
        }
        None => {
            tracing::info!(account = %account.masked(), "payment names readings this account does not have, or has had billed");
            Err(RegistrationError::ReadingsNotFound)
        }
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
fn deadline_error(e: &FormDeadlineError, now: DateTime<Utc>) -> RegistrationError {
    match e.retry_after_secs(now) {
        Some(secs) => {
            tracing::info!(retry_after = secs, "payment refused: the VAT rate changes in less than a minute");
            RegistrationError::VatRateChanging { retry_after_secs: secs }
        }
        None => {
            tracing::error!(error = %e, "the form's lifetime is misconfigured");
            RegistrationError::Unavailable
        }
    }
}

/// One registration's ports, settings and request.
struct Flow<'a, S, A> {
    store: &'a S,
    acquirer: &'a A,
    settings: &'a PaySettings,
    request: &'a PaymentRequest,
    caller: &'a CallerId,
    now: DateTime<Utc>,
    /// The form deadline of the payment a fresh claim wrote.
    fresh_deadline: DateTime<Utc>,
}

/// What became of a request.
enum Outcome {
    /// The bank holds the payment and the customer has its form URL; the bank's answer to be
    /// recorded on the payment, unless it was recorded before.
    Created(PaymentCreated, Option<InitAnswer>),
    /// Nothing payable exists for this attempt: the key can be forgotten.
    Refused(RegistrationError),
    /// The bank may hold a payment for it: the key keeps the payment id for a retry.
    Unsettled(RegistrationError),
}

/// What one `Init` did.
enum InitOutcome {
    Created(PaymentCreated, InitAnswer),
    /// The bank already holds a payment for this `OrderId`.
    OrderTaken,
    /// The payment's form deadline leaves no time to open its form.
    FormClosed,
    Refused(RegistrationError),
    Unsettled(RegistrationError),
}

impl<S, A> Flow<'_, S, A>
where
    S: PaymentReader + PaymentWriter + PaymentClaims + Sync,
    A: Acquirer,
{
    async fn register(&self, lease: &mut Lease) -> Outcome {
        let Ok(id) = lease.resource.parse::<PaymentId>() else {
            tracing::error!("the idempotency record holds no payment id");
            return Outcome::Unsettled(RegistrationError::Unavailable);
        };
        let first = if lease.resumed {
            let earlier = match self.store.payment(&id).await {
                Ok(earlier) => earlier,
                Err(e) => {
                    tracing::error!(error = %e, payment_id = %id, "payment read failed");
                    return Outcome::Unsettled(RegistrationError::Unavailable);
                }
            };
            match earlier {
                // The crash came before the payment was written: nothing was sent to the bank.
                None => self.create_and_init(&id).await,
                Some(payment) => match (&payment.payment_url, payment.status) {
                    (Some(url), _) => {
                        tracing::info!(payment_id = %id, "the bank's answer was recorded before");
                        let created = PaymentCreated {
                            payment_id: id.to_string(),
                            payment_url: url.clone(),
                            amount: payment.amount,
                            status: payment.status,
                            method: payment.method,
                        };
                        return Outcome::Created(created, None);
                    }
                    (None, PaymentStatus::New) => match self.open_deadline(&payment) {
                        Some(deadline) => self.send_init(&id, deadline).await,
                        None => InitOutcome::FormClosed,
                    },
                    (None, status) => {
                        tracing::info!(payment_id = %id, status = status.as_str(), "the earlier payment ended; starting anew");
                        return self.replace(lease).await;
                    }
                },
            }
        } else {
            // A fresh claim wrote the payment with it.
            self.send_init(&id, self.fresh_deadline).await
        };
        match first {
            InitOutcome::Created(created, init) => Outcome::Created(created, Some(init)),
            InitOutcome::Refused(problem) => Outcome::Refused(problem),
            InitOutcome::Unsettled(problem) => Outcome::Unsettled(problem),
            InitOutcome::OrderTaken if self.request.method == PayMethod::Sbp => self.resume_sbp(lease, &id).await,
            InitOutcome::OrderTaken => {
                tracing::warn!(payment_id = %id, "the bank holds this payment from an attempt whose answer was lost");
                self.supersede(lease, &id).await
            }
            InitOutcome::FormClosed => {
                tracing::info!(payment_id = %id, "the earlier payment's form deadline has passed; replacing it");
                self.supersede(lease, &id).await
            }
        }
    }

    /// The deadline of a resumed payment's form, while a form can still open with it. Payments stored
    /// before deadlines were kept get the one their creation would have given them.
    fn open_deadline(&self, payment: &Payment) -> Option<DateTime<Utc>> {
        let deadline = payment.form_deadline.or_else(|| self.settings.init.form_deadline(payment.created_at).ok())?;
        form_deadline::is_open(deadline, self.now).then_some(deadline)
    }

    /// The bank may hold a payment for `old` whose form nobody has (its `Init` answer was lost, or
    /// its deadline has passed): cancel what is still open there and start another.
    async fn supersede(&self, lease: &mut Lease, old: &PaymentId) -> Outcome {
        use crate::acquirer::PaymentStatus as AtBank;
        let order = match self.acquirer.check_order(old.as_str()).await {
            Ok(order) => order,
            Err(e) => return Outcome::Unsettled(unknown_outcome(&e)),
        };
        for attempt in &order.payments {
            match attempt.status {
                AtBank::New => {
                    if let Err(e) = self.acquirer.cancel(&CancelRequest::whole(attempt.payment_id.clone())).await {
                        tracing::warn!(error = %e, payment_id = %old, "cancelling the lost attempt failed");
                        return Outcome::Unsettled(unknown_outcome(&e));
                    }
                    tracing::info!(payment_id = %old, acquirer_payment_id = %attempt.payment_id, "lost attempt cancelled");
                }
                ref status if status.is_failed() => {}
                ref status => {
                    // Someone has its form URL after all (the form was opened, or paid): never start a
                    // second payment beside it. The notifications and the reconciliation settle it.
                    tracing::warn!(payment_id = %old, status = %status, "the lost attempt is in use; not replacing it");
                    return Outcome::Unsettled(RegistrationError::InProgress);
                }
            }
        }
        if let Err(e) = self.store.mark_failed(old, "superseded", self.now).await {
            tracing::error!(error = %e, payment_id = %old, "marking the replaced payment failed");
            return Outcome::Unsettled(RegistrationError::Unavailable);
        }
        self.replace(lease).await
    }

    /// A new payment for the request, bound to the key in place of the one that cannot be used.
    async fn replace(&self, lease: &mut Lease) -> Outcome {
        let id = PaymentId::random();
        if let Err(e) = lease.rebind(self.store, id.as_str()).await {
            tracing::error!(error = %e, "binding the new payment to the idempotency key failed");
            return Outcome::Unsettled(RegistrationError::Unavailable);
        }
        match self.create_and_init(&id).await {
            InitOutcome::Created(created, init) => Outcome::Created(created, Some(init)),
            InitOutcome::Refused(problem) => Outcome::Refused(problem),
            InitOutcome::Unsettled(problem) => Outcome::Unsettled(problem),
            InitOutcome::OrderTaken => {
                tracing::error!(payment_id = %id, "the bank holds a payment for a fresh random id");
                self.mark_failed(&id, "order-taken").await;
                Outcome::Refused(RegistrationError::AcquirerRefused)
            }
            InitOutcome::FormClosed => {
                tracing::error!(payment_id = %id, "a fresh payment's form closed before it opened");
                self.mark_failed(&id, "form-closed").await;
                Outcome::Refused(RegistrationError::Unavailable)
            }
        }
    }

    async fn create_and_init(&self, id: &PaymentId) -> InitOutcome {
        // Fixed once, here: every later `Init` of this payment sends the same deadline.
        let deadline = match self.settings.init.form_deadline(self.now) {
            Ok(deadline) => deadline,
            Err(e) => return InitOutcome::Refused(deadline_error(&e, self.now)),
        };
        let payment = new_payment(self.request, self.caller, id.clone(), deadline, self.now);
        if let Err(e) = self.store.create(&payment).await {
            tracing::error!(error = %e, payment_id = %id, "payment write failed");
            return InitOutcome::Unsettled(RegistrationError::Unavailable);
        }
        self.send_init(id, deadline).await
    }

    async fn send_init(&self, id: &PaymentId, deadline: DateTime<Utc>) -> InitOutcome {
        let body = match init_request(self.settings, self.request, id, self.now, deadline) {
            Ok(body) => body,
            Err(e) => {
                // Checked before the key was claimed; only a changed configuration gets here.
                tracing::error!(error = %e, payment_id = %id, "the Init body cannot be built");
                self.mark_failed(id, "init-body").await;
                return InitOutcome::Refused(RegistrationError::Unavailable);
            }
        };
        match self.acquirer.init(&body).await {
            Ok(answer) => {
                if answer.amount != self.request.amount || answer.order_id != id.as_str() {
                    // The callback compares the captured amount with ours before crediting anything.
                    tracing::error!(payment_id = %id, echoed_amount = %answer.amount, "the bank echoed another order or amount");
                }
                let url = match self.request.method {
                    PayMethod::Card => answer.payment_url,
                    PayMethod::Sbp => match self.sbp_link(id, &answer.payment_id).await {
                        Ok(link) => link,
                        Err(outcome) => return outcome,
                    },
                };
                self.created(id, &answer.payment_id, url)
            }
            Err(e) if e.refusal() == Some(Refusal::OrderConflict) => InitOutcome::OrderTaken,
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(error = %e, payment_id = %id, "the bank's answer to Init is unknown; the payment stays NEW");
                InitOutcome::Unsettled(unknown_outcome(&e))
            }
            Err(e) => {
                tracing::warn!(error = %e, payment_id = %id, "the bank refused the payment");
                self.mark_failed(id, e.code().unwrap_or("request-not-sent")).await;
                InitOutcome::Refused(match e {
                    AcquirerError::Declined { .. } => RegistrationError::AcquirerRefused,
                    // Nothing was sent: our fault, not the bank's.
                    _ => RegistrationError::Unavailable,
                })
            }
        }
    }

    /// The customer's answer, the form URL or the СБП link, and the bank's answer to be recorded
    /// with the key's completion (`end_lease`).
    fn created(&self, id: &PaymentId, acquirer_id: &AcquirerPaymentId, url: String) -> InitOutcome {
        let init = InitAnswer {
            payment: id.clone(),
            acquirer_payment_id: acquirer_id.as_str().to_owned(),
            payment_url: url.clone(),
            at: self.now,
        };
        let created = PaymentCreated {
            payment_id: id.to_string(),
            payment_url: url,
            amount: self.request.amount,
            status: PaymentStatus::New,
            method: self.request.method,
        };
        InitOutcome::Created(created, init)
    }

    /// The СБП link of the payment `Init` created at the bank as `acquirer_id`. Nothing is
    /// recorded before it comes, so a retry with the key finds the payment without a URL and
    /// resumes it ([`Flow::resume_sbp`]).
    async fn sbp_link(&self, id: &PaymentId, acquirer_id: &AcquirerPaymentId) -> Result<String, InitOutcome> {
        match self.acquirer.get_qr(&QrRequest::link(acquirer_id.clone())).await {
            Ok(answer) if is_usable_link(&answer.data) => Ok(answer.data),
            Ok(_) => {
                tracing::error!(payment_id = %id, "GetQr answered something that is not a link");
                Err(self.withdraw(id, acquirer_id, RegistrationError::AcquirerUnavailable).await)
            }
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(error = %e, payment_id = %id, "the bank's answer to GetQr is unknown; the payment stays NEW");
                Err(InitOutcome::Unsettled(unknown_outcome(&e)))
            }
            Err(e) => {
                tracing::warn!(error = %e, payment_id = %id, "the bank refused the СБП link");
                let problem = match e {
                    AcquirerError::Declined { .. } => RegistrationError::AcquirerRefused,
                    _ => RegistrationError::Unavailable,
                };
                Err(self.withdraw(id, acquirer_id, problem).await)
            }
        }
    }

    /// A payment whose СБП link cannot be had: cancelled at the bank, then marked failed, so the
    /// key is free for a fresh attempt. While the cancel's outcome is unknown it stays `NEW` and
    /// the key keeps it: a retry resumes it, the reconciliation settles it.
    async fn withdraw(
        &self,
        id: &PaymentId,
        acquirer_id: &AcquirerPaymentId,
        problem: RegistrationError,
    ) -> InitOutcome {
        match self.acquirer.cancel(&CancelRequest::whole(acquirer_id.clone())).await {
            Ok(_) => {
                self.mark_failed(id, "sbp-link-refused").await;
                InitOutcome::Refused(problem)
            }
            Err(e) => {
                tracing::warn!(error = %e, payment_id = %id, "cancelling the payment without a СБП link failed");
                InitOutcome::Unsettled(problem)
            }
        }
    }

    /// A СБП payment the bank holds but whose link was never recorded: the attempt still open at
    /// the bank is asked for its link again (the same payment, so nothing new becomes payable);
    /// one that ended is replaced as a lost card payment is ([`Flow::supersede`]).
    async fn resume_sbp(&self, lease: &mut Lease, id: &PaymentId) -> Outcome {
        use crate::acquirer::PaymentStatus as AtBank;
        let order = match self.acquirer.check_order(id.as_str()).await {
            Ok(order) => order,
            Err(e) => return Outcome::Unsettled(unknown_outcome(&e)),
        };
        let open = order.payments.iter().find(|attempt| matches!(attempt.status, AtBank::New | AtBank::FormShowed));
        let Some(open) = open else {
            tracing::info!(payment_id = %id, "the СБП payment without a link is not open at the bank");
            return self.supersede(lease, id).await;
        };
        tracing::info!(payment_id = %id, acquirer_payment_id = %open.payment_id, "asking again for the СБП link");
        let outcome = match self.sbp_link(id, &open.payment_id).await {
            Ok(link) => self.created(id, &open.payment_id, link),
            Err(outcome) => outcome,
        };
        match outcome {
            InitOutcome::Created(created, init) => Outcome::Created(created, Some(init)),
            InitOutcome::Refused(problem) => Outcome::Refused(problem),
            InitOutcome::Unsettled(problem) => Outcome::Unsettled(problem),
            InitOutcome::OrderTaken | InitOutcome::FormClosed => Outcome::Unsettled(RegistrationError::Unavailable),
        }
    }

    async fn record_init(&self, init: &InitAnswer) {
        let recorded =
            self.store.record_init(&init.payment, &init.acquirer_payment_id, &init.payment_url, init.at).await;
        if let Err(e) = recorded {
            // The customer can pay all the same: the callback finds the payment by its OrderId.
            tracing::error!(error = %e, payment_id = %init.payment, "recording the bank's answer failed");
        }
    }

    /// The payment will never be paid; a failure to record it is left to the reconciliation.
    async fn mark_failed(&self, id: &PaymentId, reason: &str) {
        if let Err(e) = self.store.mark_failed(id, reason, self.now).await {
            tracing::error!(error = %e, payment_id = %id, "marking the payment failed did not succeed");
        }
    }

    /// Ends the lease as the outcome requires and answers.
    async fn end_lease(&self, lease: Lease, outcome: Outcome) -> Result<Registered, RegistrationError> {
        match outcome {
            Outcome::Created(created, init) => {
                tracing::info!(payment_id = %created.payment_id, amount = %created.amount, "payment created");
                metrics::count(Metric::PaymentsCreated, 1);
                let recorded = RecordedResponse {
                    status: 201,
                    body: serde_json::to_string(&created).expect("our response types serialise"),
                };
                let policy = self.settings.idempotency;
                let lease = match init {
                    None => lease,
                    Some(init) => {
                        match lease.complete_with_init(self.store, &recorded, self.now, policy, &init).await {
                            Ok(()) => return Ok(Registered::Created(recorded)),
                            Err((lease, e)) => {
                                // Each on its own then, so that one failing does not lose the other.
                                tracing::warn!(error = %e, payment_id = %init.payment, "recording the answer with the key failed; recording each alone");
                                self.record_init(&init).await;
                                lease
                            }
                        }
                    }
                };
                if let Err(e) = lease.complete(self.store, &recorded, self.now, policy).await {
                    // The payment stands; a retry with the key resumes it and finds the same form URL.
                    tracing::error!(error = %e, "recording the answer for replay failed");
                }
                Ok(Registered::Created(recorded))
            }
            Outcome::Refused(error) => {
                if let Err(e) = lease.forget(self.store).await {
                    tracing::error!(error = %e, "freeing the idempotency key failed");
                }
                Err(error)
            }
            Outcome::Unsettled(error) => {
                if let Err(e) = lease.release(self.store).await {
                    tracing::error!(error = %e, "releasing the idempotency key failed; it frees itself within a minute");
                }
                Err(error)
            }
        }
    }
}

fn unknown_outcome(e: &AcquirerError) -> RegistrationError {
    match e {
        AcquirerError::Unavailable(Unavailability::Timeout) => RegistrationError::AcquirerTimeout,
        _ => RegistrationError::AcquirerUnavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
