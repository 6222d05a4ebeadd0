//! Reconciliation (the scheduled run): payments still waiting for the bank (`NEW`, `AUTHORIZED`) well past
//! the time their notification should have come are asked about — `GetState` when the bank's
//! payment id is known, `CheckOrder` by our order id when `Init`'s answer was lost — and the answer
//! goes through the same [`Settlement`] as a notification: the same state machine, the same
//! conditional writes, the same emails. A notification arriving at the same moment is harmless:
//! whichever writes second finds the payment moved on.
//!
//! A payment nobody tried to pay (no attempt at the bank, or one still at its form) is failed
//! once its form's deadline has passed (with a margin). A payment the bank does not answer about
//! (`GetState` or `CheckOrder` refused, or unanswered) is an error of the run and asked about
//! again on the next; it is never failed on that guess, since someone may have paid. A payment
//! still waiting when its time is up (the bank never finishes it, captured another amount, its
//! account is missing, or the bank only ever answered with errors) goes to an operator
//! (`NEEDS_REVIEW`) and leaves the list: nothing is asked about for ever. Money the bank confirms
//! later is still credited through the callback.
//!
//! Each run then removes the customer's email from payments finished longer ago than the
//! retention period (`EMAIL_RETENTION_DAYS`), with the copies their kept receipts echo. The module
//! owns the review, abandonment and retention rules; it never applies a status itself.

use super::settlement::{Effect, SettleError, Settlement};
use crate::acquirer::{
    Acquirer, AcquirerError, PaymentId as AcquirerPaymentId, PaymentStatus as BankStatus, acquirer_event,
};
use crate::config::{ConfigError, Env};
use crate::domain::Money;
use crate::domain::payment_transition::AcquirerEvent;
use crate::mail::{MailSender, Mailer};
use crate::metrics::{self, Metric};
use crate::ports::StoreError;
use crate::ports::ledger::{
    BankFacts, CustomerEmailRetention, EmailLedger, PaymentLedger, PendingPayment, PendingPayments, ReportedStatus,
};
use crate::ports::readings::ReadingsLookup;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::time::Instant;

pub struct Reconciler<L, S, A> {
    pub settlement: Settlement<L, S>,
    pub acquirer: A,
    /// Younger payments may still get their notification: left alone.
    pub after: TimeDelta,
    /// A payment nobody paid is failed this long after its form's deadline.
    pub abandon_margin: TimeDelta,
    /// For payments stored without a form deadline: failed at this age (the form lived 24 h).
    pub abandon_after: TimeDelta,
    /// A payment still waiting at this age goes to an operator.
    pub review_after: TimeDelta,
    /// A finished payment keeps the customer's email this long (a receipt stays re-sendable).
    pub email_retention: TimeDelta,
    pub page_size: i32,
}

/// What one run did; logged as one line and returned to the scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub checked: u32,
    pub credited: u32,
    pub refunded: u32,
    pub failed: u32,
    /// Moved on without money (`AUTHORIZED`).
    pub progressed: u32,
    /// Left unsettled past the review time: sent to an operator (`NEEDS_REVIEW`).
    pub needs_review: u32,
    /// Nothing to do yet: still at the bank's form, or already as the bank says.
    pub unchanged: u32,
    pub anomalies: u32,
    /// The bank or our store did not answer: tried again on the next run.
    pub errors: u32,
    /// Finished payments whose customer email was removed, the retention period being over.
    pub emails_forgotten: u32,
    /// The run stopped before the end of the list to stay inside its time limit.
    pub stopped_early: bool,
}

/// The bank's answer about one payment.
enum Answer {
    /// The status, the amount and the bank's id of the attempt that counts.
    Attempt(BankStatus, Option<Money>, AcquirerPaymentId),
    /// `CheckOrder` knows no attempt for the order: nobody reached the bank's form.
    NoAttempt,
    /// The bank refused to answer, or its answer was lost: nothing is known of the payment.
    Unanswered(AcquirerError),
}

