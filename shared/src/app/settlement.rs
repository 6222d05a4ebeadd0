//! Settlement: what the bank reports (a notification, or reconciliation's `GetState` /
//! `CheckOrder`) applied to a payment — the bank's status turned into the state machine's event,
//! [`payment_transition::apply`] deciding, the transition written conditionally with its money.
//! A condition that fails means another delivery changed the payment first: read again and decide
//! again, so a duplicate ends as `Unchanged` and a racing refund is re-decided on fresh figures.
//! The emails a credit makes due are sent by `customer_emails`; nothing here speaks HTTP.

use super::customer_emails::slot_name;
use crate::acquirer::{
    Notification, PaymentNotification, ReceiptNotification, UnmappedStatus, follows_capture, notified_event,
};
use crate::config::{ConfigError, Env};
use crate::domain::fiscal_receipt::{FiscalReceiptError, SettlementSign};
use crate::domain::payment::Card;
use crate::domain::payment_transition::{self, AcquirerEvent, Attempt, Transition};
use crate::domain::{Money, PayMethod, Payment, PaymentId, PaymentStatus, SellerRequisites};
use crate::mail::{MailSender, Mailer};
use crate::metrics::{self, Metric};
use crate::ports::StoreError;
use crate::ports::ledger::{
    Applied, BankFacts, EmailClaim, EmailLedger, EmailMark, PaymentLedger, PaymentRecord, ReceiptSlot, ReportedStatus,
    StoredReceipt,
};
use crate::ports::readings::ReadingsLookup;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// Reads and conditional writes per delivery before giving up with a 5xx (the bank re-sends).
const MAX_ATTEMPTS: u32 = 6;

/// What applying one bank report did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The account gained the payment's amount.
    Credited { amount: Money },
    /// The account lost `amount`; the payment's refunded sum is now `total_refunded`.
    Refunded { amount: Money, total_refunded: Money },
    /// A status change without money (`AUTHORIZED`, a failure).
    Progressed(PaymentStatus),
    /// Already applied, or older than what the payment shows.
    Unchanged,
    /// The bank captured another amount than we asked: nothing credited, anomaly noted.
    AmountMismatch { expected: Money, reported: Money },
    /// The report contradicts the payment's history: nothing changed, anomaly noted.
    Anomaly(&'static str),
    /// A refund (after a capture, by its status) of a payment whose credit has not been applied
    /// yet while its `CONFIRMED` may still be on its way ([`awaits_capture`]): nothing written;
    /// the caller has the bank deliver it again later. One that no `CONFIRMED` can credit any
    /// more is an [`Effect::Anomaly`] ([`NEVER_CREDITED`]).
    RefundBeforeCredit,
    /// The payment's account has no profile: nothing credited or debited, anomaly noted.
    AccountMissing,
    /// A status of another attempt than the one recorded on the payment, moving no money.
    OtherAttempt,
    /// Left unsettled past the review time: the payment went to an operator (`NEEDS_REVIEW`).
    SentForReview,
    /// A status this service cannot act on (unknown, or without the amount it needs).
    Unmapped(UnmappedStatus),
}

impl Effect {
    /// Short and stable, for logs and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Credited { .. } => "credited",
            Self::Refunded { .. } => "refunded",
            Self::Progressed(PaymentStatus::Failed) => "failed",
            Self::Progressed(_) => "progressed",
            Self::Unchanged => "unchanged",
            Self::AmountMismatch { .. } => "amount_mismatch",
            Self::Anomaly(_) => "anomaly",
            Self::RefundBeforeCredit => "refund_before_credit",
            Self::AccountMissing => "account_missing",
            Self::OtherAttempt => "other_attempt",
            Self::SentForReview => "needs_review",
            Self::Unmapped(_) => "unmapped_status",
        }
    }

    /// An operator should look at the payment.
    pub fn is_anomaly(&self) -> bool {
        matches!(self, Self::AmountMismatch { .. } | Self::Anomaly(_) | Self::AccountMissing | Self::SentForReview)
    }
}

