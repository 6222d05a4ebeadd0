//! The problems of `GET` and `POST /payments/{id}/receipt`, each mapped once.

use super::Problem;
use crate::app::receipt_copy::{COPIES_PER_DAY, ReceiptCopyError};
use http::StatusCode;

impl From<ReceiptCopyError> for Problem {
    fn from(e: ReceiptCopyError) -> Self {
        match e {
            ReceiptCopyError::NotFound => Problem::payment_not_found(),
            ReceiptCopyError::NotIssued => Problem::new(
                StatusCode::CONFLICT,
                "receipt-not-issued",
                "Чек ещё не пришёл от банка: обычно он приходит в течение нескольких минут после оплаты",
            ),
            ReceiptCopyError::NoEmail => Problem::new(
                StatusCode::CONFLICT,
                "receipt-email-removed",
                "Адрес почты этого платежа уже удалён по сроку хранения: отправить чек некуда",
            ),
            ReceiptCopyError::TooManyCopies { retry_after_secs } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-receipt-copies",
                format!("Чек по этому платежу сегодня уже отправлен {COPIES_PER_DAY} раза. Попробуйте завтра"),
            )
            .retry_after(retry_after_secs),
            ReceiptCopyError::Unrenderable | ReceiptCopyError::Unavailable => Problem::unavailable(),
        }
    }
}
