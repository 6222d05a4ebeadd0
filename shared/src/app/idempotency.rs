//! The idempotency rule (`Idempotency-Key`), with the semantics of Lambda Powertools' idempotency
//! utility:
//!
//! - a key is claimed per verified caller, with a fingerprint of the request's meaning;
//! - the same key and the same request while the first is running → [`Claim::InProgress`] (409);
//!   once it has finished → [`Claim::Replay`] of the recorded response (status and body);
//! - the same key with another request → [`Claim::Mismatch`] (422), for as long as the record lives;
//! - a claim is a lock with its own short expiry, so an attempt that crashed can be retried with the
//!   same key after it; records expire after a day (DynamoDB TTL on `expiresAt`).
//!
//! Beyond Powertools, a record remembers the resource its attempt works on (the payment id), and
//! [`Lease::release`] keeps that binding: a retry after an attempt whose outcome is unknown resumes
//! the same resource instead of starting a second one. [`Lease::forget`] drops the record when
//! nothing was left behind, so the key is as good as new. The storage is behind
//! [`IdempotencyStore`]; this module decides and writes nothing itself.

use crate::domain::Payment;
use crate::ports::StoreError;
use crate::ports::idempotency::{
    Begin, IdempotencyError, IdempotencyRecord, IdempotencyScope, IdempotencyStore, InitAnswer, PaymentClaims,
    RecordState, RecordedResponse,
};
use chrono::{DateTime, Utc};

/// How long a lock and a record live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyPolicy {
    /// Longer than the function's own time limit, so a live attempt never loses its lock, and short
    /// enough that a customer whose attempt crashed can retry within a minute.
    pub lock_secs: i64,
    /// How long a key stays bound to its request and replays its response.
    pub keep_secs: i64,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self { lock_secs: 60, keep_secs: 24 * 60 * 60 }
    }
}

/// The outcome of [`claim`].
#[derive(Debug)]
pub enum Claim {
    /// Go ahead: this attempt holds the key.
    Acquired(Lease),
    /// The same request finished before: answer this again.
    Replay(RecordedResponse),
    /// The same request is running now.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// An attempt's hold on a key. End it with exactly one of [`Lease::complete`], [`Lease::release`]
/// or [`Lease::forget`]; a lease dropped without one expires with its lock.
#[derive(Debug)]
pub struct Lease {
    scope: IdempotencyScope,
    lock: String,
    /// What this attempt works on: the candidate given to [`claim`], or what an earlier attempt
    /// with the same request left bound to the key.
    pub resource: String,
    /// True when an earlier attempt with the same request held the key and did not finish: its
    /// resource may exist, in part.
    pub resumed: bool,
}

/// What a stored record means for a new request with `fingerprint` at `now` (unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Mismatch,
    Replay(RecordedResponse),
    InProgress,
    /// The earlier attempt's lock has expired: take over its lock `seen`.
    TakeOver {
        seen: String,
    },
}

fn judge(record: &IdempotencyRecord, fingerprint: &str, now: i64) -> Verdict {
    if record.fingerprint != fingerprint {
        return Verdict::Mismatch;
    }
    match &record.state {
        RecordState::Completed(response) => Verdict::Replay(response.clone()),
        RecordState::InProgress { locked_until, .. } if *locked_until >= now => Verdict::InProgress,
        RecordState::InProgress { lock, .. } => Verdict::TakeOver { seen: lock.clone() },
    }
}