/// A payment after a report was applied, and what applying it did.
#[derive(Clone, Debug)]
pub struct Settled {
    /// As this call's write left it (or as read, when it wrote nothing).
    pub record: PaymentRecord,
    pub effect: Effect,
    /// The emails the write claimed for this call (a credit's): for
    /// [`Settlement::deliver_due_emails`], or they go out only once their claim is abandoned.
    pub held: Vec<EmailClaim>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the payment kept changing during {0} attempts")]
    Contended(u32),
    /// The mail service is unavailable; the claim was released, so a later delivery sends it.
    #[error("a customer email could not be sent: {0}")]
    MailUnavailable(String),
}

/// What happened to a `RECEIPT` notification.
#[derive(Clone, Debug)]
pub enum ReceiptOutcome {
    /// Kept on the payment (now, or by an earlier delivery), whatever requisites it lacks;
    /// `record` as this call's write left it, if it kept it, and `held` its claim on the email.
    Kept { record: Box<PaymentRecord>, held: Vec<EmailClaim> },
    /// It can never be a receipt of this payment (a failed fiscalisation, another order, an
    /// amount the payment never had): not kept; logged and counted for an operator.
    NotThisPayment(FiscalReceiptError),
}

/// The flow's dependencies: the store, the mailer, the seller's requisites, a clock.
pub struct Settlement<L, S> {
    pub ledger: L,
    pub mailer: Mailer<S>,
    pub seller: SellerRequisites,
    /// A claim on an email older than this was abandoned by its sender (well above the
    /// function's own time limit, so a live sender never loses its claim).
    pub email_claim_timeout: TimeDelta,
    /// An email that still cannot be sent this long after it fell due has been retried by the
    /// bank's deliveries and by reconciliation runs in vain: counted as undelivered.
    pub email_overdue: TimeDelta,
    pub clock: fn() -> DateTime<Utc>,
}

