//! `POST /facebook/tab`: the «Оплата электроэнергии» tab of the company's Facebook page.
//!
//! Facebook loads a custom page tab in an iframe with an HTTP POST whose form field
//! `signed_request` says who is looking. A static file cannot take a POST, so this function
//! verifies the signed_request and answers a small HTML document that loads the mini app's built
//! assets from the web origin and hands it the verified signed_request: the app then calls the API
//! with `Authorization: FB <signed_request>`, and the API verifies it again on every call.
//!
//! Custom tabs exist only in Facebook's desktop web UI, so a phone gets a short explanation instead
//! of a layout that cannot work there. A `GET` (the tab's URL opened outside Facebook) gets a 405
//! page in Russian rather than the gateway's bare 404.

use chrono::{DateTime, Duration, Utc};
use energosbyt::config::{ConfigError, Env};
use energosbyt::edge::auth::{AuthError, facebook};
use energosbyt::secrets::Secrets;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use minijinja::{Environment, UndefinedBehavior, Value, context};
use std::sync::OnceLock;

/// Facebook's form carries one short field; anything much bigger is not Facebook.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Who may frame the tab: Facebook's own pages only, on whichever of its hosts Facebook serves them
/// (`www.`, `web.`, `business.`, `m.facebook.com`).
const FRAME_ANCESTORS: &str = "https://*.facebook.com https://facebook.com";

/// The built app's entry files; the web build names them without a content hash so that this
/// function does not need to know each build's file names.
const APP_SCRIPT: &str = "assets/mini-app.js";
const APP_STYLESHEET: &str = "assets/mini-app.css";

pub struct App {
    /// The Facebook app secret (`fb_app_secret`), read again after a signature it refuses.
    pub keys: Secrets,
    /// The company's page (`FB_PAGE_ID`): the tab opened on any other page is refused, as the API
    /// refuses that page's `signed_request`.
    pub fb_page_id: String,
    /// The oldest `issued_at` accepted; `None` switches the freshness check off (fixtures only).
    pub max_age: Option<Duration>,
    /// Where the built mini app is served, e.g. `https://pay.example.ru` (no trailing slash).
    pub web_origin: String,
    /// The API's base URL for the app; empty means "the origin this page came from", which is the
    /// API itself since this function is one of its routes.
    pub api_url: String,
    pub clock: fn() -> DateTime<Utc>,
}

impl App {
    /// `FB_PAGE_ID`, `WEB_ORIGIN`, `AUTH_MAX_AGE_SECS` (0 = no freshness check), optional
    /// `API_URL`; the app secret from `keys`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>, keys: Secrets) -> Result<Self, ConfigError> {
        let max_age_secs: i64 = env.parse_or("AUTH_MAX_AGE_SECS", 3600)?;
        let web_origin = env.string("WEB_ORIGIN")?.trim().trim_end_matches('/').to_owned();
        if !(web_origin.starts_with("https://") || web_origin.starts_with("http://")) {
            return Err(ConfigError::Malformed { name: "WEB_ORIGIN", why: "not an http(s) origin".into() });
        }
        // Read as the API's edge reads it, so the two agree on what the page is.
        let fb_page_id: u64 = env.parse("FB_PAGE_ID")?;
        Ok(Self {
            keys,
            fb_page_id: fb_page_id.to_string(),
            max_age: (max_age_secs > 0).then(|| Duration::seconds(max_age_secs)),
            web_origin,
            api_url: env.string_or("API_URL", "").trim().trim_end_matches('/').to_owned(),
            clock: Utc::now,
        })
    }
}

