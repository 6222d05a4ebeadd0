//! How long a payment's form stays open at the bank (`RedirectDueDate`). Fixed once, when the
//! payment is created, and sent unchanged with every `Init` of that payment, so a retried request
//! never opens a form that outlives what the reconciliation waits for; and never past the last
//! Moscow day of the VAT rate the form's receipt names, so a form opened on 31 December cannot be
//! paid on 1 January with last year's rate printed.

use super::vat::VatRate;
use chrono::{DateTime, TimeDelta, Utc};

/// The shortest form life the bank accepts.
pub const BANK_MIN_LIFETIME: TimeDelta = TimeDelta::minutes(1);
/// The longest form life the bank accepts.
pub const BANK_MAX_LIFETIME: TimeDelta = TimeDelta::days(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormDeadlineError {
    #[error("the form lifetime must be between 1 minute and 90 days")]
    LifetimeOutOfRange,
    /// Less than the bank's minimum lifetime is left before the VAT rate changes: a form opened
    /// now would print a rate that is no longer in force when it is paid.
    #[error("the VAT rate changes at {change_at}; no form can be opened before then")]
    RateChangeImminent { change_at: DateTime<Utc> },
}

impl FormDeadlineError {
    /// For `RateChangeImminent`: whole seconds from `now` until the new rate is in force (at
    /// least 1), what a `Retry-After` says.
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> Option<u64> {
        match self {
            Self::RateChangeImminent { change_at } => {
                let millis = u64::try_from((*change_at - now).num_milliseconds()).unwrap_or(0).max(1);
                Some(millis.div_ceil(1000))
            }
            Self::LifetimeOutOfRange => None,
        }
    }
}

/// The deadline of the form of a payment created at `created_at`: `lifetime` later, in whole
/// seconds (all `RedirectDueDate` can say), but no later than the last second before the next
/// VAT change.
pub fn form_deadline(created_at: DateTime<Utc>, lifetime: TimeDelta) -> Result<DateTime<Utc>, FormDeadlineError> {
    if lifetime < BANK_MIN_LIFETIME || lifetime > BANK_MAX_LIFETIME {
        return Err(FormDeadlineError::LifetimeOutOfRange);
    }
    let mut deadline = whole_seconds(created_at + lifetime);
    if let Some(change_at) = VatRate::next_change_after(created_at) {
        let last_second = change_at - TimeDelta::seconds(1);
        if deadline > last_second {
            deadline = last_second;
            if !is_open(deadline, created_at) {
                return Err(FormDeadlineError::RateChangeImminent { change_at });
            }
        }
    }
    Ok(deadline)
}

/// A form with this deadline can still be opened at `now`: the bank wants it to live a minute.
pub fn is_open(deadline: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    deadline - now >= BANK_MIN_LIFETIME
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Moscow;
    use proptest::prelude::*;

    fn moscow(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Moscow.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap().with_timezone(&Utc)
    }

    const DAY: TimeDelta = TimeDelta::hours(24);

    #[test]
    fn on_an_ordinary_day_the_form_lives_its_lifetime_in_whole_seconds() {
        let created = moscow(2025, 11, 20, 12, 30, 0) + TimeDelta::milliseconds(740);
        assert_eq!(form_deadline(created, DAY), Ok(moscow(2025, 11, 21, 12, 30, 0)));
        assert_eq!(form_deadline(created, TimeDelta::minutes(20)), Ok(moscow(2025, 11, 20, 12, 50, 0)));
        // After the last known change nothing caps it.
        assert_eq!(form_deadline(moscow(2026, 11, 20, 15, 0, 0), DAY), Ok(moscow(2026, 11, 21, 15, 0, 0)));
    }

    #[test]
    fn a_form_opened_at_23_30_on_31_december_closes_at_23_59_59() {
        let created = moscow(2025, 12, 31, 23, 30, 0);
        assert_eq!(form_deadline(created, DAY), Ok(moscow(2025, 12, 31, 23, 59, 59)));
        // Its whole life is under one rate.
        assert_eq!(VatRate::at(moscow(2025, 12, 31, 23, 59, 59)), VatRate::at(created));
        // A day earlier the cap bites too: the form would have lived into 1 January.
        assert_eq!(form_deadline(moscow(2025, 12, 31, 0, 10, 0), DAY), Ok(moscow(2025, 12, 31, 23, 59, 59)));
        assert_eq!(form_deadline(moscow(2025, 12, 30, 23, 0, 0), DAY), Ok(moscow(2025, 12, 31, 23, 0, 0)));
    }

    #[test]
    fn less_than_a_minute_before_the_change_no_form_opens_and_the_wait_is_until_midnight() {
        let now = moscow(2025, 12, 31, 23, 59, 30);
        let refused = form_deadline(now, DAY).unwrap_err();
        assert_eq!(refused, FormDeadlineError::RateChangeImminent { change_at: moscow(2026, 1, 1, 0, 0, 0) });
        assert_eq!(refused.retry_after_secs(now), Some(30));
        assert_eq!(refused.retry_after_secs(now + TimeDelta::milliseconds(29_500)), Some(1));
        // 23:58:59 leaves exactly a minute to 23:59:59: still open.
        assert_eq!(form_deadline(moscow(2025, 12, 31, 23, 58, 59), DAY), Ok(moscow(2025, 12, 31, 23, 59, 59)));
        assert!(form_deadline(moscow(2025, 12, 31, 23, 59, 0), DAY).is_err());
        // From midnight on, the new rate's forms open as usual.
        assert_eq!(form_deadline(moscow(2026, 1, 1, 0, 0, 0), DAY), Ok(moscow(2026, 1, 2, 0, 0, 0)));
    }

    #[test]
    fn the_bank_limits_the_lifetime() {
        let now = moscow(2025, 6, 1, 12, 0, 0);
        assert_eq!(form_deadline(now, TimeDelta::seconds(59)), Err(FormDeadlineError::LifetimeOutOfRange));
        assert_eq!(form_deadline(now, TimeDelta::days(91)), Err(FormDeadlineError::LifetimeOutOfRange));
        assert_eq!(FormDeadlineError::LifetimeOutOfRange.retry_after_secs(now), None);
    }

    #[test]
    fn a_form_is_open_while_a_minute_is_left() {
        let deadline = moscow(2025, 11, 21, 12, 30, 0);
        assert!(is_open(deadline, deadline - TimeDelta::minutes(1)));
        assert!(!is_open(deadline, deadline - TimeDelta::seconds(59)));
        assert!(!is_open(deadline, deadline + TimeDelta::hours(1)));
    }

    proptest! {
        #[test]
        fn a_form_never_outlives_its_lifetime_nor_its_vat_rate(secs in 0i64..400_000_000, life in 60i64..7_776_000) {
            let created = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(secs);
            let lifetime = TimeDelta::seconds(life);
            match form_deadline(created, lifetime) {
                Ok(deadline) => {
                    prop_assert!(deadline <= created + lifetime);
                    prop_assert!(is_open(deadline, created));
                    prop_assert_eq!(VatRate::at(deadline), VatRate::at(created));
                }
                Err(FormDeadlineError::RateChangeImminent { change_at }) => {
                    prop_assert!(change_at > created && change_at - created <= BANK_MIN_LIFETIME + TimeDelta::seconds(1));
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
