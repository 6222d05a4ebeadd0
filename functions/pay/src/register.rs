//! Registering one payment with the bank, whatever is retried.
//!
//! The payment is written `NEW` before `Init` (so a notification or the reconciliation always
//! finds it), then completed with the bank's `PaymentId` and form URL. A definite refusal marks it
//! `FAILED`; an unknown outcome leaves it `NEW` for the reconciliation (`CheckOrder`).
//!
//! # A retry after an unknown outcome never makes a second payable payment
//!
//! Our payment id is the bank's `OrderId`, and the bank refuses a second `Init` for an `OrderId`
//! it holds (error 20 / 623). So when the bank's answer is lost, the idempotency key is released
//! but stays bound to the payment id ([`energosbyt::ports::idempotency::Lease::release`]), and a
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

use crate::App;
use crate::view::PaymentCreated;
use chrono::{DateTime, Utc};
use energosbyt::acquirer::{Acquirer, AcquirerError, CancelRequest, Refusal, Unavailability};
use energosbyt::domain::form_deadline;
use energosbyt::domain::payment_request::PaymentRequest;
use energosbyt::domain::{Money, Payment, PaymentId, PaymentStatus};
use energosbyt::edge::Problem;
use energosbyt::ports::idempotency::{IdempotencyStore, Lease};
use energosbyt::ports::{PaymentReader, PaymentWriter};

/// What became of a request.
pub(crate) enum Outcome {
    /// The bank holds the payment and the customer has its form URL.
    Created(PaymentCreated),
    /// Nothing payable exists for this attempt: the key can be forgotten.
    Refused(Problem),
    /// The bank may hold a payment for it: the key keeps the payment id for a retry.
    Unsettled(Problem),
}

/// What one `Init` did.
enum InitOutcome {
    Created(PaymentCreated),
    /// The bank already holds a payment for this `OrderId`.
    OrderTaken,
    /// The payment's form deadline leaves no time to open its form.
    FormClosed,
    Refused(Problem),
    Unsettled(Problem),
}

pub(crate) async fn register<S, A>(
    app: &App<S, A>,
    request: &PaymentRequest,
    lease: &mut Lease,
    caller: &str,
    now: DateTime<Utc>,
) -> Outcome
where
    S: PaymentReader + PaymentWriter + IdempotencyStore + Sync,
    A: Acquirer,
{
    let Ok(id) = lease.resource.parse::<PaymentId>() else {
        tracing::error!("the idempotency record holds no payment id");
        return Outcome::Unsettled(Problem::unavailable());
    };
    let first = if lease.resumed {
        let earlier = match app.store.payment(&id).await {
            Ok(earlier) => earlier,
            Err(e) => {
                tracing::error!(error = %e, payment_id = %id, "payment read failed");
                return Outcome::Unsettled(Problem::unavailable());
            }
        };
        match earlier {
            // The crash came before the payment was written: nothing was sent to the bank.
            None => create_and_init(app, request, &id, caller, now).await,
            Some(payment) => match (&payment.payment_url, payment.status) {
                (Some(url), _) => {
                    tracing::info!(payment_id = %id, "the bank's answer was recorded before");
                    return Outcome::Created(PaymentCreated {
                        payment_id: id.to_string(),
                        payment_url: url.clone(),
                        amount: payment.amount,
                        status: payment.status,
                    });
                }
                (None, PaymentStatus::New) => match open_deadline(app, &payment, now) {
                    Some(deadline) => send_init(app, request, &id, deadline, now).await,
                    None => InitOutcome::FormClosed,
                },
                (None, status) => {
                    tracing::info!(payment_id = %id, status = status.as_str(), "the earlier payment ended; starting anew");
                    return replace(app, request, lease, caller, now).await;
                }
            },
        }
    } else {
        create_and_init(app, request, &id, caller, now).await
    };
    match first {
        InitOutcome::Created(created) => Outcome::Created(created),
        InitOutcome::Refused(problem) => Outcome::Refused(problem),
        InitOutcome::Unsettled(problem) => Outcome::Unsettled(problem),
        InitOutcome::OrderTaken => {
            tracing::warn!(payment_id = %id, "the bank holds this payment from an attempt whose answer was lost");
            supersede(app, request, lease, &id, caller, now).await
        }
        InitOutcome::FormClosed => {
            tracing::info!(payment_id = %id, "the earlier payment's form deadline has passed; replacing it");
            supersede(app, request, lease, &id, caller, now).await
        }
    }
}

