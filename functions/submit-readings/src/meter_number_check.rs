//! The proof of presence for one submission: the number typed against the account's meters
//! (`domain::meter_number`), counted against the account's daily budget of wrong numbers
//! (`domain::meter_number_budget`) through the request counter port.

use chrono::{DateTime, Utc};
use energosbyt::domain::meter_number::{TypedMeterNumber, proved_meter};
use energosbyt::domain::meter_number_budget::{self as budget, BudgetDay, Verdict};
use energosbyt::domain::{AccountNumber, Meter, MeterRef};
use energosbyt::edge::Problem;
use energosbyt::ports::{RequestCounter, Tallied, Tally};

/// The meter the typed number proves, with its reference; or the refusal: a wrong number (422)
/// or the day's budget spent (429, the right number included). A counter fault refuses too
/// (503): guesses must not go uncounted while the store is down.
pub async fn prove<'a, C: RequestCounter>(
    counter: &C,
    account: &AccountNumber,
    meters: &'a [Meter],
    typed: &TypedMeterNumber,
    only: Option<MeterRef>,
    now: DateTime<Utc>,
) -> Result<(MeterRef, &'a Meter), Problem> {
    let day = BudgetDay::at(now);
    let proved = proved_meter(meters, typed, only);
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
            Err(Problem::meter_number_attempts_exhausted(day.retry_after_secs))
        }
        (Verdict::Wrong { attempts_left }, _) => {
            tracing::info!(account = %account.masked(), attempts_left, "readings refused: wrong meter number");
            Err(Problem::meter_number_wrong(attempts_left))
        }
        // `after_right` is asked only when a meter was proved.
        (Verdict::Proved, None) => Err(Problem::meter_number_wrong(0)),
    }
}

/// One more under `key` today: the counter's "minute" pinned to the day's start counts the day.
async fn count_today<C: RequestCounter>(
    counter: &C,
    key: &str,
    day: &BudgetDay,
) -> Result<u64, energosbyt::ports::StoreError> {
    let tally = Tally { key, day_start: day.start_unix, minute_start: day.start_unix, account: None };
    match counter.tally(&tally).await? {
        Tallied::Counted { minute, .. } => Ok(minute),
        // Only a tally that names an account can find the day's accounts full.
        Tallied::AccountsFull => Ok(u64::MAX),
    }
}

fn counter_fault(e: &energosbyt::ports::StoreError, account: &AccountNumber) -> Problem {
    tracing::error!(error = %e, account = %account.masked(), "meter number counters unavailable");
    Problem::unavailable()
}
