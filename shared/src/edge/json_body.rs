//! A request body is JSON: `415` for a body whose `Content-Type` names something else. Called by
//! the endpoints that take a body (`POST`, `PUT`), before they read it, so a function without one
//! (the look-up) links none of this.

use super::Problem;
use http::header;
use lambda_http::Request;

/// A body said to be something other than JSON: `415 unsupported-media-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body of another type than JSON")]
pub struct NotJson;

impl From<NotJson> for Problem {
    fn from(_: NotJson) -> Self {
        Problem::unsupported_media_type()
    }
}

/// [`NotJson`] when the body is not empty and its `Content-Type` names something other than JSON.
/// Without a `Content-Type` the body is read as JSON, as it always was: a client that sends none
/// is not refused for it. The refusal is counted by the edge, without an account, as any other.
pub fn check(request: &Request) -> Result<(), NotJson> {
    if request.body().as_ref().is_empty() {
        return Ok(());
    }
    let Some(content_type) = request.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let named = content_type.to_str().map(str::trim).unwrap_or("?");
    if named.is_empty() || is_json(named) {
        return Ok(());
    }
    tracing::info!(content_type = named, "request body of another type than JSON refused");
    Err(NotJson)
}

/// `application/json` or `application/<anything>+json`, any case, parameters (`charset`) allowed.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    #[test]
    fn json_is_application_json_or_a_json_suffix_whatever_the_case_and_parameters() {
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
            "application/problem+json",
            "application/merge-patch+json; charset=utf-8",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/+json",
            "application/xml",
            "json",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut request = http::Request::builder().method("POST").uri("/payments");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(Body::from(body)).unwrap()
    }

    #[test]
    fn a_body_said_to_be_other_than_json_is_415_in_russian_and_a_body_without_a_type_is_read() {
        assert_eq!(check(&request(Some("text/plain"), "{}")), Err(NotJson));
        let refused = Problem::from(NotJson);
        assert_eq!(refused.status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(refused.type_uri(), "/problems/unsupported-media-type");
        assert!(refused.title.contains("формат"), "{}", refused.title);
        assert!(check(&request(Some("application/x-www-form-urlencoded"), "a=1")).is_err());

        assert!(check(&request(None, "{}")).is_ok(), "no Content-Type: read as JSON");
        assert!(check(&request(Some("application/json; charset=utf-8"), "{}")).is_ok());
        assert!(check(&request(Some("text/plain"), "")).is_ok(), "no body to read");
    }
}