/// The deadline of a resumed payment's form, while a form can still open with it. Payments stored
/// before deadlines were kept get the one their creation would have given them.
fn open_deadline<S, A>(app: &App<S, A>, payment: &Payment, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let deadline = payment.form_deadline.or_else(|| app.settings.init.form_deadline(payment.created_at).ok())?;
    form_deadline::is_open(deadline, now).then_some(deadline)
}

/// The bank may hold a payment for `old` whose form nobody has (its `Init` answer was lost, or
/// its deadline has passed): cancel what is still open there and start another.
async fn supersede<S, A>(
    app: &App<S, A>,
    request: &PaymentRequest,
    lease: &mut Lease,
    old: &PaymentId,
    caller: &str,
    now: DateTime<Utc>,
) -> Outcome
where
    S: PaymentReader + PaymentWriter + IdempotencyStore + Sync,
    A: Acquirer,
{
    use energosbyt::acquirer::PaymentStatus as AtBank;
    let order = match app.acquirer.check_order(old.as_str()).await {
        Ok(order) => order,
        Err(e) => return Outcome::Unsettled(unknown_outcome(&e)),
    };
    for attempt in &order.payments {
        match attempt.status {
            AtBank::New => {
                if let Err(e) = app.acquirer.cancel(&CancelRequest::whole(attempt.payment_id.clone())).await {
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
                return Outcome::Unsettled(Problem::payment_in_progress());
            }
        }
    }
    if let Err(e) = app.store.mark_failed(old, "superseded", now).await {
        tracing::error!(error = %e, payment_id = %old, "marking the replaced payment failed");
        return Outcome::Unsettled(Problem::unavailable());
    }
    replace(app, request, lease, caller, now).await
}

/// A new payment for the request, bound to the key in place of the one that cannot be used.
async fn replace<S, A>(
    app: &App<S, A>,
    request: &PaymentRequest,
    lease: &mut Lease,
    caller: &str,
    now: DateTime<Utc>,
) -> Outcome
where
    S: PaymentReader + PaymentWriter + IdempotencyStore + Sync,
    A: Acquirer,
{
    let id = PaymentId::random();
    if let Err(e) = lease.rebind(&app.store, id.as_str()).await {
        tracing::error!(error = %e, "binding the new payment to the idempotency key failed");
        return Outcome::Unsettled(Problem::unavailable());
    }
    match create_and_init(app, request, &id, caller, now).await {
        InitOutcome::Created(created) => Outcome::Created(created),
        InitOutcome::Refused(problem) => Outcome::Refused(problem),
        InitOutcome::Unsettled(problem) => Outcome::Unsettled(problem),
        InitOutcome::OrderTaken => {
            tracing::error!(payment_id = %id, "the bank holds a payment for a fresh random id");
            mark_failed(app, &id, "order-taken", now).await;
            Outcome::Refused(Problem::acquirer_refused())
        }
        InitOutcome::FormClosed => {
            tracing::error!(payment_id = %id, "a fresh payment's form closed before it opened");
            mark_failed(app, &id, "form-closed", now).await;
            Outcome::Refused(Problem::unavailable())
        }
    }
}

async fn create_and_init<S, A>(
    app: &App<S, A>,
    request: &PaymentRequest,
    id: &PaymentId,
    caller: &str,
    now: DateTime<Utc>,
) -> InitOutcome
where
    S: PaymentWriter + Sync,
    A: Acquirer,
{
    // Fixed once, here: every later `Init` of this payment sends the same deadline.
    let deadline = match app.settings.init.form_deadline(now) {
        Ok(deadline) => deadline,
        Err(e) => return InitOutcome::Refused(crate::deadline_problem(&e, now)),
    };
    let payment = Payment {
        id: id.clone(),
        account: request.account,
        amount: request.amount,
        email: request.email.expose().to_owned(),
        caller: caller.to_owned(),
        readings_id: request.readings_id.as_ref().map(|r| r.as_str().to_owned()),
        status: PaymentStatus::New,
        acquirer_payment_id: None,
        payment_url: None,
        form_deadline: Some(deadline),
        refunded: Money::ZERO,
        card: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = app.store.create(&payment).await {
        tracing::error!(error = %e, payment_id = %id, "payment write failed");
        return InitOutcome::Unsettled(Problem::unavailable());
    }
    send_init(app, request, id, deadline, now).await
}

async fn send_init<S, A>(
    app: &App<S, A>,
    request: &PaymentRequest,
    id: &PaymentId,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> InitOutcome
where
    S: PaymentWriter + Sync,
    A: Acquirer,
{
    let body = match crate::init_request(&app.settings, request, id, now, deadline) {
        Ok(body) => body,
        Err(e) => {
            // Checked before the key was claimed; only a changed configuration gets here.
            tracing::error!(error = %e, payment_id = %id, "the Init body cannot be built");
            mark_failed(app, id, "init-body", now).await;
            return InitOutcome::Refused(Problem::unavailable());
        }
    };
    match app.acquirer.init(&body).await {
        Ok(answer) => {
            if answer.amount != request.amount || answer.order_id != id.as_str() {
                // The callback compares the captured amount with ours before crediting anything.
                tracing::error!(payment_id = %id, echoed_amount = %answer.amount, "the bank echoed another order or amount");
            }
            let recorded = app.store.record_init(id, answer.payment_id.as_str(), &answer.payment_url, now).await;
            if let Err(e) = recorded {
                // The customer can pay all the same: the callback finds the payment by its OrderId.
                tracing::error!(error = %e, payment_id = %id, "recording the bank's answer failed");
            }
            InitOutcome::Created(PaymentCreated {
                payment_id: id.to_string(),
                payment_url: answer.payment_url,
                amount: request.amount,
                status: PaymentStatus::New,
            })
        }
        Err(e) if e.refusal() == Some(Refusal::OrderConflict) => InitOutcome::OrderTaken,
        Err(e) if e.outcome_unknown() => {
            tracing::warn!(error = %e, payment_id = %id, "the bank's answer to Init is unknown; the payment stays NEW");
            InitOutcome::Unsettled(unknown_outcome(&e))
        }
        Err(e) => {
            tracing::warn!(error = %e, payment_id = %id, "the bank refused the payment");
            mark_failed(app, id, e.code().unwrap_or("request-not-sent"), now).await;
            InitOutcome::Refused(match e {
                AcquirerError::Declined { .. } => Problem::acquirer_refused(),
                // Nothing was sent: our fault, not the bank's.
                _ => Problem::unavailable(),
            })
        }
    }
}

/// The payment will never be paid; a failure to record it is left to the reconciliation.
async fn mark_failed<S: PaymentWriter + Sync, A>(app: &App<S, A>, id: &PaymentId, reason: &str, now: DateTime<Utc>) {
    if let Err(e) = app.store.mark_failed(id, reason, now).await {
        tracing::error!(error = %e, payment_id = %id, "marking the payment failed did not succeed");
    }
}

fn unknown_outcome(e: &AcquirerError) -> Problem {
    match e {
        AcquirerError::Unavailable(Unavailability::Timeout) => Problem::acquirer_timeout(),
        _ => Problem::acquirer_unavailable(),
    }
}
