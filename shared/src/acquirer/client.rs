//! The HTTP client for T-Bank's API v2: signs each request, reads each answer's `Success` before
//! anything else, and tells a refusal from an unknown outcome. The terminal key and password come
//! from [`Secrets`]: when the bank refuses them (204 / 205) the secret is read again and, if it
//! was rotated, the call is made once more with the new ones.

use super::messages::{
    CancelRequest, CancelResponse, InitRequest, InitResponse, OrderState, Outcome, PaymentId, PaymentState,
};
use super::sbp_qr::{QrRequest, QrResponse};
use super::token;
use super::{Acquirer, AcquirerError, Refusal, Unavailability};
use crate::metrics::{self, Metric};
use crate::secrets::{SecretValues, Secrets};
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How to reach the bank: read once at start-up. The terminal's credentials are secrets, not
/// settings: [`TbankClient::new`] takes them.
#[derive(Clone, Debug)]
pub struct TbankSettings {
    /// The API base, e.g. `https://securepay.tinkoff.ru` (with or without the trailing `/v2`).
    pub api_url: String,
    pub connect_timeout: Duration,
    /// The whole call; kept well under the pay function's own time limit.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0} is not an http(s) URL")]
    BadUrl(&'static str),
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

impl TbankSettings {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);

    /// From `TBANK_API_URL`, default timeouts.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let api_url = lookup("TBANK_API_URL").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(Self {
            api_url: api_url.ok_or(SettingsError::Missing("TBANK_API_URL"))?,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }
}

/// T-Bank's API v2 over HTTP. Build once per process and share.
#[derive(Clone, Debug)]
pub struct TbankClient {
    http: reqwest::Client,
    /// Ends with `/v2/`, so a method name joins onto it.
    base: Url,
    /// `tbank_terminal_key` and `tbank_password`.
    credentials: Secrets,
}

#[derive(Serialize)]
struct WithTerminal<'a, B> {
    #[serde(rename = "TerminalKey")]
    terminal_key: &'a str,
    #[serde(flatten)]
    body: &'a B,
}

#[derive(Serialize)]
struct Signed<'a, B> {
    #[serde(flatten)]
    unsigned: &'a WithTerminal<'a, B>,
    #[serde(rename = "Token")]
    token: String,
}

#[derive(Serialize)]
struct ByPaymentId<'a> {
    #[serde(rename = "PaymentId")]
    payment_id: &'a PaymentId,
}

#[derive(Serialize)]
struct ByOrderId<'a> {
    #[serde(rename = "OrderId")]
    order_id: &'a str,
}

impl TbankClient {
    pub fn new(settings: TbankSettings, credentials: Secrets) -> Result<Self, SettingsError> {
        let base = api_base(&settings.api_url).ok_or(SettingsError::BadUrl("TBANK_API_URL"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| SettingsError::Client(e.to_string()))?;
        Ok(Self { http, base, credentials })
    }

    /// The signed JSON body of a request: `TerminalKey`, the method's fields, `Token`.
    fn signed_body<B: Serialize>(&self, body: &B, credentials: &SecretValues) -> Result<String, AcquirerError> {
        let unsigned = WithTerminal { terminal_key: &credentials.tbank_terminal_key, body };
        let invalid = |e: &dyn std::fmt::Display| AcquirerError::InvalidRequest(e.to_string());
        let text = serde_json::to_string(&unsigned).map_err(|e| invalid(&e))?;
        let token = token::sign_json(&text, credentials.tbank_password.expose()).map_err(|e| invalid(&e))?;
        serde_json::to_string(&Signed { unsigned: &unsigned, token }).map_err(|e| invalid(&e))
    }

    /// One call to the bank, and once more when the bank refused our credentials and the secret
    /// was rotated meanwhile (a refusal is definite: nothing was done, so repeating is safe).
    /// A refusal that stands is counted (`AcquirerCredentialsRefused`): every payment fails until
    /// an operator fixes the secret.
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &B,
    ) -> Result<R, AcquirerError> {
        let credentials = self.credentials.current();
        let mut result = self.timed(method, body, &credentials).await;
        if refuses_credentials(&result)
            && let Some(fresh) = self.credentials.reread_after_refusal(&credentials).await
        {
            tracing::warn!(method, "acquirer refused the terminal credentials in memory; trying the secret read again");
            result = self.timed(method, body, &fresh).await;
        }
        if refuses_credentials(&result) {
            metrics::count(Metric::AcquirerCredentialsRefused, 1);
        }
        result
    }

