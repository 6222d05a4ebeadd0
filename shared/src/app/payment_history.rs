//! "Мои платежи": the verified caller's own payments of the last 24 months, newest first, a page
//! at a time behind an opaque cursor. Only a caller who is one person may list: an anonymous
//! Facebook visitor's id is shared by every such visitor of the page, so it is refused.

use crate::domain::{CallerId, PaymentId};
use crate::ports::history::{HistoryPage, HistoryPosition, PaymentHistoryReader};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Months, Utc};

/// How far back the list goes.
pub const MONTHS_BACK: u32 = 24;
/// Payments per page unless the caller asks for fewer.
pub const PAGE_SIZE: u16 = 20;
pub const MAX_PAGE_SIZE: u16 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A Facebook visitor who never authorised the app: no one person to list payments for.
    #[error("anonymous caller")]
    Anonymous,
    /// A cursor this service did not hand out.
    #[error("malformed cursor")]
    BadCursor,
    /// A page size outside 1..=50.
    #[error("page size out of range")]
    BadLimit,
    /// Our own fault (the store): logged here.
    #[error("unavailable")]
    Unavailable,
}

/// Where the next page starts, as the client carries it: opaque, URL-safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub HistoryPosition);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.0.created_at.timestamp_millis(), self.0.id))
    }

    pub fn decode(text: &str) -> Result<Self, HistoryError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| HistoryError::BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| HistoryError::BadCursor)?;
        let (millis, id) = text.split_once('.').ok_or(HistoryError::BadCursor)?;
        let millis: i64 = millis.parse().map_err(|_| HistoryError::BadCursor)?;
        let created_at = DateTime::<Utc>::from_timestamp_millis(millis).ok_or(HistoryError::BadCursor)?;
        let id: PaymentId = id.parse().map_err(|_| HistoryError::BadCursor)?;
        Ok(Self(HistoryPosition { created_at, id }))
    }
}

/// The first moment the list reaches back to from `now`.
pub fn since(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(MONTHS_BACK)).unwrap_or(now)
}

/// One page of `caller`'s payments: `cursor` as a previous page handed it out, `limit` as asked.
pub async fn list<S: PaymentHistoryReader + Sync>(
    store: &S,
    caller: &CallerId,
    cursor: Option<&str>,
    limit: Option<u16>,
    now: DateTime<Utc>,
) -> Result<HistoryPage, HistoryError> {
    if caller.is_anonymous() {
        tracing::info!("payment history asked by an anonymous visitor");
        return Err(HistoryError::Anonymous);
    }
    let limit = limit.unwrap_or(PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(HistoryError::BadLimit);
    }
    let after = cursor.map(Cursor::decode).transpose()?;
    match store.payments_of(caller, since(now), after.as_ref().map(|c| &c.0), limit).await {
        Ok(page) => {
            tracing::info!(listed = page.payments.len(), more = page.next.is_some(), "payment history shown");
            Ok(page)
        }
        Err(e) => {
            tracing::error!(error = %e, "payment history read failed");
            Err(HistoryError::Unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn given_a_position_when_its_cursor_is_read_back_then_it_is_the_same_position() {
        let position = HistoryPosition { created_at: at("2026-11-25T09:42:00.123Z"), id: PaymentId::random() };
        let text = Cursor(position.clone()).encode();
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "URL-safe: {text}");
        assert_eq!(Cursor::decode(&text).unwrap().0, position);
    }

    #[test]
    fn given_text_we_never_handed_out_when_read_as_a_cursor_then_it_is_refused() {
        for text in [
            "",
            "!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("123.not-an-id"),
            &URL_SAFE_NO_PAD.encode("x.0f8fad5bd9cb469fa16570867728950e"),
        ] {
            assert_eq!(Cursor::decode(text), Err(HistoryError::BadCursor), "{text:?}");
        }
    }

    #[test]
    fn given_a_day_when_the_list_reaches_back_then_it_is_24_months_earlier() {
        assert_eq!(since(at("2026-12-06T21:00:00Z")), at("2024-12-06T21:00:00Z"));
        // The end of a longer month falls on the last day of the shorter one.
        assert_eq!(since(at("2026-02-28T10:00:00Z")), at("2024-02-28T10:00:00Z"));
    }
}
