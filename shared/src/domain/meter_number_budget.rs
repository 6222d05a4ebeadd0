//! How many wrong meter numbers an account takes: 5 a Moscow day, then every readings submission of
//! the account is refused until midnight, the right number included — otherwise the refusals would
//! only tell a guesser which numbers are wrong, and the right one would still get through. (A user
//! whose own readings of the meter stand proved its number before: `app::meter_number_proof` lets
//! them through.)
//!
//! Counted through the request counter port, which only adds one and answers the sum: three counters
//! per account and day, every number check (`meter-number#account#<digits>`), the wrong ones
//! (`meter-number-wrong#…`) and the right ones (`meter-number-right#…`). A wrong number counts
//! checks and wrongs and reads the wrongs; a right one counts checks and rights and reads the
//! wrongs as checks − rights. Both know the day's wrong numbers exactly without a read of their own.

use super::AccountNumber;
use super::readings_window::moscow_date;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Europe::Moscow;

/// Wrong numbers an account takes in a Moscow day.
pub const WRONG_NUMBERS_PER_DAY: u64 = 5;

/// The Moscow day holding `now`: its start (unix seconds), its length and the seconds until it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetDay {
    pub start_unix: i64,
    pub secs: i64,
    pub retry_after_secs: u64,
}

impl BudgetDay {
    pub fn at(now: DateTime<Utc>) -> Self {
        let today = moscow_date(now);
        let midnight = |day: chrono::NaiveDate| {
            day.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(Moscow).single())
                .map_or(now.timestamp(), |t| t.timestamp())
        };
        let start = midnight(today);
        let end = midnight(today + TimeDelta::days(1));
        let secs = (end - start).max(1);
        Self { start_unix: start, secs, retry_after_secs: u64::try_from(end - now.timestamp()).unwrap_or(1).max(1) }
    }
}

/// The counter of every number check of the account.
pub fn checks_key(account: &AccountNumber) -> String {
    format!("meter-number#account#{}", account.digits())
}

/// The counter of the wrong numbers among them.
pub fn wrongs_key(account: &AccountNumber) -> String {
    format!("meter-number-wrong#account#{}", account.digits())
}

/// The counter of the right numbers among them.
pub fn rights_key(account: &AccountNumber) -> String {
    format!("meter-number-right#account#{}", account.digits())
}

/// What a number check concludes, given the counters after counting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The number is right and the budget not spent: go on with the readings.
    Proved,
    /// The number is wrong; so many more wrong ones are taken today.
    Wrong { attempts_left: u64 },
    /// The budget is spent: nothing of this account is taken until the day ends.
    Exhausted,
}

/// A wrong number, the day's wrong numbers counted with it.
pub fn after_wrong(wrongs: u64) -> Verdict {
    if wrongs > WRONG_NUMBERS_PER_DAY {
        Verdict::Exhausted
    } else {
        Verdict::Wrong { attempts_left: WRONG_NUMBERS_PER_DAY - wrongs }
    }
}

/// A right number, the day's checks and rights counted with it.
pub fn after_right(checks: u64, rights: u64) -> Verdict {
    if checks.saturating_sub(rights) >= WRONG_NUMBERS_PER_DAY { Verdict::Exhausted } else { Verdict::Proved }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn given_an_instant_when_its_budget_day_is_taken_then_it_is_the_moscow_calendar_day() {
        // 20 November 2026, 15:00 Moscow = 12:00 UTC; the day began at 21:00 UTC the day before.
        let day = BudgetDay::at(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap());
        assert_eq!(day.start_unix, Utc.with_ymd_and_hms(2026, 11, 19, 21, 0, 0).unwrap().timestamp());
        assert_eq!(day.secs, 86_400);
        assert_eq!(day.retry_after_secs, 9 * 3600);
        // 23:59:59 Moscow: one second left; 00:00 Moscow: a new day.
        let last = BudgetDay::at(Utc.with_ymd_and_hms(2026, 11, 20, 20, 59, 59).unwrap());
        assert_eq!((last.start_unix, last.retry_after_secs), (day.start_unix, 1));
        let next = BudgetDay::at(Utc.with_ymd_and_hms(2026, 11, 20, 21, 0, 0).unwrap());
        assert_eq!(next.start_unix, day.start_unix + 86_400);
        assert_eq!(next.retry_after_secs, 86_400);
    }

    #[test]
    fn given_wrong_numbers_when_counted_then_5_are_answered_and_the_6th_is_refused() {
        let verdicts: Vec<Verdict> = (1..=7).map(after_wrong).collect();
        assert_eq!(verdicts[0], Verdict::Wrong { attempts_left: 4 });
        assert_eq!(verdicts[4], Verdict::Wrong { attempts_left: 0 });
        assert_eq!(verdicts[5], Verdict::Exhausted);
        assert_eq!(verdicts[6], Verdict::Exhausted);
    }

    #[test]
    fn given_5_wrong_numbers_when_the_right_one_comes_then_it_is_refused_too() {
        // Checks 1–5 wrong, the 6th right: 6 − 1 = 5 wrong.
        assert_eq!(after_right(6, 1), Verdict::Exhausted);
        // 4 wrong, then right ones as often as the customer corrects.
        assert_eq!(after_right(5, 1), Verdict::Proved);
        assert_eq!(after_right(14, 10), Verdict::Proved);
        assert_eq!(after_right(1, 1), Verdict::Proved);
    }

    #[test]
    fn the_counters_are_the_accounts_own() {
        let a: AccountNumber = "10000-000-01".parse().unwrap();
        let b: AccountNumber = "10000-000-02".parse().unwrap();
        assert_ne!(checks_key(&a), checks_key(&b));
        let keys = [checks_key(&a), wrongs_key(&a), rights_key(&a)];
        assert!(keys.iter().all(|k| keys.iter().filter(|other| *other == k).count() == 1), "{keys:?}");
        assert_eq!(checks_key(&a), "meter-number#account#1000000001");
    }
}
