//! Leases on the throttle's minute budgets: how an instance answers most of a caller's requests
//! without writing the caller's counter for each, and still lets no budget be exceeded across
//! every instance together.
//!
//! The counter item (`store::throttle`) counts requests *reserved*, not requests served. When an
//! instance must write anyway, it reserves a few of the minute's requests at once — the first
//! write of a caller in a minute reserves one (what it serves), each further write of that minute
//! twice what the previous asked, up to [`largest_grant`] — and serves the reserved ones that are
//! left from memory. The item never admits more than the budget: a reservation gets only what the
//! minute has left, so the instances together serve at most the budget. What an instance holds and
//! does not use is lost when the minute ends; other instances may refuse a caller that much early
//! (at most `largest_grant − 1` per instance the caller has spread over). Once the counter has
//! said a minute is spent, the instance serves what it still holds and refuses the rest of that
//! minute without asking again: no instance ever gets a spent minute's requests back.
//!
//! The distinct-accounts budget needs no lease: an account this instance has counted into the
//! caller's day needs no second write that day; an account it has not must be written (the item's
//! set decides), and that write reserves minute requests as any other.
//!
//! A Lambda instance serves one event at a time, so what it holds is used by the caller's next
//! request that lands on it. Pure: what to ask the counter and what its answer means; the edge
//! (`edge::throttle`) does the asking.

use crate::domain::AccountNumber;
use crate::ports::Tallied;
use std::sync::Mutex;

/// The most one reservation asks for: a tenth of the minute's budget, at least one request and at
/// most 64.
pub fn largest_grant(per_minute: u64) -> u64 {
    (per_minute / 10).clamp(1, 64)
}

/// How many callers an instance keeps leases for; past it, the one it has kept longest goes. A
/// Lambda instance serves one event at a time: a few hundred callers cover many minutes of it.
const CALLERS: usize = 256;
/// How many of a caller's accounts an instance remembers as counted today.
const ACCOUNTS: usize = 64;

/// One caller's lease on this instance.
#[derive(Debug, Default)]
struct Lease {
    key: String,
    day_start: i64,
    minute_start: i64,
    /// Requests of `minute_start` reserved in the counter and not yet served here.
    held: u64,
    /// What the next reservation of the minute asks for (0: the minute's first, 1).
    next_grant: u64,
    /// The counter said the minute's budget is all reserved: refused here until the minute ends.
    spent: bool,
    /// Accounts this instance has counted into the caller's `day_start` (a part of the item's set).
    accounts: Vec<AccountNumber>,
}

impl Lease {
    /// Moves the lease on to the request's minute (and day); `false` for a request of a minute
    /// before the lease's (one that waited on the counter while the minute ended), which the lease
    /// then has nothing to do with.
    fn roll(&mut self, day_start: i64, minute_start: i64) -> bool {
        if minute_start < self.minute_start {
            return false;
        }
        if self.day_start != day_start {
            *self = Self { key: std::mem::take(&mut self.key), day_start, minute_start, ..Self::default() };
        } else if self.minute_start != minute_start {
            self.minute_start = minute_start;
            self.held = 0;
            self.next_grant = 0;
            self.spent = false;
        }
        true
    }

    fn knows(&self, account: Option<&AccountNumber>) -> bool {
        account.is_none_or(|a| self.accounts.contains(a))
    }
}

/// Where a request stands before any write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Served from what this instance holds: no write.
    Served,
    /// The minute's budget is spent, as the counter said earlier in the minute: no write.
    MinuteSpent,
    /// Write the counter, reserving `grant` of the minute (0 when a held request was taken and
    /// only the account must be counted).
    Reserve { grant: u64 },
}

/// What the budgets say of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// Within them; `new_account` is the day's count of distinct accounts when this request added
    /// one.
    Admitted { new_account: Option<u64> },
    /// The minute's requests are all reserved.
    MinuteSpent,
    /// The account is new to the day and the day holds its limit already.
    AccountsFull,
}

/// Which minute, day and caller a request is counted as.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub key: &'a str,
    pub day_start: i64,
    pub minute_start: i64,
    /// The account the request concerns, if any.
    pub account: Option<&'a AccountNumber>,
}

