//! The balance a customer sees: the billing system's balance as of its export, plus every movement
//! this service made after that instant (credits +, refunds −). The export is stored as given and
//! the movements stay in the ledger, so an import never has to read money and never races a credit.

use super::{Balance, Money};
use chrono::{DateTime, Utc};

/// `billed` as exported at `exported_at`, moved by the movements dated after it (one dated at
/// the very instant is in the export already).
pub fn current_balance(
    billed: Money,
    exported_at: DateTime<Utc>,
    movements: impl IntoIterator<Item = (DateTime<Utc>, Money)>,
) -> Balance {
    let moved: Money = movements.into_iter().filter(|(at, _)| *at > exported_at).map(|(_, amount)| amount).sum();
    Balance::new(billed + moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn given_movements_before_and_after_the_export_when_read_then_only_those_after_it_count() {
        let exported = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let movements = [
            (exported - Duration::days(1), money("100.00")),
            (exported, money("7.00")),
            (exported + Duration::hours(2), money("500.00")),
            (exported + Duration::days(3), money("-120.50")),
        ];
        assert_eq!(current_balance(money("-500.00"), exported, movements).signed(), money("-120.50"));
        assert_eq!(current_balance(money("-500.00"), exported, []).signed(), money("-500.00"));
    }
}