impl<L, S> Settlement<L, S>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    pub const DEFAULT_EMAIL_CLAIM_TIMEOUT: TimeDelta = TimeDelta::minutes(5);
    /// Half an hour: the first attempt (the notification's), the bank's next delivery or
    /// reconciliation runs 10 minutes apart, each with the SDK's own retries, have all failed.
    pub const DEFAULT_EMAIL_OVERDUE: TimeDelta = TimeDelta::minutes(30);

    pub fn new(ledger: L, mailer: Mailer<S>, seller: SellerRequisites) -> Self {
        Self {
            ledger,
            mailer,
            seller,
            email_claim_timeout: Self::DEFAULT_EMAIL_CLAIM_TIMEOUT,
            email_overdue: Self::DEFAULT_EMAIL_OVERDUE,
            clock: Utc::now,
        }
    }

    /// Around a store and a mailer built by the caller: the seller's requisites (`SELLER_NAME`,
    /// `SELLER_INN`, `SES_SENDER`, optionally `SETTLEMENT_PLACE`, `OFD_NAME`),
    /// `EMAIL_CLAIM_TIMEOUT_SECS` (default 300, at least 60) and `EMAIL_OVERDUE_SECS` (default
    /// 1800, not negative).
    pub fn configure<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        ledger: L,
        mailer: Mailer<S>,
    ) -> Result<Self, ConfigError> {
        let claim_secs: i64 =
            env.parse_or("EMAIL_CLAIM_TIMEOUT_SECS", Self::DEFAULT_EMAIL_CLAIM_TIMEOUT.num_seconds())?;
        if claim_secs < 60 {
            return Err(ConfigError::Malformed {
                name: "EMAIL_CLAIM_TIMEOUT_SECS",
                why: "at least 60 s, well above the function's time limit".into(),
            });
        }
        let overdue_secs: i64 = env.parse_or("EMAIL_OVERDUE_SECS", Self::DEFAULT_EMAIL_OVERDUE.num_seconds())?;
        if overdue_secs < 0 {
            return Err(ConfigError::Malformed { name: "EMAIL_OVERDUE_SECS", why: "not negative".into() });
        }
        let mut settlement = Self::new(ledger, mailer, SellerRequisites::from_env(env)?);
        settlement.email_claim_timeout = TimeDelta::seconds(claim_secs);
        settlement.email_overdue = TimeDelta::seconds(overdue_secs);
        Ok(settlement)
    }

    /// Applies one report about payment `id`; `None` when no such payment exists.
    ///
    /// `event_of` reads the bank's status against the payment as stored (a partial refund is
    /// measured against the payment's amount); `facts` is what came with the status.
    pub async fn apply_event(
        &self,
        id: &PaymentId,
        event_of: impl Fn(&Payment) -> Result<AcquirerEvent, UnmappedStatus> + Sync,
        facts: &BankFacts,
    ) -> Result<Option<Settled>, SettleError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(mut record) = self.ledger.payment_record(id).await? else {
                return Ok(None);
            };
            // A СБП payment has no card: whatever the bank sends in a card's place is not kept.
            let without_card;
            let facts = if record.payment.method == PayMethod::Sbp && facts.card.is_some() {
                without_card = BankFacts { card: None, ..facts.clone() };
                &without_card
            } else {
                facts
            };
            let event = match event_of(&record.payment) {
                Ok(event) => event,
                Err(unmapped) => {
                    // Nothing is applied: an operator has to learn what the bank meant.
                    metrics::count(Metric::UnmappedStatuses, 1);
                    tracing::warn!(
                        payment_id = %id,
                        bank_status = %facts.status,
                        reason = %unmapped,
                        "a bank status this service cannot act on; nothing applied"
                    );
                    let capture = matches!(&facts.status, ReportedStatus::Bank(status) if status.is_paid());
                    if capture
                        && matches!(unmapped, UnmappedStatus::ContradictedByError { .. })
                        && !record.payment.status.was_credited()
                    {
                        // The capture came and was not credited: a refund of it that follows must
                        // not wait for another (`awaits_capture`). The reconciliation's `GetState`
                        // still credits it if the bank says `CONFIRMED`.
                        self.log_anomaly(&record.payment, "capture_with_error", facts, None);
                        self.ledger.note_anomaly(id, CAPTURE_WITH_ERROR, facts.at).await?;
                    }
                    return Ok(Some(Settled { record, effect: Effect::Unmapped(unmapped), held: Vec::new() }));
                }
            };
            let payment = &record.payment;
            let of_attempt = Attempt::of(payment.acquirer_payment_id.as_deref(), facts.acquirer_payment_id.as_deref());
            let refund_after_capture =
                matches!(event, AcquirerEvent::Refunded { .. } | AcquirerEvent::ImpossiblePartialRefund { .. })
                    && matches!(&facts.status, ReportedStatus::Bank(status) if follows_capture(status));
            if refund_after_capture && !payment.status.was_credited() {
                if awaits_capture(&record, facts.at) {
                    // Its CONFIRMED has not been applied yet (whichever attempt it is of: the
                    // capture will be credited, and its attempt then becomes the credited one).
                    // Read as a reversal, a full refund would fail the payment; applied before the
                    // credit it would be lost while the late CONFIRMED still credits the money.
                    // Applied after the credit, it is exact. So it waits: the bank delivers it again.
                    tracing::warn!(
                        payment_id = %id,
                        bank_status = %facts.status,
                        "refund reported before the credit it refunds; to be delivered again"
                    );
                    return Ok(Some(Settled { record, effect: Effect::RefundBeforeCredit, held: Vec::new() }));
                }
                // No CONFIRMED will credit it now (its capture was refused, the payment is settled
                // otherwise, or too old for one to come): the bank gave back money the account
                // never got. Nothing moves; an operator sees it, and the bank stops delivering it.
                let Some(note) = never_credited_note(record.anomaly.as_deref()) else {
                    metrics::count(Metric::DuplicatesAbsorbed, 1);
                    return Ok(Some(Settled { record, effect: Effect::Unchanged, held: Vec::new() }));
                };
                self.log_anomaly(payment, "refund_never_credited", facts, None);
                self.ledger.note_anomaly(id, &note, facts.at).await?;
                return Ok(Some(Settled { record, effect: Effect::Anomaly(NEVER_CREDITED), held: Vec::new() }));
            }
            let transition =
                payment_transition::apply(payment.status, payment.amount, payment.refunded, event, of_attempt);
            let mut held = Vec::new();
            let effect = match transition {
                // A notification delivered again, or reconciliation asking about a settled payment.
                Transition::Unchanged => {
                    metrics::count(Metric::DuplicatesAbsorbed, 1);
                    Effect::Unchanged
                }
                Transition::AmountMismatch { expected, reported } => {
                    let what = format!("{AMOUNT_MISMATCH}: expected {expected}, reported {reported}");
                    self.log_anomaly(payment, "amount_mismatch", facts, Some((expected, reported)));
                    metrics::count(Metric::AmountMismatches, 1);
                    self.ledger.note_anomaly(id, &what, facts.at).await?;
                    Effect::AmountMismatch { expected, reported }
                }
                Transition::Anomaly(what) => {
                    let amounts = match event {
                        AcquirerEvent::ImpossiblePartialRefund { reported } => Some((payment.amount, reported)),
                        _ => None,
                    };
                    self.log_anomaly(payment, what, facts, amounts);
                    self.ledger.note_anomaly(id, what, facts.at).await?;
                    Effect::Anomaly(what)
                }
                // A mere status of another attempt: logged, ignored.
                Transition::OtherAttempt => {
                    self.log_anomaly(payment, "other_attempt", facts, None);
                    Effect::OtherAttempt
                }
                Transition::Progress(_) | Transition::Credit { .. } | Transition::Refund { .. } => {
                    let claims = match transition {
                        Transition::Credit { .. } => self.claims_on_credit(&record, (self.clock)()),
                        _ => Vec::new(),
                    };
                    match self.ledger.apply_transition(&record, &transition, facts, &claims).await? {
                        Applied::Written => {
                            let effect = effect_of(&transition);
                            match transition {
                                Transition::Credit { amount, anomaly } => {
                                    metrics::roubles(Metric::AmountCredited, amount);
                                    if let Some(what) = anomaly {
                                        // Noted on the payment by the credit's own write.
                                        self.log_anomaly(payment, what, facts, None);
                                    }
                                }
                                Transition::Progress(PaymentStatus::NeedsReview) => {
                                    metrics::count(Metric::PaymentsNeedingReview, 1);
                                    self.log_anomaly(payment, "needs_review", facts, None);
                                }
                                Transition::Progress(PaymentStatus::Failed) => {
                                    metrics::count(Metric::PaymentsFailed, 1)
                                }
                                Transition::Refund { amount, .. } => metrics::roubles(Metric::AmountRefunded, amount),
                                _ => {}
                            }
                            written(&mut record, &transition, facts, &claims);
                            held = claims;
                            effect
                        }
                        Applied::Stale => {
                            tracing::debug!(payment_id = %id, attempt, "payment changed meanwhile; reading it again");
                            back_off(attempt).await;
                            continue;
                        }
                        Applied::AccountMissing => {
                            self.log_anomaly(payment, "account_missing", facts, None);
                            self.ledger.note_anomaly(id, ACCOUNT_MISSING, facts.at).await?;
                            Effect::AccountMissing
                        }
                    }
                }
            };
            return Ok(Some(Settled { record, effect, held }));
        }
        Err(SettleError::Contended(MAX_ATTEMPTS))
    }

    /// Keeps a `RECEIPT` notification (its `raw` body, Token verified) on its payment, whatever
    /// requisites it lacks: only one that can never be this payment's receipt is turned away. The
    /// email waits until the payment is credited: [`Self::deliver_due_emails`] sends it.
    ///
    /// Each fiscal document has a slot of its own ([`ReceiptSlot::of`]): a delivery whose slot
    /// holds a receipt already is one delivered again and changes nothing, and a document that
    /// finds the sale's slot taken by another is kept beside it, never taken for it.
    pub async fn accept_receipt(
        &self,
        notification: &ReceiptNotification,
        raw: &str,
        id: &PaymentId,
    ) -> Result<Option<ReceiptOutcome>, SettleError> {
        // The claims this call's keepings wrote: one whose answer was lost may have landed.
        let mut written = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = self.ledger.payment_record(id).await? else {
                return Ok(None);
            };
            if let Err(e) = notification.check_of_payment(&record.payment) {
                metrics::count(Metric::Anomalies, 1);
                tracing::warn!(
                    anomaly = "receipt_not_of_this_payment",
                    payment_id = %id,
                    account = %record.payment.account.masked(),
                    reason = %e,
                    "anomaly"
                );
                return Ok(Some(ReceiptOutcome::NotThisPayment(e)));
            }
            let slot = ReceiptSlot::of(notification, &record);
            if record.receipt(&slot).is_some() {
                // Delivered again — or kept by this call's own write, whose answer was lost and
                // whose retry then met its own receipt: the claim is ours if it is there. The
                // first report stands, and its email is settled or due as read.
                let held = record.carrying(std::mem::take(&mut written));
                return Ok(Some(ReceiptOutcome::Kept { record: Box::new(record), held }));
            }
            let now = (self.clock)();
            let receipt = StoredReceipt { slot: slot.clone(), notification: raw.to_owned(), received_at: now };
            let claim = self.claim_on_keeping(&record, &receipt, now);
            match self.ledger.keep_receipt(id, &receipt, claim.as_ref()).await? {
                Some(kept) => {
                    tracing::info!(payment_id = %id, slot = slot_name(&slot), "fiscal receipt kept");
                    // Kept where the payment, not the bank, says it belongs: an operator should
                    // know the bank's feed left its kind out, or reported a second sale.
                    let guessed = match (&slot, notification.settlement_sign()) {
                        (ReceiptSlot::Refund { .. }, Ok(None)) => Some("receipt_without_type"),
                        (ReceiptSlot::Unidentified { .. }, Ok(Some(SettlementSign::Income))) => {
                            Some("second_sale_receipt")
                        }
                        _ => None,
                    };
                    if let Some(anomaly) = guessed {
                        metrics::count(Metric::Anomalies, 1);
                        tracing::warn!(
                            anomaly,
                            payment_id = %id,
                            account = %record.payment.account.masked(),
                            slot = slot_name(&slot),
                            status = record.payment.status.as_str(),
                            "a fiscal document kept beside the sale's by what the payment says"
                        );
                    }
                    let held = claim.into_iter().collect();
                    return Ok(Some(ReceiptOutcome::Kept { record: Box::new(kept), held }));
                }
                // The slot was taken after our read: by a concurrent delivery of this document,
                // by this very write (its answer lost), or — the sale's slot — by another
                // document, which this one now goes beside. Read again and place it again.
                None => written.extend(claim),
            }
        }
        Err(SettleError::Contended(MAX_ATTEMPTS))
    }

    fn log_anomaly(
        &self,
        payment: &Payment,
        anomaly: &'static str,
        facts: &BankFacts,
        amounts: Option<(Money, Money)>,
    ) {
        metrics::count(Metric::Anomalies, 1);
        let (expected, reported) = amounts.map_or((None, None), |(e, r)| (Some(e), Some(r)));
        tracing::warn!(
            anomaly,
            payment_id = %payment.id,
            account = %payment.account.masked(),
            status = payment.status.as_str(),
            bank_status = %facts.status,
            acquirer_payment_id = facts.acquirer_payment_id.as_deref(),
            recorded_acquirer_payment_id = payment.acquirer_payment_id.as_deref(),
            amount = %payment.amount,
            refunded = %payment.refunded,
            expected = expected.map(tracing::field::display),
            reported = reported.map(tracing::field::display),
            "anomaly"
        );
    }
}

