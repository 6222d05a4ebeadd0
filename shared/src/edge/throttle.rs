//! Throttling of the mini-app endpoints: which budgets a request draws on, and the verdict. The
//! 10-digit account space can be enumerated and a look-up shows personal data (masked as it is).
//!
//! A verified caller (a VK user, a Facebook user who authorised the app) is counted by who they
//! are and never by address: VK's apps open the mini app in a web view, so the API sees the
//! phone's public address, and a carrier puts thousands of subscribers behind one IPv4 (CGNAT) —
//! all of them come the evening the readings window opens. Only callers with no identity of their
//! own (Facebook page visitors who never authorised the app) are counted by address, and by page.
//!
//! | budget | what it stops | default | variable |
//! |---|---|---|---|
//! | requests of a verified user per minute | one account hammering the API | 30 | `THROTTLE_USER_PER_MINUTE` |
//! | distinct accounts of a verified user per Moscow day | a walk of the account space, however slow | 10 | `THROTTLE_USER_ACCOUNTS_PER_DAY` |
//! | requests of anonymous callers per address per minute | an anonymous flood from one address | 120 | `THROTTLE_IP_PER_MINUTE` |
//! | distinct accounts of anonymous callers per address per Moscow day | an anonymous walk from one address | 50 | `THROTTLE_IP_ACCOUNTS_PER_DAY` |
//! | requests of all anonymous visitors of the page per minute | an anonymous walk spread over many addresses | 300 | `THROTTLE_PAGE_PER_MINUTE` |
//! | distinct accounts of all anonymous visitors of the page per Moscow day | a slow anonymous walk spread over many addresses | 2000 | `THROTTLE_PAGE_ACCOUNTS_PER_DAY` |
//!
//! Why these: a visit is a look-up, readings and a payment — three to five requests, one or two
//! accounts (the customer's flat, sometimes parents' or a dacha), plus a mistyped number now and
//! then, which is a distinct account too. Ten accounts a day is five such visits: a family paying
//! for several flats stays inside it, someone walking numbers learns ten a day per VK account. A
//! user reaching `THROTTLE_ACCOUNTS_NOTICE_FROM` (5) distinct accounts in a day is reported (the
//! `DistinctAccountsPerUser` metric and its alarm), so many accounts walking slowly show. The
//! anonymous door is the Facebook tab alone (desktop browsers): 120 a minute and 50 accounts a day
//! are some forty visits a minute and a few dozen visitors a day behind one NAT address, far above
//! what one address sends there and far below a walk. The page's budget caps what every address
//! together gets through that door, a minute's requests and a day's distinct accounts: a walk
//! spread over many addresses, each within its own budgets, learns at most 2000 accounts a day
//! through the tab, room for a few hundred visitors a day looking up their own accounts there
//! without authorising the app. A flood from one address is stopped by the address's budget before
//! it reaches the page's, so it cannot shut the door for the others. The page's item holds its
//! day's accounts, some 20 KB when full: each anonymous request that writes it then costs that many
//! write units, which is what stopping the walk costs. An IPv6 address counts by its /64
//! ([`address_key`]). Requests without valid credentials are refused (401) before any counting:
//! counting them would only let garbage cost us writes.
//!
//! One caller's budgets live in one item of the day (`store::throttle`): a verified request is at
//! most one `UpdateItem`, run while the endpoint reads the account (`mini_app::Admission`), and
//! none when this instance holds a reservation of the caller's minute and has counted the account
//! today (`edge::throttle_lease`).

use super::Problem;
use super::auth::CallerId;
use super::throttle_lease::{Drawn, Leases, Plan, Window};
use crate::domain::AccountNumber;
use crate::domain::readings_window::moscow_date;
use crate::metrics::{self, Metric};
use crate::ports::{RequestCounter, Tally};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Europe::Moscow;
use std::net::IpAddr;

/// The budgets' sizes; see the module's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub user_per_minute: u64,
    pub user_accounts_per_day: u64,
    pub address_per_minute: u64,
    pub address_accounts_per_day: u64,
    pub page_per_minute: u64,
    pub page_accounts_per_day: u64,
    /// From this many distinct accounts in a day a verified user is reported.
    pub accounts_notice_from: u64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            user_per_minute: 30,
            user_accounts_per_day: 10,
            address_per_minute: 120,
            address_accounts_per_day: 50,
            page_per_minute: 300,
            page_accounts_per_day: 2000,
            accounts_notice_from: 5,
        }
    }
}

