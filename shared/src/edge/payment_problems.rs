//! The problems of `POST /payments` and `GET /payments/{id}`, each mapped once: the mini app
//! switches on `type`, shows `title` as it is, and highlights the field named in `field`.

use super::Problem;
use crate::app::payment_registration::RegistrationError;
use crate::app::payment_status::StatusError;
use crate::domain::email::EmailError;
use crate::domain::payment_request::{MAX_BODY_BYTES, PaymentRequestError};
use crate::ports::idempotency::IdempotencyKeyError;
use http::StatusCode;

/// How soon a customer may try again after the bank did not answer (the idempotency lock is
/// released at once; this spares the bank a burst of retries while it is struggling).
const ACQUIRER_RETRY_AFTER_SECS: u64 = 30;

impl From<PaymentRequestError> for Problem {
    fn from(e: PaymentRequestError) -> Self {
        use PaymentRequestError as E;
        match e {
            E::TooLarge => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Слишком большой запрос")
                .detail(format!("Не больше {MAX_BODY_BYTES} байт")),
            E::NotJson | E::NotAnObject => Problem::bad_request(
                "malformed-body",
                "Не удалось прочитать платёж: ожидается объект JSON с полями account, amount, email",
            ),
            E::UnknownField(name) => {
                Problem::bad_request("unknown-field", "В запросе есть поле, которого платёж не знает")
                    .with("field", name)
            }
            E::DuplicateField(name) => {
                Problem::bad_request("duplicate-field", "Поле в запросе повторяется").with("field", name)
            }
            E::MissingField(name) => {
                Problem::bad_request("missing-field", "Заполните все поля платежа").with("field", name)
            }
            E::NotAString("account") => {
                Problem::bad_request("invalid-account-number", "Номер лицевого счёта — 10 цифр, например 12345-678-90")
                    .with("field", "account")
            }
            E::NotAString("email") => Problem::invalid_email(None),
            E::NotAString(name) => Problem::bad_request("invalid-field", "Поле заполнено неверно").with("field", name),
            E::Account(e) => Problem::from(e).with("field", "account"),
            E::AmountNotDecimal => {
                Problem::invalid_amount("Сумма — число рублей с копейками через точку, например \"1520.37\"")
            }
            E::AmountTooManyDecimals => Problem::invalid_amount("В сумме не больше двух знаков после точки"),
            E::AmountNotPositive => Problem::invalid_amount("Сумма должна быть больше нуля"),
            E::AmountBelowMinimum(min) => {
                Problem::bad_request("amount-out-of-range", format!("Сумма платежа — не меньше {min} ₽"))
                    .with("field", "amount")
                    .with("min", min.to_string())
            }
            E::AmountAboveMaximum(max) => {
                Problem::bad_request("amount-out-of-range", format!("Сумма платежа — не больше {max} ₽"))
                    .with("field", "amount")
                    .with("max", max.to_string())
            }
            E::Email(e) => Problem::invalid_email(Some(e)),
            E::BadReadingsId => {
                Problem::bad_request("invalid-readings-id", "Показания не найдены. Передайте их заново")
                    .with("field", "readingsId")
            }
            E::BadMethod => Problem::bad_request("invalid-method", "Выберите способ оплаты: картой или через СБП")
                .with("field", "method"),
        }
    }
}

impl From<IdempotencyKeyError> for Problem {
    fn from(e: IdempotencyKeyError) -> Self {
        match e {
            IdempotencyKeyError::Missing => Problem::bad_request(
                "idempotency-key-missing",
                "Не удалось отправить платёж. Обновите страницу и попробуйте снова",
            )
            .detail("Нужен заголовок Idempotency-Key"),
            IdempotencyKeyError::Malformed => Problem::bad_request(
                "idempotency-key-invalid",
                "Не удалось отправить платёж. Обновите страницу и попробуйте снова",
            )
            .detail("Idempotency-Key — от 1 до 128 печатных символов ASCII"),
        }
    }
}

impl Problem {
    fn invalid_amount(title: &str) -> Self {
        Problem::bad_request("invalid-amount", title).with("field", "amount")
    }

    /// `reason` says what is wrong with the address, where that is known.
    pub fn invalid_email(reason: Option<EmailError>) -> Self {
        let problem =
            Problem::bad_request("invalid-email", "Проверьте адрес почты: на него придёт чек").with("field", "email");
        match reason {
            Some(EmailError::TooLong) => problem.detail("Адрес слишком длинный"),
            Some(EmailError::Whitespace) => problem.detail("В адресе не должно быть пробелов"),
            Some(EmailError::NotOneAt) => problem.detail("В адресе должен быть один знак @"),
            Some(EmailError::BadDomain) => problem.detail("После @ нужен домен с точкой, например mail.ru"),
            Some(EmailError::NotAscii) => problem.detail("Напишите адрес латиницей, например ivan@mail.ru"),
            Some(EmailError::Empty | EmailError::BadLocalPart) | None => problem,
        }
    }

    /// The receipt's email is longer than the bank accepts (a valid address may still be).
    pub fn email_too_long_for_receipt() -> Self {
        Problem::invalid_email(None).detail("Банк не принимает для чека такой длинный адрес")
    }

