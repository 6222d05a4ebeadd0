//! Readings reminders: a verified VK user turns one for an account on or off (the
//! `/accounts/{account}/reminder` endpoints), and the scheduled send reminds each such user once
//! per month and kind (`domain::reminder_day`) through VK, in batches VK takes.

use crate::domain::reminder_day::{self, ReminderKind};
use crate::domain::{AccountNumber, CallerId, YearMonth};
use crate::ports::StoreError;
use crate::ports::readings::ReadingsExport;
use crate::ports::reminders::{MAX_ACCOUNTS, ReminderSubscriptions, Subscribed};
use crate::vk::notifications::MIN_CALL_INTERVAL;
use crate::vk::{MAX_USERS_PER_CALL, UserStatus, VkApiError, VkNotifier};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    /// Only a VK user can be reminded through VK.
    #[error("reminders are for VK users")]
    NotVk,
    /// The user has [`MAX_ACCOUNTS`] other accounts reminded already.
    #[error("too many accounts reminded")]
    TooManyAccounts,
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

fn vk_user(caller: &CallerId) -> Result<u64, ReminderError> {
    match caller {
        CallerId::Vk(id) => Ok(*id),
        CallerId::Facebook(_) => Err(ReminderError::NotVk),
    }
}

/// Whether `caller` is reminded of `account`.
pub async fn is_on<S: ReminderSubscriptions>(
    store: &S,
    caller: &CallerId,
    account: &AccountNumber,
) -> Result<bool, ReminderError> {
    let user = vk_user(caller)?;
    Ok(store.reminded_accounts(user).await?.contains(account))
}

/// Turns `caller`'s reminder for `account` on; on already is no error.
pub async fn turn_on<S: ReminderSubscriptions>(
    store: &S,
    caller: &CallerId,
    account: &AccountNumber,
) -> Result<(), ReminderError> {
    let user = vk_user(caller)?;
    match store.subscribe(user, account, MAX_ACCOUNTS).await? {
        Subscribed::On => Ok(()),
        Subscribed::LimitReached => Err(ReminderError::TooManyAccounts),
    }
}

/// Turns `caller`'s reminder for `account` off; off already is no error.
pub async fn turn_off<S: ReminderSubscriptions>(
    store: &S,
    caller: &CallerId,
    account: &AccountNumber,
) -> Result<(), ReminderError> {
    let user = vk_user(caller)?;
    store.unsubscribe(user, account).await?;
    Ok(())
}

/// What one scheduled run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReport {
    /// `opening` / `closing`; absent on a day with no reminder.
    pub kind: Option<&'static str>,
    pub month: Option<String>,
    pub subscribers: usize,
    /// Closing day: every reminded account has readings this month.
    pub skipped_with_readings: usize,
    /// Reminded already by an earlier run.
    pub already_sent: usize,
    pub sent: usize,
    /// VK refused the user (notifications not allowed, say): not tried again.
    pub refused: usize,
    /// Not sent because VK could not be reached; their marks are taken back for the next run.
    pub failed: usize,
    pub calls: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("VK: {0}")]
    Vk(#[from] VkApiError),
}

/// The reminder due at `now`, if any, to every user who asked for it and was not sent it yet this
/// month. A user is marked (conditionally) before the call that reminds them, so two runs at once
/// or a retried run never remind anyone twice; a call VK could not take gives its users' marks
/// back and the run fails, for the scheduler to run it again.
pub async fn send_due<S>(store: &S, vk: &VkNotifier, now: DateTime<Utc>) -> Result<SendReport, SendError>
where
    S: ReminderSubscriptions + ReadingsExport + Sync,
{
    let Some((kind, month)) = reminder_day::reminder_due(now) else {
        return Ok(SendReport::default());
    };
    let mut report = SendReport { kind: Some(kind.as_str()), month: Some(month.to_string()), ..SendReport::default() };
    let subscribers = store.subscribers().await?;
    report.subscribers = subscribers.len();
    let handed_in =
        if kind.only_without_readings() { accounts_with_readings(store, month).await? } else { HashSet::new() };
    let mut due = Vec::new();
    for subscriber in subscribers {
        if kind.only_without_readings() && subscriber.accounts.iter().all(|a| handed_in.contains(a.digits())) {
            report.skipped_with_readings += 1;
            continue;
        }
        if store.claim_sent(subscriber.vk_user, month, kind).await? {
            due.push(subscriber.vk_user);
        } else {
            report.already_sent += 1;
        }
    }
    let mut last_failure = None;
    for (index, batch) in due.chunks(MAX_USERS_PER_CALL).enumerate() {
        if index > 0 {
            tokio::time::sleep(MIN_CALL_INTERVAL).await;
        }
        report.calls += 1;
        match vk.send(batch, kind.message(), random_id(month, kind, batch)).await {
            Ok(statuses) => tally(&mut report, batch, &statuses),
            Err(e) => {
                tracing::error!(error = %e, users = batch.len(), "readings reminders not sent; marks given back");
                for user in batch {
                    store.release_sent(*user, month, kind).await?;
                }
                report.failed += batch.len();
                last_failure = Some(e);
            }
        }
    }
    tracing::info!(?report, "readings reminders run");
    match last_failure {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}

fn tally(report: &mut SendReport, batch: &[u64], statuses: &[UserStatus]) {
    for status in statuses {
        match status {
            UserStatus::Sent(_) => report.sent += 1,
            UserStatus::Refused { user, code, .. } => {
                tracing::info!(user, code, "VK refused a readings reminder to this user");
                report.refused += 1;
            }
        }
    }
    // A user VK's answer leaves out was neither sent nor refused that we know of; the mark stays,
    // since reminding twice is worse than once not at all.
    let answered = statuses.len();
    if answered < batch.len() {
        tracing::warn!(missing = batch.len() - answered, "VK's answer left users out");
    }
}

/// The same batch of the same month's reminder gets the same id on every attempt and every run.
fn random_id(month: YearMonth, kind: ReminderKind, batch: &[u64]) -> u32 {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(format!("{month}#{}#", kind.as_str()));
    for user in batch {
        hash.update(user.to_le_bytes());
    }
    let digest = hash.finalize();
    // VK takes a signed 32-bit id; a positive one is kept.
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff
}

async fn accounts_with_readings<S: ReadingsExport>(store: &S, month: YearMonth) -> Result<HashSet<String>, StoreError> {
    let mut accounts = HashSet::new();
    let mut after = None;
    loop {
        let page = store.readings_of_month(month, true, 500, after).await?;
        accounts.extend(page.readings.iter().map(|r| r.account.digits().to_owned()));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(accounts),
        }
    }
}
