//! The refusals of `POST /accounts/{account}/readings`, each mapped once to a problem with a
//! stable `type` and the rule's own Russian message as `title`, plus what the mini app needs to
//! help the customer fix it:
//!
//! | type (`/problems/…`) | status | extension members |
//! |---|---|---|
//! | `readings-window-closed` | 409 | `opensOn`, `window` {`from`, `to`} (the next window) |
//! | `readings-not-accepted` | 409 | `reason`: `automaticMetering` or `faulty` |
//! | `readings-wrong-zones` | 422 | `expectedZones`, and `zone` or `missing` |
//! | `reading-invalid` | 422 | `zone`, and `limit` (too large) or `digits` (longer than the register) |
//! | `reading-no-previous` | 422 | `zone` |
//! | `reading-lower-than-last` | 422 | `zone`, `last`, `given` |
//! | `rollover-not-confirmed` | 422 | `zone`, `last`, `given`, `digits`: resend with `confirmRollover` |
//! | `reading-implausible` | 422 | `zone`, `consumption`, `limit`, `months` |
//! | `readings-need-login` | 403 | (a Facebook page visitor who never authorised the app) |
//! | `meter-not-found` | 404 | (a `meterRef` the account does not have) |
//! | `meter-number-wrong` | 422 | `attemptsLeft` (wrong numbers the account still takes today) |
//! | `meter-number-attempts-exhausted` | 429 | `Retry-After`: seconds until Moscow midnight |
//! | `readings-submitted-by-another` | 409 | |
//! | `invalid-request` | 400 | (`detail` says what is wrong with the body) |
//! | `payload-too-large` | 413 | `limit` (bytes) |
//! | `tariff-not-loaded` | 409 | `date` (the Moscow day the readings would be priced on) |
//! | `tariff-unavailable` | 503 | |
//!
//! A closed window is a 409: the figures may be right, it is the date that refuses them. So is a
//! day with no price loaded yet: the readings can be handed in once the tariff is published. Figures
//! the rules refuse are 422: the request is well-formed JSON, its content is not acceptable.

use super::Problem;
use crate::app::readings_submission::SubmissionError;
use crate::domain::readings::ZoneLabel;
use crate::domain::{ReadingsError, TariffError, ZoneSet};
use chrono::NaiveDate;
use http::StatusCode;
use serde_json::{Value, json};

const WINDOW_CLOSED: &str = "readings-window-closed";
const NOT_ACCEPTED: &str = "readings-not-accepted";
const WRONG_ZONES: &str = "readings-wrong-zones";
const INVALID: &str = "reading-invalid";