/// Claims `scope` for a request with `fingerprint`. A fresh claim binds the candidate `payment` as
/// the resource to work on and writes it in the same request, so a fresh lease's payment exists; a
/// claim that takes over an abandoned attempt gets that attempt's resource, which may not.
pub async fn claim<S: PaymentClaims>(
    store: &S,
    scope: &IdempotencyScope,
    fingerprint: &str,
    payment: &Payment,
    now: DateTime<Utc>,
    policy: IdempotencyPolicy,
) -> Result<Claim, StoreError> {
    let candidate = payment.id.as_str();
    let now = now.timestamp();
    let lock = uuid::Uuid::new_v4().simple().to_string();
    let locked_until = now + policy.lock_secs;
    let record = IdempotencyRecord {
        fingerprint: fingerprint.to_owned(),
        resource: candidate.to_owned(),
        state: RecordState::InProgress { lock: lock.clone(), locked_until },
        expires_at: now + policy.keep_secs,
    };
    let lease = |resource: String, resumed| Lease { scope: scope.clone(), lock: lock.clone(), resource, resumed };
    let existing = match store.begin_with_payment(scope, &record, now, payment).await? {
        Begin::Created => return Ok(Claim::Acquired(lease(candidate.to_owned(), false))),
        Begin::Exists(existing) => existing,
    };
    Ok(match judge(&existing, fingerprint, now) {
        Verdict::Mismatch => Claim::Mismatch,
        Verdict::Replay(response) => Claim::Replay(response),
        Verdict::InProgress => Claim::InProgress,
        Verdict::TakeOver { seen } => {
            if store.take_over(scope, &seen, &lock, locked_until).await? {
                Claim::Acquired(lease(existing.resource, true))
            } else {
                // Another retry got there first.
                Claim::InProgress
            }
        }
    })
}

impl Lease {
    pub fn scope(&self) -> &IdempotencyScope {
        &self.scope
    }

    /// Works on another resource from now on (the first one turned out unusable).
    pub async fn rebind<S: IdempotencyStore>(&mut self, store: &S, resource: &str) -> Result<(), IdempotencyError> {
        store.rebind(&self.scope, &self.lock, resource).await?;
        resource.clone_into(&mut self.resource);
        Ok(())
    }

    /// The request is done: the response is replayed for the same key until the record expires.
    pub async fn complete<S: IdempotencyStore>(
        self,
        store: &S,
        response: &RecordedResponse,
        now: DateTime<Utc>,
        policy: IdempotencyPolicy,
    ) -> Result<(), IdempotencyError> {
        store.complete(&self.scope, &self.lock, response, now.timestamp() + policy.keep_secs).await
    }

    /// [`Lease::complete`], with the bank's answer to `Init` recorded on the payment in the same
    /// request. On an error nothing was written and the lease comes back, to end it otherwise.
    pub async fn complete_with_init<S: PaymentClaims>(
        self,
        store: &S,
        response: &RecordedResponse,
        now: DateTime<Utc>,
        policy: IdempotencyPolicy,
        init: &InitAnswer,
    ) -> Result<(), (Self, IdempotencyError)> {
        let expires_at = now.timestamp() + policy.keep_secs;
        match store.complete_with_init(&self.scope, &self.lock, response, expires_at, init).await {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }

    /// The outcome is unknown: a retry with the same key may start at once and resumes this
    /// attempt's resource.
    pub async fn release<S: IdempotencyStore>(self, store: &S) -> Result<(), IdempotencyError> {
        store.release(&self.scope, &self.lock).await
    }

    /// Nothing was left behind: the key is free again.
    pub async fn forget<S: IdempotencyStore>(self, store: &S) -> Result<(), IdempotencyError> {
        store.forget(&self.scope, &self.lock).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fingerprint: &str, state: RecordState) -> IdempotencyRecord {
        IdempotencyRecord { fingerprint: fingerprint.into(), resource: "p1".into(), state, expires_at: 2_000 }
    }

    fn in_progress(locked_until: i64) -> RecordState {
        RecordState::InProgress { lock: "l1".into(), locked_until }
    }

    #[test]
    fn a_key_reused_for_another_request_is_a_mismatch_whatever_its_state() {
        let done = RecordState::Completed(RecordedResponse { status: 201, body: "{}".into() });
        for state in [in_progress(1_100), in_progress(900), done] {
            assert_eq!(judge(&record("a", state), "b", 1_000), Verdict::Mismatch);
        }
    }

    #[test]
    fn the_same_request_replays_when_done_waits_while_locked_and_takes_over_an_expired_lock() {
        let response = RecordedResponse { status: 201, body: r#"{"paymentId":"x"}"#.into() };
        assert_eq!(
            judge(&record("a", RecordState::Completed(response.clone())), "a", 1_000),
            Verdict::Replay(response)
        );
        assert_eq!(judge(&record("a", in_progress(1_000)), "a", 1_000), Verdict::InProgress);
        assert_eq!(judge(&record("a", in_progress(999)), "a", 1_000), Verdict::TakeOver { seen: "l1".into() });
    }
}
