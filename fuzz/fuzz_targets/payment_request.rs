//! The body of `POST /payments`: `PaymentRequest::from_json`.
//!
//! Properties, beyond "never panics":
//! - an accepted amount is positive, has at most two decimals and lies within the limits;
//! - an accepted account number and email are in their canonical forms (they re-parse to
//!   themselves);
//! - an accepted request written back canonically — fields in another order, the account in its
//!   other printed form, the amount as a JSON number — reads as the same request with the same
//!   fingerprint;
//! - a body that is not JSON is named so, and an oversize body is refused by its size alone.
#![no_main]

use energosbyt::domain::email::Email;
use energosbyt::domain::payment_request::{MAX_BODY_BYTES, PaymentLimits, PaymentRequest, PaymentRequestError};
use energosbyt::domain::{AccountNumber, Money};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // PAYMENT_MIN and PAYMENT_MAX of the demo settings.
    let limits = PaymentLimits::new(Money::from_kopecks(100), Money::from_kopecks(50_000_000)).expect("valid limits");
    let verdict = PaymentRequest::from_json(data, &limits);
    if data.len() > MAX_BODY_BYTES {
        assert_eq!(verdict, Err(PaymentRequestError::TooLarge));
        return;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if value.is_object() {
            assert_ne!(verdict, Err(PaymentRequestError::NotJson));
        } else {
            assert_eq!(verdict, Err(PaymentRequestError::NotAnObject));
        }
    }
    let Ok(request) = verdict else { return };

    let amount = request.amount;
    assert!(amount.is_positive() && limits.min <= amount && amount <= limits.max, "{amount:?}");
    let printed = amount.to_string();
    assert_eq!(printed.split_once('.').map(|(_, kopecks)| kopecks.len()), Some(2), "{printed}");
    assert_eq!(printed.parse::<Money>(), Ok(amount));
    assert_eq!(request.account.to_string().parse::<AccountNumber>(), Ok(request.account));
    assert_eq!(Email::parse(request.email.expose()).as_ref(), Ok(&request.email));
    let fingerprint = request.fingerprint();
    assert!(fingerprint.len() == 64 && fingerprint.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));

    let readings_id = request.readings_id.as_ref().map(|id| id.as_str());
    let canonical = json!({
        "readingsId": readings_id,
        "email": request.email.expose(),
        "amount": printed,
        "account": request.account.digits(),
    });
    let again = PaymentRequest::from_json(canonical.to_string().as_bytes(), &limits);
    assert_eq!(again.as_ref(), Ok(&request), "{canonical}");
    assert_eq!(again.map(|r| r.fingerprint()).as_deref(), Ok(fingerprint.as_str()));

    // The amount as a JSON number, written exactly as printed.
    let email = serde_json::to_string(request.email.expose()).expect("a string serialises");
    let numeric = format!(r#"{{"account":"{}","amount":{printed},"email":{email}}}"#, request.account);
    let again = PaymentRequest::from_json(numeric.as_bytes(), &limits).expect("the same request, amount as a number");
    assert_eq!((again.account, again.amount, &again.email), (request.account, request.amount, &request.email));
});
