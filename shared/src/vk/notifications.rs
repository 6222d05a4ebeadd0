//! `notifications.sendMessage`: one form POST per batch of users, its answer read user by user,
//! transient refusals retried a bounded number of times.
//!
//! What this relies on, from VK's method reference: `user_ids` takes at most 100 ids a call, the
//! message at most 254 characters, a service token of the app, and the answer is a list of
//! `{user_id, status, error?}` — each user succeeds or fails on their own. Errors 1 (unknown),
//! 6 (too many requests per second), 9 (flood control) and 10 (internal error) are transient.
//! Unconfirmed: the method's own rate limit for a service token (VK states 3 requests a second
//! for user tokens and more for service tokens; the caller paces calls at [`MIN_CALL_INTERVAL`],
//! which keeps within either) and any per-user daily cap of app notifications, which would show
//! as a per-user error and is logged, not retried.

use crate::secrets::Secrets;
use serde::Deserialize;
use std::time::Duration;

/// VK's documented maximum of `user_ids` in one call.
pub const MAX_USERS_PER_CALL: usize = 100;
/// At most three calls a second, the stricter of VK's published per-token limits.
pub const MIN_CALL_INTERVAL: Duration = Duration::from_millis(350);
/// A call refused for a transient reason is tried this many times in all.
pub const ATTEMPTS: u32 = 3;
/// The API version the answers are parsed as.
pub const API_VERSION: &str = "5.199";

const TRANSIENT_CODES: [i64; 4] = [1, 6, 9, 10];

#[derive(Clone, Debug)]
pub struct VkSettings {
    /// `https://api.vk.com` in AWS; the stand-in locally (`VK_API_URL`).
    pub api_url: String,
    pub timeout: Duration,
    /// The pause before the second attempt; doubled before each later one.
    pub backoff: Duration,
}

impl VkSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &crate::config::Env<F>,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            api_url: env.string_or("VK_API_URL", "https://api.vk.com"),
            timeout: Duration::from_secs(10),
            backoff: Duration::from_millis(env.parse_or("VK_API_BACKOFF_MS", 500u64)?),
        })
    }
}

/// One user's outcome in a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserStatus {
    Sent(u64),
    /// VK refused this user (notifications not allowed, unknown user, a daily cap): final.
    Refused {
        user: u64,
        code: i64,
        description: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum VkApiError {
    /// No service token in the secret: reminders cannot be sent at all.
    #[error("the secret holds no VK service token")]
    NoToken,
    /// VK refused the whole call for a reason a retry will not change (a bad token, say).
    #[error("VK refused the call: error {code}")]
    Refused { code: i64 },
    /// Still transient after every attempt, or no readable answer: the users may or may not have
    /// been notified.
    #[error("VK did not answer usably: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct Answer {
    response: Option<Vec<RawStatus>>,
    error: Option<CallError>,
}

#[derive(Deserialize)]
struct RawStatus {
    user_id: u64,
    #[serde(default)]
    status: bool,
    error: Option<UserError>,
}

#[derive(Deserialize)]
struct UserError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct CallError {
    error_code: i64,
}

pub struct VkNotifier {
    http: reqwest::Client,
    endpoint: String,
    settings: VkSettings,
    secrets: Secrets,
}

impl VkNotifier {
    pub fn new(settings: VkSettings, secrets: Secrets) -> Result<Self, VkApiError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| VkApiError::Unavailable(e.to_string()))?;
        let endpoint = format!("{}/method/notifications.sendMessage", settings.api_url.trim_end_matches('/'));
        Ok(Self { http, endpoint, settings, secrets })
    }

    /// Sends `message` to `users` (at most [`MAX_USERS_PER_CALL`]), retrying a transient refusal
    /// up to [`ATTEMPTS`] times in all. `random_id` is the same on every attempt, so VK may drop a
    /// repeat of a call it did take.
    pub async fn send(&self, users: &[u64], message: &str, random_id: u32) -> Result<Vec<UserStatus>, VkApiError> {
        assert!(users.len() <= MAX_USERS_PER_CALL, "a call takes at most {MAX_USERS_PER_CALL} users");
        let token = self.secrets.current().vk_service_token.clone().ok_or(VkApiError::NoToken)?;
        let user_ids = users.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let random_id = random_id.to_string();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("user_ids", &user_ids)
            .append_pair("message", message)
            .append_pair("random_id", &random_id)
            .append_pair("access_token", token.expose())
            .append_pair("v", API_VERSION)
            .finish();
        let mut pause = self.settings.backoff;
        let mut attempt = 1;
        loop {
            match self.call(&body).await {
                Err(Attempt::Transient(why)) if attempt < ATTEMPTS => {
                    tracing::warn!(attempt, why = %why, "VK notifications.sendMessage failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(Attempt::Transient(why)) => return Err(VkApiError::Unavailable(why)),
                Err(Attempt::Final(e)) => return Err(e),
                Ok(statuses) => return Ok(statuses),
            }
        }
    }

    async fn call(&self, body: &str) -> Result<Vec<UserStatus>, Attempt> {
        let answer = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                Attempt::Transient(format!("transport: {}", if e.is_timeout() { "timeout" } else { "failed" }))
            })?;
        let status = answer.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Attempt::Transient(format!("HTTP {status}")));
        }
        let text = answer.text().await.map_err(|_| Attempt::Transient("answer cut off".into()))?;
        parse_answer(&text)
    }
}

enum Attempt {
    Transient(String),
    Final(VkApiError),
}

fn parse_answer(text: &str) -> Result<Vec<UserStatus>, Attempt> {
    let answer: Answer = serde_json::from_str(text)
        .map_err(|_| Attempt::Final(VkApiError::Unavailable("answer is not VK's JSON".into())))?;
    if let Some(error) = answer.error {
        return Err(if TRANSIENT_CODES.contains(&error.error_code) {
            Attempt::Transient(format!("VK error {}", error.error_code))
        } else {
            Attempt::Final(VkApiError::Refused { code: error.error_code })
        });
    }
    let statuses = answer.response.ok_or(Attempt::Final(VkApiError::Unavailable("answer has no response".into())))?;
    Ok(statuses
        .into_iter()
        .map(|s| match (s.status, s.error) {
            (true, _) => UserStatus::Sent(s.user_id),
            (false, Some(e)) => UserStatus::Refused { user: s.user_id, code: e.code, description: e.description },
            (false, None) => UserStatus::Refused { user: s.user_id, code: 0, description: String::new() },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_answer_with_a_refused_user_when_parsed_then_each_user_has_their_own_status() {
        let text = r#"{"response":[{"user_id":1,"status":true},{"user_id":2,"status":false,"error":{"code":15,"description":"notifications disabled"}}]}"#;
        let statuses = parse_answer(text).ok().unwrap();
        assert_eq!(
            statuses,
            vec![
                UserStatus::Sent(1),
                UserStatus::Refused { user: 2, code: 15, description: "notifications disabled".into() }
            ]
        );
    }

    #[test]
    fn given_a_flood_error_when_parsed_then_it_is_transient_and_a_bad_token_is_final() {
        assert!(matches!(
            parse_answer(r#"{"error":{"error_code":6,"error_msg":"Too many"}}"#),
            Err(Attempt::Transient(_))
        ));
        assert!(matches!(
            parse_answer(r#"{"error":{"error_code":5,"error_msg":"auth"}}"#),
            Err(Attempt::Final(VkApiError::Refused { code: 5 }))
        ));
    }
}
