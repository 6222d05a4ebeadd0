//! The email-once rule and receipt re-delivery: every email a credited payment makes due —
//! "payment received", then each fiscal receipt the bank reported — is claimed on the payment
//! item (by the very write that makes it due where it can: the credit, a receipt's keeping),
//! rendered, sent and marked, so it goes out once however many deliveries race, and again only if
//! its sender died holding the claim. Settlement and reconciliation both call
//! [`Settlement::deliver_due_emails`]; this module never moves money or changes a payment's status.

use super::settlement::{SettleError, Settlement};
use crate::acquirer::ReceiptNotification;
use crate::domain::fiscal_receipt::FiscalReceipt;
use crate::domain::{Payment, ZoneSet};
use crate::mail::{HandedInReading, MailSender, OutgoingEmail, PaymentReceived, RenderError};
use crate::metrics::{self, Metric};
use crate::ports::StoreError;
use crate::ports::ledger::{
    CustomerEmail, EmailClaim, EmailLedger, EmailOutcome, PaymentLedger, PaymentRecord, ReceiptSlot, StoredReceipt,
};
use crate::ports::readings::ReadingsLookup;
use chrono::{DateTime, Utc};
use std::time::Duration;

impl<L, S> Settlement<L, S>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    /// The readings paid with `payment` ("Оплатить по показаниям"), for its success email. None
    /// when it was a plain payment, or when the figures were replaced since (the email then says
    /// nothing about readings rather than showing figures that were not paid for).
    async fn handed_in_readings(&self, payment: &Payment) -> Result<Vec<HandedInReading>, SettleError> {
        let Some(id) = &payment.readings_id else {
            return Ok(Vec::new());
        };
        let Some(submitted) = self.ledger.readings_by_id(&payment.account, id).await? else {
            return Ok(Vec::new());
        };
        let zone_set = match submitted.accepted.values.len() {
            1 => ZoneSet::Single,
            2 => ZoneSet::TwoZone,
            _ => ZoneSet::ThreeZone,
        };
        Ok(HandedInReading::of(&submitted.accepted, zone_set))
    }

    /// The emails a credit of `record` (as read) makes due, claimed as of `now` for the credit's
    /// own write: "payment received", and the email of each receipt kept before the credit that
    /// can be composed (one that cannot is held back by [`Self::deliver_due_emails`]).
    pub(super) fn claims_on_credit(&self, record: &PaymentRecord, now: DateTime<Utc>) -> Vec<EmailClaim> {
        let payment = &record.payment;
        let receipts = record.receipts.iter().filter(|receipt| self.fiscal_receipt(payment, receipt).is_ok());
        std::iter::once(CustomerEmail::PaymentReceived)
            .chain(receipts.map(|receipt| CustomerEmail::Receipt(receipt.slot.clone())))
            .map(|email| self.ledger.new_claim(&payment.id, email, now))
            .collect()
    }

    /// The claim a receipt's keeping writes with it: its email is due at once when the payment
    /// (as read) is credited already and the receipt can be composed.
    pub(super) fn claim_on_keeping(
        &self,
        record: &PaymentRecord,
        receipt: &StoredReceipt,
        now: DateTime<Utc>,
    ) -> Option<EmailClaim> {
        let payment = &record.payment;
        (payment.status.was_credited() && self.fiscal_receipt(payment, receipt).is_ok())
            .then(|| self.ledger.new_claim(&payment.id, CustomerEmail::Receipt(receipt.slot.clone()), now))
    }

    /// The receipt as its email shows it, read as what its slot holds when the bank left out its
    /// kind. One kept under its own key (a kind we cannot read, a second sale) is an operator's
    /// to look at: never mailed.
    fn fiscal_receipt(&self, payment: &Payment, receipt: &StoredReceipt) -> Result<FiscalReceipt, String> {
        let Some(kept_as) = receipt.slot.kept_as() else {
            return Err("kept apart from the sale and its refunds: an operator's to tell what it is".to_owned());
        };
        serde_json::from_str::<ReceiptNotification>(&receipt.notification)
            .map_err(|e| e.to_string())
            .and_then(|n| n.fiscal_receipt_kept_as(payment, &self.seller, kept_as).map_err(|e| e.to_string()))
    }

    /// Sends every email of a credited payment that is still due, "payment received" first.
    /// Returns how many this call sent. A payment not credited yet sends nothing: its receipt
    /// waits for the credit.
    ///
    /// `record` is as current as the caller's own write left it, and `held` the claims that write
    /// made (a credit's, a receipt's keeping): those are sent without claiming again. The two
    /// writes that make a receipt's email due, the credit and the keeping, never both miss the
    /// other: a credit is written only while the sale receipt is as its writer read it, and the
    /// keeping answers the payment as it left it, so whichever of the two comes second sees both.
    pub async fn deliver_due_emails(
        &self,
        record: &PaymentRecord,
        held: Vec<EmailClaim>,
    ) -> Result<usize, SettleError> {
        let mut held = Held(held);
        let sent = self.deliver(record, &mut held).await;
        // Claims this call did not use (none, unless the record and the claims disagree) go back.
        for claim in held.0 {
            self.ledger.release_email(&claim).await?;
        }
        sent
    }

    async fn deliver(&self, record: &PaymentRecord, held: &mut Held) -> Result<usize, SettleError> {
        let payment = &record.payment;
        if !payment.status.was_credited() {
            return Ok(0);
        }
        let now = (self.clock)();
        let abandoned_before = now - self.email_claim_timeout;

        // What this call sends, in order: "payment received", then each receipt's email. A claim
        // stays in `held` until its email is sent, so an error on the way gives it back.
        let mut letters = Vec::new();
        let received = CustomerEmail::PaymentReceived;
        if held.holds(&received) || record.email_due(&received, abandoned_before) {
            let since = record.paid_at.unwrap_or(payment.updated_at);
            let readings = self.handed_in_readings(payment).await?;
            letters.push(Letter { email: received, since, body: Body::Received(readings) });
        }
        for receipt in &record.receipts {
            let email = CustomerEmail::Receipt(receipt.slot.clone());
            if !held.holds(&email) && !record.email_due(&email, abandoned_before) {
                continue;
            }
            let fiscal = match self.fiscal_receipt(payment, receipt) {
                Ok(fiscal) => fiscal,
                Err(reason) => {
                    // Kept, and due still: once configuration supplies what it lacks, the next
                    // delivery or reconciliation run sends it.
                    metrics::count(Metric::ReceiptsUnrendered, 1);
                    tracing::warn!(
                        anomaly = "receipt_unrendered",
                        payment_id = %payment.id,
                        slot = slot_name(&receipt.slot),
                        reason,
                        "a kept receipt cannot be composed yet; its email stays due"
                    );
                    if let Some(claim) = held.take(&email) {
                        self.ledger.release_email(&claim).await?;
                    }
                    self.ledger.hold_unrendered(payment, &receipt.slot).await?;
                    continue;
                }
            };
            // Due once both the credit and the receipt are there.
            let since = record.paid_at.map_or(receipt.received_at, |paid_at| paid_at.max(receipt.received_at));
            letters.push(Letter { email, since, body: Body::Receipt(Box::new(fiscal)) });
        }

        let mut sent = 0;
        let count = letters.len();
        for (n, letter) in letters.iter().enumerate() {
            let due = Due { now, abandoned_before, since: letter.since, last: n + 1 == count };
            let claim = held.take(&letter.email);
            let render = || match &letter.body {
                Body::Received(readings) => {
                    let message = PaymentReceived { payment, paid_at: letter.since, readings };
                    self.mailer.render_payment_received(&message)
                }
                Body::Receipt(fiscal) => self.mailer.render_fiscal_receipt(fiscal),
            };
            if self.send_once(payment, &letter.email, claim, due, render).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Claims (unless `held` already), renders, sends and records one email. True when this call
    /// sent it.
    async fn send_once(
        &self,
        payment: &Payment,
        email: &CustomerEmail,
        held: Option<EmailClaim>,
        due: Due,
        render: impl FnOnce() -> Result<OutgoingEmail, RenderError>,
    ) -> Result<bool, SettleError> {
        let claim = match held {
            Some(claim) => claim,
            None => match self.ledger.claim_email(&payment.id, email, due.now, due.abandoned_before).await? {
                Some(claim) => claim,
                // Sent, refused for good, or being sent right now by another delivery.
                None => return Ok(false),
            },
        };
        let kind = email_kind(email);
        let outgoing = match render() {
            Ok(outgoing) => outgoing,
            Err(e) => {
                tracing::warn!(payment_id = %payment.id, email = kind, error = %e, "email cannot be composed; not retried");
                metrics::count(Metric::EmailsUndelivered, 1);
                self.ledger.settle_email(&claim, EmailOutcome::Rejected, (self.clock)(), due.last).await?;
                return Ok(false);
            }
        };
        match self.mailer.sender().send(&outgoing).await {
            Ok(message_id) => {
                let ours = self.mark_sent(&claim, due.last).await?;
                if !ours {
                    tracing::warn!(payment_id = %payment.id, email = kind, "email claim was taken over while sending");
                }
                tracing::info!(payment_id = %payment.id, email = kind, message_id = %message_id, "customer email sent");
                metrics::count(Metric::EmailsSent, 1);
                Ok(true)
            }
            Err(e) if e.is_retryable() => {
                metrics::count(Metric::EmailsFailed, 1);
                let overdue_for = due.now - due.since;
                if overdue_for >= self.email_overdue {
                    metrics::count(Metric::EmailsUndelivered, 1);
                    tracing::warn!(
                        payment_id = %payment.id,
                        email = kind,
                        due_minutes = overdue_for.num_minutes(),
                        error = %e,
                        "email still cannot be sent after its retries; it stays due"
                    );
                }
                self.ledger.release_email(&claim).await?;
                Err(SettleError::MailUnavailable(e.to_string()))
            }
            Err(e) => {
                tracing::warn!(payment_id = %payment.id, email = kind, error = %e, "email refused for good; not retried");
                metrics::count(Metric::EmailsFailed, 1);
                metrics::count(Metric::EmailsUndelivered, 1);
                self.ledger.settle_email(&claim, EmailOutcome::Rejected, (self.clock)(), due.last).await?;
                Ok(false)
            }
        }
    }

    /// Records an email SES has accepted. Should this write be lost, the claim stays until the
    /// claim timeout and the email is then sent a second time (SES takes no idempotency key), so
    /// the write is retried through a short storage outage (about 6 s in all, inside the
    /// function's 10 s) rather than given up after the SDK's own attempts.
    async fn mark_sent(&self, claim: &EmailClaim, last: bool) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            match self.ledger.settle_email(claim, EmailOutcome::Sent, (self.clock)(), last).await {
                Err(e) if attempt < MARK_SENT_PAUSES.len() => {
                    tracing::warn!(error = %e, attempt, "an accepted email is not marked sent yet; trying again");
                    tokio::time::sleep(MARK_SENT_PAUSES[attempt]).await;
                    attempt += 1;
                }
                settled => return settled,
            }
        }
    }
}

