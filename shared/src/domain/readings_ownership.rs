//! Whose a month's readings submission is. Anyone may pay an account; only the verified user who
//! handed a meter's readings in sees their figures and may replace them while the window is open.
//! A Facebook page visitor who never authorised the app shares one id with every such visitor of
//! the page, so they hand in nothing and own nothing.

use super::caller::CallerId;

/// Who asks to see or hand in readings, as the edge verified them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitter {
    /// A verified user, as a submission stores them (`vk:494075`, `fb:1234`).
    User(CallerId),
    /// A page visitor without an identity of their own.
    AnonymousVisitor,
}

impl Submitter {
    /// Whether readings are taken from them at all.
    pub fn may_hand_in(&self) -> bool {
        matches!(self, Self::User(_))
    }

    /// Whether they handed in the submission stored with `caller`: they see its figures and may
    /// replace it.
    pub fn handed_in(&self, caller: &CallerId) -> bool {
        match self {
            Self::User(id) => id == caller,
            Self::AnonymousVisitor => false,
        }
    }

    /// What a new submission stores as its `caller`; `None` for a visitor, who hands in nothing.
    pub fn caller(&self) -> Option<&CallerId> {
        match self {
            Self::User(id) => Some(id),
            Self::AnonymousVisitor => None,
        }
    }
}

impl From<&CallerId> for Submitter {
    /// A page's anonymous visitor is nobody in particular: they own no readings.
    fn from(id: &CallerId) -> Self {
        if id.is_anonymous() { Self::AnonymousVisitor } else { Self::User(id.clone()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_stored_submission_when_asked_then_only_its_user_owns_it() {
        let id = |s: &str| s.parse::<CallerId>().unwrap();
        let owner = Submitter::User(id("vk:494075"));
        assert!(owner.handed_in(&id("vk:494075")));
        assert!(!Submitter::User(id("vk:494076")).handed_in(&id("vk:494075")));
        assert!(!Submitter::User(id("fb:494075")).handed_in(&id("vk:494075")));
        assert!(owner.may_hand_in());
        assert_eq!(owner.caller(), Some(&id("vk:494075")));
    }

    #[test]
    fn given_an_anonymous_visitor_when_asked_then_they_own_nothing_not_even_what_was_stored_under_the_shared_id() {
        let visitor = Submitter::AnonymousVisitor;
        assert!(!visitor.may_hand_in());
        assert!(!visitor.handed_in(&"fb:page:42:anon".parse().unwrap()));
        assert_eq!(visitor.caller(), None);
    }
}