/// What a verified notification came to; every one but [`Self::DeliverAgain`] is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// Applied (or already applied), and the emails it made due have gone out.
    Applied,
    /// A correctly signed notification about an order we never made: nothing to apply, and
    /// nothing the bank could fix by delivering it again.
    UnknownOrder,
    /// A refund reported before the credit it refunds: the bank's next delivery finds it credited.
    DeliverAgain,
    /// A receipt that can never be this payment's: logged as an anomaly; delivering it again
    /// would not change that.
    NotThisPayment,
}

impl<L, S> Settlement<L, S>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    /// Applies one notification whose Token and terminal were verified (`raw` is its body, kept
    /// with a receipt), then sends the emails it made due. An error is our own fault, logged here:
    /// the bank delivers the notification again.
    pub async fn settle_notification(
        &self,
        notification: &Notification,
        raw: &str,
    ) -> Result<NotificationOutcome, SettleError> {
        let Ok(id) = notification.order_id().parse::<PaymentId>() else {
            return Ok(unknown_order(notification));
        };
        let fault = |e: SettleError| {
            tracing::error!(payment_id = %id, error = %e, "notification not applied; the bank will deliver it again");
            e
        };
        let (record, held) = match notification {
            Notification::Payment(n) => {
                let facts = facts_of(n, (self.clock)());
                let settled =
                    self.apply_event(&id, |payment| notified_event(n, payment.amount), &facts).await.map_err(fault)?;
                let Some(settled) = settled else {
                    return Ok(unknown_order(notification));
                };
                tracing::info!(
                    payment_id = %id,
                    bank_status = %n.status,
                    effect = settled.effect.kind(),
                    status = settled.record.payment.status.as_str(),
                    "payment notification applied"
                );
                if settled.effect == Effect::RefundBeforeCredit {
                    return Ok(NotificationOutcome::DeliverAgain);
                }
                (settled.record, settled.held)
            }
            Notification::Receipt(r) => match self.accept_receipt(r, raw, &id).await.map_err(fault)? {
                None => return Ok(unknown_order(notification)),
                Some(ReceiptOutcome::NotThisPayment(_)) => return Ok(NotificationOutcome::NotThisPayment),
                Some(ReceiptOutcome::Kept { record, held }) => (*record, held),
            },
        };
        self.deliver_due_emails(&record, held).await.map_err(fault)?;
        Ok(NotificationOutcome::Applied)
    }
}

