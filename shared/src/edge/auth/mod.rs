//! Who is calling: a VK Mini App user (signed launch parameters) or a Facebook page-tab visitor
//! (`signed_request`). A caller's identity comes only from a verified signature, never from the
//! request body or an unsigned parameter.
//!
//! The mini app sends its credentials in the `Authorization` header, never in a URL, because query
//! strings leak through access logs and `Referer`:
//! - `VK <launch query without ?>` (also VK's own example form, `Bearer <launch query>`);
//! - `FB <signed_request>`.

pub mod facebook;
pub mod vk;

use std::fmt;

use crate::secrets::{SecretValues, Secrets};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Credentials longer than this are refused before any parsing or hashing: real launch queries
/// stay under 1 KiB and signed requests under 2 KiB, so anything bigger is noise or an attack.
pub const MAX_CREDENTIALS_LEN: usize = 4 * 1024;

/// How far ahead of our clock a signed timestamp may be: VK's, Facebook's and Lambda's clocks drift.
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// VK's rule for launch parameters; Facebook publishes no limit for `signed_request`, so the same
/// hour is our choice there too.
pub const DEFAULT_MAX_AGE: Duration = Duration::hours(1);

/// A signing key (VK's "Защищённый ключ", Facebook's app secret). Never printed.
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// An empty key would make every signature forgeable; `verify` refuses to work with one.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Secret {
    /// Surrounding whitespace is dropped: secrets pasted into a parameter store often carry a
    /// trailing newline, and neither VK's nor Facebook's keys contain whitespace.
    fn from(value: String) -> Self {
        Self(value.trim().as_bytes().into())
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.trim().as_bytes().into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    /// Constant time: whatever compares keys must not tell how much of one it guessed.
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for Secret {}

/// What [`authenticate`] checks callers against; built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub vk_app_id: u64,
    /// VK's and Facebook's signing keys (`vk_app_secret`, `fb_app_secret`), read again after a
    /// signature they refuse: see [`authenticate_fresh`].
    pub keys: Secrets,
    /// The company's Facebook page (`FB_PAGE_ID`): a `signed_request` of any other page is refused.
    pub fb_page_id: String,
    /// The oldest `vk_ts` / `issued_at` accepted. `None` switches the freshness checks (age and
    /// future skew) off — for published fixtures with fixed timestamps, never in production.
    pub max_age: Option<Duration>,
}

impl AuthConfig {
    /// The production rules with keys that never rotate: credentials at most
    /// [`DEFAULT_MAX_AGE`] old.
    pub fn new(vk_app_id: u64, vk_app_secret: Secret, fb_app_secret: Secret, fb_page_id: &str) -> Self {
        let keys = Secrets::fixed(SecretValues { vk_app_secret, fb_app_secret, ..SecretValues::default() });
        Self { vk_app_id, keys, fb_page_id: fb_page_id.to_owned(), max_age: Some(DEFAULT_MAX_AGE) }
    }
}

pub use crate::domain::caller::CallerId;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: CallerId,
    /// `vk_platform` (`desktop_web`, `mobile_android`, …); `None` for Facebook.
    pub platform: Option<String>,
}

/// Why credentials were refused. Every variant is the caller's fault (401) except
/// [`AuthError::Unconfigured`], which is ours (500); see [`AuthError::is_server_fault`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    Missing,
    #[error("unknown authorization scheme")]
    UnknownScheme,
    /// The detail is a stable code (`oversize`, `base64`, `vk_user_id`, …), safe to log.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    #[error("launch parameters carry no sign")]
    Unsigned,
    #[error("signature does not match")]
    BadSignature,
    #[error("launch parameters belong to another app")]
    WrongApp,
    #[error("the signed_request belongs to another Facebook page")]
    WrongPage,
    #[error("credentials are too old")]
    Stale,
    #[error("credentials are dated in the future")]
    FromTheFuture,
    #[error("the Facebook session has expired")]
    Expired,
    #[error("a parameter appears more than once")]
    DuplicateKey,
    #[error("array parameters are not accepted")]
    ArraySyntax,
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    #[error("the signing secret is not configured")]
    Unconfigured,
}

