//! VK Mini App launch parameters: the query VK appends to the app's URL, signed with the app's
//! secure key ("Защищённый ключ").

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::Mac as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use subtle::ConstantTimeEq as _;

use super::{AuthError, MAX_CREDENTIALS_LEN, Secret, check_freshness, hmac_sha256};

/// Only keys with this prefix are signed; VK adds new ones over time, all of them count.
const SIGNED_PREFIX: &str = "vk_";
const SIGN_KEY: &str = "sign";

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (`,` → `%2C`,
/// space → `%20`) — the form VK computes the signature over.
const VK_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Verified launch parameters: every field comes from the signed part of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VkLaunch {
    pub user_id: u64,
    pub app_id: u64,
    /// `vk_platform`: `desktop_web`, `mobile_web`, `mobile_android`, `mobile_iphone`, …
    pub platform: Option<String>,
    /// `vk_ts`, unix seconds.
    pub ts: Option<i64>,
    /// `vk_language`: `ru`, `uk`, `en`, …
    pub language: Option<String>,
    /// `vk_group_id`: the community the app was opened from, if any.
    pub group_id: Option<u64>,
}

/// Verifies a launch query (without the leading `?`) and returns its parameters.
///
/// Order of checks: shape (size, duplicates, array syntax) → `sign` → `vk_app_id` → `vk_ts` →
/// `vk_user_id`, so no value is trusted before the signature covers it.
pub fn verify(
    query: &str,
    secret: &Secret,
    app_id: u64,
    now: DateTime<Utc>,
    max_age: Option<Duration>,
) -> Result<VkLaunch, AuthError> {
    if query.len() > MAX_CREDENTIALS_LEN {
        return Err(AuthError::Malformed("oversize"));
    }
    if secret.is_empty() {
        return Err(AuthError::Unconfigured);
    }
    let params = parse_query(query.strip_prefix('?').unwrap_or(query))?;

    let claimed = params.get(SIGN_KEY).ok_or(AuthError::Unsigned)?;
    // A BTreeMap iterates in byte order of the keys: exactly VK's sort.
    let signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, _)| key.starts_with(SIGNED_PREFIX))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let expected = signature_of(&canonical_string(&signed), secret);
    if !bool::from(expected.as_bytes().ct_eq(claimed.as_bytes())) {
        return Err(AuthError::BadSignature);
    }

    let signed_app = params.get("vk_app_id").and_then(|v| positive_id(v)).ok_or(AuthError::Malformed("vk_app_id"))?;
    if signed_app != app_id {
        return Err(AuthError::WrongApp);
    }

    let ts = params.get("vk_ts").map(|v| v.parse::<i64>().map_err(|_| AuthError::Malformed("vk_ts"))).transpose()?;
    match ts {
        Some(ts) => check_freshness(ts, now, max_age)?,
        // Without a timestamp a captured launch would be valid forever.
        None if max_age.is_some() => return Err(AuthError::Malformed("vk_ts")),
        None => {}
    }

    let user_id = params.get("vk_user_id").and_then(|v| positive_id(v)).ok_or(AuthError::Malformed("vk_user_id"))?;
    let group_id =
        params.get("vk_group_id").map(|v| positive_id(v).ok_or(AuthError::Malformed("vk_group_id"))).transpose()?;

    Ok(VkLaunch {
        user_id,
        app_id: signed_app,
        platform: params.get("vk_platform").cloned(),
        ts,
        language: params.get("vk_language").cloned(),
        group_id,
    })
}

/// The `sign` value VK would send for these (decoded) parameters: only `vk_*` keys count, in
/// byte order. For demo launch URLs and tests.
pub fn sign(params: &[(&str, &str)], secret: &Secret) -> String {
    let mut signed: Vec<(&str, &str)> =
        params.iter().copied().filter(|(key, _)| key.starts_with(SIGNED_PREFIX)).collect();
    signed.sort_by(|a, b| a.0.cmp(b.0));
    signature_of(&canonical_string(&signed), secret)
}

/// Whether a `Bearer` token is a launch query (VK's example form) rather than some other token.
pub(super) fn looks_like_launch_query(credentials: &str) -> bool {
    let query = credentials.strip_prefix('?').unwrap_or(credentials);
    query
        .split('&')
        .any(|pair| pair.split_once('=').is_some_and(|(key, _)| key.starts_with(SIGNED_PREFIX) || key == SIGN_KEY))
}

/// Decodes the query into a map, refusing what a verifier elsewhere could read differently:
/// repeated keys (which copy wins?) and `key[]` arrays (PHP reads them as arrays).
fn parse_query(query: &str) -> Result<BTreeMap<String, String>, AuthError> {
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(raw_key)?;
        if key.contains(['[', ']']) {
            return Err(AuthError::ArraySyntax);
        }
        let value = decode_component(raw_value)?;
        if params.insert(key, value).is_some() {
            return Err(AuthError::DuplicateKey);
        }
    }
    Ok(params)
}