/// Why the tab refuses to show the app.
#[derive(Debug, thiserror::Error)]
pub enum TabRefusal {
    #[error("the form carries no signed_request")]
    Missing,
    #[error("the form carries more than one signed_request")]
    Duplicate,
    #[error("the form is too large")]
    TooLarge,
    #[error("signed_request refused: {0}")]
    Refused(#[from] AuthError),
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    if request.method() != Method::POST {
        let mut response = page(StatusCode::METHOD_NOT_ALLOWED, app, &message_page(Message::NotFromFacebook));
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let user_agent = request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if is_phone(user_agent) {
        tracing::info!("facebook tab opened on a phone");
        return page(StatusCode::OK, app, &message_page(Message::DesktopOnly));
    }
    match verified_signed_request(app, request.body()).await {
        Ok(signed_request) => {
            tracing::info!("facebook tab shown");
            page(StatusCode::OK, app, &app_page(app, &signed_request))
        }
        Err(refusal) => {
            tracing::info!(reason = %refusal, "facebook tab refused");
            page(StatusCode::UNAUTHORIZED, app, &message_page(Message::NotFromFacebook))
        }
    }
}

async fn verified_signed_request(app: &App, body: &[u8]) -> Result<String, TabRefusal> {
    if body.len() > MAX_BODY_BYTES {
        return Err(TabRefusal::TooLarge);
    }
    let mut found = None;
    for (key, value) in form_urlencoded::parse(body) {
        if key == "signed_request" {
            if found.is_some() {
                return Err(TabRefusal::Duplicate);
            }
            found = Some(value.into_owned());
        }
    }
    let signed_request = found.filter(|v| !v.is_empty()).ok_or(TabRefusal::Missing)?;
    let now = (app.clock)();
    let keys = app.keys.current();
    let verify = |secret| facebook::verify_for_page(&signed_request, secret, &app.fb_page_id, now, app.max_age);
    match verify(&keys.fb_app_secret) {
        // Perhaps the app secret was rotated since this instance read it.
        Err(AuthError::BadSignature) => match app.keys.reread_after_refusal(&keys).await {
            Some(fresh) => verify(&fresh.fb_app_secret)?,
            None => return Err(AuthError::BadSignature.into()),
        },
        checked => checked?,
    };
    Ok(signed_request)
}

/// Facebook's mobile apps and mobile browsers; tablets are served, as Facebook shows tabs there.
fn is_phone(user_agent: &str) -> bool {
    ["Mobi", "iPhone", "FBAN/", "FBAV/"].iter().any(|marker| user_agent.contains(marker))
}

/// The tab's pages, their markup and Russian texts (`templates/`), through the emails' template
/// engine. Values are escaped here, for the place they go, and handed over as safe.
fn pages() -> &'static Environment<'static> {
    static PAGES: OnceLock<Environment<'static>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in [
            ("app.html", include_str!("../templates/app.html")),
            ("message.html", include_str!("../templates/message.html")),
        ] {
            // Part of the binary, and a unit test renders each one: a parse error cannot ship.
            env.add_template(name, source).expect("a bundled page template parses");
        }
        env
    })
}

/// Which message page: the tab on a phone, or a tab that is not Facebook's.
#[derive(Clone, Copy)]
enum Message {
    DesktopOnly,
    NotFromFacebook,
}

fn message_page(message: Message) -> String {
    let name = match message {
        Message::DesktopOnly => "desktop_only",
        Message::NotFromFacebook => "not_from_facebook",
    };
    render("message.html", context! { message => name })
}

fn app_page(app: &App, signed_request: &str) -> String {
    let launch = serde_json::json!({ "signedRequest": signed_request, "apiUrl": app.api_url });
    render(
        "app.html",
        context! {
            web => Value::from_safe_string(html_attribute(&app.web_origin)),
            stylesheet => Value::from_safe_string(APP_STYLESHEET.to_owned()),
            script => Value::from_safe_string(APP_SCRIPT.to_owned()),
            launch => Value::from_safe_string(script_json(&launch)),
        },
    )
}

fn render(name: &str, values: Value) -> String {
    let page = pages().get_template(name).and_then(|template| template.render(values));
    // The templates are bundled and tested; only a bug gets here.
    page.unwrap_or_else(|e| {
        tracing::error!(error = %e, page = name, "a tab page cannot be rendered");
        String::new()
    })
}

/// JSON inside `<script>`: `<`, `>` and `&` escaped so no value can close the element.
fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

fn html_attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