#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Acquirer(#[from] AcquirerError),
    #[error(transparent)]
    Settle(#[from] SettleError),
}

impl<L, S, A> Reconciler<L, S, A>
where
    L: PaymentLedger + EmailLedger + PendingPayments + CustomerEmailRetention + ReadingsLookup + Sync,
    S: MailSender + Sync,
    A: Acquirer,
{
    pub const DEFAULT_AFTER: TimeDelta = TimeDelta::seconds(900);
    pub const DEFAULT_ABANDON_MARGIN: TimeDelta = TimeDelta::seconds(3600);
    pub const DEFAULT_ABANDON_AFTER: TimeDelta = TimeDelta::seconds(25 * 3600);
    pub const DEFAULT_REVIEW_AFTER: TimeDelta = TimeDelta::seconds(72 * 3600);
    pub const DEFAULT_EMAIL_RETENTION_DAYS: i64 = 30;

    pub fn configure<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        ledger: L,
        mailer: Mailer<S>,
        acquirer: A,
    ) -> Result<Self, ConfigError> {
        let after: i64 = env.parse_or("RECONCILE_AFTER_SECS", Self::DEFAULT_AFTER.num_seconds())?;
        let abandon: i64 = env.parse_or("RECONCILE_ABANDON_SECS", Self::DEFAULT_ABANDON_AFTER.num_seconds())?;
        let margin: i64 = env.parse_or("RECONCILE_ABANDON_MARGIN_SECS", Self::DEFAULT_ABANDON_MARGIN.num_seconds())?;
        let review: i64 = env.parse_or("RECONCILE_REVIEW_SECS", Self::DEFAULT_REVIEW_AFTER.num_seconds())?;
        let retention_days: i64 = env.parse_or("EMAIL_RETENTION_DAYS", Self::DEFAULT_EMAIL_RETENTION_DAYS)?;
        if !(0..=3650).contains(&retention_days) {
            return Err(ConfigError::Malformed { name: "EMAIL_RETENTION_DAYS", why: "from 0 to 3650 days".into() });
        }
        if after < 0 || abandon < after {
            return Err(ConfigError::Malformed {
                name: "RECONCILE_ABANDON_SECS",
                why: "not negative, and not shorter than RECONCILE_AFTER_SECS".into(),
            });
        }
        if margin < 0 {
            return Err(ConfigError::Malformed { name: "RECONCILE_ABANDON_MARGIN_SECS", why: "not negative".into() });
        }
        if review < abandon {
            // A form nobody paid is failed before its payment could go to an operator.
            return Err(ConfigError::Malformed {
                name: "RECONCILE_REVIEW_SECS",
                why: "not shorter than RECONCILE_ABANDON_SECS".into(),
            });
        }
        Ok(Self {
            settlement: Settlement::configure(env, ledger, mailer)?,
            acquirer,
            after: TimeDelta::seconds(after),
            abandon_margin: TimeDelta::seconds(margin),
            abandon_after: TimeDelta::seconds(abandon),
            review_after: TimeDelta::seconds(review),
            email_retention: TimeDelta::days(retention_days),
            page_size: 100,
        })
    }

    /// Checks every pending payment created before `now − after`, oldest first, until the list
    /// ends or `stop_at` passes. Fails only when the list of pending payments cannot be read.
    pub async fn run(&self, now: DateTime<Utc>, stop_at: Option<Instant>) -> Result<Summary, StoreError> {
        let mut summary = Summary::default();
        let mut cursor = None;
        'pages: loop {
            let page =
                self.settlement.ledger.pending_payments(now - self.after, cursor.as_ref(), self.page_size).await?;
            for payment in &page.payments {
                if stop_at.is_some_and(|stop| Instant::now() >= stop) {
                    summary.stopped_early = true;
                    break 'pages;
                }
                summary.checked += 1;
                match self.check(payment, now).await {
                    Ok(Some(effect)) => tally(&mut summary, &effect),
                    Ok(None) => summary.unchanged += 1,
                    Err(e) => {
                        summary.errors += 1;
                        tracing::warn!(payment_id = %payment.id, error = %e, "payment not reconciled; next run tries again");
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if !summary.stopped_early {
            self.forget_customer_emails(now, stop_at, &mut summary).await;
        }
        if summary.errors > 0 {
            metrics::count(Metric::ReconciliationErrors, u64::from(summary.errors));
        }
        tracing::info!(
            checked = summary.checked,
            credited = summary.credited,
            refunded = summary.refunded,
            failed = summary.failed,
            progressed = summary.progressed,
            needs_review = summary.needs_review,
            unchanged = summary.unchanged,
            anomalies = summary.anomalies,
            errors = summary.errors,
            emails_forgotten = summary.emails_forgotten,
            stopped_early = summary.stopped_early,
            "reconciliation summary"
        );
        Ok(summary)
    }

    /// Removes the customer's email from payments finished before the retention period, a page at
    /// a time, until none is left or the run's time is up. A store failure counts as an error of
    /// the run: the next one carries on.
    async fn forget_customer_emails(&self, now: DateTime<Utc>, stop_at: Option<Instant>, summary: &mut Summary) {
        let finished_before = now - self.email_retention;
        loop {
            if stop_at.is_some_and(|stop| Instant::now() >= stop) {
                summary.stopped_early = true;
                return;
            }
            match self.settlement.ledger.forget_customer_emails(finished_before, self.page_size).await {
                Ok(pass) => {
                    summary.emails_forgotten += pass.payments;
                    if !pass.more {
                        return;
                    }
                }
                Err(e) => {
                    summary.errors += 1;
                    tracing::warn!(error = %e, "customer emails past their retention not removed; next run tries again");
                    return;
                }
            }
        }
    }

    /// Asks the bank about one payment and applies the answer. `None`: nothing to apply yet.
    async fn check(&self, payment: &PendingPayment, now: DateTime<Utc>) -> Result<Option<Effect>, CheckError> {
        if !payment.status.is_pending() {
            // Credited already, and listed because an email it made due has not gone out (the
            // store keeps it listed until then). The bank has nothing to add: asking it again
            // would only risk reading a refund's `Amount` differently from its notification.
            let Some(record) = self.settlement.ledger.payment_record(&payment.id).await.map_err(SettleError::from)?
            else {
                return Ok(None);
            };
            let sent = self.settlement.deliver_due_emails(&record, Vec::new()).await?;
            tracing::info!(payment_id = %payment.id, sent, "emails of a credited payment delivered");
            if sent == 0 {
                // Its emails were settled, but the write that takes it off the list was lost.
                self.settlement.ledger.unlist_if_mailed(&payment.id, now).await.map_err(SettleError::from)?;
            }
            return Ok(None);
        }
        let abandoned = self.is_abandoned(payment, now);
        let overdue = now - payment.created_at >= self.review_after;
        let answer = match self.ask(payment).await {
            // Young enough to be asked again: an error of this run, the next run asks again.
            Answer::Unanswered(e) if !overdue => return Err(e.into()),
            answer => answer,
        };
        let facts = |status: ReportedStatus, id: Option<&AcquirerPaymentId>| BankFacts {
            status,
            acquirer_payment_id: id.map(|id| id.as_str().to_owned()),
            card: None,
            error_code: None,
            at: now,
        };
        let settled = match &answer {
            // Past its review time (the review rule below applies). Never abandoned on an error:
            // only the bank's word that nobody paid ends a payment without money.
            Answer::Unanswered(_) => None,
            Answer::Attempt(status, _, id)
                if abandoned && matches!(status, BankStatus::New | BankStatus::FormShowed) =>
            {
                self.settlement
                    .apply_event(
                        &payment.id,
                        |_| Ok(AcquirerEvent::Failed),
                        &facts(ReportedStatus::Abandoned, Some(id)),
                    )
                    .await?
            }
            Answer::NoAttempt if abandoned => {
                self.settlement
                    .apply_event(&payment.id, |_| Ok(AcquirerEvent::Failed), &facts(ReportedStatus::Abandoned, None))
                    .await?
            }
            Answer::NoAttempt => None,
            Answer::Attempt(status, amount, id) => {
                let reported: Option<Money> = *amount;
                self.settlement
                    .apply_event(
                        &payment.id,
                        |p| acquirer_event(status, reported, p.amount),
                        &facts(ReportedStatus::Bank(status.clone()), Some(id)),
                    )
                    .await?
            }
        };
        let still_waiting = settled.as_ref().is_none_or(|s| s.record.payment.status.is_pending());
        let settled = if still_waiting && overdue {
            // Whatever the bank said, or if it only refused to say, it settled nothing in all this
            // time: an operator's turn.
            let to_review = match &answer {
                Answer::Attempt(status, _, id) => facts(ReportedStatus::Bank(status.clone()), Some(id)),
                Answer::NoAttempt => facts(ReportedStatus::Silent, None),
                Answer::Unanswered(e) => {
                    tracing::warn!(
                        payment_id = %payment.id,
                        error = %e,
                        "the bank still does not answer about a payment past its review time; sent for review"
                    );
                    facts(ReportedStatus::Silent, None)
                }
            };
            self.settlement.apply_event(&payment.id, |_| Ok(AcquirerEvent::Overdue), &to_review).await?
        } else {
            settled
        };
        let Some(settled) = settled else {
            return Ok(None);
        };
        tracing::info!(
            payment_id = %payment.id,
            effect = settled.effect.kind(),
            status = settled.record.payment.status.as_str(),
            "payment reconciled"
        );
        // A credit found here gets its emails here: its notification may never come.
        self.settlement.deliver_due_emails(&settled.record, settled.held).await?;
        Ok(Some(settled.effect))
    }

    /// What the bank says of the payment: `GetState` when its id at the bank is known, else
    /// `CheckOrder` by our order id.
    async fn ask(&self, payment: &PendingPayment) -> Answer {
        let asked = match &payment.acquirer_payment_id {
            Some(id) => self
                .acquirer
                .get_state(&AcquirerPaymentId::new(id.clone()))
                .await
                .map(|state| Answer::Attempt(state.status, state.amount, state.payment_id)),
            None => self.acquirer.check_order(payment.id.as_str()).await.map(|order| {
                // The attempt that took the money; else one still under way; else the last one.
                let attempt = order
                    .paid()
                    .or_else(|| order.payments.iter().rev().find(|a| !a.status.is_failed()))
                    .or_else(|| order.payments.last());
                attempt.map_or(Answer::NoAttempt, |a| Answer::Attempt(a.status.clone(), a.amount, a.payment_id.clone()))
            }),
        };
        asked.unwrap_or_else(Answer::Unanswered)
    }

    /// Nobody paid it: its form closed a margin ago (or, stored without a deadline, it is older
    /// than a form ever lived).
    fn is_abandoned(&self, payment: &PendingPayment, now: DateTime<Utc>) -> bool {
        match payment.form_deadline {
            Some(deadline) => now >= deadline + self.abandon_margin,
            None => now - payment.created_at >= self.abandon_after,
        }
    }
}

fn tally(summary: &mut Summary, effect: &Effect) {
    match effect {
        Effect::Credited { .. } => summary.credited += 1,
        Effect::Refunded { .. } => summary.refunded += 1,
        Effect::Progressed(crate::domain::PaymentStatus::Failed) => summary.failed += 1,
        Effect::Progressed(_) => summary.progressed += 1,
        Effect::SentForReview => summary.needs_review += 1,
        // The bank says refunded; we never credited: money moved that the balance does not show.
        // Its CONFIRMED may still come (once none can, settlement notes it: `Effect::Anomaly`).
        Effect::RefundBeforeCredit => summary.anomalies += 1,
        e if e.is_anomaly() => summary.anomalies += 1,
        _ => summary.unchanged += 1,
    }
}