/// Every caller's lease on this instance, the latest last.
#[derive(Debug, Default)]
pub struct Leases {
    callers: Mutex<Vec<Lease>>,
}

impl Leases {
    /// Serves the request from a held reservation when it can; says what to write when not.
    pub fn plan(&self, at: &Window<'_>) -> Plan {
        let mut callers = self.callers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(lease) = callers.iter_mut().find(|lease| lease.key == at.key) else {
            return Plan::Reserve { grant: 1 };
        };
        // A request of a minute before the lease's is planned in the lease's: what is held was
        // reserved moments later and serves it as well.
        lease.roll(at.day_start, at.minute_start);
        if lease.held == 0 {
            // No instance gets a spent minute's requests back: nothing to ask the counter.
            if lease.spent {
                return Plan::MinuteSpent;
            }
            return Plan::Reserve { grant: lease.next_grant.max(1) };
        }
        lease.held -= 1;
        if lease.knows(at.account) { Plan::Served } else { Plan::Reserve { grant: 0 } }
    }

    /// What the counter's answer to [`Plan::Reserve`] means, keeping what it reserved beyond this
    /// request for the caller's next ones. `per_minute` is the minute's budget.
    pub fn settle(&self, at: &Window<'_>, grant: u64, tallied: Tallied, per_minute: u64) -> Drawn {
        let mut callers = self.callers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let lease = match callers.iter().position(|lease| lease.key == at.key) {
            Some(found) => &mut callers[found],
            None => {
                // Forgetting costs only writes: what was held is lost, and an account not known
                // is counted again (the item's set already holds it).
                if callers.len() >= CALLERS {
                    callers.remove(0);
                }
                callers.push(Lease { key: at.key.to_owned(), ..Lease::default() });
                callers.last_mut().expect("just pushed")
            }
        };
        // A late answer of an earlier minute still decides its own request, and nothing else.
        let current = lease.roll(at.day_start, at.minute_start);
        let (minute, new_account) = match tallied {
            Tallied::AccountsFull => {
                // Nothing was written; the held request taken for it is held again.
                if grant == 0 && current {
                    lease.held += 1;
                }
                return Drawn::AccountsFull;
            }
            Tallied::Counted { minute, accounts, new_account } => (minute, new_account.then_some(accounts)),
        };
        if let Some(account) = at.account
            && current
            && !lease.knows(Some(account))
            && lease.accounts.len() < ACCOUNTS
        {
            lease.accounts.push(*account);
        }
        let drawn = Drawn::Admitted { new_account };
        if grant == 0 {
            return drawn;
        }
        let left = per_minute.saturating_sub(minute.saturating_sub(grant));
        let got = grant.min(left);
        if current {
            lease.next_grant = grant.saturating_mul(2).min(largest_grant(per_minute));
            lease.held += got.saturating_sub(1);
            lease.spent |= got == 0;
            // Requests planned side by side on this instance each reserved, and the others' took
            // the minute's rest: what they left held here is this instance's, and serves this one.
            if got == 0 && lease.held > 0 {
                lease.held -= 1;
                return drawn;
            }
        }
        if got == 0 { Drawn::MinuteSpent } else { drawn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "accounts#user#vk:1";

    /// The window of a request about `account` (its digits). Each call's number lives for the
    /// rest of the test run: a few dozen bytes a call.
    fn at(minute_start: i64, account: Option<&str>) -> Window<'static> {
        let account = account.map(|digits| &*Box::leak(Box::new(digits.parse().expect("10 digits"))));
        Window { key: KEY, day_start: 0, minute_start, account }
    }

    /// A counter item as DynamoDB keeps it: the minute's reserved requests and the day's accounts.
    #[derive(Default)]
    struct Item {
        minute_start: i64,
        reserved: u64,
        accounts: Vec<AccountNumber>,
    }

    impl Item {
        fn tally(&mut self, at: &Window<'_>, grant: u64, accounts_per_day: u64) -> Tallied {
            if self.minute_start != at.minute_start {
                (self.minute_start, self.reserved) = (at.minute_start, 0);
            }
            let new = at.account.filter(|a| !self.accounts.contains(a));
            if new.is_some() && self.accounts.len() as u64 >= accounts_per_day {
                return Tallied::AccountsFull;
            }
            self.accounts.extend(new.copied());
            self.reserved += grant;
            Tallied::Counted { minute: self.reserved, accounts: self.accounts.len() as u64, new_account: new.is_some() }
        }
    }

    fn held(instance: &Leases) -> u64 {
        instance.callers.lock().unwrap().iter().find(|lease| lease.key == KEY).map_or(0, |lease| lease.held)
    }

    /// One request through `instance` against `item`: what it drew and whether it wrote.
    fn request(instance: &Leases, item: &mut Item, at: &Window<'_>, per_minute: u64) -> (Drawn, bool) {
        match instance.plan(at) {
            Plan::Served => (Drawn::Admitted { new_account: None }, false),
            Plan::MinuteSpent => (Drawn::MinuteSpent, false),
            Plan::Reserve { grant } => (instance.settle(at, grant, item.tally(at, grant, 10), per_minute), true),
        }
    }

    #[test]
    fn one_instance_serves_exactly_the_minutes_budget_writing_for_a_fraction_of_it() {
        let (instance, mut item) = (Leases::default(), Item::default());
        let account = Some("1000000001");
        let mut writes = 0;
        let drawn: Vec<Drawn> = (0..100)
            .map(|_| {
                let (drawn, wrote) = request(&instance, &mut item, &at(60, account), 30);
                writes += usize::from(wrote);
                drawn
            })
            .collect();
        let admitted = drawn.iter().filter(|d| matches!(d, Drawn::Admitted { .. })).count();
        assert_eq!(admitted, 30, "exactly the budget, from one instance");
        assert!(drawn[30..].iter().all(|d| *d == Drawn::MinuteSpent), "then refused");
        // Reservations of 1, 2 and then 3 (a tenth of 30): 11 writes for the 30 served, one more
        // to learn the minute is spent, and none for the 69 refused after it.
        assert_eq!(writes, 11 + 1);
        // The next minute starts again from one.
        assert_eq!(instance.plan(&at(120, account)), Plan::Reserve { grant: 1 });
    }

    #[test]
    fn instances_together_never_serve_more_than_the_budget() {
        let instances: Vec<Leases> = (0..7).map(|_| Leases::default()).collect();
        let mut item = Item::default();
        let mut admitted = 0;
        for i in 0..400 {
            // The caller's requests land on the instances in turn, bunched a little.
            let instance = &instances[(i / 3) % instances.len()];
            if let (Drawn::Admitted { .. }, _) = request(instance, &mut item, &at(60, Some("1000000001")), 30) {
                admitted += 1;
            }
        }
        assert!(admitted <= 30, "{admitted} served");
        // What instances hold and never use is at most the largest grant less one, each.
        assert!(admitted >= 30 - instances.len() * (largest_grant(30) as usize - 1), "{admitted} served");
    }

    #[test]
    fn a_new_account_is_always_written_and_a_full_day_gives_back_the_held_request() {
        let (instance, mut item) = (Leases::default(), Item::default());
        for n in 0..10 {
            let account = format!("10000000{n:02}");
            let (drawn, wrote) = request(&instance, &mut item, &at(60, Some(&account)), 1_000);
            assert!(wrote, "account {n} is new to the day: counted in the item");
            assert_eq!(drawn, Drawn::Admitted { new_account: Some(n + 1) });
        }
        // Requests are held from the earlier reservations; the eleventh account still asks.
        let held_before = held(&instance);
        assert!(held_before > 0);
        let (drawn, wrote) = request(&instance, &mut item, &at(60, Some("1000000099")), 1_000);
        assert_eq!((drawn, wrote), (Drawn::AccountsFull, true));
        assert_eq!(held(&instance), held_before, "nothing spent on a refusal");
        // An account of the day is served from what is held.
        assert_eq!(
            request(&instance, &mut item, &at(60, Some("1000000003")), 1_000),
            (Drawn::Admitted { new_account: None }, false)
        );
    }

    #[test]
    fn a_new_day_forgets_the_accounts_a_new_minute_the_held_requests() {
        let (instance, mut item) = (Leases::default(), Item::default());
        for _ in 0..4 {
            request(&instance, &mut item, &at(60, Some("1000000001")), 1_000);
        }
        assert!(matches!(instance.plan(&at(60, Some("1000000001"))), Plan::Served));
        assert_eq!(instance.plan(&at(120, Some("1000000001"))), Plan::Reserve { grant: 1 }, "a new minute");
        let tomorrow = Window { day_start: 86_400, ..at(86_460, Some("1000000001")) };
        assert_eq!(
            instance.settle(&tomorrow, 2, Tallied::Counted { minute: 2, accounts: 1, new_account: true }, 1_000),
            Drawn::Admitted { new_account: Some(1) }
        );
        assert_eq!(
            instance.plan(&tomorrow),
            Plan::Served,
            "the reservation's second request, the account counted today"
        );
    }

    #[test]
    fn an_answer_of_an_earlier_minute_arriving_late_leaves_the_newer_minutes_lease_alone() {
        let (instance, mut item) = (Leases::default(), Item::default());
        let account = Some("1000000001");
        // Two requests of minute 60 on their way to the counter ...
        let (early, late) = (instance.plan(&at(60, account)), instance.plan(&at(60, account)));
        assert_eq!((early, late), (Plan::Reserve { grant: 1 }, Plan::Reserve { grant: 1 }));
        // ... while minute 120 begins and its first request reserves one, then two.
        for _ in 0..2 {
            if let Plan::Reserve { grant } = instance.plan(&at(120, account)) {
                instance.settle(&at(120, account), grant, item.tally(&at(120, account), grant, 10), 30);
            }
        }
        assert_eq!(held(&instance), 1);
        // The late answers decide their own requests and leave minute 120's holding as it was.
        let old = Tallied::Counted { minute: 30, accounts: 1, new_account: false };
        assert_eq!(instance.settle(&at(60, account), 1, old, 30), Drawn::Admitted { new_account: None });
        let spent = Tallied::Counted { minute: 31, accounts: 1, new_account: false };
        assert_eq!(instance.settle(&at(60, account), 1, spent, 30), Drawn::MinuteSpent);
        assert_eq!(held(&instance), 1);
        assert_eq!(instance.plan(&at(120, account)), Plan::Served, "minute 120 is not spent");
    }

    #[test]
    fn a_request_the_counter_finds_too_late_is_served_from_what_this_instance_holds() {
        let (instance, mut item) = (Leases::default(), Item::default());
        let now = at(60, Some("1000000001"));
        // Reservations of one, then two: three requests served, nothing held.
        for _ in 0..3 {
            request(&instance, &mut item, &now, 20);
        }
        assert_eq!(held(&instance), 0);
        // Other instances reserve the minute but two.
        item.reserved = 18;
        // Two requests planned side by side on this instance both find nothing held ...
        let plans = [instance.plan(&now), instance.plan(&now)];
        assert_eq!(plans, [Plan::Reserve { grant: 2 }; 2]);
        // ... the first gets the minute's last two, one for itself and one held; the second gets
        // none from the counter and is served from what the first left held.
        let first = instance.settle(&now, 2, item.tally(&now, 2, 10), 20);
        let second = instance.settle(&now, 2, item.tally(&now, 2, 10), 20);
        assert!(matches!(first, Drawn::Admitted { .. }));
        assert!(matches!(second, Drawn::Admitted { .. }), "served from what this instance held");
        assert_eq!(held(&instance), 0);
        assert_eq!(instance.plan(&now), Plan::MinuteSpent, "then the minute is spent, as the counter said");
    }

    #[test]
    fn the_largest_grant_is_a_tenth_of_the_minute_between_one_and_sixty_four() {
        assert_eq!(largest_grant(5), 1);
        assert_eq!(largest_grant(30), 3);
        assert_eq!(largest_grant(300), 30);
        assert_eq!(largest_grant(u64::MAX), 64);
    }
}