/// The anomaly a refund of a payment no `CONFIRMED` can credit any more is.
pub const NEVER_CREDITED: &str = "refund of a payment never credited";
/// Noted when the bank captured another amount than the payment's (then the amounts).
const AMOUNT_MISMATCH: &str = "amount mismatch";
/// Noted when a credit found no account to credit.
const ACCOUNT_MISSING: &str = "account missing";
/// Noted when a `CONFIRMED` came with `Success` false or an error code, and was not credited.
const CAPTURE_WITH_ERROR: &str = "capture notified with an error";

/// The bank delivers a notification not answered `OK` again for this long.
const BANK_REDELIVERS_FOR: TimeDelta = TimeDelta::hours(24);
/// The life of a form stored without its deadline: the bank's default `RedirectDueDate`.
const DEFAULT_FORM_LIFE: TimeDelta = TimeDelta::hours(24);
/// For the bank's hourly schedule and the clocks.
const REDELIVERY_MARGIN: TimeDelta = TimeDelta::hours(1);

/// Whether a refund (after a capture) of this payment, never credited, should wait for its
/// `CONFIRMED`, at `now`. Only while one may still come and credit it: the payment is still
/// waiting for the bank (a failed payment or one under review is settled otherwise), no capture
/// of it was already refused (an amount mismatch, a missing account, a capture notified with an
/// error — once the bank has refunded, the reconciliation's `GetState` says so, not `CONFIRMED`),
/// and the bank may still be delivering its `CONFIRMED`: the capture happened before the form
/// closed, and the bank delivers a notification again for a day.
pub fn awaits_capture(record: &PaymentRecord, now: DateTime<Utc>) -> bool {
    let payment = &record.payment;
    let form_closed = payment.form_deadline.unwrap_or(payment.created_at + DEFAULT_FORM_LIFE);
    payment.status.is_pending()
        && !record.anomaly.as_deref().is_some_and(refuses_capture)
        && now < form_closed + BANK_REDELIVERS_FOR + REDELIVERY_MARGIN
}

