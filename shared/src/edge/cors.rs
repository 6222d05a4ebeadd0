//! Cross-origin rules for the mini app's calls. The `Authorization` header makes every call
//! "non-simple", so browsers send a preflight `OPTIONS` first; only configured origins get an
//! answer that lets the call through.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderName, HeaderValue, Response, StatusCode};

/// The request headers the mini app sends.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key";
/// How long a browser may reuse a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";
/// Not CORS-safelisted, but the mini app reads them: `Retry-After` to tell a throttled customer
/// when to retry, `Idempotent-Replayed` to tell a payment answered again from one just created.
const EXPOSED_HEADERS: &str = "Retry-After, Idempotent-Replayed";

/// The origins allowed to call the API.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed: Vec<AllowedOrigin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowedOrigin {
    /// `https://app.example.ru` (lower case, no trailing slash).
    Exact(String),
    /// `https://*.pages.vk-apps.com`: exactly one label in place of `*`; `parent` keeps its
    /// leading dot and any port (`.pages.vk-apps.com`).
    AnySubdomain { scheme: String, parent: String },
}

impl Cors {
    /// Reads a comma-separated list of origins, e.g.
    /// `https://d111.cloudfront.net, https://*.pages.vk-apps.com`. Entries that would open the
    /// API to everyone (`*`, `null`, a wildcard over a bare top-level domain) or are not origins
    /// are skipped with a warning at start-up rather than failing later in a browser.
    pub fn from_list(csv: &str) -> Self {
        let allowed = csv
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| match AllowedOrigin::parse(entry) {
                Ok(origin) => Some(origin),
                Err(why) => {
                    tracing::warn!(origin = entry, why, "allowed origin skipped");
                    None
                }
            })
            .collect();
        Self { allowed }
    }

    /// Whether a request's `Origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.allowed.iter().any(|allowed| allowed.matches(&origin))
    }

    /// Headers to add to any response for this request's Origin (none when not allowed).
    pub fn headers_for(&self, origin: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
        let Some(allow_origin) = self.echo(origin) else {
            return Vec::new();
        };
        vec![
            (ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin),
            (ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS)),
            (VARY, HeaderValue::from_static("Origin")),
        ]
    }

    /// The full answer to a preflight `OPTIONS`: 204 with the origin echoed (exact match only),
    /// `methods` (the endpoint's own list, e.g. `"GET, OPTIONS"`), the allowed request headers and
    /// a 10-minute cache. A disallowed origin, or a method the endpoint does not serve, gets an
    /// empty 403 — no problem+json, browsers do not show preflight bodies.
    pub fn preflight(&self, origin: Option<&str>, request_method: Option<&str>, methods: &str) -> Response<String> {
        // The answer depends on both, so caches must key on both.
        let vary = HeaderValue::from_static("Origin, Access-Control-Request-Method");
        let mut response = Response::new(String::new());
        response.headers_mut().insert(VARY, vary);
        *response.status_mut() = StatusCode::FORBIDDEN;

        let Some(allow_origin) = self.echo(origin) else {
            return response;
        };
        let method_served = request_method.is_none_or(|requested| {
            methods.split(',').any(|served| served.trim().eq_ignore_ascii_case(requested.trim()))
        });
        // `methods` is the endpoint's constant; an unprintable one is refused rather than sent.
        let (true, Ok(allow_methods)) = (method_served, HeaderValue::from_str(methods)) else {
            return response;
        };

        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, allow_methods);
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
        response
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin: the origin exactly as the
    /// browser sent it, which is what the browser compares against.
    fn echo(&self, origin: Option<&str>) -> Option<HeaderValue> {
        let origin = origin?;
        if !self.allows(origin) {
            return None;
        }
        HeaderValue::from_str(origin).ok()
    }
}