impl AuthError {
    /// A short stable code for logs and metrics; for `Malformed` see its detail in `Display`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::UnknownScheme => "unknown_scheme",
            Self::Malformed(_) => "malformed",
            Self::Unsigned => "unsigned",
            Self::BadSignature => "bad_signature",
            Self::WrongApp => "wrong_app",
            Self::WrongPage => "wrong_page",
            Self::Stale => "stale",
            Self::FromTheFuture => "from_the_future",
            Self::Expired => "expired",
            Self::DuplicateKey => "duplicate_key",
            Self::ArraySyntax => "array_syntax",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::Unconfigured => "unconfigured",
        }
    }

    /// True when the refusal is a deployment fault (no secret configured), not the caller's.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Unconfigured)
    }
}

/// Authenticates one request from its raw `Authorization` header value: `VK <launch query>`,
/// `Bearer <launch query>` or `FB <signed_request>` (scheme case-insensitive), with the keys in
/// memory.
pub fn authenticate(header: Option<&str>, cfg: &AuthConfig, now: DateTime<Utc>) -> Result<Caller, AuthError> {
    authenticate_with(header, cfg, &cfg.keys.current(), now)
}

/// [`authenticate`], and when the signature alone was refused, once more with the keys read again
/// (at most once a minute per instance: see [`Secrets`]): a key rotated in VK or Facebook and in
/// the secret is accepted without a redeploy.
pub async fn authenticate_fresh(
    header: Option<&str>,
    cfg: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    let keys = cfg.keys.current();
    match authenticate_with(header, cfg, &keys, now) {
        Err(AuthError::BadSignature) => match cfg.keys.reread_after_refusal(&keys).await {
            Some(fresh) => authenticate_with(header, cfg, &fresh, now),
            None => Err(AuthError::BadSignature),
        },
        checked => checked,
    }
}

fn authenticate_with(
    header: Option<&str>,
    cfg: &AuthConfig,
    keys: &SecretValues,
    now: DateTime<Utc>,
) -> Result<Caller, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    if header.len() > MAX_CREDENTIALS_LEN {
        return Err(AuthError::Malformed("oversize"));
    }
    let header = header.trim();
    if header.is_empty() {
        return Err(AuthError::Missing);
    }
    let (scheme, credentials) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .map(|(scheme, rest)| (scheme, rest.trim_start()))
        .unwrap_or((header, ""));

    let is_vk = scheme.eq_ignore_ascii_case("VK")
        || (scheme.eq_ignore_ascii_case("Bearer") && vk::looks_like_launch_query(credentials));
    let is_fb = scheme.eq_ignore_ascii_case("FB");
    if !is_vk && !is_fb {
        return Err(AuthError::UnknownScheme);
    }
    if credentials.is_empty() {
        return Err(AuthError::Malformed("credentials"));
    }

    if is_vk {
        let launch = vk::verify(credentials, &keys.vk_app_secret, cfg.vk_app_id, now, cfg.max_age)?;
        Ok(Caller { id: CallerId::Vk(launch.user_id), platform: launch.platform })
    } else {
        let payload = facebook::verify_for_page(credentials, &keys.fb_app_secret, &cfg.fb_page_id, now, cfg.max_age)?;
        Ok(Caller { id: payload.caller_id(), platform: None })
    }
}

