//! RFC 9457 problem details: the one shape every error a caller can see takes.
//!
//! `type` is a stable relative URI (`/problems/<slug>`) the mini app can switch on; `title` is
//! Russian and fit to show the customer as it is; nothing internal ever goes into a problem.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The `WWW-Authenticate` of a mini-app request refused for its credentials (RFC 9110 §11.6.1: a
/// 401 names the schemes the resource takes): `Authorization: VK <launch query>` or
/// `Authorization: FB <signed_request>` (`edge::auth`).
pub const AUTH_CHALLENGE: &str = "VK, FB";

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// The stable part of `type`: `account-not-found`.
    pub slug: &'static str,
    pub title: String,
    pub detail: Option<String>,
    /// Extension members (RFC 9457 §3.2), e.g. `opensOn` for a closed readings window.
    pub extensions: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
    /// `WWW-Authenticate`, for a 401 that a caller answers with credentials.
    pub challenge: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &'static str, title: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            title: title.into(),
            detail: None,
            extensions: Map::new(),
            retry_after_secs: None,
            challenge: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn type_uri(&self) -> String {
        format!("/problems/{}", self.slug)
    }

    // The problems every function may answer; those of one endpoint live beside its rule.

    pub fn unauthenticated() -> Self {
        let mut problem = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Не удалось подтвердить вход. Откройте приложение заново",
        );
        problem.challenge = Some(AUTH_CHALLENGE);
        problem
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Слишком много запросов. Попробуйте через минуту",
        )
        .retry_after(retry_after_secs)
    }

    /// A daily budget of distinct accounts is used up: the same problem type as any throttling,
    /// with a title that does not promise a minute.
    pub fn too_many_accounts(retry_after_secs: u64) -> Self {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Сегодня проверено слишком много лицевых счетов. Попробуйте завтра",
        )
        .retry_after(retry_after_secs)
    }

    pub fn bad_request(slug: &'static str, title: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, slug, title)
    }

    pub fn not_found_route() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Такой страницы нет")
    }

    /// A request body of another media type than JSON (`Content-Type` says so).
    pub fn unsupported_media_type() -> Self {
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Неподдерживаемый формат запроса")
            .detail("Тело запроса — JSON (Content-Type: application/json)")
    }

    pub fn method_not_allowed() -> Self {
        Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Такой запрос здесь не принимается")
    }

    /// Our own fault: logged with the request id by the caller of this function, never detailed.
    pub fn unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Сервис временно недоступен. Попробуйте позже",
        )
        .retry_after(30)
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
        });
        let obj = body.as_object_mut().expect("an object");
        if let Some(detail) = &self.detail {
            obj.insert("detail".into(), Value::String(detail.clone()));
        }
        for (k, v) in &self.extensions {
            obj.insert(k.clone(), v.clone());
        }
        body
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .header(header::CACHE_CONTROL, "no-store");
        if let Some(secs) = self.retry_after_secs {
            response = response.header(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge {
            response = response.header(header::WWW_AUTHENTICATE, challenge);
        }
        response.body(Body::Text(self.body().to_string())).expect("a valid response")
    }
}

// Domain errors a caller can cause, each mapped once.

impl From<crate::app::lookup::LookupError> for Problem {
    fn from(e: crate::app::lookup::LookupError) -> Self {
        match e {
            crate::app::lookup::LookupError::AccountNotFound => Problem::account_not_found(),
            crate::app::lookup::LookupError::Unavailable => Problem::unavailable(),
        }
    }
}

impl From<crate::domain::AccountNumberError> for Problem {
    fn from(e: crate::domain::AccountNumberError) -> Self {
        Problem::bad_request("invalid-account-number", "Номер лицевого счёта — 10 цифр, например 12345-678-90").detail(
            match e {
                crate::domain::AccountNumberError::WrongLength(n) => format!("Введено цифр: {n}, нужно 10"),
                crate::domain::AccountNumberError::UnexpectedCharacter => {
                    "Допустимы только цифры, дефисы и пробелы".to_owned()
                }
                crate::domain::AccountNumberError::MisplacedDash => "Дефисы ставятся так: 12345-678-90".to_owned(),
            },
        )
    }
}

impl Problem {
    pub fn account_not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "account-not-found", "Лицевой счёт не найден. Проверьте номер на квитанции")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_rfc9457_json_with_a_russian_title() {
        let response = Problem::too_many_requests(42).with("limit", 30).into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        let Body::Text(text) = response.body() else { panic!("a text body") };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["type"], "/problems/too-many-requests");
        assert_eq!(body["status"], 429);
        assert_eq!(body["limit"], 30);
        assert!(body["title"].as_str().unwrap().starts_with("Слишком много"));
    }

    #[test]
    fn a_401_for_credentials_names_the_schemes_it_takes() {
        let response = Problem::unauthenticated().into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "VK, FB");
        let other = Problem::too_many_requests(1).into_response();
        assert!(other.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
