//! Sending a customer email. The message is composed before it gets here (`crate::mail`), so an
//! adapter only delivers bytes: SES's `SendRawEmail` in production, a recorder in tests.

use std::fmt;
use std::future::Future;

/// A composed email, ready to send: the whole MIME message and the one recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The customer's address: personal data, never logged (left out of `Debug`).
    pub to: String,
    /// The subject as the customer reads it (the MIME header holds it encoded). It names the
    /// account number: never logged either.
    pub subject: String,
    /// The RFC 5322 message: headers (From, To, Subject, Message-ID, Date) and body.
    pub raw_mime: Vec<u8>,
}

impl fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The subject names the account: only the size is safe to log.
        f.debug_struct("OutgoingEmail").field("bytes", &self.raw_mime.len()).finish_non_exhaustive()
    }
}

/// The id the mail service gave an accepted message: worth logging, it finds the message in the
/// service's own records without naming the recipient.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(pub String);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a message was not sent. The texts never hold an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The service refused this message (a bad or suppressed address, an unverified sender):
    /// sending it again will not help.
    #[error("the mail service rejected the message: {0}")]
    Rejected(String),
    /// The service could not be reached, timed out, throttled or failed on its side: the message
    /// may be sent again later.
    #[error("the mail service is unavailable: {0}")]
    Unavailable(String),
}

impl MailError {
    /// Worth trying again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub trait MailSender {
    fn send(&self, email: &OutgoingEmail) -> impl Future<Output = Result<MessageId, MailError>> + Send;
}
