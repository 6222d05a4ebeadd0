//! A payment's status for the page the bank sends the customer back to: shown only to the caller
//! who created the payment; to anyone else it does not exist. Reads; never changes a payment.

use crate::domain::{CallerId, PaymentId};
use crate::ports::{PaymentPage, PaymentReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// No such payment, or another caller's.
    #[error("no such payment")]
    NotFound,
    /// Our own fault (the store): logged here.
    #[error("unavailable")]
    Unavailable,
}

/// The payment as its page shows it: with whether its fiscal receipt has arrived and why the
/// card's bank declined it.
pub async fn payment_status<S: PaymentReader + Sync>(
    store: &S,
    id: &PaymentId,
    asking: &CallerId,
) -> Result<PaymentPage, StatusError> {
    match store.payment_page(id).await {
        Ok(Some(page)) if page.payment.caller == *asking => {
            tracing::info!(payment_id = %id, status = page.payment.status.as_str(), "payment status shown");
            Ok(page)
        }
        Ok(Some(_)) => {
            tracing::warn!(payment_id = %id, "payment status asked by another caller");
            Err(StatusError::NotFound)
        }
        Ok(None) => {
            tracing::info!(payment_id = %id, "payment status asked for an unknown payment");
            Err(StatusError::NotFound)
        }
        Err(e) => {
            tracing::error!(error = %e, payment_id = %id, "payment read failed");
            Err(StatusError::Unavailable)
        }
    }
}