impl From<ReadingsError> for Problem {
    fn from(e: ReadingsError) -> Self {
        let title = e.to_string();
        let conflict = |slug| Problem::new(StatusCode::CONFLICT, slug, title.clone());
        let unprocessable = |slug| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title.clone());
        match e {
            ReadingsError::WindowClosed { from, to } => conflict(WINDOW_CLOSED)
                .with("opensOn", from.to_string())
                .with("window", json!({"from": from.to_string(), "to": to.to_string()})),
            ReadingsError::NeverAccepted { reason } => {
                conflict(NOT_ACCEPTED).with("reason", serde_json::to_value(reason).unwrap_or(Value::Null))
            }
            ReadingsError::UnknownZone { name, expected } => {
                unprocessable(WRONG_ZONES).with("zone", name).with("expectedZones", zones(expected))
            }
            ReadingsError::ZoneNotOnMeter { zone, expected } => {
                unprocessable(WRONG_ZONES).with("zone", zone.as_str()).with("expectedZones", zones(expected))
            }
            ReadingsError::DuplicateZone { zone } => {
                with_zone(unprocessable(WRONG_ZONES), zone).with("expectedZones", zones(zone.zone_set))
            }
            ReadingsError::MissingZones { missing, expected } => unprocessable(WRONG_ZONES)
                .with("missing", missing.iter().map(|z| z.as_str()).collect::<Vec<_>>())
                .with("expectedZones", zones(expected)),
            ReadingsError::ValueIsText { zone }
            | ReadingsError::ValueNotANumber { zone }
            | ReadingsError::Fractional { zone }
            | ReadingsError::Negative { zone } => with_zone(unprocessable(INVALID), zone),
            ReadingsError::TooLarge { zone, max } => with_zone(unprocessable(INVALID), zone).with("limit", max),
            ReadingsError::MoreDigitsThanRegister { zone, digits } => {
                with_zone(unprocessable(INVALID), zone).with("digits", digits)
            }
            ReadingsError::NoPreviousReading { zone } => with_zone(unprocessable("reading-no-previous"), zone),
            ReadingsError::LowerThanLast { zone, last, given } => {
                with_zone(unprocessable("reading-lower-than-last"), zone).with("last", last).with("given", given)
            }
            ReadingsError::RolloverNotConfirmed { zone, last, given, digits } => {
                with_zone(unprocessable("rollover-not-confirmed"), zone)
                    .with("last", last)
                    .with("given", given)
                    .with("digits", digits)
            }
            ReadingsError::ImplausibleJump { zone, consumption, limit, months } => {
                with_zone(unprocessable("reading-implausible"), zone)
                    .with("consumption", consumption)
                    .with("limit", limit)
                    .with("months", months)
            }
        }
    }
}

/// No price for the day is a refused date (409), like a closed window: nothing the customer typed
/// is wrong and nothing of ours failed, the regulator's figures are just not loaded yet. A table
/// that contradicts itself is our fault (503). Either way the readings are not taken and the
/// function logs the cause as an error; nothing internal (the group, the zone) reaches the customer.
impl From<TariffError> for Problem {
    fn from(e: TariffError) -> Self {
        match e {
            TariffError::NotFound { date, .. } => Problem::tariff_not_loaded(date),
            _ => Problem::tariff_unavailable(),
        }
    }
}

/// What a readings body looks like, for the developer of a client that sent another.
const READINGS_SHAPE: &str = r#"нужен JSON вида {"meterId": "номер на счётчике", "meterRef": 1, "values": {"T1": 12500}, "confirmRollover": false}"#;

impl From<SubmissionError> for Problem {
    fn from(e: SubmissionError) -> Self {
        use SubmissionError as E;
        match e {
            E::NeedsLogin => Problem::readings_need_login(),
            E::AccountNotFound => Problem::account_not_found(),
            E::MeterNotFound => Problem::meter_not_found(),
            E::MeterNumberWrong { attempts_left } => Problem::meter_number_wrong(attempts_left),
            E::MeterNumberAttemptsExhausted { retry_after_secs } => {
                Problem::meter_number_attempts_exhausted(retry_after_secs)
            }
            E::SubmittedByAnother => Problem::readings_submitted_by_another(),
            E::Readings(e) => Problem::from(e),
            E::Tariff(e) => Problem::from(e),
            E::Unavailable => Problem::unavailable(),
        }
    }
}

fn with_zone(problem: Problem, label: ZoneLabel) -> Problem {
    problem.with("zone", label.zone.as_str())
}

fn zones(zone_set: ZoneSet) -> Vec<&'static str> {
    zone_set.zones().iter().map(|z| z.as_str()).collect()
}

