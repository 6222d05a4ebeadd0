//! The customer's email, typed during a payment: the success message and the fiscal receipt go
//! there. Personal data: its `Debug` hides it, it has no `Display`, and it is never logged.

use std::fmt;

/// The longest address SMTP can carry (RFC 5321: a 256-octet path less the angle brackets).
pub const MAX_LEN: usize = 254;
/// The longest local part (before `@`) RFC 5321 allows.
const MAX_LOCAL_LEN: usize = 64;

/// An address that passed [`Email::parse`]: one `@`, no spaces, a dot inside the domain, at most
/// [`MAX_LEN`] characters. The domain is kept in lower case (domains are case-insensitive, and one
/// payment typed twice should compare equal); the local part is kept as typed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email is empty")]
    Empty,
    #[error("the email is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("an email holds exactly one @")]
    NotOneAt,
    #[error("an email holds no spaces or control characters")]
    Whitespace,
    #[error("the part before @ is empty or too long")]
    BadLocalPart,
    #[error("the domain needs a dot between non-empty parts, e.g. example.ru")]
    BadDomain,
    /// The mail service (SES v1) carries only ASCII addresses; an address in Cyrillic would pass
    /// here and then never receive its receipt, so it is refused while the customer can fix it.
    #[error("the email must be written in Latin letters")]
    NotAscii,
}

impl Email {
    /// Accepts what people type into a payment form, surrounding spaces trimmed. The rule is
    /// deliberately loose beyond its shape (no dictionary of domains): the bank's
    /// cash register and the mail server are the final judges, and a false refusal loses a payment.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Whitespace);
        }
        if !text.is_ascii() {
            return Err(EmailError::NotAscii);
        }
        let Some((local, domain)) = text.split_once('@') else {
            return Err(EmailError::NotOneAt);
        };
        if domain.contains('@') {
            return Err(EmailError::NotOneAt);
        }
        if local.is_empty() || local.chars().count() > MAX_LOCAL_LEN {
            return Err(EmailError::BadLocalPart);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
            return Err(EmailError::BadDomain);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address itself, for the acquirer's receipt and the mailer only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The length in characters (the bank limits the receipt's email further).
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// Never true for a parsed address; here because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::str::FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, EmailError> {
        Self::parse(s)
    }
}

impl fmt::Debug for Email {
    /// Debug output ends up in logs: nothing of the address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowers_only_the_domain() {
        for ok in ["ivanov@example.ru", "a.b+tag@mail.example.com", "x@y.z"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Email::parse("  Ivanov@Example.RU ").unwrap().expose(), "Ivanov@example.ru");
    }

    #[test]
    fn refuses_what_cannot_be_an_address() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ivanov.example.ru", EmailError::NotOneAt),
            ("a@b@example.ru", EmailError::NotOneAt),
            ("iva nov@example.ru", EmailError::Whitespace),
            ("ivanov@exa\tmple.ru", EmailError::Whitespace),
            ("@example.ru", EmailError::BadLocalPart),
            ("ivanov@localhost", EmailError::BadDomain),
            ("ivanov@example.", EmailError::BadDomain),
            ("ivanov@.example.ru", EmailError::BadDomain),
            ("ivanov@example..ru", EmailError::BadDomain),
            ("ivanov@", EmailError::BadDomain),
            ("Иван@почта.рф", EmailError::NotAscii),
            ("ivan@почта.рф", EmailError::NotAscii),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input), Err(expected), "{input:?}");
        }
        let long_local = format!("{}@example.ru", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::BadLocalPart));
    }

    #[test]
    fn the_limit_is_254_characters() {
        let domain = format!("{}.ru", "d".repeat(240));
        let at_limit = format!("{}@{domain}", "a".repeat(254 - 1 - domain.len()));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        assert_eq!(Email::parse(&format!("a{at_limit}")), Err(EmailError::TooLong));
    }

    #[test]
    fn debug_output_hides_the_address() {
        let email = Email::parse("ivanov@example.ru").unwrap();
        let shown = format!("{email:?}");
        assert!(!shown.contains("ivanov") && !shown.contains("example"), "{shown}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn an_address_of_the_usual_shape_is_accepted_and_stable(
            s in "[a-zA-Z0-9._+-]{1,30}@[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z]{2,6}){1,3}"
        ) {
            let email = Email::parse(&s).unwrap();
            prop_assert_eq!(email.expose().to_lowercase(), s.to_lowercase());
            prop_assert_eq!(Email::parse(email.expose()), Ok(email));
        }
    }
}
