//! Readings submission ("Оплатить по показаниям"): one meter's readings for this month, checked in
//! the order a customer fixes things in — who is asking (a page visitor who never logged in hands
//! in nothing), the account, the meter named and the number printed on it
//! (`app::meter_number_proof`), another user's submission of the month (`domain::readings_ownership`),
//! the readings rules (`domain::readings`), the price (`domain::charge`) — then stored once.
//! Answers the stored submission and what the account owes now, or a [`SubmissionError`] that
//! the readings function maps to HTTP; nothing here speaks HTTP.
//!
//! Every accepted submission is an answer, whether it is the month's first for the meter, a
//! replacement or a repeat: a repeat of the same figures (a retry after a timeout) gets the same
//! answer with nothing written. Only the verified user who handed it in replaces it, checked again
//! in the write itself.

use super::lookup::LookupError;
use super::meter_number_proof;
use super::tariff_cache::{self, TariffCache, TariffLoadError};
use crate::config::{ConfigError, Env};
use crate::domain::meter_number::TypedMeterNumber;
use crate::domain::readings;
use crate::domain::readings_ownership::Submitter;
use crate::domain::readings_window::moscow_date;
use crate::domain::year_month::billing_month;
use crate::domain::{
    AccountNumber, AmountDue, CallerId, Meter, MeterId, MeterRef, ReadingsError, ReadingsLimits, Submission,
    TariffError, charge::charge,
};
use crate::metrics::{self, Metric};
use crate::ports::readings::{AccountReadings, ReadingsWriter, SaveOutcome, SubmittedReadings, TariffReader};
use crate::ports::{RequestCounter, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The rules a deployment may tune, and the instance's cache of tariff tables.
pub struct ReadingsSettings {
    pub tariffs: TariffCache,
    pub limits: ReadingsLimits,
}

impl Default for ReadingsSettings {
    /// Tariffs cached for [`tariff_cache::DEFAULT_TTL`], the default plausible monthly usage.
    fn default() -> Self {
        Self { tariffs: TariffCache::new(tariff_cache::DEFAULT_TTL), limits: ReadingsLimits::default() }
    }
}

impl ReadingsSettings {
    /// `TARIFF_CACHE_SECS` (default 300, 0 = read every time) and `READINGS_MAX_KWH_PER_MONTH`
    /// (default 10000).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let mut settings = Self::default();
        let cache_secs = env.parse_or("TARIFF_CACHE_SECS", tariff_cache::DEFAULT_TTL.as_secs())?;
        settings.tariffs = TariffCache::new(Duration::from_secs(cache_secs));
        settings.limits.max_kwh_per_month =
            env.parse_or("READINGS_MAX_KWH_PER_MONTH", settings.limits.max_kwh_per_month)?;
        Ok(settings)
    }
}

/// What the customer sent, parsed.
#[derive(Debug)]
pub struct ReadingsInput {
    /// The number typed on the meter.
    pub meter_number: TypedMeterNumber,
    /// The meter it is meant for (the look-up's `ref`), when the client names one.
    pub meter_ref: Option<MeterRef>,
    pub submission: Submission,
}

