//! The SES adapter: `SendRawEmail` (SES v1) with the message composed by [`super::Mailer`].
//!
//! The endpoint comes from the environment like every AWS endpoint here (`AWS_ENDPOINT_URL_SES`,
//! read by the SDK itself), so the same binary sends through AWS, a SES-compatible service hosted
//! in Russia, or the local stand-in.

use super::{MailError, MailSender, MessageId, OutgoingEmail};
use crate::config::{ConfigError, Env};
use crate::outside_calls::{OutsideCalls, timeouts};
use aws_sdk_ses::Client;
use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use std::time::Duration;

/// Sends through SES from the verified `SES_SENDER` identity.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    sender: String,
}

impl SesMailer {
    /// The bank waits at most 10 s for the notification whose handler sends these emails: a mail
    /// service that hangs must not take all of it.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

    /// A client from the SDK's environment (region, credentials, `AWS_ENDPOINT_URL_SES`) with the
    /// timeouts above, sending from `SES_SENDER`.
    pub async fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Self::from_sdk_config(env, &crate::outside_calls::sdk_config().await)
    }

    /// [`Self::from_env`], with the SDK's environment loaded by the caller once for all its clients.
    pub fn from_sdk_config<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        shared: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let sender = env.string("SES_SENDER")?.trim().to_owned();
        Ok(Self::new(Client::from_conf(Self::client_config(shared).build()), sender))
    }

    /// The client configuration the functions use: the SDK's environment, the timeouts above and
    /// the log line of every call.
    pub fn client_config(shared: &aws_config::SdkConfig) -> aws_sdk_ses::config::Builder {
        aws_sdk_ses::config::Builder::from(shared)
            .timeout_config(timeouts(Self::CONNECT_TIMEOUT, Self::ATTEMPT_TIMEOUT, Self::OPERATION_TIMEOUT))
            .interceptor(OutsideCalls::new())
    }

    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The envelope sender (`Source`): where bounces go.
    pub fn sender(&self) -> &str {
        &self.sender
    }
}

impl MailSender for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<MessageId, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(email.raw_mime.clone()))
            .build()
            .map_err(|e| MailError::Rejected(format!("the message could not be formed: {e}")))?;
        let result =
            self.client.send_raw_email().source(&self.sender).destinations(&email.to).raw_message(raw).send().await;
        match result {
            Ok(output) => {
                let id = MessageId(output.message_id().to_owned());
                // The recipient and the subject (it holds the account number) stay out of logs.
                tracing::info!(message_id = %id, bytes = email.raw_mime.len(), "email sent");
                Ok(id)
            }
            Err(e) => {
                let error = classify(&e);
                tracing::warn!(error = %error, "email not sent");
                Err(error)
            }
        }
    }
}

/// Rejected: this message will never go (refused by SES, or unsendable as formed). Unavailable:
/// everything else — the network, timeouts, throttling, SES's own faults, and our credentials
/// or account state, which an operator can fix before the next attempt.
fn classify(error: &SdkError<SendRawEmailError, aws_sdk_ses::config::http::HttpResponse>) -> MailError {
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let text = redact_addresses(&format!(
                "{}: {}",
                e.code().unwrap_or("unknown"),
                e.message().unwrap_or("no message")
            ));
            let permanent = matches!(
                e,
                SendRawEmailError::MessageRejected(_) | SendRawEmailError::MailFromDomainNotVerifiedException(_)
            ) || matches!(e.code(), Some("InvalidParameterValue" | "InvalidParameterCombination"));
            if permanent { MailError::Rejected(text) } else { MailError::Unavailable(text) }
        }
        SdkError::ConstructionFailure(_) => MailError::Rejected("the request could not be formed".into()),
        SdkError::TimeoutError(_) => MailError::Unavailable("timed out".into()),
        SdkError::DispatchFailure(_) => MailError::Unavailable("could not reach the mail service".into()),
        SdkError::ResponseError(_) => MailError::Unavailable("an unreadable answer".into()),
        _ => MailError::Unavailable("an unexpected failure".into()),
    }
}

/// SES names the refused identities in its messages ("Email address is not verified … a@b.ru"):
/// those may be a customer's, and error texts reach the logs.
fn redact_addresses(text: &str) -> String {
    text.split(' ').map(|word| if word.contains('@') { "<address>" } else { word }).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_never_survive_into_error_texts() {
        let text = "MessageRejected: Email address is not verified. The following identities failed the \
                    check in region US-EAST-1: ivanov@example.ru, <noreply@pay.example.ru>";
        let redacted = redact_addresses(text);
        assert!(!redacted.contains('@'), "{redacted}");
        assert!(redacted.starts_with("MessageRejected: Email address is not verified."));
        assert_eq!(redacted.matches("<address>").count(), 2);
    }
}
