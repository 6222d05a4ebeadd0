//! Key layout of the single table. Every key the service writes is built here.

use crate::domain::{AccountNumber, PaymentId};

pub const PROFILE: &str = "PROFILE";

pub fn account_pk(number: &AccountNumber) -> String {
    format!("ACCOUNT#{}", number.digits())
}

pub fn throttle_pk(key: &str, window_start: i64) -> String {
    format!("THROTTLE#{key}#{window_start}")
}

pub const PAYMENT: &str = "PAYMENT";

pub fn payment_pk(id: &PaymentId) -> String {
    format!("PAYMENT#{id}")
}
