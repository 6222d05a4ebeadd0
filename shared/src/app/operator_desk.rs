//! The operator's desk: what the service set aside for a person, and the three ways a person
//! settles it — credit a payment the bank confirmed, refund one (through the bank's `Cancel`, its
//! receipt with it), or mark it reviewed. The bank is asked first; the money moves only through
//! settlement's own transitions, so a later notification of the same change moves nothing twice.
//! Each action is recorded on the payment (who, when, why) and is idempotent.

use super::settlement::{Effect, SettleError, Settlement};
use crate::acquirer::{
    Acquirer, AcquirerError, CancelRequest, InitError, PaymentId as AcquirerPaymentId, PaymentStatus as BankStatus,
    VatCodes, acquirer_event, refund_receipt,
};
use crate::domain::{Money, PaymentId, PaymentStatus};
use crate::mail::MailSender;
use crate::ports::StoreError;
use crate::ports::ledger::{BankFacts, EmailLedger, PaymentLedger, PaymentRecord, ReportedStatus};
use crate::ports::operator_desk::{DeskAction, DeskActionKind, DeskItem, DeskKind, OperatorDesk, Recorded};
use crate::ports::readings::ReadingsLookup;
use chrono::{DateTime, Utc};

pub struct Desk<L, S, A> {
    pub settlement: Settlement<L, S>,
    pub acquirer: A,
    /// The VAT codes the refund receipt prints (as `Init` printed the sale's).
    pub vat_codes: VatCodes,
}

/// Who acts, and why: recorded with the action.
#[derive(Clone, Debug)]
pub struct Operator {
    pub name: String,
    pub reason: String,
}

/// What an action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeskOutcome {
    Credited {
        amount: Money,
    },
    /// Credited before (from the desk, by a late notification, or by reconciliation): nothing moved.
    AlreadyCredited,
    /// The bank refunded `amount`; the payment's refunded sum is `total_refunded`.
    Refunded {
        amount: Money,
        total_refunded: Money,
    },
    /// This refund was made before (by `by`): nothing moved.
    AlreadyRefunded {
        amount: Money,
        by: String,
        at: DateTime<Utc>,
    },
    Reviewed,
    AlreadyReviewed {
        by: String,
        at: DateTime<Utc>,
    },
}

