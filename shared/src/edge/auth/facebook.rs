//! Facebook page tab `signed_request`: `base64url(signature) "." base64url(JSON payload)`, signed
//! with the app secret. Facebook POSTs it to the tab URL; the mini app then sends it back to the
//! API with every call, where it is verified again.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::Mac as _;
use serde::Deserialize;

use super::{AuthError, CallerId, MAX_CREDENTIALS_LEN, Secret, check_freshness, hmac_sha256};

const ALGORITHM: &str = "HMAC-SHA256";

/// Facebook's SDK fixtures pad with `=`, live requests do not: both are accepted.
const BASE64URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

use crate::domain::caller::ANONYMOUS_SUFFIX;

/// A verified payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FbPayload {
    /// The app-scoped user id (digits); absent for a visitor who never authorised the app.
    pub user_id: Option<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// The page whose tab was opened.
    pub page_id: Option<String>,
    /// When the embedded `oauth_token` expires (unix seconds); `None` when it does not.
    pub expires: Option<i64>,
}

impl FbPayload {
    /// Who is calling, as a throttle and audit key.
    ///
    /// A page-tab visitor who never authorised the app has no user id, and nothing else in the
    /// payload tells one such visitor from another: `issued_at` and the signature change with every
    /// load of the tab, so an id built from them would hand someone enumerating account numbers a
    /// fresh budget per reload. The only identity an attacker cannot multiply is the page itself,
    /// so all anonymous visitors of a page share `page:<page_id>:anon` (`anon` outside a page).
    /// They are served, not refused — the tab has to work for every visitor — and the throttle is
    /// expected to give this shared id a page-wide budget and split it further by source address
    /// ([`CallerId::is_anonymous`] tells it apart). Real user ids are digits only, so the
    /// anonymous id can never collide with one.
    pub fn caller_id(&self) -> CallerId {
        match (&self.user_id, &self.page_id) {
            (Some(user), _) => CallerId::Facebook(user.clone()),
            (None, Some(page)) => CallerId::Facebook(format!("page:{page}:{ANONYMOUS_SUFFIX}")),
            (None, None) => CallerId::Facebook(ANONYMOUS_SUFFIX.to_owned()),
        }
    }
}

/// Verifies a `signed_request`: signature over the payload segment exactly as received, then
/// algorithm, `issued_at` freshness (when `max_age` is set) and `expires` (always: it is Facebook's
/// own deadline, not our policy).
pub fn verify(
    signed_request: &str,
    secret: &Secret,
    now: DateTime<Utc>,
    max_age: Option<Duration>,
) -> Result<FbPayload, AuthError> {
    if signed_request.len() > MAX_CREDENTIALS_LEN {
        return Err(AuthError::Malformed("oversize"));
    }
    if secret.is_empty() {
        return Err(AuthError::Unconfigured);
    }
    let (signature, payload) = signed_request.split_once('.').ok_or(AuthError::Malformed("signed_request"))?;
    let signature = BASE64URL_ANY_PADDING.decode(signature).map_err(|_| AuthError::Malformed("base64"))?;
    hmac_sha256(secret, payload.as_bytes()).verify_slice(&signature).map_err(|_| AuthError::BadSignature)?;

    let json = BASE64URL_ANY_PADDING.decode(payload).map_err(|_| AuthError::Malformed("base64"))?;
    // serde would also read a struct from a JSON array; the payload must be an object.
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(AuthError::Malformed("payload"));
    }
    let raw: RawPayload = serde_json::from_slice(&json).map_err(|_| AuthError::Malformed("payload"))?;
    if raw.algorithm.as_deref() != Some(ALGORITHM) {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    let issued_at = raw.issued_at.ok_or(AuthError::Malformed("issued_at"))?;
    check_freshness(issued_at, now, max_age)?;
    // Facebook writes 0 for a token that does not expire.
    let expires = raw.expires.filter(|&at| at != 0);
    if expires.is_some_and(|at| at <= now.timestamp()) {
        return Err(AuthError::Expired);
    }

    let user_id = raw.user_id.map(|id| id.into_digits().ok_or(AuthError::Malformed("user_id"))).transpose()?;
    let page_id = raw
        .page
        .and_then(|page| page.id)
        .map(|id| id.into_digits().ok_or(AuthError::Malformed("page_id")))
        .transpose()?;
    Ok(FbPayload { user_id, issued_at, page_id, expires })
}

