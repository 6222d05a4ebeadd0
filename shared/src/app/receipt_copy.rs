//! A payment's fiscal receipt for the one who paid: its requisites and FNS QR code as the bank's
//! `RECEIPT` notification gave them (kept on the payment), for a printable page; and a copy sent
//! again to the email the payment was made with, at most [`COPIES_PER_DAY`] a Moscow day. To
//! anyone else the payment does not exist.

use crate::acquirer::ReceiptNotification;
use crate::domain::readings_window::moscow_date;
use crate::domain::{CallerId, FiscalReceipt, Payment, PaymentId, SellerRequisites};
use crate::mail::{MailSender, Mailer};
use crate::ports::ledger::{PaymentLedger, ReceiptSlot};
use crate::ports::receipt_copies::{CopyCounted, ReceiptCopies};
use chrono::{DateTime, Days, Utc};

/// Copies of one payment's receipt a day: enough for a customer who lost the email, too few to
/// use the service to send mail to someone.
pub const COPIES_PER_DAY: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptCopyError {
    /// No such payment, or another caller's.
    #[error("no such payment")]
    NotFound,
    /// The bank has not sent the sale's receipt (yet): nothing to show or send.
    #[error("no receipt yet")]
    NotIssued,
    /// The customer's email was removed after the retention period: nowhere to send a copy.
    #[error("no email kept")]
    NoEmail,
    /// The day's copies are sent already; the next day starts in `retry_after_secs`.
    #[error("copies used up")]
    TooManyCopies { retry_after_secs: u64 },
    /// The kept notification does not make a receipt (configuration lacks a requisite): ours.
    #[error("receipt cannot be composed")]
    Unrenderable,
    /// The store or the mail service: ours, transient. Logged here.
    #[error("unavailable")]
    Unavailable,
}

/// The payer's payment with its sale receipt.
pub struct PaymentReceipt {
    pub payment: Payment,
    pub receipt: FiscalReceipt,
}

/// The sale receipt of `id`, for the caller who made the payment.
pub async fn receipt<S: PaymentLedger + Sync>(
    store: &S,
    seller: &SellerRequisites,
    id: &PaymentId,
    asking: &CallerId,
) -> Result<PaymentReceipt, ReceiptCopyError> {
    let record = match store.payment_record(id).await {
        Ok(Some(record)) if record.payment.caller == *asking => record,
        Ok(Some(_)) => {
            tracing::warn!(payment_id = %id, "receipt asked by another caller");
            return Err(ReceiptCopyError::NotFound);
        }
        Ok(None) => return Err(ReceiptCopyError::NotFound),
        Err(e) => {
            tracing::error!(error = %e, payment_id = %id, "payment read failed");
            return Err(ReceiptCopyError::Unavailable);
        }
    };
    let Some(kept) = record.receipt(&ReceiptSlot::Sale) else {
        return Err(ReceiptCopyError::NotIssued);
    };
    let receipt = serde_json::from_str::<ReceiptNotification>(&kept.notification)
        .map_err(|e| e.to_string())
        .and_then(|n| n.fiscal_receipt(&record.payment, seller).map_err(|e| e.to_string()))
        .map_err(|reason| {
            tracing::error!(payment_id = %id, reason, "a kept receipt cannot be composed");
            ReceiptCopyError::Unrenderable
        })?;
    Ok(PaymentReceipt { payment: record.payment, receipt })
}

/// Sends the sale receipt of `id`, as [`receipt`] read it for the payer, again to the email the
/// payment was made with. Counts the copy and mails it: the caller's request must be admitted
/// (`edge::mini_app::Admission`) before this runs, the read of the receipt being all that may run
/// alongside the admission.
pub async fn send_copy<S, M>(
    store: &S,
    mailer: &Mailer<M>,
    id: &PaymentId,
    read: PaymentReceipt,
    now: DateTime<Utc>,
) -> Result<(), ReceiptCopyError>
where
    S: ReceiptCopies + Sync,
    M: MailSender + Sync,
{
    let PaymentReceipt { payment, mut receipt } = read;
    let email = payment.email.as_ref().ok_or(ReceiptCopyError::NoEmail)?;
    // The payment's own address, whatever the bank printed on the receipt.
    receipt.buyer_email = email.expose().to_owned();
    let day = moscow_date(now);
    let nth = match store.count_copy(id, day, COPIES_PER_DAY).await {
        Ok(CopyCounted::Counted { nth }) => nth,
        Ok(CopyCounted::LimitReached) => {
            tracing::info!(payment_id = %id, "receipt copies of the day used up");
            return Err(ReceiptCopyError::TooManyCopies { retry_after_secs: until_next_moscow_day(now) });
        }
        Err(e) => {
            tracing::error!(error = %e, payment_id = %id, "receipt copy count failed");
            return Err(ReceiptCopyError::Unavailable);
        }
    };
    let uncount = || async {
        if let Err(e) = store.uncount_copy(id, day).await {
            tracing::warn!(error = %e, payment_id = %id, "an unsent copy stays counted");
        }
    };
    let outgoing = match mailer.render_fiscal_receipt_copy(&receipt, &format!("{day}.{nth}")) {
        Ok(outgoing) => outgoing,
        Err(e) => {
            tracing::error!(payment_id = %id, error = %e, "receipt copy cannot be composed");
            uncount().await;
            return Err(ReceiptCopyError::Unrenderable);
        }
    };
    match mailer.sender().send(&outgoing).await {
        Ok(message_id) => {
            tracing::info!(payment_id = %id, nth, message_id = %message_id, "receipt copy sent");
            Ok(())
        }
        Err(e) => {
            tracing::error!(payment_id = %id, error = %e, "receipt copy not sent");
            // Not sent: the copy does not count against the day's.
            uncount().await;
            Err(ReceiptCopyError::Unavailable)
        }
    }
}

/// Seconds from `now` to the next Moscow midnight (UTC+3, no daylight saving).
fn until_next_moscow_day(now: DateTime<Utc>) -> u64 {
    let tomorrow = moscow_date(now).checked_add_days(Days::new(1)).expect("a representable date");
    let midnight = tomorrow.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - chrono::Duration::hours(3);
    u64::try_from((midnight - now).num_seconds()).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_evening_in_moscow_when_copies_run_out_then_they_come_back_at_moscow_midnight() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 23:30 Moscow is 20:30 UTC: half an hour to go.
        assert_eq!(until_next_moscow_day(at("2026-11-20T20:30:00Z")), 1800);
        // 01:00 Moscow on the 21st is still the 20th in UTC: 23 hours to go.
        assert_eq!(until_next_moscow_day(at("2026-11-20T22:00:00Z")), 23 * 3600);
    }
}