    /// The same `Idempotency-Key` is being processed by another request right now.
    pub fn payment_in_progress() -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            "payment-in-progress",
            "Этот платёж уже создаётся. Подождите несколько секунд",
        )
        .retry_after(2)
    }

    /// The `Idempotency-Key` was used before for a different payment.
    pub fn idempotency_key_reused() -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Этот запрос уже использован для другого платежа. Начните оплату заново",
        )
    }

    /// The bank definitely refused to create the payment; nothing can be paid with it.
    pub fn acquirer_refused() -> Self {
        Problem::new(StatusCode::BAD_GATEWAY, "acquirer-refused", "Банк не принял платёж. Попробуйте позже")
    }

    /// The bank's answer is unknown (5xx, lost connection, unreadable answer). A retry with the
    /// same `Idempotency-Key` never creates a second payment.
    pub fn acquirer_unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "acquirer-unavailable",
            "Банк сейчас не отвечает. Попробуйте оплатить ещё раз через минуту",
        )
        .retry_after(ACQUIRER_RETRY_AFTER_SECS)
    }

    /// The bank did not answer in time; as [`Problem::acquirer_unavailable`].
    pub fn acquirer_timeout() -> Self {
        Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "acquirer-timeout",
            "Банк не ответил вовремя. Попробуйте оплатить ещё раз через минуту",
        )
        .retry_after(ACQUIRER_RETRY_AFTER_SECS)
    }

    /// The VAT rate changes in less than the bank's shortest form life: a form opened now would
    /// print a rate no longer in force when it is paid. `retry_after_secs`: until the new rate.
    pub fn vat_rate_changing(retry_after_secs: u64) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "vat-rate-changing",
            "В полночь меняется ставка НДС. Оплатите через минуту",
        )
        .retry_after(retry_after_secs)
    }

    pub fn invalid_payment_id() -> Self {
        Problem::bad_request("invalid-payment-id", "Неверный номер платежа")
    }

    /// Also the answer for another caller's payment: its existence is not revealed.
    pub fn payment_not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "payment-not-found", "Платёж не найден")
    }
}

impl From<RegistrationError> for Problem {
    fn from(e: RegistrationError) -> Self {
        use RegistrationError as E;
        match e {
            E::AccountNotFound => Problem::account_not_found().with("field", "account"),
            E::ReadingsNotFound => Problem::from(PaymentRequestError::BadReadingsId),
            E::InProgress => Problem::payment_in_progress(),
            E::KeyReused => Problem::idempotency_key_reused(),
            E::VatRateChanging { retry_after_secs } => Problem::vat_rate_changing(retry_after_secs),
            E::EmailTooLongForReceipt => Problem::email_too_long_for_receipt(),
            E::AcquirerRefused => Problem::acquirer_refused(),
            E::AcquirerTimeout => Problem::acquirer_timeout(),
            E::AcquirerUnavailable => Problem::acquirer_unavailable(),
            E::Unavailable => Problem::unavailable(),
        }
    }
}

impl From<StatusError> for Problem {
    fn from(e: StatusError) -> Self {
        match e {
            StatusError::NotFound => Problem::payment_not_found(),
            StatusError::Unavailable => Problem::unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment_request::PaymentLimits;
    use crate::domain::payment_request::PaymentRequest;

    fn problem_of(body: &str) -> Problem {
        let limits = PaymentLimits::new("1".parse().unwrap(), "500000".parse().unwrap()).unwrap();
        PaymentRequest::from_json(body.as_bytes(), &limits).map(|_| ()).map_err(Problem::from).unwrap_err()
    }

    #[test]
    fn every_refused_payment_request_is_a_russian_problem_naming_the_field() {
        let cases = [
            (r#"{"account":"1","amount":"5","email":"a@b.ru"}"#, 400, "invalid-account-number", Some("account")),
            (r#"{"account":"2961432809","amount":"0","email":"a@b.ru"}"#, 400, "invalid-amount", Some("amount")),
            (r#"{"account":"2961432809","amount":1e3,"email":"a@b.ru"}"#, 400, "invalid-amount", Some("amount")),
            (
                r#"{"account":"2961432809","amount":"900000","email":"a@b.ru"}"#,
                400,
                "amount-out-of-range",
                Some("amount"),
            ),
            (r#"{"account":"2961432809","amount":"5","email":"ab.ru"}"#, 400, "invalid-email", Some("email")),
            (r#"{"account":"2961432809","amount":"5","email":"a@b.ru","x":1}"#, 400, "unknown-field", Some("x")),
            (r#"{"account":"2961432809","amount":"5"}"#, 400, "missing-field", Some("email")),
            ("nope", 400, "malformed-body", None),
        ];
        for (body, status, slug, field) in cases {
            let problem = problem_of(body);
            assert_eq!((problem.status.as_u16(), problem.slug), (status, slug), "{body}");
            assert_eq!(problem.extensions.get("field").and_then(|f| f.as_str()), field, "{body}");
            assert!(problem.title.chars().any(|c| ('а'..='я').contains(&c)), "{body}: {}", problem.title);
        }
        let too_large = problem_of(&" ".repeat(MAX_BODY_BYTES + 1));
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn an_unknown_outcome_at_the_bank_says_when_to_retry() {
        for problem in [Problem::acquirer_unavailable(), Problem::acquirer_timeout()] {
            assert_eq!(problem.retry_after_secs, Some(ACQUIRER_RETRY_AFTER_SECS));
        }
        assert_eq!(Problem::acquirer_timeout().status, StatusCode::GATEWAY_TIMEOUT);
        let changing = Problem::vat_rate_changing(30);
        assert_eq!((changing.status, changing.retry_after_secs), (StatusCode::SERVICE_UNAVAILABLE, Some(30)));
        assert_eq!(Problem::acquirer_refused().type_uri(), "/problems/acquirer-refused");
    }
}