impl ThrottleLimits {
    /// No budget is ever exceeded; the counters are still written. For measurements.
    pub const UNLIMITED: Self = Self {
        user_per_minute: u64::MAX,
        user_accounts_per_day: u64::MAX,
        address_per_minute: u64::MAX,
        address_accounts_per_day: u64::MAX,
        page_per_minute: u64::MAX,
        page_accounts_per_day: u64::MAX,
        accounts_notice_from: u64::MAX,
    };
}

/// The budgets callers draw on. Every endpoint that answers whether an account exists (look-up,
/// payment, readings) draws on one, so an enumeration cannot spread itself over three. The payment
/// status has its own: the return page polls it, and polling must not use up a customer's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Accounts,
    PaymentStatus,
    /// "Мои платежи": its own budget, so paging through the list never uses up payments.
    PaymentHistory,
}

impl ThrottleScope {
    /// The counters' key prefix.
    fn key(self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::PaymentStatus => "payment-status",
            Self::PaymentHistory => "payment-history",
        }
    }
}

/// Who a request is counted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A verified user (`vk:494075`, `fb:123`), wherever they call from.
    User(String),
    /// A visitor who never authorised the app: by source address ([`address_key`]), then by the
    /// identity every such visitor of the page shares (`fb:page:<id>:anon`).
    Anonymous { address: String, page: String },
}

impl Subject {
    pub fn of(caller: &CallerId, source_ip: &str) -> Self {
        if caller.is_anonymous() {
            Self::Anonymous { address: address_key(source_ip), page: caller.to_string() }
        } else {
            Self::User(caller.to_string())
        }
    }
}

/// A budget a request can exceed, named in the 429's `budget` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    UserPerMinute,
    UserAccountsPerDay,
    AddressPerMinute,
    AddressAccountsPerDay,
    PagePerMinute,
    PageAccountsPerDay,
}

impl Budget {
    pub fn name(self) -> &'static str {
        match self {
            Self::UserPerMinute => "user-per-minute",
            Self::UserAccountsPerDay => "user-accounts-per-day",
            Self::AddressPerMinute => "address-per-minute",
            Self::AddressAccountsPerDay => "address-accounts-per-day",
            Self::PagePerMinute => "page-per-minute",
            Self::PageAccountsPerDay => "page-accounts-per-day",
        }
    }

    fn is_daily(self) -> bool {
        matches!(self, Self::UserAccountsPerDay | Self::AddressAccountsPerDay | Self::PageAccountsPerDay)
    }
}

/// The fixed window holding `now`: its start, and the seconds left until the next one.
pub fn window(now_unix: i64, window_secs: i64) -> (i64, u64) {
    let start = now_unix - now_unix.rem_euclid(window_secs);
    (start, (start + window_secs - now_unix) as u64)
}

/// The Moscow calendar day holding `now`: its start (unix seconds) and the seconds left in it.
/// Daily budgets end at Moscow midnight, when the customers' day ends.
pub fn moscow_day(now: DateTime<Utc>) -> (i64, u64) {
    let midnight = |day: NaiveDate| {
        day.and_time(NaiveTime::MIN)
            .and_local_timezone(Moscow)
            .earliest()
            .expect("Moscow keeps no daylight saving time: every midnight exists")
            .timestamp()
    };
    let today = moscow_date(now);
    let start = midnight(today);
    let next = midnight(today.checked_add_days(Days::new(1)).expect("a date before the end of time"));
    (start, (next - now.timestamp()) as u64)
}

/// What the per-address limit counts: an IPv4 address as it is, an IPv6 address by its /64. An
/// IPv6 subscriber line or host is handed a whole /64 and may send each request from another
/// address in it, so counting single IPv6 addresses would limit nothing. Anything that is not an
/// address (no source address at all) is counted as it is, all such requests together.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => ip.to_owned(),
    }
}

/// The instant's minute and day.
struct Windows {
    minute_start: i64,
    minute_left: u64,
    day_start: i64,
    day_left: u64,
}

impl Windows {
    fn at(now: DateTime<Utc>) -> Self {
        let (minute_start, minute_left) = window(now.timestamp(), 60);
        let (day_start, day_left) = moscow_day(now);
        Self { minute_start, minute_left, day_start, day_left }
    }

