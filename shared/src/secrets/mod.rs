//! The service's secrets — VK's and Facebook's signing keys, the T-Bank terminal key and password —
//! read once when a function starts, kept in memory, and read again when a signature or the bank
//! refuses the kept ones, so a rotated secret takes effect without a redeploy. A re-read happens at
//! most once per interval per instance: a flood of forged signatures costs one read, not a flood.
//!
//! Where the values come from is the [`SecretSource`] port's business (AWS Secrets Manager in AWS,
//! moto locally: [`secrets_manager`]); the edge and the acquirer only see [`Secrets`].

#[cfg(feature = "adapters")]
pub mod secrets_manager;

use crate::acquirer::TerminalPassword;
use crate::edge::auth::Secret;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The keys of the secret's JSON object.
pub const VK_APP_SECRET: &str = "vkAppSecret";
pub const FB_APP_SECRET: &str = "fbAppSecret";
pub const TBANK_TERMINAL_KEY: &str = "tbankTerminalKey";
pub const TBANK_PASSWORD: &str = "tbankPassword";
/// Optional: the VK app's service token, for the readings reminders (`notifications.sendMessage`).
pub const VK_SERVICE_TOKEN: &str = "vkServiceToken";

/// The VK app's service token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct VkServiceToken(String);

impl VkServiceToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VkServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VkServiceToken(***)")
    }
}

/// One reading of the secret. `Debug` shows the terminal key (it travels in every request to the
/// bank) and never a signing key or the password.
#[derive(Clone, Debug)]
pub struct SecretValues {
    pub vk_app_secret: Secret,
    pub fb_app_secret: Secret,
    pub tbank_terminal_key: String,
    pub tbank_password: TerminalPassword,
    /// Absent where reminders are not sent (the functions that never call VK do not need it).
    pub vk_service_token: Option<VkServiceToken>,
}

impl Default for SecretValues {
    /// Nothing configured: an empty signing key refuses every caller (`AuthError::Unconfigured`),
    /// so a test that needs only one of the values leaves the others empty.
    fn default() -> Self {
        Self {
            vk_app_secret: Secret::from(""),
            fb_app_secret: Secret::from(""),
            tbank_terminal_key: String::new(),
            tbank_password: TerminalPassword::new(""),
            vk_service_token: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// The store could not be reached or refused the read (no permission, no such secret).
    #[error("the secret could not be read: {0}")]
    Unavailable(String),
    #[error("the secret is not a JSON object")]
    NotAnObject,
    /// Named by key, never by value: the message reaches the logs.
    #[error("the secret's {0} is missing, empty or not a string")]
    Missing(&'static str),
}

impl SecretValues {
    /// The secret as stored: `{"vkAppSecret", "fbAppSecret", "tbankTerminalKey", "tbankPassword"}`,
    /// each a non-empty string; other keys are ignored. The password is taken as it is (spaces
    /// could be part of it); the others lose surrounding whitespace.
    pub fn from_json(text: &str) -> Result<Self, SecretsError> {
        // Read as a map rather than through a derived struct: serde's type errors quote the value.
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|_| SecretsError::NotAnObject)?;
        let string = |key: &'static str| {
            object
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .ok_or(SecretsError::Missing(key))
        };
        Ok(Self {
            vk_app_secret: Secret::from(string(VK_APP_SECRET)?),
            fb_app_secret: Secret::from(string(FB_APP_SECRET)?),
            tbank_terminal_key: string(TBANK_TERMINAL_KEY)?.trim().to_owned(),
            tbank_password: TerminalPassword::new(string(TBANK_PASSWORD)?),
            vk_service_token: string(VK_SERVICE_TOKEN).ok().map(|token| VkServiceToken::new(token.trim())),
        })
    }

    fn same_as(&self, other: &Self) -> bool {
        self.vk_app_secret == other.vk_app_secret
            && self.fb_app_secret == other.fb_app_secret
            && self.tbank_terminal_key == other.tbank_terminal_key
            && self.tbank_password == other.tbank_password
            && self.vk_service_token == other.vk_service_token
    }
}

/// What a source's read returns. Boxed so that [`Secrets`] holds any source without making the
/// edge's and the acquirer's types generic over where secrets come from.
pub type Fetch<'a> = Pin<Box<dyn Future<Output = Result<SecretValues, SecretsError>> + Send + 'a>>;

/// The port: where the secret is read from.
pub trait SecretSource: Send + Sync {
    fn fetch(&self) -> Fetch<'_>;
}

/// The same values on every read: for tests and benchmarks, where nothing rotates.
struct Fixed(SecretValues);

impl SecretSource for Fixed {
    fn fetch(&self) -> Fetch<'_> {
        let values = self.0.clone();
        Box::pin(async move { Ok(values) })
    }
}