    /// One exchange, logged like every outside call (`crate::outside_calls`): method, latency,
    /// outcome; never the body.
    async fn timed<B: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &B,
        credentials: &SecretValues,
    ) -> Result<R, AcquirerError> {
        let started = std::time::Instant::now();
        let result = self.exchange(method, body, credentials).await;
        let elapsed_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        tracing::info!(service = "T-Bank", operation = method, elapsed_ms, failed = result.is_err(), "outside call");
        result
    }

    async fn exchange<B: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &B,
        credentials: &SecretValues,
    ) -> Result<R, AcquirerError> {
        let body = self.signed_body(body, credentials)?;
        let url = self.base.join(method).map_err(|e| AcquirerError::InvalidRequest(e.to_string()))?;
        let answer = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_failure(method, &e))?;
        let status = answer.status();
        if status.is_server_error() {
            tracing::warn!(method, http_status = status.as_u16(), "acquirer answered with a server error");
            return Err(AcquirerError::Unavailable(Unavailability::HttpStatus(status.as_u16())));
        }
        let bytes = answer.bytes().await.map_err(|e| transport_failure(method, &e))?;
        let outcome: Outcome = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(method, http_status = status.as_u16(), "acquirer answer is not its JSON");
            tracing::debug!(method, error = %e, "unreadable acquirer answer");
            if status.is_success() {
                AcquirerError::Unavailable(Unavailability::Unparsable)
            } else {
                AcquirerError::Unavailable(Unavailability::HttpStatus(status.as_u16()))
            }
        })?;
        if !outcome.success {
            let message = outcome.message.unwrap_or_default();
            let error = AcquirerError::from_failure(outcome.error_code, message);
            match &error {
                AcquirerError::Declined { refusal: Refusal::Credentials, code, .. } => {
                    tracing::error!(method, code = %code, "acquirer refused our terminal key or token");
                }
                _ => tracing::warn!(method, error = %error, "acquirer call failed"),
            }
            return Err(error);
        }
        if !status.is_success() {
            // `Success: true` under a 4xx is not an answer to trust either way.
            return Err(AcquirerError::Unavailable(Unavailability::HttpStatus(status.as_u16())));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(method, "acquirer answer lacks the fields of a success");
            tracing::debug!(method, error = %e, "incomplete acquirer answer");
            AcquirerError::Unavailable(Unavailability::Unparsable)
        })
    }
}

fn refuses_credentials<R>(result: &Result<R, AcquirerError>) -> bool {
    matches!(result, Err(e) if e.refusal() == Some(Refusal::Credentials))
}

