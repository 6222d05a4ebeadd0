//! The idempotency port: the `Idempotency-Key` a caller sends, the record kept under it, and the
//! conditional writes a store must offer ([`IdempotencyStore`]). What a record means for a new
//! request is decided in `app::idempotency`, never here.

use super::StoreError;
use crate::domain::{Payment, PaymentId};
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;

/// A caller-chosen `Idempotency-Key`: 1 to 128 printable ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("the Idempotency-Key header is missing")]
    Missing,
    #[error("an Idempotency-Key is 1 to {} printable ASCII characters", IdempotencyKey::MAX_LEN)]
    Malformed,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    /// From the header's raw bytes (`None` when absent). Surrounding spaces are not part of it.
    pub fn from_header(value: Option<&[u8]>) -> Result<Self, IdempotencyKeyError> {
        let raw = value.ok_or(IdempotencyKeyError::Missing)?;
        let text = std::str::from_utf8(raw).map_err(|_| IdempotencyKeyError::Malformed)?.trim();
        if text.is_empty() {
            return Err(IdempotencyKeyError::Missing);
        }
        if text.len() > Self::MAX_LEN || !text.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(IdempotencyKeyError::Malformed);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

/// A key as it is stored: keys are chosen by callers, so each caller has a namespace of its own
/// and one caller's key can neither replay nor block another's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyScope {
    pub caller: String,
    pub key: IdempotencyKey,
}

/// The answer recorded for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    /// An attempt holds the key. `lock` identifies it; past `locked_until` (unix seconds) it is
    /// presumed dead and another attempt with the same request may take over.
    InProgress {
        lock: String,
        locked_until: i64,
    },
    Completed(RecordedResponse),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// What the request meant ([`crate::domain::payment_request::PaymentRequest::fingerprint`]).
    pub fingerprint: String,
    /// What the attempt works on (a payment id); kept when the lock is released.
    pub resource: String,
    pub state: RecordState,
    /// Unix seconds; the store's TTL removes the record some time after.
    pub expires_at: i64,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The record was written: the key was free.
    Created,
    /// A live record holds the key; nothing was written.
    Exists(IdempotencyRecord),
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another attempt took the key over: this one ran past its lock and must stop writing.
    #[error("the idempotency lock was taken over by another attempt")]
    LockLost,
}

/// Storage of idempotency records. Every write is conditional, so two attempts never both win.
pub trait IdempotencyStore {
    /// Writes `record` unless a record that has not expired at `now` (unix seconds) holds the key.
    fn begin(
        &self,
        scope: &IdempotencyScope,
        record: &IdempotencyRecord,
        now: i64,
    ) -> impl Future<Output = Result<Begin, StoreError>> + Send;

    /// Replaces the in-progress lock `seen` with `lock` until `locked_until`; `false` when the
    /// record no longer holds `seen` (another attempt took over first, or it completed).
    fn take_over(
        &self,
        scope: &IdempotencyScope,
        seen: &str,
        lock: &str,
        locked_until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Binds another resource to the record held by `lock`.
    fn rebind(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
        resource: &str,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Records the final response of the attempt holding `lock`, kept until `expires_at`.
    fn complete(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
        response: &RecordedResponse,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Ends the lock at once, keeping the record (its fingerprint and resource) for a retry.
    fn release(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Deletes the record held by `lock`.
    fn forget(&self, scope: &IdempotencyScope, lock: &str)
    -> impl Future<Output = Result<(), IdempotencyError>> + Send;
}

/// The bank's answer to a payment's `Init`, as recorded on the payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitAnswer {
    pub payment: PaymentId,
    pub acquirer_payment_id: String,
    pub payment_url: String,
    pub at: DateTime<Utc>,
}

/// A payment's key claimed, and later completed, in the same all-or-nothing request as the
/// payment's own write: a new payment costs two writes where it would cost four, and a claim
/// never stands without its payment nor a payment without its claim.
pub trait PaymentClaims: IdempotencyStore {
    /// [`IdempotencyStore::begin`] with `record`, whose resource is `payment`; when the key is
    /// free, `payment` is written in the same request. [`Begin::Created`] means both were written.
    fn begin_with_payment(
        &self,
        scope: &IdempotencyScope,
        record: &IdempotencyRecord,
        now: i64,
        payment: &Payment,
    ) -> impl Future<Output = Result<Begin, StoreError>> + Send;

    /// [`IdempotencyStore::complete`], recording `init` on its payment in the same request
    /// (`PaymentWriter::record_init`). On an error neither was written.
    fn complete_with_init(
        &self,
        scope: &IdempotencyScope,
        lock: &str,
        response: &RecordedResponse,
        expires_at: i64,
        init: &InitAnswer,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_printable_ascii_of_1_to_128() {
        assert_eq!(IdempotencyKey::from_header(None), Err(IdempotencyKeyError::Missing));
        assert_eq!(IdempotencyKey::from_header(Some(b"  ")), Err(IdempotencyKeyError::Missing));
        assert_eq!(IdempotencyKey::from_header(Some(" k-1 ".as_bytes())).unwrap().as_str(), "k-1");
        assert!(IdempotencyKey::from_header(Some("a".repeat(128).as_bytes())).is_ok());
        for bad in ["a".repeat(129), "ключ".to_owned(), "a\u{7f}b".to_owned()] {
            assert_eq!(
                IdempotencyKey::from_header(Some(bad.as_bytes())),
                Err(IdempotencyKeyError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(IdempotencyKey::from_header(Some(b"\xff")), Err(IdempotencyKeyError::Malformed));
    }
}