/// The secrets of one function instance. Clones share the values, the re-read budget and the
/// count, so the edge and the acquirer client of one function re-read together.
#[derive(Clone)]
pub struct Secrets(Arc<Holder>);

struct Holder {
    source: Box<dyn SecretSource>,
    current: RwLock<Arc<SecretValues>>,
    /// When the last re-read started; the first read, at start, is not counted.
    last_reread: Mutex<Option<Instant>>,
    reread_interval: Duration,
    rereads: AtomicU64,
}

impl Secrets {
    /// A minute: a rotation is picked up by the first refusal after it, unless a re-read (of the
    /// old values) happened less than a minute before; a flood of forgeries costs one read a minute.
    pub const DEFAULT_REREAD_INTERVAL: Duration = Duration::from_secs(60);

    /// Reads the secret once from `source`; fails when it cannot be read or is malformed, so a
    /// misconfigured function stops at init rather than on its first request.
    pub async fn load(source: impl SecretSource + 'static, reread_interval: Duration) -> Result<Self, SecretsError> {
        let values = source.fetch().await?;
        Ok(Self::holding(Box::new(source), values, reread_interval))
    }

    /// Values that never change (a re-read finds the same ones).
    pub fn fixed(values: SecretValues) -> Self {
        Self::holding(Box::new(Fixed(values.clone())), values, Self::DEFAULT_REREAD_INTERVAL)
    }

    fn holding(source: Box<dyn SecretSource>, values: SecretValues, reread_interval: Duration) -> Self {
        Self(Arc::new(Holder {
            source,
            current: RwLock::new(Arc::new(values)),
            last_reread: Mutex::new(None),
            reread_interval,
            rereads: AtomicU64::new(0),
        }))
    }

