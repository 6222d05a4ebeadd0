//! Facebook's `signed_request`: `edge::auth::facebook::verify`.
//!
//! The input is tried twice: as a whole `signed_request`, and as the JSON payload of one signed
//! with the app secret here (so the fuzzer explores what comes after the signature check).
//!
//! Properties, beyond "never panics":
//! - a payload signed with the app secret never fails as a bad signature or bad base64, padded
//!   or not; signed with another secret it always does;
//! - a verified payload holds exactly what its JSON says, within the freshness window, and is
//!   anonymous exactly when it carries no user id;
//! - a verified `signed_request` re-signed with the same secret verifies again, identically.
#![no_main]

use chrono::Duration;
use energosbyt::edge::auth::facebook::{self, FbPayload};
use energosbyt::edge::auth::{AuthError, DEFAULT_MAX_AGE, MAX_CREDENTIALS_LEN, Secret};
use energosbyt_fuzz::{FB_APP_SECRET, NOW, facebook_signed_request, now};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let secret = Secret::from(FB_APP_SECRET);
    let verify =
        |request: &str, secret: &Secret, max_age: Option<Duration>| facebook::verify(request, secret, now(), max_age);

    if let Ok(request) = std::str::from_utf8(data)
        && let Ok(payload) = verify(request, &secret, Some(DEFAULT_MAX_AGE))
    {
        let (_, segment) = request.split_once('.').expect("a verified request has two segments");
        let json = base64::Engine::decode(&URL_SAFE_ANY, segment).expect("a verified payload decodes");
        let resigned = facebook_signed_request(&json, FB_APP_SECRET);
        if resigned.len() <= MAX_CREDENTIALS_LEN {
            assert_eq!(verify(&resigned, &secret, Some(DEFAULT_MAX_AGE)), Ok(payload));
        }
    }

    let request = facebook_signed_request(data, FB_APP_SECRET);
    if request.len() > MAX_CREDENTIALS_LEN {
        assert_eq!(verify(&request, &secret, None), Err(AuthError::Malformed("oversize")));
        return;
    }
    let verdict = verify(&request, &secret, Some(DEFAULT_MAX_AGE));
    assert!(
        !matches!(verdict, Err(AuthError::BadSignature | AuthError::Malformed("base64" | "signed_request"))),
        "a correctly signed request was refused: {verdict:?}"
    );
    let (signature, segment) = request.split_once('.').expect("two segments");
    let padded = format!("{signature}=.{segment}");
    if padded.len() <= MAX_CREDENTIALS_LEN {
        assert_eq!(verify(&padded, &secret, Some(DEFAULT_MAX_AGE)), verdict, "signature padding matters");
    }
    let other = Secret::from(format!("{FB_APP_SECRET}x"));
    assert_eq!(verify(&request, &other, Some(DEFAULT_MAX_AGE)), Err(AuthError::BadSignature));

    if let Ok(payload) = verdict {
        check_payload(&payload, data);
        assert_eq!(verify(&request, &secret, None), Ok(payload));
    }
});

const URL_SAFE_ANY: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The verified payload is what its JSON says.
fn check_payload(payload: &FbPayload, json: &[u8]) {
    // A number beyond f64 or a lone surrogate in a field the verifier skips: not a `Value`.
    let Ok(value) = serde_json::from_slice::<Value>(json) else { return };
    assert_eq!(value["algorithm"], "HMAC-SHA256");
    assert_eq!(value["issued_at"].as_i64(), Some(payload.issued_at));
    assert!((NOW - 3600..=NOW + 60).contains(&payload.issued_at));
    let id_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    assert_eq!(payload.user_id, id_text(&value["user_id"]));
    assert_eq!(payload.page_id, id_text(&value["page"]["id"]));
    for id in payload.user_id.iter().chain(&payload.page_id) {
        assert!(!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    }
    match value["expires"].as_i64() {
        None | Some(0) => assert_eq!(payload.expires, None),
        Some(at) => {
            assert_eq!(payload.expires, Some(at));
            assert!(at > NOW, "an expired session was accepted");
        }
    }
    assert_eq!(payload.caller_id().is_anonymous(), payload.user_id.is_none());
}