/// An anomaly noted on a payment that says its capture came and was not credited (or that a refund
/// was already found never credited).
fn refuses_capture(note: &str) -> bool {
    [NEVER_CREDITED, AMOUNT_MISMATCH, ACCOUNT_MISSING, CAPTURE_WITH_ERROR].iter().any(|kind| note.starts_with(kind))
}

/// What to note on a payment when the bank refunds it while it was never credited, keeping what
/// was noted before (the refused capture says why); `None` when that is noted already.
fn never_credited_note(noted: Option<&str>) -> Option<String> {
    match noted {
        Some(noted) if noted.starts_with(NEVER_CREDITED) => None,
        Some(noted) => Some(format!("{NEVER_CREDITED} (noted before: {noted})")),
        None => Some(NEVER_CREDITED.to_owned()),
    }
}

fn facts_of(n: &PaymentNotification, at: DateTime<Utc>) -> BankFacts {
    BankFacts {
        status: ReportedStatus::Bank(n.status.clone()),
        acquirer_payment_id: Some(n.payment_id.as_str().to_owned()),
        card: n.pan.as_deref().and_then(Card::of_pan),
        error_code: n.error().map(str::to_owned),
        at,
    }
}

/// Logged and counted for an operator.
fn unknown_order(notification: &Notification) -> NotificationOutcome {
    metrics::count(Metric::Anomalies, 1);
    let order: String = notification.order_id().chars().take(40).collect();
    tracing::warn!(
        anomaly = "unknown_order",
        order_id = %order,
        acquirer_payment_id = %notification.payment_id(),
        amount = notification.amount().map(tracing::field::display),
        "anomaly"
    );
    NotificationOutcome::UnknownOrder
}