    /// The values in memory. Keep the `Arc` to hand back to [`Self::reread_after_refusal`].
    pub fn current(&self) -> Arc<SecretValues> {
        Arc::clone(&self.0.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// `refused` (what [`Self::current`] gave) did not verify a signature, or the bank refused
    /// it: reads the secret again unless that happened less than the interval ago. Returns the
    /// values to try once more — newer ones another refusal has already read, or the ones just
    /// read when they differ — or `None` when there is nothing new to try.
    pub async fn reread_after_refusal(&self, refused: &Arc<SecretValues>) -> Option<Arc<SecretValues>> {
        let current = self.current();
        if !Arc::ptr_eq(&current, refused) {
            return Some(current);
        }
        {
            let mut last = self.0.last_reread.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if last.is_some_and(|at| now.duration_since(at) < self.0.reread_interval) {
                return None;
            }
            *last = Some(now);
        }
        self.0.rereads.fetch_add(1, Ordering::Relaxed);
        match self.0.source.fetch().await {
            Ok(values) => {
                let mut current = self.0.current.write().unwrap_or_else(PoisonError::into_inner);
                if current.same_as(&values) {
                    tracing::info!("secret read again after a refusal: unchanged");
                    return None;
                }
                let fresh = Arc::new(values);
                *current = Arc::clone(&fresh);
                tracing::warn!("secret read again after a refusal: it was rotated, the new values are in use");
                Some(fresh)
            }
            Err(e) => {
                tracing::warn!(error = %e, "secret could not be read again; the values in memory stay");
                None
            }
        }
    }

    /// Re-reads attempted so far by this instance (all clones together).
    pub fn rereads(&self) -> u64 {
        self.0.rereads.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets").field("current", &*self.current()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A source whose value the test changes, as an operator rotating the secret would.
    #[derive(Clone, Default)]
    struct Rotating {
        password: Arc<Mutex<String>>,
        reads: Arc<AtomicUsize>,
    }

    impl Rotating {
        fn new(password: &str) -> Self {
            let source = Self::default();
            source.rotate(password);
            source
        }

        fn rotate(&self, password: &str) {
            *self.password.lock().unwrap() = password.to_owned();
        }
    }

    impl SecretSource for Rotating {
        fn fetch(&self) -> Fetch<'_> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let password = self.password.lock().unwrap().clone();
            Box::pin(async move {
                Ok(SecretValues {
                    tbank_terminal_key: "T".into(),
                    tbank_password: TerminalPassword::new(password),
                    ..SecretValues::default()
                })
            })
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn the_secret_is_read_from_its_four_keys_and_never_printed() {
        let values = SecretValues::from_json(
            r#"{"vkAppSecret":" vk-key\n","fbAppSecret":"fb-key","tbankTerminalKey":"DemoTerminal ","tbankPassword":" pw ","note":1}"#,
        )
        .unwrap();
        assert_eq!(values.tbank_terminal_key, "DemoTerminal");
        assert_eq!(values.tbank_password.expose(), " pw ", "a password is taken as it is");
        assert!(values.vk_app_secret == Secret::from("vk-key"));
        let printed = format!("{:?}", Secrets::fixed(values));
        for secret in ["vk-key", "fb-key", " pw "] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn a_missing_or_empty_key_is_named_and_its_value_never_quoted() {
        let full =
            serde_json::json!({"vkAppSecret": "a", "fbAppSecret": "b", "tbankTerminalKey": "c", "tbankPassword": "d"});
        for key in [VK_APP_SECRET, FB_APP_SECRET, TBANK_TERMINAL_KEY, TBANK_PASSWORD] {
            let mut without = full.clone();
            without.as_object_mut().unwrap().remove(key);
            assert_eq!(SecretValues::from_json(&without.to_string()).unwrap_err(), SecretsError::Missing(key));
            let mut blank = full.clone();
            blank[key] = serde_json::json!("  ");
            assert_eq!(SecretValues::from_json(&blank.to_string()).unwrap_err(), SecretsError::Missing(key));
            let mut number = full.clone();
            number[key] = serde_json::json!(735_911);
            let error = SecretValues::from_json(&number.to_string()).unwrap_err();
            assert!(!error.to_string().contains("735911"), "{error}");
        }
        assert_eq!(SecretValues::from_json("[1]").unwrap_err(), SecretsError::NotAnObject);
        assert_eq!(SecretValues::from_json("vkAppSecret=a").unwrap_err(), SecretsError::NotAnObject);
    }

    #[test]
    fn given_a_secret_with_or_without_a_vk_service_token_when_read_then_it_is_optional_and_never_printed() {
        let base =
            serde_json::json!({"vkAppSecret": "a", "fbAppSecret": "b", "tbankTerminalKey": "c", "tbankPassword": "d"});
        assert!(SecretValues::from_json(&base.to_string()).unwrap().vk_service_token.is_none());
        let mut with = base.clone();
        with[VK_SERVICE_TOKEN] = serde_json::json!(" vk1.a.service-token ");
        let values = SecretValues::from_json(&with.to_string()).unwrap();
        assert_eq!(values.vk_service_token.as_ref().map(VkServiceToken::expose), Some("vk1.a.service-token"));
        assert!(!format!("{values:?}").contains("service-token"));
    }

    #[test]
    fn given_a_rotated_secret_when_a_refusal_rereads_it_then_the_new_values_are_used() {
        let source = Rotating::new("old");
        let secrets = block_on(Secrets::load(source.clone(), Duration::ZERO)).unwrap();
        let before = secrets.current();
        source.rotate("new");
        assert_eq!(secrets.current().tbank_password.expose(), "old", "nothing is read before a refusal");

        let fresh = block_on(secrets.reread_after_refusal(&before)).expect("new values to try");
        assert_eq!(fresh.tbank_password.expose(), "new");
        assert_eq!(secrets.current().tbank_password.expose(), "new");
        assert_eq!(source.reads.load(Ordering::Relaxed), 2);
        assert_eq!(secrets.rereads(), 1);

        // A second refusal of the old values, racing the first: the new ones, without a read.
        let again = block_on(secrets.reread_after_refusal(&before)).expect("the values already read");
        assert!(Arc::ptr_eq(&again, &fresh));
        assert_eq!(source.reads.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn given_an_unchanged_secret_when_a_refusal_rereads_it_then_there_is_nothing_new_to_try() {
        let source = Rotating::new("same");
        let secrets = block_on(Secrets::load(source.clone(), Duration::ZERO)).unwrap();
        let current = secrets.current();
        assert!(block_on(secrets.reread_after_refusal(&current)).is_none());
        assert!(Arc::ptr_eq(&secrets.current(), &current), "the values in memory stay");
        assert_eq!(source.reads.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn given_a_flood_of_refusals_then_the_secret_is_read_once_per_interval() {
        let source = Rotating::new("kept");
        let secrets = block_on(Secrets::load(source.clone(), Duration::from_secs(3600))).unwrap();
        let current = secrets.current();
        for _ in 0..1000 {
            assert!(block_on(secrets.reread_after_refusal(&current)).is_none());
        }
        assert_eq!(secrets.rereads(), 1);
        assert_eq!(source.reads.load(Ordering::Relaxed), 2, "the start and one re-read");

        // A rotation inside the interval waits for its end: the values in memory stay.
        source.rotate("rotated");
        assert!(block_on(secrets.reread_after_refusal(&current)).is_none());
        assert_eq!(secrets.current().tbank_password.expose(), "kept");
    }

    #[test]
    fn a_source_that_cannot_be_read_at_start_stops_the_function() {
        struct Down;
        impl SecretSource for Down {
            fn fetch(&self) -> Fetch<'_> {
                Box::pin(async { Err(SecretsError::Unavailable("AccessDeniedException".into())) })
            }
        }
        let error = block_on(Secrets::load(Down, Duration::ZERO)).unwrap_err();
        assert_eq!(error, SecretsError::Unavailable("AccessDeniedException".into()));
    }
}