impl AllowedOrigin {
    fn parse(entry: &str) -> Result<Self, &'static str> {
        let entry = entry.trim_end_matches('/').to_ascii_lowercase();
        if entry == "*" {
            return Err("a bare * would let any site call the API with a customer's credentials");
        }
        let (scheme, authority) = entry.split_once("://").ok_or("an origin is scheme://host[:port]")?;
        if scheme != "https" && scheme != "http" {
            return Err("only http and https origins exist for the mini app");
        }
        let host_chars_ok =
            authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'));
        if authority.is_empty() || !host_chars_ok {
            return Err("an origin is scheme://host[:port]");
        }
        match authority.strip_prefix('*') {
            Some(parent) => {
                // `.pages.vk-apps.com` has two dots; `.com` alone would admit the whole zone.
                let host = parent.split(':').next().unwrap_or(parent);
                if !parent.starts_with('.') || parent.contains('*') || host.matches('.').count() < 2 {
                    return Err("a wildcard stands for one label under a registrable domain");
                }
                Ok(Self::AnySubdomain { scheme: scheme.to_owned(), parent: parent.to_owned() })
            }
            None if authority.contains('*') => Err("a wildcard stands for one label under a registrable domain"),
            None => Ok(Self::Exact(entry)),
        }
    }

    /// `origin` is already lower case.
    fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Exact(allowed) => allowed == origin,
            Self::AnySubdomain { scheme, parent } => {
                let label = origin
                    .strip_prefix(scheme.as_str())
                    .and_then(|rest| rest.strip_prefix("://"))
                    .and_then(|rest| rest.strip_suffix(parent.as_str()));
                label.is_some_and(|label| {
                    (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDFRONT: &str = "https://d1a2b3c4.cloudfront.net";

    fn cors() -> Cors {
        Cors::from_list(
            " https://d1a2b3c4.cloudfront.net/ , https://*.pages.vk-apps.com,,\
             https://*.wormhole.vk-apps.com, http://localhost:5173",
        )
    }

    fn header<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &HeaderName) -> Option<&'a str> {
        headers.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_vary() {
        let headers = cors().headers_for(Some(CLOUDFRONT));
        assert_eq!(header(&headers, &ACCESS_CONTROL_ALLOW_ORIGIN), Some(CLOUDFRONT));
        assert_eq!(header(&headers, &VARY), Some("Origin"));
        assert_eq!(header(&headers, &ACCESS_CONTROL_EXPOSE_HEADERS), Some("Retry-After, Idempotent-Replayed"));

        let dev = cors().headers_for(Some("http://localhost:5173"));
        assert_eq!(header(&dev, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("http://localhost:5173"));
    }

    #[test]
    fn other_origins_get_no_cors_headers() {
        let cors = cors();
        for origin in [
            None,
            Some("https://evil.example"),
            Some("null"),
            Some("http://d1a2b3c4.cloudfront.net"),
            Some("https://d1a2b3c4.cloudfront.net.evil.example"),
            Some("https://d1a2b3c4.cloudfront.net:8443"),
            Some("http://localhost:5174"),
            Some(""),
        ] {
            assert!(cors.headers_for(origin).is_empty(), "{origin:?}");
        }
    }

    #[test]
    fn a_wildcard_matches_exactly_one_label_with_the_same_scheme() {
        let cors = cors();
        assert!(cors.allows("https://app-51234567.pages.vk-apps.com"));
        assert!(cors.allows("https://abc.wormhole.vk-apps.com"));
        for refused in [
            "https://a.b.pages.vk-apps.com",
            "https://pages.vk-apps.com",
            "https://.pages.vk-apps.com",
            "http://abc.pages.vk-apps.com",
            "https://abcpages.vk-apps.com",
            "https://abc.pages.vk-apps.com.evil.example",
            "https://abc.pages.vk-apps.com:444",
            "https://a_b.pages.vk-apps.com",
            "https://abc.pages-ac.vk-apps.com",
        ] {
            assert!(!cors.allows(refused), "{refused}");
        }
    }

    #[test]
    fn origins_compare_case_insensitively_but_echo_as_sent() {
        let headers = cors().headers_for(Some("https://ABC.Pages.VK-Apps.com"));
        assert_eq!(header(&headers, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("https://ABC.Pages.VK-Apps.com"));
    }

    #[test]
    fn dangerous_or_invalid_entries_are_skipped() {
        let cors =
            Cors::from_list("*, null, https://*.com, https://a.*.vk-apps.com, ftp://x.ru, x.ru, https://ok.example.ru");
        assert_eq!(cors.allowed, vec![AllowedOrigin::Exact("https://ok.example.ru".into())]);
        assert!(!cors.allows("https://evil.com"));
        assert!(!cors.allows("null"));
        assert!(Cors::from_list("").headers_for(Some(CLOUDFRONT)).is_empty());
    }

    #[test]
    fn preflight_from_an_allowed_origin_is_a_cacheable_204() {
        let response = cors().preflight(Some(CLOUDFRONT), Some("POST"), "POST, OPTIONS");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.body().is_empty());
        let h = response.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], CLOUDFRONT);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "POST, OPTIONS");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "Authorization, Content-Type, Idempotency-Key");
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(h[VARY].to_str().expect("ascii").contains("Origin"));
    }

    #[test]
    fn preflight_from_another_origin_is_an_empty_403() {
        for origin in [None, Some("https://evil.example"), Some("https://a.b.pages.vk-apps.com")] {
            let response = cors().preflight(origin, Some("GET"), "GET, OPTIONS");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
            assert!(response.body().is_empty());
            assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
            assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_METHODS));
        }
    }

    #[test]
    fn preflight_for_a_method_the_endpoint_does_not_serve_is_refused() {
        let response = cors().preflight(Some(CLOUDFRONT), Some("DELETE"), "GET, OPTIONS");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));

        let response = cors().preflight(Some(CLOUDFRONT), None, "GET, OPTIONS");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}
