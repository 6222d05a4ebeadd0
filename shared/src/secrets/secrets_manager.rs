//! The [`SecretSource`] adapter for AWS Secrets Manager (`GetSecretValue` of one secret, its
//! `SecretString` a JSON object). The endpoint comes from the environment like every AWS endpoint
//! here (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, read by the SDK itself): the local stack points it at
//! moto, which serves Secrets Manager on the same port as SES.

use super::{Fetch, SecretSource, SecretValues, Secrets, SecretsError};
use crate::config::{ConfigError, Env};
use crate::outside_calls::{OutsideCalls, timeouts};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// One secret in Secrets Manager, by name or ARN.
#[derive(Clone, Debug)]
pub struct SecretsManager {
    client: Client,
    secret_id: String,
}

impl SecretsManager {
    /// A re-read happens on a request's path: a store that hangs must not take its whole time.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self { client, secret_id: secret_id.into() }
    }

    /// A client from the SDK's environment (region, credentials, endpoint) with the timeouts above
    /// and the log line of every call.
    pub async fn client_from_env() -> Client {
        Self::client_from_sdk_config(&crate::outside_calls::sdk_config().await)
    }

    /// [`Self::client_from_env`], with the SDK's environment loaded by the caller once for all its
    /// clients.
    pub fn client_from_sdk_config(shared: &aws_config::SdkConfig) -> Client {
        let config = aws_sdk_secretsmanager::config::Builder::from(shared)
            .timeout_config(timeouts(Self::CONNECT_TIMEOUT, Self::ATTEMPT_TIMEOUT, Self::OPERATION_TIMEOUT))
            .interceptor(OutsideCalls::new())
            .build();
        Client::from_conf(config)
    }
}

impl SecretSource for SecretsManager {
    fn fetch(&self) -> Fetch<'_> {
        Box::pin(async move {
            let out = self.client.get_secret_value().secret_id(&self.secret_id).send().await.map_err(|e| {
                let why = match &e {
                    SdkError::ServiceError(se) => se.err().code().unwrap_or("unknown").to_owned(),
                    other => aws_sdk_secretsmanager::error::DisplayErrorContext(other).to_string(),
                };
                SecretsError::Unavailable(why)
            })?;
            let text = out.secret_string().ok_or(SecretsError::NotAnObject)?;
            SecretValues::from_json(text)
        })
    }
}

impl Secrets {
    /// The secret named by `SECRETS_NAME` (a name or an ARN), read now; `SECRETS_REREAD_SECS`
    /// (default 60) spaces the re-reads after a refusal. Fails, naming the cause and never a
    /// value, when the secret cannot be read or lacks one of its four keys.
    pub async fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Self::from_sdk_config(env, &crate::outside_calls::sdk_config().await).await
    }

    /// [`Self::from_env`], with the SDK's environment loaded by the caller once for all its clients.
    pub async fn from_sdk_config<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        shared: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let name = env.string("SECRETS_NAME")?;
        let interval = env.parse_or("SECRETS_REREAD_SECS", Self::DEFAULT_REREAD_INTERVAL.as_secs())?;
        let source = SecretsManager::new(SecretsManager::client_from_sdk_config(shared), name.trim());
        let secrets =
            Self::load(source, Duration::from_secs(interval)).await.map_err(|e| ConfigError::Secret(e.to_string()))?;
        tracing::info!("secret read");
        Ok(secrets)
    }
}