    fn of<'a>(&self, key: &'a str, account: Option<&'a AccountNumber>) -> Window<'a> {
        Window { key, day_start: self.day_start, minute_start: self.minute_start, account }
    }
}

/// Counts the request against the subject's budgets and refuses it (429) when one is exceeded. A
/// store fault refuses it too (503): an enumeration must not get through while the counters are
/// down. `account` is the account the request is about to read, `None` when it reads none.
/// `leases` is what this instance holds of each caller's minute (`edge::throttle_lease`).
pub async fn check<C: RequestCounter>(
    counter: &C,
    leases: &Leases,
    limits: &ThrottleLimits,
    scope: ThrottleScope,
    subject: &Subject,
    account: Option<&AccountNumber>,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let windows = Windows::at(now);
    let scope = scope.key();
    let exceeded = match subject {
        Subject::User(user) => {
            let key = format!("{scope}#user#{user}");
            let budget = Draw { per_minute: limits.user_per_minute, accounts_per_day: limits.user_accounts_per_day };
            let drawn = draw(counter, leases, &windows.of(&key, account), budget).await?;
            if account.is_some() {
                notice_walk(drawn, limits);
            }
            over(drawn, Budget::UserPerMinute, Budget::UserAccountsPerDay)
        }
        Subject::Anonymous { address, page } => {
            let key = format!("{scope}#ip#{address}");
            let budget =
                Draw { per_minute: limits.address_per_minute, accounts_per_day: limits.address_accounts_per_day };
            let drawn = draw(counter, leases, &windows.of(&key, account), budget).await?;
            match over(drawn, Budget::AddressPerMinute, Budget::AddressAccountsPerDay) {
                Some(budget) => Some(budget),
                // Counted by the page only once the address admits it: a flood from one address
                // must not use up the page's budget for every other visitor.
                None => {
                    let key = format!("{scope}#page#{page}");
                    let budget =
                        Draw { per_minute: limits.page_per_minute, accounts_per_day: limits.page_accounts_per_day };
                    let drawn = draw(counter, leases, &windows.of(&key, account), budget).await?;
                    over(drawn, Budget::PagePerMinute, Budget::PageAccountsPerDay)
                }
            }
        }
    };
    match exceeded {
        None => Ok(()),
        Some(budget) => Err(refusal(budget, &windows)),
    }
}

/// One budget pair a request draws on.
#[derive(Clone, Copy)]
struct Draw {
    per_minute: u64,
    accounts_per_day: u64,
}

/// The request against one caller's budgets: from what this instance holds when it can, by the
/// counter's one `UpdateItem` when it cannot.
async fn draw<C: RequestCounter>(
    counter: &C,
    leases: &Leases,
    at: &Window<'_>,
    budget: Draw,
) -> Result<Drawn, Problem> {
    if at.account.is_some() && budget.accounts_per_day == 0 {
        return Ok(Drawn::AccountsFull);
    }
    let grant = match leases.plan(at) {
        Plan::Served => return Ok(Drawn::Admitted { new_account: None }),
        Plan::MinuteSpent => return Ok(Drawn::MinuteSpent),
        Plan::Reserve { grant } => grant,
    };
    let tally = Tally {
        key: at.key,
        day_start: at.day_start,
        minute_start: at.minute_start,
        reserve: grant,
        account: at.account.map(|number| (number.digits(), budget.accounts_per_day)),
    };
    let tallied = counter.tally(&tally).await.map_err(|e| {
        tracing::error!(error = %e, "throttle counters unavailable");
        Problem::unavailable()
    })?;
    Ok(leases.settle(at, grant, tallied, budget.per_minute))
}

/// The budget `drawn` exceeds, if any.
fn over(drawn: Drawn, minute: Budget, accounts: Budget) -> Option<Budget> {
    match drawn {
        Drawn::AccountsFull => Some(accounts),
        Drawn::MinuteSpent => Some(minute),
        Drawn::Admitted { .. } => None,
    }
}

/// Reports a verified user who has asked for many distinct accounts today: the metric's alarm is
/// what shows a walk kept under every per-minute limit.
fn notice_walk(drawn: Drawn, limits: &ThrottleLimits) {
    let asked = match drawn {
        Drawn::Admitted { new_account: Some(accounts) } => accounts,
        // One more than the day holds: refused, but asked for.
        Drawn::AccountsFull => limits.user_accounts_per_day.saturating_add(1),
        Drawn::Admitted { new_account: None } | Drawn::MinuteSpent => return,
    };
    if asked >= limits.accounts_notice_from {
        tracing::warn!(accounts = asked, "many distinct accounts asked for today");
        metrics::count(Metric::DistinctAccountsPerUser, asked);
    }
}