fn effect_of(transition: &Transition) -> Effect {
    match *transition {
        Transition::Credit { amount, .. } => Effect::Credited { amount },
        Transition::Refund { amount, total_refunded, .. } => Effect::Refunded { amount, total_refunded },
        Transition::Progress(PaymentStatus::NeedsReview) => Effect::SentForReview,
        Transition::Progress(status) => Effect::Progressed(status),
        Transition::Unchanged => Effect::Unchanged,
        Transition::AmountMismatch { expected, reported } => Effect::AmountMismatch { expected, reported },
        Transition::Anomaly(what) => Effect::Anomaly(what),
        Transition::OtherAttempt => Effect::OtherAttempt,
    }
}

/// The record as the written transition left it, without reading it again.
fn written(record: &mut PaymentRecord, transition: &Transition, facts: &BankFacts, claims: &[EmailClaim]) {
    for claim in claims {
        record.emails.push((claim.email.clone(), EmailMark::Sending { since: facts.at, token: claim.token.clone() }));
    }
    let payment = &mut record.payment;
    payment.updated_at = facts.at;
    if let Some(card) = &facts.card {
        payment.card = Some(card.clone());
    }
    match *transition {
        Transition::Credit { anomaly, .. } => {
            payment.status = PaymentStatus::Paid;
            record.paid_at = Some(facts.at);
            if facts.acquirer_payment_id.is_some() {
                payment.acquirer_payment_id.clone_from(&facts.acquirer_payment_id);
            }
            if let Some(what) = anomaly {
                record.anomaly = Some(what.to_owned());
            }
        }
        Transition::Refund { total_refunded, status, .. } => {
            payment.status = status;
            payment.refunded = total_refunded;
        }
        Transition::Progress(status) => {
            payment.status = status;
            if payment.acquirer_payment_id.is_none() {
                payment.acquirer_payment_id.clone_from(&facts.acquirer_payment_id);
            }
        }
        Transition::Unchanged
        | Transition::AmountMismatch { .. }
        | Transition::Anomaly(_)
        | Transition::OtherAttempt => {}
    }
}