impl Problem {
    pub fn meter_not_found() -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "meter-not-found",
            "Счётчик не найден на этом лицевом счёте. Проверьте номер счётчика",
        )
    }

    /// A page visitor without an identity of their own: every such visitor shares one, so they
    /// could replace each other's readings.
    pub fn readings_need_login() -> Self {
        Problem::new(StatusCode::FORBIDDEN, "readings-need-login", "Чтобы передать показания, войдите в приложение")
            .detail(
                "Показания принимаются только от пользователей, вошедших в приложение: разрешите приложению \
             доступ на вкладке Facebook или откройте мини-приложение во ВКонтакте. Оплатить счёт можно и без входа",
            )
    }

    /// The number typed is not the one printed on the meter. Says nothing of the real one.
    pub fn meter_number_wrong(attempts_left: u64) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "meter-number-wrong",
            "Номер счётчика не совпадает. Введите номер, указанный на корпусе счётчика",
        )
        .detail(format!("Сегодня можно ошибиться ещё раз: {attempts_left}"))
        .with("attemptsLeft", attempts_left)
    }

    /// The account's wrong numbers of the day are spent: nothing is taken until Moscow midnight.
    pub fn meter_number_attempts_exhausted(retry_after_secs: u64) -> Self {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "meter-number-attempts-exhausted",
            "Слишком много неверных номеров счётчика. Передать показания по этому счёту можно завтра",
        )
        .retry_after(retry_after_secs)
    }

    /// Another user handed this meter's readings in this month; neither who nor what is told.
    pub fn readings_submitted_by_another() -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            "readings-submitted-by-another",
            "Показания этого счётчика за месяц уже переданы",
        )
        .detail("Исправить их может только тот, кто их передал. Оплатить счёт может любой")
    }

    /// The number field is empty or holds no letter or digit.
    pub fn meter_number_missing() -> Self {
        Problem::invalid_readings_request("Введите номер счётчика, указанный на его корпусе")
    }

    /// The body is not the readings request: not JSON, or fields missing, unknown or of the wrong
    /// type. `detail` says which, in words the customer's developer can act on.
    pub fn invalid_readings_request(detail: impl Into<String>) -> Self {
        Problem::bad_request("invalid-request", "Не удалось прочитать показания из запроса").detail(detail)
    }

    pub fn readings_body_empty() -> Self {
        Problem::invalid_readings_request(format!("Тело запроса пустое: {READINGS_SHAPE}"))
    }

    pub fn readings_body_not_json() -> Self {
        Problem::invalid_readings_request(format!("Тело запроса — не JSON: {READINGS_SHAPE}"))
    }

    /// `why`: the parser's words, naming the field.
    pub fn readings_body_misshapen(why: &str) -> Self {
        Problem::invalid_readings_request(format!("Запрос не по форме ({why}): {READINGS_SHAPE}"))
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Запрос слишком большой")
            .with("limit", limit_bytes)
    }

    pub fn tariff_not_loaded(date: NaiveDate) -> Self {
        let day = date.format("%d.%m.%Y");
        Problem::new(StatusCode::CONFLICT, "tariff-not-loaded", "Тариф на эту дату ещё не загружен")
            .detail(format!(
                "Цены на электроэнергию на {day} ещё не загружены, поэтому сумму по показаниям не рассчитать. \
                 Показания не приняты: передайте их, когда тариф будет опубликован"
            ))
            .with("date", date.to_string())
    }

    pub fn tariff_unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tariff-unavailable",
            "Не удалось рассчитать сумму: тариф для вашего счёта не найден. Показания не приняты, попробуйте позже",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Zone;

    fn label(zone_set: ZoneSet, zone: Zone) -> ZoneLabel {
        ZoneLabel { zone, zone_set }
    }

    #[test]
    fn given_the_ownership_refusals_when_mapped_then_each_has_its_status_and_tells_nothing_of_the_meter() {
        let wrong = Problem::meter_number_wrong(3).body();
        assert_eq!(
            (wrong["status"].clone(), wrong["type"].clone()),
            (json!(422), json!("/problems/meter-number-wrong"))
        );
        assert!(wrong["title"].as_str().unwrap().starts_with("Номер счётчика не совпадает"));
        assert_eq!(wrong["attemptsLeft"], 3);
        let spent = Problem::meter_number_attempts_exhausted(600);
        assert_eq!((spent.status, spent.retry_after_secs), (StatusCode::TOO_MANY_REQUESTS, Some(600)));
        let taken = Problem::readings_submitted_by_another().body();
        assert_eq!(taken["status"], 409);
        assert_eq!(taken["title"], "Показания этого счётчика за месяц уже переданы");
        let login = Problem::readings_need_login().body();
        assert_eq!(
            (login["status"].clone(), login["type"].clone()),
            (json!(403), json!("/problems/readings-need-login"))
        );
        assert_eq!(Problem::meter_number_missing().slug, "invalid-request");
    }

    #[test]
    fn a_closed_window_says_when_the_next_one_opens() {
        let from = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 26).unwrap();
        let body = Problem::from(ReadingsError::WindowClosed { from, to }).body();
        assert_eq!(body["status"], 409);
        assert_eq!(body["type"], "/problems/readings-window-closed");
        assert_eq!(body["title"], "Показания принимаются с 15.12.2026 по 26.12.2026 по московскому времени");
        assert_eq!(body["opensOn"], "2026-12-15");
        assert_eq!(body["window"], json!({"from": "2026-12-15", "to": "2026-12-26"}));
    }

    #[test]
    fn wrong_zones_list_the_zones_the_meter_has() {
        let body =
            Problem::from(ReadingsError::MissingZones { missing: vec![Zone::T3], expected: ZoneSet::ThreeZone }).body();
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], "/problems/readings-wrong-zones");
        assert_eq!(body["missing"], json!(["T3"]));
        assert_eq!(body["expectedZones"], json!(["T1", "T2", "T3"]));
        assert!(body["title"].as_str().unwrap().contains("T3 (полупик)"), "{body}");
    }

    #[test]
    fn a_lower_value_names_the_last_accepted_one_and_a_rollover_asks_for_confirmation() {
        let zone = label(ZoneSet::TwoZone, Zone::T2);
        let lower = Problem::from(ReadingsError::LowerThanLast { zone, last: 7410, given: 7000 }).body();
        assert_eq!(lower["type"], "/problems/reading-lower-than-last");
        assert_eq!(
            (lower["zone"].clone(), lower["last"].clone(), lower["given"].clone()),
            (json!("T2"), json!(7410), json!(7000))
        );
        let rollover =
            Problem::from(ReadingsError::RolloverNotConfirmed { zone, last: 99_990, given: 12, digits: 5 }).body();
        assert_eq!(rollover["status"], 422);
        assert_eq!(rollover["type"], "/problems/rollover-not-confirmed");
        assert_eq!(rollover["digits"], 5);
    }

    #[test]
    fn given_no_price_for_the_day_when_mapped_then_it_is_a_409_naming_the_date_not_a_5xx() {
        let e = TariffError::NotFound {
            group: crate::domain::account::TariffGroup("rural".into()),
            zone_set: ZoneSet::TwoZone,
            zone: Zone::T2,
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        };
        let problem = Problem::from(e);
        assert_eq!(problem.status, StatusCode::CONFLICT);
        let body = problem.body();
        assert_eq!(body["status"], 409);
        assert_eq!(body["type"], "/problems/tariff-not-loaded");
        assert_eq!(body["title"], "Тариф на эту дату ещё не загружен");
        assert_eq!(body["date"], "2026-11-20");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("20.11.2026"), "{detail}");
        assert!(detail.contains("когда тариф будет опубликован"), "{detail}");
        // Nothing internal (the group, the zone) reaches the customer.
        assert!(!body.to_string().contains("rural"), "{body}");
        assert!(!body.to_string().contains("T2"), "{body}");
    }

    #[test]
    fn given_a_table_that_contradicts_itself_when_mapped_then_the_fault_is_ours() {
        let e = TariffError::StaleCarryOver {
            group: crate::domain::account::TariffGroup("gas-stove".into()),
            zone_set: ZoneSet::TwoZone,
            zone: Zone::T1,
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        };
        let problem = Problem::from(e);
        assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.slug, "tariff-unavailable");
        assert!(!problem.body().to_string().contains("gas-stove"));
    }
}