fn page(status: StatusCode, app: &App, html: &str) -> Response<Body> {
    let connect = if app.api_url.is_empty() { "'self'".to_owned() } else { app.api_url.clone() };
    let policy = format!(
        "default-src 'none'; script-src {web}; style-src {web} 'unsafe-inline'; img-src {web} data:; \
         font-src {web}; connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors {FRAME_ANCESTORS}",
        web = app.web_origin,
    );
    let mut response = Response::new(Body::from(html.to_owned()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The origins come from configuration checked at start; a value a header cannot carry would
    // be a deployment fault, and the page is then served without a policy rather than not at all.
    match HeaderValue::from_str(&policy) {
        Ok(value) => {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        Err(_) => tracing::error!("WEB_ORIGIN or API_URL cannot go into a header"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use energosbyt::edge::auth::Secret;
    use energosbyt::secrets::SecretValues;

    const SECRET: &str = "tab-secret";
    const PAGE: &str = "7";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid timestamp")
    }

    fn app() -> App {
        App {
            keys: Secrets::fixed(SecretValues { fb_app_secret: SECRET.into(), ..SecretValues::default() }),
            fb_page_id: PAGE.into(),
            max_age: Some(Duration::hours(1)),
            web_origin: "https://pay.example.ru".into(),
            api_url: String::new(),
            clock: now,
        }
    }

    fn signed(issued_at: i64) -> String {
        signed_on(PAGE, issued_at)
    }

    fn signed_on(page: &str, issued_at: i64) -> String {
        let payload = serde_json::json!({"algorithm": "HMAC-SHA256", "issued_at": issued_at, "user_id": "42",
            "page": {"id": page, "liked": false, "admin": false}});
        facebook::sign(&payload, &Secret::from(SECRET))
    }

    fn post(body: &str, user_agent: &str) -> Request {
        let mut request = Request::new(Body::from(body.to_owned()));
        *request.method_mut() = Method::POST;
        request.headers_mut().insert(header::USER_AGENT, HeaderValue::from_str(user_agent).expect("ascii"));
        request
    }

    fn form(signed_request: &str) -> String {
        form_urlencoded::Serializer::new(String::new()).append_pair("signed_request", signed_request).finish()
    }

    const DESKTOP: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";
    const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

    fn text(response: &Response<Body>) -> String {
        String::from_utf8_lossy(response.body()).into_owned()
    }

    #[tokio::test]
    async fn a_fresh_signed_request_gets_the_app_with_it_injected() {
        let sr = signed(now().timestamp() - 10);
        let response = handle(&app(), post(&form(&sr), DESKTOP)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = text(&response);
        assert!(html.contains("src=\"https://pay.example.ru/assets/mini-app.js\""), "{html}");
        let start = html.find("id=\"fb-launch\">").expect("launch block") + "id=\"fb-launch\">".len();
        let end = start + html[start..].find("</script>").expect("closed");
        let launch: serde_json::Value = serde_json::from_str(&html[start..end]).expect("json");
        assert_eq!(launch["signedRequest"], sr.as_str());
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.ends_with("frame-ancestors https://*.facebook.com https://facebook.com"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(response.headers().get("x-frame-options").is_none());
        assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
    }

    #[tokio::test]
    async fn forged_stale_missing_or_doubled_signed_requests_get_a_401_page_in_russian() {
        let fresh = signed(now().timestamp());
        let mut forged = fresh.clone();
        forged.insert(0, if fresh.starts_with('A') { 'B' } else { 'A' });
        let bodies = [
            form(&forged),
            form(&signed(now().timestamp() - 3601)),
            // Signed with our app secret, but the tab was opened on another page.
            form(&signed_on("8", now().timestamp())),
            String::new(),
            "signed_request=".to_owned(),
            format!("{}&{}", form(&fresh), form(&fresh)),
            format!("{}&pad={}", form(&fresh), "a".repeat(MAX_BODY_BYTES)),
        ];
        for body in bodies {
            let response = handle(&app(), post(&body, DESKTOP)).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{body:.60}");
            let html = text(&response);
            assert!(html.contains("Не удалось открыть оплату"), "{html}");
            assert!(!html.contains("fb-launch"));
        }
    }

    /// The secret as Secrets Manager would hold it; clones share it, and the test rotates it.
    #[derive(Clone)]
    struct Rotating(std::sync::Arc<std::sync::Mutex<&'static str>>);

    impl energosbyt::secrets::SecretSource for Rotating {
        fn fetch(&self) -> energosbyt::secrets::Fetch<'_> {
            let fb_app_secret = Secret::from(*self.0.lock().unwrap());
            Box::pin(async move { Ok(SecretValues { fb_app_secret, ..SecretValues::default() }) })
        }
    }

    #[tokio::test]
    async fn given_the_app_secret_rotated_when_facebook_signs_with_the_new_one_then_the_tab_is_shown_after_one_reread()
    {
        let source = Rotating(std::sync::Arc::new(std::sync::Mutex::new(SECRET)));
        let keys = Secrets::load(source.clone(), std::time::Duration::from_secs(3600)).await.unwrap();
        let app = App { keys: keys.clone(), ..app() };
        *source.0.lock().unwrap() = "rotated-tab-secret";
        let payload = serde_json::json!({"algorithm": "HMAC-SHA256", "issued_at": now().timestamp(), "user_id": "42",
            "page": {"id": PAGE}});
        let signed_with_new = facebook::sign(&payload, &Secret::from("rotated-tab-secret"));

        let response = handle(&app, post(&form(&signed_with_new), DESKTOP)).await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(keys.rereads(), 1);
        let old = handle(&app, post(&form(&signed(now().timestamp())), DESKTOP)).await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "the old secret no longer signs");
        assert_eq!(keys.rereads(), 1, "and reads nothing more within the interval");
    }

    #[tokio::test]
    async fn a_phone_gets_the_desktop_only_explanation_and_no_app() {
        let response = handle(&app(), post(&form(&signed(now().timestamp())), PHONE)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = text(&response);
        assert!(html.contains("браузере компьютера"), "{html}");
        assert!(!html.contains("mini-app.js"));
    }

    #[tokio::test]
    async fn a_get_is_not_the_tab() {
        let mut request = post("", DESKTOP);
        *request.method_mut() = Method::GET;
        let response = handle(&app(), request).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }

    #[test]
    fn launch_json_cannot_close_its_script_element() {
        let value = serde_json::json!({"signedRequest": "</script><script>alert(1)</script>&"});
        let escaped = script_json(&value);
        assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('&'), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).expect("still json");
        assert_eq!(back, value);
    }

    #[test]
    fn configuration_names_a_bad_web_origin() {
        let env = Env::from_fn(|name| match name {
            "FB_PAGE_ID" => Some("118745708161011".into()),
            "WEB_ORIGIN" => Some("pay.example.ru".into()),
            _ => None,
        });
        let keys = || Secrets::fixed(SecretValues::default());
        assert!(matches!(App::from_env(&env, keys()), Err(ConfigError::Malformed { name: "WEB_ORIGIN", .. })));
        let env = Env::from_fn(|name| match name {
            "FB_PAGE_ID" => Some("118745708161011".into()),
            "WEB_ORIGIN" => Some("https://pay.example.ru/".into()),
            "API_URL" => Some("https://api.example.ru".into()),
            _ => None,
        });
        let app = App::from_env(&env, keys()).expect("valid");
        assert_eq!(app.web_origin, "https://pay.example.ru");
        assert_eq!(app.max_age, Some(Duration::hours(1)));
        assert_eq!(app.fb_page_id, "118745708161011");
        let env = Env::from_fn(|name| match name {
            "FB_APP_SECRET" => Some("s".into()),
            "FB_PAGE_ID" => Some("facebook.com/mosenergosbyt".into()),
            "WEB_ORIGIN" => Some("https://pay.example.ru".into()),
            _ => None,
        });
        assert!(matches!(
            App::from_env(&env, Secrets::fixed(SecretValues::default())),
            Err(ConfigError::Malformed { name: "FB_PAGE_ID", .. })
        ));
    }
}