/// The HMAC both platforms sign with, keyed by `secret`.
fn hmac_sha256(secret: &Secret, message: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length (RFC 2104): this constructor cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose()).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The shared freshness rule for `vk_ts` and `issued_at` (unix seconds).
fn check_freshness(signed_at: i64, now: DateTime<Utc>, max_age: Option<Duration>) -> Result<(), AuthError> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    // i128: a hostile timestamp near i64::MIN/MAX must not overflow the subtraction.
    let age = i128::from(now.timestamp()) - i128::from(signed_at);
    if -age > i128::from(CLOCK_SKEW.num_seconds()) {
        return Err(AuthError::FromTheFuture);
    }
    if age > i128::from(max_age.num_seconds()) {
        return Err(AuthError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VK_SECRET: &str = "wvl68m4dR1UpLrVRli";
    const VK_APP: u64 = 6736218;
    const VK_QUERY: &str = "vk_user_id=494075&vk_app_id=6736218&vk_is_app_user=1&vk_are_notifications_enabled=1&vk_language=ru&vk_access_token_settings=&vk_platform=android&sign=htQFduJpLxz7ribXRZpDFUH-XEUhC9rBPTJkjUFEkRA";
    const FB_SECRET: &str = "foo_app_secret";
    /// The page of the published example.
    const FB_PAGE: &str = "42";
    const FB_REQUEST: &str = "6Hi26ECjkj347belC0O8b8H5lwiIz5eA6V9VVjTg-HU=.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MzIxLCJvYXV0aF90b2tlbiI6ImZvb190b2tlbiIsInVzZXJfaWQiOiIxMjMiLCJwYWdlIjp7ImlkIjoiNDIiLCJsaWtlZCI6dHJ1ZSwiYWRtaW4iOmZhbHNlfX0=";

    fn fixtures_config() -> AuthConfig {
        AuthConfig { max_age: None, ..AuthConfig::new(VK_APP, VK_SECRET.into(), FB_SECRET.into(), FB_PAGE) }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn a_vk_launch_authenticates_as_the_vk_user_whatever_the_scheme_case() {
        let cfg = fixtures_config();
        for scheme in ["VK", "vk", "Vk", "Bearer", "bearer"] {
            let header = format!("{scheme} {VK_QUERY}");
            let caller = authenticate(Some(&header), &cfg, now()).unwrap_or_else(|e| panic!("{scheme}: {e}"));
            assert_eq!(caller.id, CallerId::Vk(494075));
            assert_eq!(caller.id.to_string(), "vk:494075");
            assert_eq!(caller.platform.as_deref(), Some("android"));
        }
    }

    #[test]
    fn a_facebook_signed_request_authenticates_as_the_facebook_user() {
        let caller =
            authenticate(Some(&format!("FB {FB_REQUEST}")), &fixtures_config(), now()).expect("published example");
        assert_eq!(caller.id, CallerId::Facebook("123".into()));
        assert_eq!(caller.id.to_string(), "fb:123");
        assert!(!caller.id.is_anonymous());
        assert_eq!(caller.platform, None);
    }

    #[test]
    fn the_published_facebook_example_is_refused_where_another_page_is_configured() {
        let cfg = AuthConfig { fb_page_id: "118745708161011".into(), ..fixtures_config() };
        let refused = authenticate(Some(&format!("FB {FB_REQUEST}")), &cfg, now());
        assert_eq!(refused, Err(AuthError::WrongPage));
        assert!(!AuthError::WrongPage.is_server_fault(), "the caller's fault: 401");
    }

    #[test]
    fn production_rules_refuse_the_undated_published_vk_launch() {
        let cfg = AuthConfig::new(VK_APP, VK_SECRET.into(), FB_SECRET.into(), FB_PAGE);
        let header = format!("VK {VK_QUERY}");
        assert_eq!(authenticate(Some(&header), &cfg, now()), Err(AuthError::Malformed("vk_ts")));
        // The published signed_request was issued at 321 (1970): far too old.
        let header = format!("FB {FB_REQUEST}");
        assert_eq!(authenticate(Some(&header), &cfg, now()), Err(AuthError::Stale));
    }

    #[test]
    fn absent_or_blank_header_is_missing() {
        let cfg = fixtures_config();
        for header in [None, Some(""), Some("   "), Some("\t")] {
            assert_eq!(authenticate(header, &cfg, now()), Err(AuthError::Missing), "{header:?}");
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let cfg = fixtures_config();
        for header in ["Basic dXNlcjpwYXNz", "Token abc", VK_QUERY, "Basic"] {
            assert_eq!(authenticate(Some(header), &cfg, now()), Err(AuthError::UnknownScheme), "{header}");
        }
        // Bearer is VK's form only: a signed_request behind it is not guessed at.
        let header = format!("Bearer {FB_REQUEST}");
        assert_eq!(authenticate(Some(&header), &cfg, now()), Err(AuthError::UnknownScheme));
    }

    #[test]
    fn a_scheme_without_credentials_is_malformed() {
        let cfg = fixtures_config();
        for header in ["VK", "FB  ", "vk\t"] {
            assert_eq!(authenticate(Some(header), &cfg, now()), Err(AuthError::Malformed("credentials")), "{header:?}");
        }
    }

    #[test]
    fn an_oversize_header_is_refused_even_when_its_signature_is_good() {
        // Unsigned extra parameters do not affect the signature: without the limit this verifies.
        let padded = format!("VK {VK_QUERY}&utm_source={}", "a".repeat(MAX_CREDENTIALS_LEN));
        let cfg = fixtures_config();
        assert_eq!(authenticate(Some(&padded), &cfg, now()), Err(AuthError::Malformed("oversize")));
        let just_under = format!("VK {VK_QUERY}&utm_source=");
        let filler = "a".repeat(MAX_CREDENTIALS_LEN - just_under.len());
        let at_limit = format!("{just_under}{filler}");
        assert_eq!(at_limit.len(), MAX_CREDENTIALS_LEN);
        assert!(authenticate(Some(&at_limit), &cfg, now()).is_ok());
    }

    #[test]
    fn an_empty_secret_is_a_server_fault_not_an_open_door() {
        let cfg = AuthConfig { max_age: None, ..AuthConfig::new(VK_APP, "".into(), "  \n".into(), FB_PAGE) };
        let vk = authenticate(Some(&format!("VK {VK_QUERY}")), &cfg, now());
        assert_eq!(vk, Err(AuthError::Unconfigured));
        let fb = authenticate(Some(&format!("FB {FB_REQUEST}")), &cfg, now());
        assert_eq!(fb, Err(AuthError::Unconfigured));
        assert!(AuthError::Unconfigured.is_server_fault());
        assert!(!AuthError::BadSignature.is_server_fault());
    }

    #[test]
    fn secrets_never_print_and_lose_surrounding_whitespace() {
        let cfg = AuthConfig::new(1, "s3cr3t-vk\n".to_string().into(), "s3cr3t-fb".into(), FB_PAGE);
        let printed = format!("{cfg:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("Secret(***)"));
        assert_eq!(cfg.keys.current().vk_app_secret.expose(), b"s3cr3t-vk");
    }

    #[test]
    fn freshness_boundaries() {
        let hour = Some(DEFAULT_MAX_AGE);
        let t = now().timestamp();
        assert_eq!(check_freshness(t - 3600, now(), hour), Ok(()));
        assert_eq!(check_freshness(t - 3601, now(), hour), Err(AuthError::Stale));
        assert_eq!(check_freshness(t + 60, now(), hour), Ok(()));
        assert_eq!(check_freshness(t + 61, now(), hour), Err(AuthError::FromTheFuture));
        assert_eq!(check_freshness(i64::MIN, now(), hour), Err(AuthError::Stale));
        assert_eq!(check_freshness(i64::MAX, now(), hour), Err(AuthError::FromTheFuture));
        assert_eq!(check_freshness(i64::MIN, now(), None), Ok(()));
    }

    #[test]
    fn reasons_are_distinct_codes() {
        let all = [
            AuthError::Missing,
            AuthError::UnknownScheme,
            AuthError::Malformed("x"),
            AuthError::Unsigned,
            AuthError::BadSignature,
            AuthError::WrongApp,
            AuthError::WrongPage,
            AuthError::Stale,
            AuthError::FromTheFuture,
            AuthError::Expired,
            AuthError::DuplicateKey,
            AuthError::ArraySyntax,
            AuthError::UnsupportedAlgorithm,
            AuthError::Unconfigured,
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(AuthError::reason).collect();
        assert_eq!(codes.len(), all.len());
    }

    proptest! {
        #[test]
        fn authenticate_never_panics(header in "\\PC{0,600}") {
            let _ = authenticate(Some(&header), &fixtures_config(), now());
        }

        #[test]
        fn authenticate_never_panics_on_scheme_shaped_input(
            scheme in "(VK|FB|Bearer|vk|fb)",
            body in "[A-Za-z0-9_=&%.+\\-]{0,400}",
        ) {
            let header = format!("{scheme} {body}");
            let _ = authenticate(Some(&header), &fixtures_config(), now());
        }
    }
}