/// Verifies a `signed_request` of the company's own page tab: [`verify`], then the page. Any page
/// may add the app as a tab, and its visitors' requests are signed with our app secret too; only
/// those of `page_id` (configuration, `FB_PAGE_ID`) are ours to serve, and only that page's
/// anonymous visitors share the page-wide budget the throttle keeps for them. A request of no page
/// at all does not come from the tab either.
pub fn verify_for_page(
    signed_request: &str,
    secret: &Secret,
    page_id: &str,
    now: DateTime<Utc>,
    max_age: Option<Duration>,
) -> Result<FbPayload, AuthError> {
    let payload = verify(signed_request, secret, now, max_age)?;
    if payload.page_id.as_deref() != Some(page_id) {
        return Err(AuthError::WrongPage);
    }
    Ok(payload)
}

/// A `signed_request` for this payload, as Facebook would build it. For demo and tests.
pub fn sign(payload: &serde_json::Value, secret: &Secret) -> String {
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signature = hmac_sha256(secret, body.as_bytes()).finalize().into_bytes();
    format!("{}.{body}", URL_SAFE_NO_PAD.encode(signature))
}

#[derive(Deserialize)]
struct RawPayload {
    algorithm: Option<String>,
    issued_at: Option<i64>,
    user_id: Option<LenientId>,
    page: Option<RawPage>,
    expires: Option<i64>,
}

#[derive(Deserialize)]
struct RawPage {
    id: Option<LenientId>,
}

/// Ids are strings in live payloads and numbers in some SDK fixtures.
#[derive(Deserialize)]
#[serde(untagged)]
enum LenientId {
    Text(String),
    Number(u64),
}

