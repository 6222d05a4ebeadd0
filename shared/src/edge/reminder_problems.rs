//! The problems of `/accounts/{account}/reminder`, each mapped once.

use super::Problem;
use crate::app::reminders::ReminderError;
use crate::ports::reminders::MAX_ACCOUNTS;
use http::StatusCode;

impl From<ReminderError> for Problem {
    fn from(e: ReminderError) -> Self {
        match e {
            ReminderError::NotVk => Problem::new(
                StatusCode::FORBIDDEN,
                "reminders-need-vk",
                "Напоминания о показаниях приходят только во ВКонтакте: откройте приложение там",
            ),
            ReminderError::TooManyAccounts => Problem::new(
                StatusCode::CONFLICT,
                "too-many-reminders",
                format!("Напоминать можно не больше чем о {MAX_ACCOUNTS} лицевых счетах: выключите напоминание для другого счёта"),
            )
            .with("limit", MAX_ACCOUNTS as u64),
            ReminderError::Unavailable(e) => {
                tracing::error!(error = %e, "reminders store unavailable");
                Problem::unavailable()
            }
        }
    }
}