fn refusal(budget: Budget, windows: &Windows) -> Problem {
    tracing::warn!(budget = budget.name(), "request throttled");
    metrics::count(Metric::RequestsThrottled, 1);
    let problem = if budget.is_daily() {
        Problem::too_many_accounts(windows.day_left.max(1))
    } else {
        Problem::too_many_requests(windows.minute_left.max(1))
    };
    problem.with("budget", budget.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_ipv6_address_counts_by_its_64_prefix_an_ipv4_address_by_itself() {
        let one_line = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0DB8:0001:0002:0:0:0:7"];
        for ip in one_line {
            assert_eq!(address_key(ip), "2001:db8:1:2::/64", "{ip}");
        }
        assert_ne!(address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1"), "the next /64 is another line");
        assert_eq!(address_key("198.51.100.7"), "198.51.100.7");
        assert_ne!(address_key("198.51.100.8"), address_key("198.51.100.7"));
        // The same IPv4 client written as an IPv4-mapped IPv6 address shares its budget.
        assert_eq!(address_key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(address_key("unknown"), "unknown");
    }

    #[test]
    fn windows_are_aligned_and_say_when_the_next_starts() {
        assert_eq!(window(1_700_000_000, 60), (1_699_999_980, 40));
        assert_eq!(window(1_699_999_980, 60), (1_699_999_980, 60));
    }

    #[test]
    fn the_day_runs_from_moscow_midnight_to_midnight_whatever_the_utc_date() {
        // 23:30 UTC on the 14th is 02:30 on the 15th in Moscow: the 15th began at 21:00 UTC.
        let late = Utc.with_ymd_and_hms(2026, 11, 14, 23, 30, 0).unwrap();
        let started = Utc.with_ymd_and_hms(2026, 11, 14, 21, 0, 0).unwrap().timestamp();
        assert_eq!(moscow_day(late), (started, 86_400 - 9_000));
        // 20:59:59 UTC is the Moscow day's last second.
        let last = Utc.with_ymd_and_hms(2026, 11, 15, 20, 59, 59).unwrap();
        assert_eq!(moscow_day(last), (started, 1));
        let (start, _) = moscow_day(late);
        assert_eq!(start.rem_euclid(60), 0, "minutes never straddle two days");
    }

    #[test]
    fn verified_callers_are_counted_by_who_they_are_anonymous_ones_by_address_and_page() {
        let vk = CallerId::Vk(494075);
        assert_eq!(Subject::of(&vk, "198.51.100.7"), Subject::User("vk:494075".into()));
        let fb = CallerId::Facebook("123".into());
        assert_eq!(Subject::of(&fb, "2001:db8::1"), Subject::User("fb:123".into()));
        let visitor = CallerId::Facebook("page:42:anon".into());
        assert_eq!(
            Subject::of(&visitor, "2001:db8:1:2::9"),
            Subject::Anonymous { address: "2001:db8:1:2::/64".into(), page: "fb:page:42:anon".into() }
        );
    }

    #[test]
    fn a_full_day_of_accounts_is_a_daily_refusal_a_busy_minute_a_minute_one() {
        let (m, a) = (Budget::UserPerMinute, Budget::UserAccountsPerDay);
        assert_eq!(over(Drawn::Admitted { new_account: Some(1) }, m, a), None);
        assert_eq!(over(Drawn::MinuteSpent, m, a), Some(m));
        assert_eq!(over(Drawn::AccountsFull, m, a), Some(a));

        let windows = Windows::at(Utc.with_ymd_and_hms(2026, 11, 15, 16, 0, 20).unwrap());
        let daily = refusal(a, &windows);
        assert_eq!(daily.retry_after_secs, Some(5 * 3600 - 20), "until Moscow midnight");
        assert_eq!(daily.extensions["budget"], "user-accounts-per-day");
        assert!(daily.title.contains("завтра"), "{}", daily.title);
        let minute = refusal(m, &windows);
        assert_eq!(minute.retry_after_secs, Some(40));
        assert_eq!(minute.extensions["budget"], "user-per-minute");
        assert_eq!(daily.slug, minute.slug, "one problem type; `budget` tells which");
    }
}
