//! The acquirer's answers the client reads: `Init`, `GetState`, `CheckOrder` and `Cancel` bodies.
//!
//! Properties, beyond "never panics": amounts are the integer kopecks the bank wrote; payment ids
//! are never empty; a status reads back to the text it came as; `CheckOrder`'s paid attempt is a
//! `CONFIRMED` one and exists whenever one does.
#![no_main]

use energosbyt::acquirer::{CancelResponse, InitResponse, OrderState, PaymentState, PaymentStatus};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // serde also reads a struct from an array, by position: fields are compared by name only when
    // the body is an object.
    let object = serde_json::from_slice::<Value>(data).ok().filter(Value::is_object);
    let field = |key: &str| object.as_ref().map(|o| o.get(key).cloned());

    if let Ok(init) = serde_json::from_slice::<InitResponse>(data) {
        assert!(!init.payment_id.as_str().is_empty());
        check_status(&init.status);
        check_kopecks(init.amount.kopecks(), field("Amount"));
    }
    if let Ok(state) = serde_json::from_slice::<PaymentState>(data) {
        assert!(!state.payment_id.as_str().is_empty());
        check_status(&state.status);
        if let Some(amount) = state.amount {
            check_kopecks(amount.kopecks(), field("Amount"));
        }
    }
    if let Ok(order) = serde_json::from_slice::<OrderState>(data) {
        for payment in &order.payments {
            assert!(!payment.payment_id.as_str().is_empty());
            check_status(&payment.status);
        }
        let confirmed = order.payments.iter().find(|p| p.status == PaymentStatus::Confirmed);
        assert_eq!(order.paid(), confirmed);
        if let Some(paid) = order.paid() {
            assert!(paid.status.is_paid() && !paid.status.is_failed());
        }
    }
    if let Ok(cancel) = serde_json::from_slice::<CancelResponse>(data) {
        assert!(!cancel.payment_id.as_str().is_empty());
        check_status(&cancel.status);
        if let Some(amount) = cancel.new_amount {
            check_kopecks(amount.kopecks(), field("NewAmount"));
        }
    }
});

/// Known statuses print as the bank's text and parse back to themselves; none is both paid and
/// failed.
fn check_status(status: &PaymentStatus) {
    assert_eq!(&PaymentStatus::parse(status.as_str()), status);
    assert!(!(status.is_paid() && status.is_failed()));
    assert!(!(status.is_paid() && status.is_refund()));
}

/// The amount read is the integer the body carried (as a number or as a digit string). `raw` is
/// `None` for a body that is not an object.
fn check_kopecks(kopecks: i64, raw: Option<Option<Value>>) {
    let Some(raw) = raw else { return };
    let written = match raw {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    // Duplicate keys: the typed reader refuses them, `Value` keeps the last; only compare when the
    // body had the field once, which a successful typed read guarantees.
    assert_eq!(Some(kopecks), written);
}