/// The base URL with exactly one `/v2/` at its end.
fn api_base(configured: &str) -> Option<Url> {
    let trimmed = configured.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v2").unwrap_or(trimmed);
    let url = Url::parse(&format!("{trimmed}/v2/")).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

fn transport_failure(method: &'static str, e: &reqwest::Error) -> AcquirerError {
    let cause = if e.is_timeout() {
        Unavailability::Timeout
    } else if e.is_connect() {
        Unavailability::Connection
    } else {
        Unavailability::Transport
    };
    tracing::warn!(method, cause = %cause, "acquirer unreachable; the outcome is unknown");
    AcquirerError::Unavailable(cause)
}

impl Acquirer for TbankClient {
    async fn init(&self, request: &InitRequest) -> Result<InitResponse, AcquirerError> {
        tracing::info!(order_id = %request.order_id, amount = %request.amount, "acquirer Init");
        let answer: InitResponse = self.call("Init", request).await?;
        tracing::info!(
            order_id = %answer.order_id,
            payment_id = %answer.payment_id,
            status = %answer.status,
            "acquirer payment created"
        );
        tracing::debug!(payment_url = %answer.payment_url, "acquirer payment form");
        Ok(answer)
    }

    async fn get_qr(&self, request: &QrRequest) -> Result<QrResponse, AcquirerError> {
        let answer: QrResponse = self.call("GetQr", request).await?;
        tracing::info!(payment_id = %answer.payment_id, data_type = ?request.data_type, "acquirer GetQr");
        Ok(answer)
    }

    async fn get_state(&self, payment_id: &PaymentId) -> Result<PaymentState, AcquirerError> {
        let answer: PaymentState = self.call("GetState", &ByPaymentId { payment_id }).await?;
        tracing::info!(payment_id = %payment_id, status = %answer.status, "acquirer GetState");
        Ok(answer)
    }

    async fn check_order(&self, order_id: &str) -> Result<OrderState, AcquirerError> {
        let answer: OrderState = self.call("CheckOrder", &ByOrderId { order_id }).await?;
        tracing::info!(order_id, attempts = answer.payments.len(), "acquirer CheckOrder");
        Ok(answer)
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelResponse, AcquirerError> {
        let answer: CancelResponse = self.call("Cancel", request).await?;
        tracing::info!(payment_id = %request.payment_id, status = %answer.status, "acquirer Cancel");
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> SecretValues {
        SecretValues {
            tbank_terminal_key: "TinkoffBankTest".into(),
            tbank_password: token::TerminalPassword::new("TinkoffBankTest"),
            ..SecretValues::default()
        }
    }

    fn client() -> TbankClient {
        let settings = TbankSettings {
            api_url: "http://127.0.0.1:9/".into(),
            connect_timeout: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
        };
        TbankClient::new(settings, Secrets::fixed(credentials())).unwrap()
    }

    #[test]
    fn the_base_url_gets_exactly_one_v2() {
        for configured in [
            "https://securepay.tinkoff.ru",
            "https://securepay.tinkoff.ru/",
            "https://securepay.tinkoff.ru/v2",
            "https://securepay.tinkoff.ru/v2/",
        ] {
            let base = api_base(configured).unwrap();
            assert_eq!(base.join("Init").unwrap().as_str(), "https://securepay.tinkoff.ru/v2/Init");
        }
        assert!(api_base("ftp://example.ru").is_none());
        assert!(api_base("not a url").is_none());
    }

    #[test]
    fn settings_come_from_the_environment_and_hold_no_credentials() {
        let env = |name: &str| match name {
            "TBANK_API_URL" => Some(" http://127.0.0.1:9101 ".to_owned()),
            "TBANK_TERMINAL_KEY" => Some("DemoTerminalKey".to_owned()),
            "TBANK_PASSWORD" => Some("s3cret".to_owned()),
            _ => None,
        };
        let s = TbankSettings::from_lookup(env).unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9101");
        assert!(!format!("{s:?}").contains("s3cret") && !format!("{s:?}").contains("DemoTerminalKey"));
        let missing = TbankSettings::from_lookup(|n| if n == "TBANK_API_URL" { None } else { env(n) });
        assert_eq!(missing.unwrap_err(), SettingsError::Missing("TBANK_API_URL"));
    }

    #[test]
    fn a_request_is_signed_over_the_terminal_key_and_its_root_fields() {
        let body = client().signed_body(&ByPaymentId { payment_id: &PaymentId::new("13660") }, &credentials()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["TerminalKey"], "TinkoffBankTest");
        assert_eq!(value["PaymentId"], "13660");
        // Password, PaymentId, TerminalKey in byte order ("Pas" < "Pay").
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest("TinkoffBankTest13660TinkoffBankTest"));
        assert_eq!(value["Token"], expected);
        assert_eq!(token::verify(&body, "TinkoffBankTest"), Ok(()));
    }

    #[test]
    fn get_qr_is_signed_over_its_payment_id_as_the_number_it_is_sent_as() {
        let request = QrRequest::link(PaymentId::new("13660"));
        let body = client().signed_body(&request, &credentials()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["PaymentId"], 13660);
        assert_eq!(value["DataType"], "PAYLOAD");
        // DataType, Password, PaymentId, TerminalKey in byte order.
        let expected =
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest("PAYLOADTinkoffBankTest13660TinkoffBankTest"));
        assert_eq!(value["Token"], expected);
    }

    #[tokio::test]
    async fn nothing_listening_is_an_unknown_outcome_not_a_refusal() {
        let err = client().check_order("o-1").await.unwrap_err();
        assert!(err.outcome_unknown(), "{err:?}");
        assert_eq!(err.refusal(), None);
    }
}
