//! The problems of `GET /payments` ("Мои платежи"), each mapped once.

use super::Problem;
use crate::app::payment_history::{HistoryError, MAX_PAGE_SIZE};
use http::StatusCode;

impl From<HistoryError> for Problem {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Anonymous => Problem::new(
                StatusCode::FORBIDDEN,
                "history-needs-sign-in",
                "Список платежей доступен после входа: разрешите приложению доступ к профилю",
            ),
            HistoryError::BadCursor => {
                Problem::bad_request("invalid-cursor", "Не удалось продолжить список: откройте его заново")
                    .with("field", "cursor")
            }
            HistoryError::BadLimit => {
                Problem::bad_request("invalid-limit", format!("Размер страницы — от 1 до {MAX_PAGE_SIZE}"))
                    .with("field", "limit")
            }
            HistoryError::Unavailable => Problem::unavailable(),
        }
    }
}