/// Claims made by the caller's own write, each taken when its email is sent.
struct Held(Vec<EmailClaim>);

impl Held {
    fn holds(&self, email: &CustomerEmail) -> bool {
        self.0.iter().any(|claim| &claim.email == email)
    }

    fn take(&mut self, email: &CustomerEmail) -> Option<EmailClaim> {
        let at = self.0.iter().position(|claim| &claim.email == email)?;
        Some(self.0.swap_remove(at))
    }
}

/// One email this call sends, since when it has been due, and what it says.
struct Letter {
    email: CustomerEmail,
    since: DateTime<Utc>,
    body: Body,
}

enum Body {
    /// "Payment received", with the readings paid for.
    Received(Vec<HandedInReading>),
    /// A fiscal receipt, as composed.
    Receipt(Box<FiscalReceipt>),
}

/// When an attempt is made, since when its email has been due, and whether it is the last this
/// call sends.
#[derive(Clone, Copy)]
struct Due {
    now: DateTime<Utc>,
    abandoned_before: DateTime<Utc>,
    since: DateTime<Utc>,
    last: bool,
}

fn email_kind(email: &CustomerEmail) -> &'static str {
    match email {
        CustomerEmail::PaymentReceived => "payment_received",
        CustomerEmail::Receipt(slot) => slot_name(slot),
    }
}

/// For logs: which receipt, without its document number.
pub(super) fn slot_name(slot: &ReceiptSlot) -> &'static str {
    match slot {
        ReceiptSlot::Sale => "fiscal_receipt",
        ReceiptSlot::Refund { .. } => "refund_receipt",
        ReceiptSlot::Unidentified { .. } => "unidentified_receipt",
    }
}

/// Pauses between attempts to record an email SES has accepted.
const MARK_SENT_PAUSES: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(2),
];