/// A short pause before reading again, longer each time and spread, so racing deliveries of one
/// payment stop colliding.
async fn back_off(attempt: u32) {
    let spread = u64::from(Utc::now().timestamp_subsec_micros() % 20);
    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + spread)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::paid_example;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A payment created at noon on 1 March, its form open until noon the next day.
    fn record(status: PaymentStatus, anomaly: Option<&str>) -> PaymentRecord {
        let mut payment = paid_example("1000.00", at("2026-03-01T12:00:00Z"));
        payment.status = status;
        payment.form_deadline = Some(at("2026-03-02T12:00:00Z"));
        PaymentRecord {
            payment,
            paid_at: None,
            anomaly: anomaly.map(str::to_owned),
            receipts: Vec::new(),
            receipts_kept: 0,
            emails: Vec::new(),
        }
    }

    #[test]
    fn a_refund_waits_for_its_capture_only_while_a_confirmed_may_still_come_and_credit() {
        let soon = at("2026-03-01T12:05:00Z");
        for pending in [PaymentStatus::New, PaymentStatus::Authorized] {
            assert!(awaits_capture(&record(pending, None), soon), "{pending:?}");
        }
        // Settled otherwise: failed, or with an operator.
        for settled in [PaymentStatus::Failed, PaymentStatus::NeedsReview] {
            assert!(!awaits_capture(&record(settled, None), soon), "{settled:?}");
        }
        // Its capture came and was refused.
        for refused in [
            "amount mismatch: expected 1000.00, reported 999.99",
            "account missing",
            "capture notified with an error",
            "refund of a payment never credited",
        ] {
            assert!(!awaits_capture(&record(PaymentStatus::New, Some(refused)), soon), "{refused}");
        }
        // Too old: captured before the form closed, its CONFIRMED delivered again for a day.
        let waiting = record(PaymentStatus::Authorized, None);
        assert!(awaits_capture(&waiting, at("2026-03-03T12:59:59Z")));
        assert!(!awaits_capture(&waiting, at("2026-03-03T13:00:00Z")));
        // Stored without its deadline: the form lived a day.
        let mut undated = record(PaymentStatus::New, None);
        undated.payment.form_deadline = None;
        assert!(awaits_capture(&undated, at("2026-03-03T12:59:59Z")));
        assert!(!awaits_capture(&undated, at("2026-03-03T13:00:00Z")));
    }

    #[test]
    fn a_refund_never_credited_is_noted_once_keeping_what_was_noted_before() {
        assert_eq!(never_credited_note(None).as_deref(), Some(NEVER_CREDITED));
        let after_mismatch = never_credited_note(Some("amount mismatch: expected 1000.00, reported 999.99"));
        assert_eq!(
            after_mismatch.as_deref(),
            Some(
                "refund of a payment never credited (noted before: amount mismatch: expected 1000.00, reported 999.99)"
            )
        );
        assert_eq!(never_credited_note(after_mismatch.as_deref()), None, "noted already");
        assert_eq!(never_credited_note(Some(NEVER_CREDITED)), None);
    }
}