impl LenientId {
    /// Ids end up in throttle keys and records: digits only.
    fn into_digits(self) -> Option<String> {
        let text = match self {
            Self::Text(text) => text,
            Self::Number(number) => number.to_string(),
        };
        let plausible = !text.is_empty() && text.len() <= 32;
        (plausible && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const SECRET: &str = "foo_app_secret";
    /// The published example from Facebook's official PHP SDK tests.
    const PUBLISHED: &str = "6Hi26ECjkj347belC0O8b8H5lwiIz5eA6V9VVjTg-HU=.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MzIxLCJvYXV0aF90b2tlbiI6ImZvb190b2tlbiIsInVzZXJfaWQiOiIxMjMiLCJwYWdlIjp7ImlkIjoiNDIiLCJsaWtlZCI6dHJ1ZSwiYWRtaW4iOmZhbHNlfX0=";
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

    fn tab_payload(issued_at: i64) -> serde_json::Value {
        json!({
            "algorithm": "HMAC-SHA256",
            "issued_at": issued_at,
            "user_id": "100012345678",
            "page": {"id": "42", "liked": false, "admin": false},
        })
    }

    #[test]
    fn the_published_example_verifies() {
        let payload = verify(PUBLISHED, &secret(), at(NOW), None).expect("published example");
        assert_eq!(
            payload,
            FbPayload { user_id: Some("123".into()), issued_at: 321, page_id: Some("42".into()), expires: None }
        );
        assert_eq!(payload.caller_id(), CallerId::Facebook("123".into()));
    }

    #[test]
    fn padding_on_either_segment_is_optional_for_the_signature() {
        let (signature, payload) = PUBLISHED.split_once('.').expect("two segments");
        let unpadded = format!("{}.{payload}", signature.trim_end_matches('='));
        assert!(verify(&unpadded, &secret(), at(NOW), None).is_ok());
    }

    #[test]
    fn a_changed_byte_anywhere_is_refused() {
        for (i, original) in PUBLISHED.char_indices() {
            let replacement = if original == 'A' { 'B' } else { 'A' };
            let mut tampered = PUBLISHED.to_string();
            tampered.replace_range(i..i + 1, &replacement.to_string());
            assert!(verify(&tampered, &secret(), at(NOW), None).is_err(), "byte {i} changed: {tampered}");
        }
    }

    #[test]
    fn a_changed_payload_or_signature_is_a_bad_signature() {
        let (signature, payload) = PUBLISHED.split_once('.').expect("two segments");
        // Someone else's user id, re-encoded: the signature no longer covers it.
        let forged_json = br#"{"algorithm":"HMAC-SHA256","issued_at":321,"user_id":"124"}"#;
        let forged = format!("{signature}.{}", URL_SAFE_NO_PAD.encode(forged_json));
        assert_eq!(verify(&forged, &secret(), at(NOW), None), Err(AuthError::BadSignature));
        // Stripping the payload's padding changes the signed bytes.
        let unpadded = format!("{signature}.{}", payload.trim_end_matches('='));
        assert_eq!(verify(&unpadded, &secret(), at(NOW), None), Err(AuthError::BadSignature));
        let wrong_secret: Secret = "bar_app_secret".into();
        assert_eq!(verify(PUBLISHED, &wrong_secret, at(NOW), None), Err(AuthError::BadSignature));
        let short = format!("{}.{payload}", URL_SAFE_NO_PAD.encode([0u8; 16]));
        assert_eq!(verify(&short, &secret(), at(NOW), None), Err(AuthError::BadSignature));
    }

    #[test]
    fn freshness_of_issued_at() {
        let check = |issued_at: i64| {
            let request = sign(&tab_payload(issued_at), &secret());
            verify(&request, &secret(), at(NOW), hour()).map(|p| p.issued_at)
        };
        assert_eq!(check(NOW - 3600), Ok(NOW - 3600));
        assert_eq!(check(NOW - 3601), Err(AuthError::Stale));
        assert_eq!(check(NOW + 60), Ok(NOW + 60));
        assert_eq!(check(NOW + 61), Err(AuthError::FromTheFuture));
        assert_eq!(verify(PUBLISHED, &secret(), at(NOW), hour()), Err(AuthError::Stale));
    }

    #[test]
    fn a_passed_expiry_is_refused_even_with_freshness_off() {
        let mut payload = tab_payload(NOW - 10);
        payload["expires"] = json!(NOW);
        let request = sign(&payload, &secret());
        assert_eq!(verify(&request, &secret(), at(NOW), None), Err(AuthError::Expired));

        payload["expires"] = json!(NOW + 1);
        let request = sign(&payload, &secret());
        let verified = verify(&request, &secret(), at(NOW), hour()).expect("not yet expired");
        assert_eq!(verified.expires, Some(NOW + 1));

        payload["expires"] = json!(0);
        let request = sign(&payload, &secret());
        let verified = verify(&request, &secret(), at(NOW), hour()).expect("never expires");
        assert_eq!(verified.expires, None);
    }

    #[test]
    fn only_hmac_sha256_is_accepted() {
        for algorithm in [json!("HMAC-SHA1"), json!("hmac-sha256"), json!(null), json!(256)] {
            let mut payload = tab_payload(NOW);
            payload["algorithm"] = algorithm.clone();
            let request = sign(&payload, &secret());
            let result = verify(&request, &secret(), at(NOW), hour());
            assert!(
                matches!(result, Err(AuthError::UnsupportedAlgorithm | AuthError::Malformed("payload"))),
                "{algorithm}: {result:?}"
            );
        }
        let mut payload = tab_payload(NOW);
        payload["algorithm"] = json!("HMAC-SHA1");
        let request = sign(&payload, &secret());
        assert_eq!(verify(&request, &secret(), at(NOW), hour()), Err(AuthError::UnsupportedAlgorithm));
        let mut payload = tab_payload(NOW);
        payload.as_object_mut().expect("object").remove("algorithm");
        let request = sign(&payload, &secret());
        assert_eq!(verify(&request, &secret(), at(NOW), hour()), Err(AuthError::UnsupportedAlgorithm));
    }

    #[test]
    fn garbage_and_non_objects_are_malformed() {
        assert_eq!(verify("no-separator", &secret(), at(NOW), None), Err(AuthError::Malformed("signed_request")));
        assert_eq!(verify("!!!.???", &secret(), at(NOW), None), Err(AuthError::Malformed("base64")));
        // Correctly signed, but the payload segment is not base64url.
        let body = "not*base64";
        let signature = hmac_sha256(&secret(), body.as_bytes()).finalize().into_bytes();
        let request = format!("{}.{body}", URL_SAFE_NO_PAD.encode(signature));
        assert_eq!(verify(&request, &secret(), at(NOW), None), Err(AuthError::Malformed("base64")));

        for payload in [json!(["HMAC-SHA256", 321, "123", null, null]), json!("HMAC-SHA256"), json!(42), json!(null)] {
            let request = sign(&payload, &secret());
            assert_eq!(verify(&request, &secret(), at(NOW), None), Err(AuthError::Malformed("payload")), "{payload}");
        }
        let not_json = {
            let body = URL_SAFE_NO_PAD.encode("{\"algorithm\":");
            let signature = hmac_sha256(&secret(), body.as_bytes()).finalize().into_bytes();
            format!("{}.{body}", URL_SAFE_NO_PAD.encode(signature))
        };
        assert_eq!(verify(&not_json, &secret(), at(NOW), None), Err(AuthError::Malformed("payload")));
    }

    #[test]
    fn issued_at_is_required() {
        let mut payload = tab_payload(NOW);
        payload.as_object_mut().expect("object").remove("issued_at");
        let request = sign(&payload, &secret());
        assert_eq!(verify(&request, &secret(), at(NOW), None), Err(AuthError::Malformed("issued_at")));
    }

    #[test]
    fn user_ids_are_read_leniently_but_must_be_digits() {
        let mut payload = tab_payload(NOW);
        payload["user_id"] = json!(100012345678u64);
        let request = sign(&payload, &secret());
        let verified = verify(&request, &secret(), at(NOW), hour()).expect("numeric id");
        assert_eq!(verified.user_id.as_deref(), Some("100012345678"));

        for bad in [json!("page:42:anon"), json!(""), json!(-1), json!(true)] {
            payload["user_id"] = bad.clone();
            let request = sign(&payload, &secret());
            let result = verify(&request, &secret(), at(NOW), hour());
            assert!(matches!(result, Err(AuthError::Malformed("user_id" | "payload"))), "{bad}: {result:?}");
        }
    }

    #[test]
    fn a_visitor_who_never_authorised_the_app_is_served_as_the_pages_anonymous_caller() {
        let mut payload = tab_payload(NOW);
        payload.as_object_mut().expect("object").remove("user_id");
        let request = sign(&payload, &secret());
        let verified = verify(&request, &secret(), at(NOW), hour()).expect("visitors are served");
        let caller = verified.caller_id();
        assert_eq!(caller.to_string(), "fb:page:42:anon");
        assert!(caller.is_anonymous());

        // Reloading the tab yields a new signed_request but the same identity.
        let reloaded = sign(
            &{
                let mut p = payload.clone();
                p["issued_at"] = json!(NOW - 5);
                p
            },
            &secret(),
        );
        let again = verify(&reloaded, &secret(), at(NOW), hour()).expect("verifies");
        assert_eq!(again.caller_id(), caller);

        payload["user_id"] = json!(null);
        payload.as_object_mut().expect("object").remove("page");
        let request = sign(&payload, &secret());
        let outside_a_page = verify(&request, &secret(), at(NOW), hour()).expect("verifies");
        assert_eq!(outside_a_page.caller_id().to_string(), "fb:anon");
        assert!(outside_a_page.caller_id().is_anonymous());
    }

    #[test]
    fn a_signed_request_of_another_page_or_of_none_is_not_our_tab() {
        let ours = sign(&tab_payload(NOW), &secret());
        let verified = verify_for_page(&ours, &secret(), "42", at(NOW), hour()).expect("our page");
        assert_eq!(verified.page_id.as_deref(), Some("42"));

        let mut other = tab_payload(NOW);
        other["page"]["id"] = json!("43");
        let other = sign(&other, &secret());
        assert!(verify(&other, &secret(), at(NOW), hour()).is_ok(), "a good signature");
        assert_eq!(verify_for_page(&other, &secret(), "42", at(NOW), hour()), Err(AuthError::WrongPage));

        let mut none = tab_payload(NOW);
        none.as_object_mut().expect("object").remove("page");
        let none = sign(&none, &secret());
        assert_eq!(verify_for_page(&none, &secret(), "42", at(NOW), hour()), Err(AuthError::WrongPage));
        // A forged request stays a forgery whatever its page.
        let forged = format!("A{ours}");
        assert!(matches!(
            verify_for_page(&forged, &secret(), "42", at(NOW), hour()),
            Err(AuthError::BadSignature | AuthError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn verify_never_panics(request in "\\PC{0,400}") {
            let _ = verify(&request, &secret(), at(NOW), hour());
        }

        #[test]
        fn verify_never_panics_on_shaped_input(request in "[A-Za-z0-9_=-]{0,60}\\.[A-Za-z0-9_=-]{0,200}") {
            let _ = verify(&request, &secret(), at(NOW), hour());
        }

        #[test]
        fn sign_then_verify_round_trips(
            user in "[1-9][0-9]{0,17}",
            page in "[1-9][0-9]{0,17}",
            age in 0i64..=3600,
            app_data in "\\PC{0,40}",
        ) {
            let payload = json!({
                "algorithm": "HMAC-SHA256",
                "issued_at": NOW - age,
                "user_id": user,
                "page": {"id": page},
                "app_data": app_data,
            });
            let verified = verify(&sign(&payload, &secret()), &secret(), at(NOW), hour());
            prop_assert_eq!(
                verified.map(|p| (p.user_id, p.page_id)),
                Ok((Some(user.clone()), Some(page.clone())))
            );
        }
    }
}
