//! The problems of `POST /callbacks/tbank`, each mapped once. The bank reads only the status;
//! the titles are for whoever looks at its delivery log.

use super::Problem;
use http::StatusCode;

impl Problem {
    pub fn notification_malformed() -> Self {
        Problem::bad_request("notification-malformed", "Уведомление не разобрано: ожидается JSON эквайера")
    }

    pub fn notification_unsigned() -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "notification-unsigned", "Уведомление не подписано или подпись неверна")
    }

    pub fn notification_other_terminal() -> Self {
        Problem::new(StatusCode::FORBIDDEN, "notification-other-terminal", "Уведомление адресовано другому терминалу")
    }

    pub fn notification_too_large() -> Self {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "notification-too-large", "Уведомление слишком велико")
    }
}
