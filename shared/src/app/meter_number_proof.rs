//! The meter-number proof of presence for one readings submission: the number typed against the
//! account's meters (`domain::meter_number`), counted against the account's daily budget of wrong
//! numbers (`domain::meter_number_budget`) through the request counter port. A user who proved a
//! meter before (their readings of it stand) is not stopped on it by others' spent budget: the
//! number they type again tells them nothing they did not know. Decides nothing else.

use super::readings_submission::SubmissionError;
use crate::domain::meter_number::{TypedMeterNumber, proved_meter};
use crate::domain::meter_number_budget::{self as budget, BudgetDay, Verdict};
use crate::domain::{AccountNumber, Meter, MeterId, MeterRef};
use crate::ports::{RequestCounter, Tallied, Tally};
use chrono::{DateTime, Utc};

/// The meter the typed number proves, with its reference; or the refusal: a wrong number (422)
/// or the day's budget spent (429, the right number included, unless it names one of the meters
/// in `proved_before`, those whose readings the caller handed in and which stand). A counter
/// fault refuses too (503): guesses must not go uncounted while the store is down.
pub async fn prove<'a, C: RequestCounter>(
    counter: &C,
    account: &AccountNumber,
    meters: &'a [Meter],
    typed: &TypedMeterNumber,
    only: Option<MeterRef>,
    proved_before: &[&MeterId],
    now: DateTime<Utc>,
) -> Result<(MeterRef, &'a Meter), SubmissionError> {
    let day = BudgetDay::at(now);
    let proved = proved_meter(meters, typed, only);
    if let Some(found @ (_, meter)) = proved
        && proved_before.contains(&&meter.id)
    {
        return Ok(found);
    }
    let checks_key = budget::checks_key(account);
    let checks = count_today(counter, &checks_key, &day);
    let (other_key, verdict): (String, fn(u64, u64) -> Verdict) = match proved {
        Some(_) => (budget::rights_key(account), budget::after_right),
        None => (budget::wrongs_key(account), |_checks, wrongs| budget::after_wrong(wrongs)),
    };
    let other = count_today(counter, &other_key, &day);
    let verdict = match tokio::join!(checks, other) {
        (Ok(checks), Ok(other)) => verdict(checks, other),
        (Err(e), _) | (_, Err(e)) => return Err(counter_fault(&e, account)),
    };
    match (verdict, proved) {
        (Verdict::Proved, Some(found)) => Ok(found),
        (Verdict::Exhausted, _) => {
            tracing::warn!(account = %account.masked(), "readings refused: the day's wrong meter numbers are spent");
            Err(SubmissionError::MeterNumberAttemptsExhausted { retry_after_secs: day.retry_after_secs })
        }
        (Verdict::Wrong { attempts_left }, _) => {
            tracing::info!(account = %account.masked(), attempts_left, "readings refused: wrong meter number");
            Err(SubmissionError::MeterNumberWrong { attempts_left })
        }
        // `after_right` is asked only when a meter was proved.
        (Verdict::Proved, None) => Err(SubmissionError::MeterNumberWrong { attempts_left: 0 }),
    }
}

/// One more under `key` today: the counter's "minute" pinned to the day's start counts the day.
async fn count_today<C: RequestCounter>(
    counter: &C,
    key: &str,
    day: &BudgetDay,
) -> Result<u64, crate::ports::StoreError> {
    let tally = Tally { key, day_start: day.start_unix, minute_start: day.start_unix, reserve: 1, account: None };
    match counter.tally(&tally).await? {
        Tallied::Counted { minute, .. } => Ok(minute),
        // Only a tally that names an account can find the day's accounts full.
        Tallied::AccountsFull => Ok(u64::MAX),
    }
}

fn counter_fault(e: &crate::ports::StoreError, account: &AccountNumber) -> SubmissionError {
    tracing::error!(error = %e, account = %account.masked(), "meter number counters unavailable");
    SubmissionError::Unavailable
}