/// Why an action was refused; nothing moved.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no payment {0}")]
    NoSuchPayment(PaymentId),
    #[error("the payment is {status}; {action} needs {needs}")]
    WrongState { action: &'static str, status: &'static str, needs: &'static str },
    #[error("the bank never named its payment for this order: nothing to ask it about")]
    NotAtTheBank,
    #[error("the bank says the payment is {0}; {1}")]
    BankSays(String, &'static str),
    #[error("the bank confirmed {reported}, the payment is for {expected}: not credited (anomaly noted)")]
    AmountMismatch { expected: Money, reported: Money },
    #[error("settlement did not credit it: {0}")]
    NotCredited(&'static str),
    #[error("a refund of {asked} is not possible: {remaining} is left to refund")]
    RefundAmount { asked: Money, remaining: Money },
    #[error("a refund of {earlier} was made from the desk by {by}; another sum is for the bank's console")]
    OtherRefundRecorded { earlier: Money, by: String },
    #[error("the refund receipt cannot be made: {0} (54-FZ needs the customer's email)")]
    Receipt(#[from] InitError),
    #[error("the bank refused: {0}")]
    Bank(#[source] AcquirerError),
    #[error("the bank did not answer: {0}; run the same command again (the bank refunds once)")]
    BankUnanswered(#[source] AcquirerError),
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<L, S, A> Desk<L, S, A>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + OperatorDesk + Sync,
    S: MailSender + Sync,
    A: Acquirer,
{
    fn now(&self) -> DateTime<Utc> {
        (self.settlement.clock)()
    }

    pub async fn list(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        kind: Option<DeskKind>,
    ) -> Result<Vec<DeskItem>, StoreError> {
        self.settlement.ledger.desk_items(since, until, kind).await
    }

    async fn record(&self, id: &PaymentId) -> Result<PaymentRecord, DeskError> {
        self.settlement.ledger.payment_record(id).await?.ok_or_else(|| DeskError::NoSuchPayment(id.clone()))
    }

    fn action(&self, kind: DeskActionKind, who: &Operator) -> DeskAction {
        DeskAction {
            kind,
            operator: who.name.clone(),
            reason: who.reason.clone(),
            at: self.now(),
            amount: None,
            total_refunded: None,
        }
    }

    /// The bank's own status of the payment's attempt; with no attempt recorded (`Init`'s answer
    /// was lost), the order's attempt that captured money, else its last, as reconciliation reads it.
    async fn bank_state(&self, record: &PaymentRecord) -> Result<(BankStatus, Option<Money>, String), DeskError> {
        let Some(pid) = &record.payment.acquirer_payment_id else {
            let order =
                self.acquirer.check_order(record.payment.id.as_str()).await.map_err(DeskError::BankUnanswered)?;
            let attempt = order.paid().or_else(|| order.payments.last()).ok_or(DeskError::NotAtTheBank)?;
            return Ok((attempt.status.clone(), attempt.amount, attempt.payment_id.as_str().to_owned()));
        };
        let state =
            self.acquirer.get_state(&AcquirerPaymentId::new(pid.clone())).await.map_err(DeskError::BankUnanswered)?;
        Ok((state.status, state.amount, state.payment_id.as_str().to_owned()))
    }

    /// Credits a payment the bank says is `CONFIRMED`, through settlement's credit, and sends the
    /// emails the credit makes due.
    pub async fn credit(&self, id: &PaymentId, who: &Operator) -> Result<DeskOutcome, DeskError> {
        let record = self.record(id).await?;
        if record.payment.status.was_credited() {
            self.finish(id, self.action(DeskActionKind::Credit, who)).await?;
            return Ok(DeskOutcome::AlreadyCredited);
        }
        let (status, amount, pid) = self.bank_state(&record).await?;
        if status != BankStatus::Confirmed {
            return Err(DeskError::BankSays(status.as_str().to_owned(), "only a CONFIRMED payment is credited"));
        }
        let facts = BankFacts {
            status: ReportedStatus::Bank(status.clone()),
            acquirer_payment_id: Some(pid),
            card: None,
            error_code: None,
            at: self.now(),
        };
        let settled = self
            .settlement
            .apply_event(id, |p| acquirer_event(&status, amount, p.amount), &facts)
            .await?
            .ok_or_else(|| DeskError::NoSuchPayment(id.clone()))?;
        let outcome = match settled.effect {
            Effect::Credited { amount } => DeskOutcome::Credited { amount },
            Effect::Unchanged if settled.record.payment.status.was_credited() => DeskOutcome::AlreadyCredited,
            Effect::AmountMismatch { expected, reported } => {
                return Err(DeskError::AmountMismatch { expected, reported });
            }
            other => return Err(DeskError::NotCredited(other.kind())),
        };
        tracing::info!(payment_id = %id, operator = %who.name, effect = settled.effect.kind(), "desk credit");
        // The credit is written, with the claims on its emails: they go out whether or not the
        // desk's own note of the action does.
        let finished = self.finish(id, self.action(DeskActionKind::Credit, who)).await;
        let mailed = self.settlement.deliver_due_emails(&settled.record, settled.held).await;
        finished?;
        mailed?;
        Ok(outcome)
    }

    /// Refunds `amount` (all that is left without it) through the bank's `Cancel`, with the refund
    /// receipt, then applies the bank's answer as settlement applies the refund's notification:
    /// whichever of the two comes second finds the refund written and moves nothing.
    pub async fn refund(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        who: &Operator,
    ) -> Result<DeskOutcome, DeskError> {
        let record = self.record(id).await?;
        let payment = &record.payment;
        if let Some(earlier) = self.settlement.ledger.desk_action(id, DeskActionKind::Refund).await? {
            let earlier_amount = earlier.amount.unwrap_or_default();
            if amount.is_some_and(|asked| asked != earlier_amount) {
                return Err(DeskError::OtherRefundRecorded { earlier: earlier_amount, by: earlier.operator });
            }
            if earlier.total_refunded.is_some_and(|total| payment.refunded >= total) {
                return Ok(DeskOutcome::AlreadyRefunded {
                    amount: earlier_amount,
                    by: earlier.operator,
                    at: earlier.at,
                });
            }
            // Claimed, and the bank's answer never applied (a lost answer, a run stopped mid-way):
            // the same request again, which the bank answers without refunding twice.
            return self.cancel_and_settle(&record, &earlier).await;
        }
        if !matches!(payment.status, PaymentStatus::Paid | PaymentStatus::PartiallyRefunded) {
            return Err(DeskError::WrongState {
                action: "a refund",
                status: payment.status.as_str(),
                needs: "a credited payment with money left to refund",
            });
        }
        let (status, _, _) = self.bank_state(&record).await?;
        if !matches!(status, BankStatus::Confirmed | BankStatus::PartialRefunded) {
            return Err(DeskError::BankSays(status.as_str().to_owned(), "only a CONFIRMED payment is refunded"));
        }
        let remaining = payment.amount - payment.refunded;
        let asked = amount.unwrap_or(remaining);
        if !asked.is_positive() || asked > remaining {
            return Err(DeskError::RefundAmount { asked, remaining });
        }
        let claim = DeskAction {
            amount: Some(asked),
            total_refunded: Some(payment.refunded + asked),
            ..self.action(DeskActionKind::Refund, who)
        };
        match self.settlement.ledger.record_desk_action(id, &claim, false).await? {
            Recorded::Written => {}
            Recorded::NoSuchPayment => return Err(DeskError::NoSuchPayment(id.clone())),
            // Another operator at the same moment: theirs stands.
            Recorded::Earlier(earlier) => {
                return Err(DeskError::OtherRefundRecorded {
                    earlier: earlier.amount.unwrap_or_default(),
                    by: earlier.operator,
                });
            }
        }
        self.cancel_and_settle(&record, &claim).await
    }

    async fn cancel_and_settle(&self, record: &PaymentRecord, claim: &DeskAction) -> Result<DeskOutcome, DeskError> {
        let payment = &record.payment;
        let id = &payment.id;
        let (Some(amount), Some(total)) = (claim.amount, claim.total_refunded) else {
            return Err(StoreError::Corrupt("a desk refund without its sums".into()).into());
        };
        let withdraw = async |e: DeskError| -> DeskError {
            if let Err(store) = self.settlement.ledger.withdraw_desk_action(id, claim).await {
                tracing::warn!(payment_id = %id, error = %store, "a refused desk refund stays recorded");
            }
            e
        };
        let Some(pid) = &payment.acquirer_payment_id else {
            return Err(withdraw(DeskError::NotAtTheBank).await);
        };
        let email = payment.email.as_ref().map(|e| e.expose().to_owned()).unwrap_or_default();
        let receipt = match refund_receipt(payment.account, amount, &email, payment.created_at, &self.vat_codes) {
            Ok(receipt) => receipt,
            Err(e) => return Err(withdraw(e.into()).await),
        };
        let request = CancelRequest {
            payment_id: AcquirerPaymentId::new(pid.clone()),
            amount: Some(amount),
            receipt: Some(receipt),
            // One per refund of the payment: a repeated command refunds once at the bank too.
            external_request_id: Some(format!("desk-{}-{}", id, total.kopecks())),
        };
        let answer = match self.acquirer.cancel(&request).await {
            Ok(answer) => answer,
            Err(e) if e.outcome_unknown() => return Err(DeskError::BankUnanswered(e)),
            Err(e) => return Err(withdraw(DeskError::Bank(e)).await),
        };
        let status = answer.status.clone();
        let facts = BankFacts {
            status: ReportedStatus::Bank(status.clone()),
            acquirer_payment_id: Some(answer.payment_id.as_str().to_owned()),
            card: None,
            error_code: None,
            at: self.now(),
        };
        // The refund's notification names the sum refunded so far; the answer is read the same way.
        let settled = self
            .settlement
            .apply_event(id, |p| acquirer_event(&status, Some(total), p.amount), &facts)
            .await?
            .ok_or_else(|| DeskError::NoSuchPayment(id.clone()))?;
        tracing::info!(
            payment_id = %id,
            operator = %claim.operator,
            bank_status = %status,
            effect = settled.effect.kind(),
            "desk refund"
        );
        self.settlement.ledger.leave_desk(id).await?;
        self.settlement.deliver_due_emails(&settled.record, settled.held).await?;
        Ok(match settled.effect {
            Effect::Refunded { amount, total_refunded } => DeskOutcome::Refunded { amount, total_refunded },
            // Its notification came first.
            _ => DeskOutcome::AlreadyRefunded { amount, by: claim.operator.clone(), at: claim.at },
        })
    }

    /// Marks the payment reviewed: it leaves the desk, nothing else changes.
    pub async fn review(&self, id: &PaymentId, who: &Operator) -> Result<DeskOutcome, DeskError> {
        match self.settlement.ledger.record_desk_action(id, &self.action(DeskActionKind::Review, who), true).await? {
            Recorded::Written => Ok(DeskOutcome::Reviewed),
            Recorded::Earlier(earlier) => {
                self.settlement.ledger.leave_desk(id).await?;
                Ok(DeskOutcome::AlreadyReviewed { by: earlier.operator, at: earlier.at })
            }
            Recorded::NoSuchPayment => Err(DeskError::NoSuchPayment(id.clone())),
        }
    }

    /// Records the action (an earlier one of its kind stands) and takes the payment off the desk.
    async fn finish(&self, id: &PaymentId, action: DeskAction) -> Result<(), DeskError> {
        match self.settlement.ledger.record_desk_action(id, &action, true).await? {
            Recorded::Written => Ok(()),
            Recorded::Earlier(_) => Ok(self.settlement.ledger.leave_desk(id).await?),
            Recorded::NoSuchPayment => Err(DeskError::NoSuchPayment(id.clone())),
        }
    }
}