/// Why a submission was refused. Each variant is answered once, by `edge::readings_problems`.
impl From<LookupError> for SubmissionError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::AccountNotFound => Self::AccountNotFound,
            LookupError::Unavailable => Self::Unavailable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmissionError {
    #[error("a page visitor who never logged in hands in no readings")]
    NeedsLogin,
    #[error("no such account")]
    AccountNotFound,
    #[error("the meter named is not on the account")]
    MeterNotFound,
    #[error("wrong meter number; {attempts_left} attempts left today")]
    MeterNumberWrong { attempts_left: u64 },
    #[error("the day's wrong meter numbers are spent")]
    MeterNumberAttemptsExhausted { retry_after_secs: u64 },
    #[error("another user handed this meter's readings in this month")]
    SubmittedByAnother,
    #[error(transparent)]
    Readings(#[from] ReadingsError),
    /// No price for the day, or stored prices that make no table.
    #[error(transparent)]
    Tariff(#[from] TariffError),
    /// Our own fault (the store): logged where it happened.
    #[error("unavailable")]
    Unavailable,
}

/// An accepted submission: as stored, the meter it is for, and the account's figures with it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub saved: SubmittedReadings,
    pub meter_ref: MeterRef,
    pub meter: Meter,
    pub due: AmountDue,
}

/// Who may hand readings in: a verified user, not a page's anonymous visitor.
pub fn submitter(caller: &CallerId) -> Result<Submitter, SubmissionError> {
    let submitter = Submitter::from(caller);
    if submitter.may_hand_in() {
        Ok(submitter)
    } else {
        tracing::info!("readings refused: a page visitor who never logged in");
        Err(SubmissionError::NeedsLogin)
    }
}

/// Checks, prices and stores `input` for the account `found` (read as a look-up reads it,
/// `app::lookup`).
pub async fn submit<S>(
    store: &S,
    settings: &ReadingsSettings,
    found: AccountReadings,
    input: &ReadingsInput,
    submitter: &Submitter,
    now: DateTime<Utc>,
) -> Result<Accepted, SubmissionError>
where
    S: ReadingsWriter + TariffReader + RequestCounter,
{
    let Some(caller) = submitter.caller() else {
        return Err(SubmissionError::NeedsLogin);
    };
    let account = &found.account;
    let number = account.number;
    if input.meter_ref.is_some_and(|named| named.of(&account.meters).is_none()) {
        tracing::info!(account = %number.masked(), "meter reference not on the account");
        return Err(SubmissionError::MeterNotFound);
    }
    // Meters this caller proved before: their own readings of them stand (this month's, or an
    // earlier month's not billed yet).
    let proved_before: Vec<&MeterId> = found
        .submitted
        .iter()
        .chain(&found.unbilled)
        .filter(|s| submitter.handed_in(&s.caller))
        .map(SubmittedReadings::meter_id)
        .collect();
    let (meter_ref, meter) = meter_number_proof::prove(
        store,
        &number,
        &account.meters,
        &input.meter_number,
        input.meter_ref,
        &proved_before,
        now,
    )
    .await?;

    let stored = found.for_meter(&meter.id);
    if stored.is_some_and(|stored| !submitter.handed_in(&stored.caller)) {
        tracing::info!(account = %number.masked(), "readings refused: handed in by another user this month");
        return Err(SubmissionError::SubmittedByAnother);
    }

    // An earlier month's figures the billing system has not billed yet are what this month's use
    // counts from: its bill will hold both, each once.
    let counting_from = found.counting_from(meter);
    let accepted =
        readings::validate(counting_from.as_ref().unwrap_or(meter), &input.submission, &settings.limits, now)
            .inspect_err(|e| {
                tracing::info!(account = %number.masked(), refusal = %e, "readings refused");
            })?;

    let tariffs = settings.tariffs.table(store, &account.tariff_group).await.map_err(|e| match e {
        TariffLoadError::Store(e) => store_fault(&e, &number),
        TariffLoadError::Invalid(e) => {
            tracing::error!(error = %e, "stored tariffs are inconsistent: fix them with energosbyt-admin import-tariffs");
            SubmissionError::Tariff(e)
        }
    })?;
    let bill = charge(&accepted, meter.zone_set, &account.tariff_group, &tariffs, moscow_date(now)).map_err(|e| {
        // The customer can only wait: the operator has to import the regulator's new prices.
        tracing::error!(error = %e, "no tariff for the submission's day: import it with energosbyt-admin import-tariffs");
        if matches!(e, TariffError::NotFound { .. }) {
            metrics::count(Metric::TariffMissing, 1);
        }
        SubmissionError::Tariff(e)
    })?;

    let month = billing_month(now);
    let submitted = SubmittedReadings::new(number, month, accepted, bill, caller.to_owned(), now);
    let outcome = match stored {
        // The figures are stored already: the request is a repeat, nothing to write.
        Some(stored) if stored.content_hash == submitted.content_hash => SaveOutcome::Unchanged(stored.clone()),
        _ => store.save_readings(&submitted).await.map_err(|e| store_fault(&e, &number))?,
    };
    let Some(saved) = outcome.readings() else {
        // Another user's submission landed between the read and the write.
        tracing::info!(account = %number.masked(), "readings refused: handed in by another user meanwhile");
        return Err(SubmissionError::SubmittedByAnother);
    };
    let saved = saved.clone();
    let meter = meter.clone();
    let due = found.with_saved(saved.clone()).amount_due();
    let outcome_name = match &outcome {
        SaveOutcome::Created(_) => "created",
        SaveOutcome::Replaced(_) => "replaced",
        SaveOutcome::Unchanged(_) | SaveOutcome::HandedInByAnother => "unchanged",
    };
    tracing::info!(
        account = %number.masked(),
        readings_id = %saved.readings_id,
        version = saved.version,
        outcome = outcome_name,
        "readings accepted"
    );
    Ok(Accepted { saved, meter_ref, meter, due })
}

fn store_fault(e: &StoreError, number: &AccountNumber) -> SubmissionError {
    tracing::error!(error = %e, account = %number.masked(), "store call failed");
    SubmissionError::Unavailable
}