/// Percent-decodes one key or value. `+` is a space, as every published VK verifier (PHP
/// `parse_str`, Node `querystring`, Python `parse_qsl`) reads it; a literal plus arrives as `%2B`.
fn decode_component(raw: &str) -> Result<String, AuthError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| AuthError::Malformed("percent_encoding"))
}

/// `k=v&k=v` over already sorted, decoded pairs, each re-encoded in VK's form.
fn canonical_string(sorted: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(key, VK_ENCODE_SET));
        out.push('=');
        out.extend(utf8_percent_encode(value, VK_ENCODE_SET));
    }
    out
}

/// HMAC-SHA256, base64 url-safe without padding (always 43 characters).
fn signature_of(canonical: &str, secret: &Secret) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(secret, canonical.as_bytes()).finalize().into_bytes())
}

/// Ids are positive decimal integers; `str::parse` alone would also take `+5`.
fn positive_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&id| id > 0)
}

/// A launch query signed as VK signs it for a mini app opened in a browser at `ts` (unix
/// seconds): what the local demo prints, and what tests and benchmarks authenticate with. Values
/// here need no percent-encoding.
pub fn launch_query(app_id: &str, user_id: u64, ts: i64, platform: &str, secret: &Secret) -> String {
    let user = user_id.to_string();
    let ts = ts.to_string();
    let params = [
        ("vk_access_token_settings", ""),
        ("vk_app_id", app_id),
        ("vk_are_notifications_enabled", "0"),
        ("vk_is_app_user", "1"),
        ("vk_is_favorite", "0"),
        ("vk_language", "ru"),
        ("vk_platform", platform),
        ("vk_ref", "other"),
        ("vk_ts", ts.as_str()),
        ("vk_user_id", user.as_str()),
    ];
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}&sign={}", query.join("&"), sign(&params, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_demo_launch_query_passes_verification_as_its_user() {
        let secret = Secret::from("demo-key");
        let now = chrono::DateTime::from_timestamp(1_795_176_000, 0).unwrap();
        let query = super::launch_query("51234567", 494075, now.timestamp(), "desktop_web", &secret);
        let launch = super::verify(&query, &secret, 51234567, now, Some(chrono::Duration::hours(1))).unwrap();
        assert_eq!((launch.user_id, launch.platform.as_deref()), (494075, Some("desktop_web")));
        assert!(super::verify(&query, &Secret::from("other-key"), 51234567, now, None).is_err());
    }

    const SECRET: &str = "wvl68m4dR1UpLrVRli";
    const APP: u64 = 6736218;
    /// The published example from VK's official repository.
    const PUBLISHED: &str = "vk_user_id=494075&vk_app_id=6736218&vk_is_app_user=1&vk_are_notifications_enabled=1&vk_language=ru&vk_access_token_settings=&vk_platform=android&sign=htQFduJpLxz7ribXRZpDFUH-XEUhC9rBPTJkjUFEkRA";
    const NOW: i64 = 1_700_000_000;

    fn secret() -> Secret {
        SECRET.into()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).expect("valid timestamp")
    }

    fn hour() -> Option<Duration> {
        Some(super::super::DEFAULT_MAX_AGE)
    }

    /// A launch query as VK would build it: values in VK's encoding, `sign` last.
    fn launch_query(params: &[(&str, &str)], secret: &Secret) -> String {
        let mut query: Vec<String> =
            params.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VK_ENCODE_SET))).collect();
        query.push(format!("sign={}", sign(params, secret)));
        query.join("&")
    }

    fn fresh_params(ts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("vk_user_id", "494075".into()),
            ("vk_app_id", APP.to_string()),
            ("vk_platform", "mobile_iphone".into()),
            ("vk_ts", ts.into()),
        ]
    }

    fn borrowed<'a>(params: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
        params.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn the_published_example_verifies() {
        let launch = verify(PUBLISHED, &secret(), APP, at(NOW), None).expect("published example");
        assert_eq!(
            launch,
            VkLaunch {
                user_id: 494075,
                app_id: APP,
                platform: Some("android".into()),
                ts: None,
                language: Some("ru".into()),
                group_id: None,
            }
        );
    }

    #[test]
    fn parameter_order_leading_question_mark_and_unsigned_extras_do_not_matter() {
        let reordered = "?utm_source=ad&sign=htQFduJpLxz7ribXRZpDFUH-XEUhC9rBPTJkjUFEkRA&vk_platform=android&vk_access_token_settings&vk_language=ru&vk_are_notifications_enabled=1&vk_is_app_user=1&vk_app_id=6736218&vk_user_id=494075";
        let launch = verify(reordered, &secret(), APP, at(NOW), None).expect("same parameters");
        assert_eq!(launch.user_id, 494075);
    }

    #[test]
    fn a_changed_byte_anywhere_is_refused() {
        for (i, original) in PUBLISHED.char_indices() {
            let replacement = if original == 'x' { 'y' } else { 'x' };
            let mut tampered = PUBLISHED.to_string();
            tampered.replace_range(i..i + 1, &replacement.to_string());
            assert!(verify(&tampered, &secret(), APP, at(NOW), None).is_err(), "byte {i} changed: {tampered}");
        }
    }

    #[test]
    fn a_changed_value_is_a_bad_signature() {
        let tampered = PUBLISHED.replace("vk_user_id=494075", "vk_user_id=494076");
        assert_eq!(verify(&tampered, &secret(), APP, at(NOW), None), Err(AuthError::BadSignature));
        let wrong_secret: Secret = "another-secure-key".into();
        assert_eq!(verify(PUBLISHED, &wrong_secret, APP, at(NOW), None), Err(AuthError::BadSignature));
    }

    #[test]
    fn another_apps_launch_is_refused() {
        let params = [("vk_user_id", "494075"), ("vk_app_id", "51234567"), ("vk_ts", "1700000000")];
        let query = launch_query(&params, &secret());
        assert_eq!(verify(&query, &secret(), APP, at(NOW), hour()), Err(AuthError::WrongApp));
    }

    #[test]
    fn freshness_of_vk_ts() {
        let check = |ts: i64| {
            let params = fresh_params(&ts.to_string());
            let query = launch_query(&borrowed(&params), &secret());
            verify(&query, &secret(), APP, at(NOW), hour()).map(|launch| launch.ts)
        };
        assert_eq!(check(NOW - 3600), Ok(Some(NOW - 3600)));
        assert_eq!(check(NOW - 3601), Err(AuthError::Stale));
        assert_eq!(check(NOW + 60), Ok(Some(NOW + 60)));
        assert_eq!(check(NOW + 61), Err(AuthError::FromTheFuture));
    }

    #[test]
    fn vk_ts_is_required_when_freshness_is_on_and_must_be_a_number() {
        assert_eq!(verify(PUBLISHED, &secret(), APP, at(NOW), hour()), Err(AuthError::Malformed("vk_ts")));
        let params = fresh_params("yesterday");
        let query = launch_query(&borrowed(&params), &secret());
        assert_eq!(verify(&query, &secret(), APP, at(NOW), None), Err(AuthError::Malformed("vk_ts")));
    }

    #[test]
    fn missing_or_empty_sign_is_refused() {
        let unsigned = PUBLISHED.split("&sign=").next().expect("has a sign");
        assert_eq!(verify(unsigned, &secret(), APP, at(NOW), None), Err(AuthError::Unsigned));
        let empty = format!("{unsigned}&sign=");
        assert_eq!(verify(&empty, &secret(), APP, at(NOW), None), Err(AuthError::BadSignature));
    }

    #[test]
    fn duplicated_keys_are_refused_even_when_one_copy_is_valid() {
        let two_signs = format!("{PUBLISHED}&sign=AAAA");
        assert_eq!(verify(&two_signs, &secret(), APP, at(NOW), None), Err(AuthError::DuplicateKey));
        let sign_first = format!("sign=AAAA&{PUBLISHED}");
        assert_eq!(verify(&sign_first, &secret(), APP, at(NOW), None), Err(AuthError::DuplicateKey));
        let two_users = format!("vk_user_id=1&{PUBLISHED}");
        assert_eq!(verify(&two_users, &secret(), APP, at(NOW), None), Err(AuthError::DuplicateKey));
        // Encoding a key differently does not make it another key.
        let encoded_twin = format!("vk%5Fuser%5Fid=1&{PUBLISHED}");
        assert_eq!(verify(&encoded_twin, &secret(), APP, at(NOW), None), Err(AuthError::DuplicateKey));
    }

    #[test]
    fn array_syntax_is_refused() {
        for extra in ["vk_x[]=1", "vk_x%5B%5D=1", "vk_x[a]=1", "other[]=1"] {
            let query = format!("{PUBLISHED}&{extra}");
            assert_eq!(verify(&query, &secret(), APP, at(NOW), None), Err(AuthError::ArraySyntax), "{extra}");
        }
    }

    #[test]
    fn user_id_must_be_a_positive_integer_even_when_signed() {
        for user in ["0", "-5", "+5", "abc", ""] {
            let params = [("vk_user_id", user), ("vk_app_id", "6736218")];
            let query = launch_query(&params, &secret());
            assert_eq!(
                verify(&query, &secret(), APP, at(NOW), None),
                Err(AuthError::Malformed("vk_user_id")),
                "{user:?}"
            );
        }
        let params = [("vk_app_id", "6736218")];
        let query = launch_query(&params, &secret());
        assert_eq!(verify(&query, &secret(), APP, at(NOW), None), Err(AuthError::Malformed("vk_user_id")));
    }

    #[test]
    fn invalid_utf8_after_decoding_is_malformed() {
        let query = format!("{PUBLISHED}&vk_ref=%FF");
        assert_eq!(verify(&query, &secret(), APP, at(NOW), None), Err(AuthError::Malformed("percent_encoding")));
    }

    /// Expected strings computed outside this module from the rules (sorted keys, RFC 3986
    /// unreserved kept, UTF-8 bytes percent-encoded in upper-case hex; «М» = D0 9C, «и» = D0 B8,
    /// «р» = D1 80) and an independent HMAC-SHA256 / base64url implementation.
    #[test]
    fn the_canonical_form_matches_vks_rules_for_commas_spaces_and_cyrillic() {
        let params = [
            ("vk_user_id", "494075"),
            ("vk_app_id", "6736218"),
            ("vk_ts", "1700000000"),
            ("vk_new_feature", "Мир, труд май"),
            ("vk_access_token_settings", "friends,photos"),
            ("vk_platform", "desktop_web"),
        ];
        let mut sorted = params.to_vec();
        sorted.sort();
        assert_eq!(
            canonical_string(&sorted),
            "vk_access_token_settings=friends%2Cphotos&vk_app_id=6736218\
             &vk_new_feature=%D0%9C%D0%B8%D1%80%2C%20%D1%82%D1%80%D1%83%D0%B4%20%D0%BC%D0%B0%D0%B9\
             &vk_platform=desktop_web&vk_ts=1700000000&vk_user_id=494075"
        );
        assert_eq!(sign(&params, &secret()), "rA5kgMAMXLChoX5lY2iymbEXo4sYUF57HsOEC0Avj_4");

        // The same launch as a browser may deliver it: raw comma, `+` for spaces, lower-case hex.
        let delivered = "vk_user_id=494075&vk_app_id=6736218&vk_ts=1700000000\
             &vk_new_feature=%d0%9c%d0%b8%d1%80,+%d1%82%d1%80%d1%83%d0%b4+%d0%bc%d0%b0%d0%b9\
             &vk_access_token_settings=friends,photos&vk_platform=desktop_web\
             &sign=rA5kgMAMXLChoX5lY2iymbEXo4sYUF57HsOEC0Avj_4";
        let launch = verify(delivered, &secret(), APP, at(NOW), hour()).expect("verifies");
        assert_eq!(launch.platform.as_deref(), Some("desktop_web"));
        assert_eq!(launch.ts, Some(1_700_000_000));
    }

    #[test]
    fn bearer_detection_only_takes_launch_queries() {
        assert!(looks_like_launch_query(PUBLISHED));
        assert!(looks_like_launch_query("?vk_user_id=1"));
        assert!(!looks_like_launch_query("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert!(!looks_like_launch_query("abc=.def"));
    }

    proptest! {
        #[test]
        fn verify_never_panics(query in "\\PC{0,400}") {
            let _ = verify(&query, &secret(), APP, at(NOW), hour());
        }

        #[test]
        fn verify_never_panics_on_query_shaped_input(
            query in "(vk_[a-z_]{1,8}(=[A-Za-z0-9%+,\\[\\]_-]{0,12})?&){0,8}(sign=[A-Za-z0-9_-]{0,44})?",
        ) {
            let _ = verify(&query, &secret(), APP, at(NOW), hour());
        }

        /// Any new `vk_*` keys with any values, delivered in standard form encoding (which differs
        /// from VK's: `+` for spaces, `*` kept, `~` encoded), verify after signing.
        #[test]
        fn sign_then_verify_round_trips(
            extra in proptest::collection::btree_map("vk_x[a-z_]{0,10}", "\\PC{0,20}", 0..6),
            ts_offset in -3600i64..=60,
        ) {
            let ts = (NOW + ts_offset).to_string();
            let mut params: Vec<(&str, &str)> =
                extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            params.extend([("vk_user_id", "77"), ("vk_app_id", "6736218"), ("vk_ts", ts.as_str())]);
            let signature = sign(&params, &secret());
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().rev())
                .append_pair("sign", &signature)
                .finish();
            let launch = verify(&query, &secret(), APP, at(NOW), hour());
            prop_assert_eq!(launch.map(|l| l.user_id), Ok(77));
        }
    }
}
