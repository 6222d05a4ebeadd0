//! Who a verified request came from, as it is stored on a payment and a readings submission:
//! `vk:494075`, `fb:123`, `fb:page:42:anon`. Parsed once from the verified credentials (or from a
//! stored item) and kept as this type until it is written; how a signature is checked is the
//! edge's business, not this module's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The caller id of a Facebook page visitor who never authorised the app ends with this.
pub const ANONYMOUS_SUFFIX: &str = "anon";

/// A verified caller identity: the key for per-user throttling and for "who did this" in records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerId {
    /// A VK user id (`vk_user_id`), always positive.
    Vk(u64),
    /// A Facebook app-scoped user id (digits), or for a visitor who never authorised the app, a
    /// page-wide anonymous identity (`page:<page_id>:anon`).
    Facebook(String),
}

impl CallerId {
    /// True for a Facebook page visitor who never authorised the app: the id is shared by every such
    /// visitor of the page, so a throttle should give it a page-wide budget and key it further by
    /// the source address rather than treat it as one person.
    pub fn is_anonymous(&self) -> bool {
        match self {
            Self::Vk(_) => false,
            Self::Facebook(id) => id == ANONYMOUS_SUFFIX || id.ends_with(&format!(":{ANONYMOUS_SUFFIX}")),
        }
    }
}

impl fmt::Display for CallerId {
    /// `vk:494075`, `fb:123`, `fb:page:42:anon` — stable, used as throttle keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vk(id) => write!(f, "vk:{id}"),
            Self::Facebook(id) => write!(f, "fb:{id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a caller id is vk:<digits> or fb:<id>")]
pub struct CallerIdError;

impl FromStr for CallerId {
    type Err = CallerIdError;

    /// The stored form, as [`fmt::Display`] writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("vk", id)) if !id.starts_with('+') => id.parse().map(Self::Vk).map_err(|_| CallerIdError),
            Some(("fb", id)) if !id.is_empty() => Ok(Self::Facebook(id.to_owned())),
            _ => Err(CallerIdError),
        }
    }
}

impl Serialize for CallerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CallerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_caller_id_when_written_and_read_back_then_it_is_the_same_caller() {
        for id in [CallerId::Vk(494_075), CallerId::Facebook("123".into()), CallerId::Facebook("page:42:anon".into())] {
            assert_eq!(id.to_string().parse::<CallerId>(), Ok(id.clone()));
            assert_eq!(serde_json::from_value::<CallerId>(serde_json::to_value(&id).unwrap()).unwrap(), id);
        }
        for bad in ["", "vk:", "vk:x", "vk:+1", "fb:", "ok:1", "494075"] {
            assert_eq!(bad.parse::<CallerId>(), Err(CallerIdError), "{bad:?}");
        }
    }

    #[test]
    fn given_a_page_visitor_without_an_id_then_the_caller_is_anonymous() {
        assert!(CallerId::Facebook("page:42:anon".into()).is_anonymous());
        assert!(CallerId::Facebook("anon".into()).is_anonymous());
        assert!(!CallerId::Facebook("42".into()).is_anonymous());
        assert!(!CallerId::Vk(1).is_anonymous());
    }
}
