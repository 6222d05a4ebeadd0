//! Throttling of the mini-app endpoints, per verified user and per source IP: the 10-digit account
//! space can be enumerated, and a look-up shows personal data (masked as it is).

use super::Problem;
use crate::ports::RequestCounter;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_user: u64,
    pub per_ip: u64,
    pub window_secs: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self { per_user: 30, per_ip: 120, window_secs: 60 }
    }
}

/// The budgets callers draw on. Every endpoint that answers whether an account exists (look-up,
/// payment, readings) draws on one, so an enumeration cannot spread itself over three. The payment
/// status has its own: the return page polls it, and polling must not use up a customer's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Accounts,
    PaymentStatus,
}

impl ThrottleScope {
    /// The counters' key prefix.
    fn key(self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::PaymentStatus => "payment-status",
        }
    }
}

/// The fixed window holding `now`: its start, and the seconds left until the next one.
pub fn window(now_unix: i64, window_secs: i64) -> (i64, u64) {
    let start = now_unix - now_unix.rem_euclid(window_secs);
    (start, (start + window_secs - now_unix) as u64)
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

/// Counts the request under the user's and the address's keys (the user's only when there is
/// one); refuses it when either is over its limit. A store fault refuses the request too (503):
/// an enumeration must not get through while the counters are down.
pub async fn check<C: RequestCounter>(
    counter: &C,
    limits: &ThrottleLimits,
    scope: ThrottleScope,
    user: Option<&str>,
    ip: &str,
    now_unix: i64,
) -> Result<(), Problem> {
    let (start, retry_after) = window(now_unix, limits.window_secs);
    let scope = scope.key();
    let ip_key = format!("{scope}#ip#{}", address_key(ip));
    let by_user = async {
        match user {
            Some(user) => counter.count(&format!("{scope}#user#{user}"), start, limits.window_secs).await,
            None => Ok(0),
        }
    };
    let (by_user, by_ip) = tokio::join!(by_user, counter.count(&ip_key, start, limits.window_secs));
    let (by_user, by_ip) = match (by_user, by_ip) {
        (Ok(u), Ok(i)) => (u, i),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "throttle counters unavailable");
            return Err(Problem::unavailable());
        }
    };
    if by_user > limits.per_user || by_ip > limits.per_ip {
        tracing::warn!(by_user, by_ip, "request throttled");
        crate::metrics::count(crate::metrics::Metric::RequestsThrottled, 1);
        return Err(Problem::too_many_requests(retry_after.max(1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
