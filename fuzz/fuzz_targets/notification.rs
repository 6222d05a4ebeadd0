//! The acquirer's webhook body: `verify_notification` (Token check, then typed reading).
//!
//! Properties, beyond "never panics":
//! - the Token the code computes equals the bank's published algorithm (`tbank_token`);
//! - the input signed with the terminal password passes the Token check whatever its shape, and a
//!   notification that reads keeps the fields it was sent (order, payment id, amount in kopecks);
//! - a verified notification re-serialised with the same fields (other order, canonical string
//!   escapes, no whitespace) verifies again to the same value;
//! - changing any signed root value of a verified body makes it fail as a Token mismatch.
#![no_main]

use energosbyt::acquirer::token::{self, TokenError};
use energosbyt::acquirer::{Notification, NotificationError, verify_notification};
use energosbyt_fuzz::{RootPairs, TBANK_PASSWORD, object, tbank_token};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };

    // As received: the Token step of `verify_notification` is exactly `token::verify`.
    let received = verify_notification(body, TBANK_PASSWORD);
    match &received {
        Err(NotificationError::Token(e)) => assert_eq!(token::verify(body, TBANK_PASSWORD), Err(e.clone())),
        _ => assert_eq!(token::verify(body, TBANK_PASSWORD), Ok(())),
    }

    let Some(pairs) = RootPairs::parse(body) else {
        assert_eq!(token::sign_json(body, TBANK_PASSWORD), Err(TokenError::NotAnObject));
        return;
    };
    if let Some(key) = pairs.duplicate() {
        assert_eq!(token::sign_json(body, TBANK_PASSWORD), Err(TokenError::DuplicateKey(key.to_owned())));
        return;
    }
    let signed_by_code = token::sign_json(body, TBANK_PASSWORD);
    let Some(expected) = tbank_token(&pairs, TBANK_PASSWORD) else {
        // A root string with no value to sign must not be left out of the signature silently.
        assert!(signed_by_code.is_err(), "a root value that cannot be signed was skipped: {signed_by_code:?}");
        return;
    };
    assert_eq!(signed_by_code.as_deref(), Ok(expected.as_str()), "Token differs from the published algorithm");

    // Signed as the bank signs: the input's members without its Token, then the Token.
    let quoted_token = format!("\"{expected}\"");
    let members: Vec<(&str, &str)> =
        pairs.0.iter().filter(|(k, _)| k != "Token").map(|(k, v)| (k.as_str(), v.get())).collect();
    let signed = object(members.iter().copied().chain([("Token", quoted_token.as_str())]));
    let notification = match verify_notification(&signed, TBANK_PASSWORD) {
        Err(NotificationError::Token(e)) => panic!("a correctly signed body failed its Token check: {e}"),
        Err(NotificationError::Shape(_)) => return,
        Ok(n) => n,
    };
    check_fields(&notification, &pairs);

    // The same fields, re-serialised: reversed order, strings re-escaped canonically.
    let canonical: Vec<(&str, String)> = members
        .iter()
        .rev()
        .map(|&(k, raw)| match serde_json::from_str::<Value>(raw) {
            Ok(Value::String(s)) => (k, serde_json::to_string(&s).expect("a string serialises")),
            _ => (k, raw.trim().to_owned()),
        })
        .collect();
    let reserialised =
        object([("Token", quoted_token.as_str())].into_iter().chain(canonical.iter().map(|(k, v)| (*k, v.as_str()))));
    assert_eq!(verify_notification(&reserialised, TBANK_PASSWORD).as_ref(), Ok(&notification), "{reserialised}");

    // Any signed value changed: the Token no longer matches.
    if let Some(index) = members.iter().position(|(k, raw)| *k != "Password" && tampered(raw).is_some()) {
        let changed = tampered(members[index].1).expect("checked above");
        let forged = object(
            members
                .iter()
                .enumerate()
                .map(|(i, &(k, v))| (k, if i == index { changed.as_str() } else { v }))
                .chain([("Token", quoted_token.as_str())]),
        );
        assert_eq!(
            verify_notification(&forged, TBANK_PASSWORD),
            Err(NotificationError::Token(TokenError::Mismatch)),
            "{forged}"
        );
    }
});

/// Another valid JSON text for a signed root value (a scalar other than null), if it is one.
fn tampered(raw: &str) -> Option<String> {
    let raw = raw.trim();
    match raw.as_bytes().first()? {
        b'{' | b'[' | b'n' => None,
        b't' => Some("false".to_owned()),
        b'f' => Some("true".to_owned()),
        // A string one character longer: `"abc"` → `"abcx"`.
        b'"' => Some(format!("{}x\"", &raw[..raw.len() - 1])),
        b'-' => Some(raw[1..].to_owned()),
        _ => Some(format!("-{raw}")),
    }
}

/// What the typed notification says is what the body said.
fn check_fields(notification: &Notification, pairs: &RootPairs<'_>) {
    let text = |key: &str| -> Option<String> {
        let raw = pairs.get(key)?.get().trim();
        match serde_json::from_str::<Value>(raw).ok()? {
            Value::String(s) => Some(s),
            // As written: a `PaymentId` of 20 digits is more than a float keeps.
            Value::Number(_) => Some(raw.to_owned()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    assert_eq!(Some(notification.order_id().to_owned()), text("OrderId"));
    assert_eq!(Some(notification.payment_id().as_str().to_owned()), text("PaymentId"));
    assert!(!notification.payment_id().as_str().is_empty());
    assert_eq!(Some(notification.terminal_key().to_owned()), text("TerminalKey"));
    let kopecks: Option<i64> = text("Amount").and_then(|t| t.parse().ok());
    assert_eq!(notification.amount().map(|amount| amount.kopecks()), kopecks, "Amount is whole kopecks, read exactly");
    match notification {
        Notification::Receipt(_) => assert_eq!(text("Status").as_deref(), Some("RECEIPT")),
        Notification::Payment(p) => {
            assert_ne!(text("Status").as_deref(), Some("RECEIPT"));
            assert_eq!(Some(p.status.as_str().to_owned()), text("Status"));
        }
    }
}
