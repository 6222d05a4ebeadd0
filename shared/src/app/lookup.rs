//! The account look-up: the account with its readings submissions not billed yet (this billing
//! month's, and an earlier month's still waiting for the billing system), in one read.
//! What of it a caller may see (masked address and meter numbers, figures only to their
//! submitter) is the look-up function's view; this module reads and decides nothing about HTTP.

use crate::domain::AccountNumber;
use crate::domain::year_month::billing_month;
use crate::ports::StoreError;
use crate::ports::readings::{AccountReadings, AccountReadingsReader};
use chrono::{DateTime, Utc};

/// Why there is nothing to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no such account")]
    AccountNotFound,
    /// Our own fault (the store): logged here.
    #[error("unavailable")]
    Unavailable,
}

/// The account `number` as of `now`'s billing month: the one read, which the edge runs beside its
/// throttle counter. Decides and logs nothing, so a refused request leaves no trace of the account;
/// [`found`] reads the answer.
pub async fn read<S: AccountReadingsReader>(
    store: &S,
    number: &AccountNumber,
    now: DateTime<Utc>,
) -> Result<Option<AccountReadings>, StoreError> {
    store.account_with_readings(number, billing_month(now)).await
}

/// What a read of an account found, once the request was admitted: the account, or why there is
/// none (logged here, by the masked number). Every flow that starts from an account reads it so.
pub fn found<T>(read: Result<Option<T>, StoreError>, number: &AccountNumber) -> Result<T, LookupError> {
    match read {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            tracing::info!(account = %number.masked(), "account not found");
            Err(LookupError::AccountNotFound)
        }
        Err(e) => {
            tracing::error!(error = %e, account = %number.masked(), "account read failed");
            Err(LookupError::Unavailable)
        }
    }
}
