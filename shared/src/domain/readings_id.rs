//! The id of a readings submission, as `submit-readings` answers it and a payment "by readings"
//! names it.

use super::{AccountNumber, MeterId, YearMonth};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// `2026-11-5f3a9c1e-8e7d6c5b4a39`: the billing month, 8 hex digits of the (account, meter) slot
/// and 12 hex digits of the submitted content. Neither hash reveals the account number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReadingsId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a readings id of the form 2026-11-5f3a9c1e-8e7d6c5b4a39")]
pub struct ReadingsIdError;

impl ReadingsId {
    pub(crate) fn new(account: &AccountNumber, meter: &MeterId, month: YearMonth, content_hash: &str) -> Self {
        let slot = hex::encode(Sha256::digest(format!("{}#{meter}", account.digits())));
        Self(format!("{month}-{}-{}", &slot[..8], &content_hash[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The billing month the submission belongs to.
    pub fn billing_month(&self) -> YearMonth {
        self.0[..7].parse().expect("checked when built")
    }
}

impl FromStr for ReadingsId {
    type Err = ReadingsIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        // ASCII first, so the byte offsets below are character boundaries.
        let well_formed = s.len() == 29
            && s.is_ascii()
            && s[..7].parse::<YearMonth>().is_ok()
            && s[7..].starts_with('-')
            && s[16..].starts_with('-')
            && hex(&s[8..16], 8)
            && hex(&s[17..], 12);
        well_formed.then(|| Self(s.to_owned())).ok_or(ReadingsIdError)
    }
}

impl TryFrom<String> for ReadingsId {
    type Error = ReadingsIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ReadingsId> for String {
    fn from(id: ReadingsId) -> Self {
        id.0
    }
}

impl fmt::Display for ReadingsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
