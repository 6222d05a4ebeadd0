//! The path every mini-app request takes around its endpoint's own work: CORS preflight, caller
//! authentication (VK / Facebook), the throttle's admission (counted while the endpoint's first
//! read runs); and after it: problem+json for every refusal and the CORS headers on every answer.
//! Each function hands it only its own step.

use super::Problem;
use super::auth::{self, AuthConfig, Caller};
use super::cors::Cors;
use super::throttle::{self, Subject, ThrottleLimits, ThrottleScope};
use super::throttle_lease::Leases;
use crate::config::{ConfigError, Env};
use crate::domain::AccountNumber;
use crate::ports::RequestCounter;
use crate::secrets::Secrets;
use chrono::{DateTime, Utc};
use http::{Method, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use tracing::Instrument;

/// Who is calling and when, established by the edge; handlers never read the user id from a body
/// or a path. `admission` is the throttle's say on the request, had with the endpoint's first read.
pub struct CallerContext<'a> {
    pub caller: Caller,
    pub now: DateTime<Utc>,
    pub admission: Admission<'a>,
}

type Verdict<'a> = Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + 'a>>;

/// The throttle's verdict on one request, counted with the account the endpoint is about to read
/// (the distinct-accounts budgets need it, and only the endpoint parses it).
///
/// [`Admission::read`] writes the counters while the endpoint's first read runs: one round trip
/// where counting first and reading after took two. The read's result comes back only when the
/// request is within its budgets, so nothing read is ever shown to a throttled caller, and an
/// endpoint that writes does so after `read` has returned. An endpoint that answers without
/// calling it (a malformed request, refused before any read) is counted by the edge afterwards,
/// without an account: every authenticated request is counted exactly once.
pub struct Admission<'a> {
    count: Box<dyn FnOnce(Option<AccountNumber>) -> Verdict<'a> + Send + 'a>,
    counted: Arc<AtomicBool>,
}

impl Admission<'_> {
    /// Counts the request against its budgets, `account` being the one `first_read` reads (`None`
    /// when it reads no account), and runs `first_read` meanwhile. A refusal (429, or 503 when the
    /// counters are down) is answered as soon as the counters have spoken, without waiting for the
    /// read: a refusal's timing must not tell a slow read (an account that exists) from a fast one.
    pub async fn read<T>(
        self,
        account: Option<&AccountNumber>,
        first_read: impl Future<Output = T>,
    ) -> Result<T, Problem> {
        self.counted.store(true, Ordering::Release);
        let mut verdict = (self.count)(account.copied());
        let mut first_read = std::pin::pin!(first_read);
        // Both make progress until the verdict is in; the read's value, if it came first, waits.
        let mut read = None;
        let admitted = std::future::poll_fn(|cx| {
            if read.is_none()
                && let Poll::Ready(value) = first_read.as_mut().poll(cx)
            {
                read = Some(value);
            }
            verdict.as_mut().poll(cx)
        })
        .await;
        admitted?;
        match read {
            Some(value) => Ok(value),
            None => Ok(first_read.await),
        }
    }
}

pub struct MiniAppEdge {
    pub auth: AuthConfig,
    pub cors: Cors,
    pub limits: ThrottleLimits,
    /// What this instance holds of each caller's minute budget.
    pub leases: Leases,
    /// The clock, replaceable in tests (the readings window depends on the date).
    pub clock: fn() -> DateTime<Utc>,
}

impl MiniAppEdge {
    /// `VK_APP_ID`, `FB_PAGE_ID`, `AUTH_MAX_AGE_SECS` (0 = no freshness check), `ALLOWED_ORIGINS`,
    /// and the throttle's budgets (`edge::throttle`): `THROTTLE_USER_PER_MINUTE`,
    /// `THROTTLE_USER_ACCOUNTS_PER_DAY`, `THROTTLE_IP_PER_MINUTE`, `THROTTLE_IP_ACCOUNTS_PER_DAY`,
    /// `THROTTLE_PAGE_PER_MINUTE`, `THROTTLE_PAGE_ACCOUNTS_PER_DAY`, `THROTTLE_ACCOUNTS_NOTICE_FROM`;
    /// the signing keys from `keys`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>, keys: &Secrets) -> Result<Self, ConfigError> {
        let max_age_secs: i64 = env.parse_or("AUTH_MAX_AGE_SECS", 3600)?;
        let defaults = ThrottleLimits::default();
        // Page ids are digits; a number here catches a page name or URL pasted by mistake.
        let fb_page_id: u64 = env.parse("FB_PAGE_ID")?;
        Ok(Self {
            auth: AuthConfig {
                vk_app_id: env.parse("VK_APP_ID")?,
                keys: keys.clone(),
                fb_page_id: fb_page_id.to_string(),
                max_age: (max_age_secs > 0).then(|| chrono::Duration::seconds(max_age_secs)),
            },
            cors: Cors::from_list(&env.string_or("ALLOWED_ORIGINS", "")),
            limits: ThrottleLimits {
                user_per_minute: env.parse_or("THROTTLE_USER_PER_MINUTE", defaults.user_per_minute)?,
                user_accounts_per_day: env
                    .parse_or("THROTTLE_USER_ACCOUNTS_PER_DAY", defaults.user_accounts_per_day)?,
                address_per_minute: env.parse_or("THROTTLE_IP_PER_MINUTE", defaults.address_per_minute)?,
                address_accounts_per_day: env
                    .parse_or("THROTTLE_IP_ACCOUNTS_PER_DAY", defaults.address_accounts_per_day)?,
                page_per_minute: env.parse_or("THROTTLE_PAGE_PER_MINUTE", defaults.page_per_minute)?,
                page_accounts_per_day: env
                    .parse_or("THROTTLE_PAGE_ACCOUNTS_PER_DAY", defaults.page_accounts_per_day)?,
                accounts_notice_from: env.parse_or("THROTTLE_ACCOUNTS_NOTICE_FROM", defaults.accounts_notice_from)?,
            },
            leases: Leases::default(),
            clock: Utc::now,
        })
    }

    /// Runs `endpoint` for an authenticated caller, with the [`Admission`] it must have before
    /// showing or writing anything. `methods` is what the route accepts besides `OPTIONS` (for the
    /// preflight and for 405).
    /// The CORS preflight of a path whose `methods` may be served by several functions (`GET` and
    /// `POST /payments`): whichever answers the `OPTIONS` names them all.
    pub fn preflight(&self, request: &Request, methods: &[Method]) -> Response<Body> {
        let origin = header_str(request, header::ORIGIN);
        let asked = header_str(request, header::ACCESS_CONTROL_REQUEST_METHOD);
        let allowed: Vec<&str> = methods.iter().map(Method::as_str).collect();
        self.cors.preflight(origin, asked, &allowed.join(", ")).map(Body::from)
    }

    pub async fn serve<'a, C, F, Fut>(
        &'a self,
        counter: &'a C,
        scope: ThrottleScope,
        methods: &[Method],
        request: Request,
        endpoint: F,
    ) -> Response<Body>
    where
        C: RequestCounter + Sync,
        F: FnOnce(Request, CallerContext<'a>) -> Fut,
        Fut: Future<Output = Result<Response<Body>, Problem>>,
    {
        let origin = header_str(&request, header::ORIGIN).map(str::to_owned);
        if request.method() == Method::OPTIONS {
            return self.preflight(&request, methods);
        }
        let mut response = if !methods.contains(request.method()) {
            let mut refused = Problem::method_not_allowed().into_response();
            // RFC 9110 §15.5.6: a 405 names the methods the resource does take.
            let allow = methods.iter().map(Method::as_str).chain(["OPTIONS"]).collect::<Vec<_>>().join(", ");
            if let Ok(allow) = header::HeaderValue::from_str(&allow) {
                refused.headers_mut().insert(header::ALLOW, allow);
            }
            refused
        } else {
            let now = (self.clock)();
            match auth::authenticate_fresh(header_str(&request, header::AUTHORIZATION), &self.auth, now).await {
                Err(e) => authentication_refused(&e).into_response(),
                Ok(caller) => {
                    let span = tracing::info_span!("caller", user = %caller.id);
                    self.run(counter, scope, request, caller, now, endpoint).instrument(span).await
                }
            }
        };
        for (name, value) in self.cors.headers_for(origin.as_deref()) {
            response.headers_mut().insert(name, value);
        }
        response
    }

    async fn run<'a, C, F, Fut>(
        &'a self,
        counter: &'a C,
        scope: ThrottleScope,
        request: Request,
        caller: Caller,
        now: DateTime<Utc>,
        endpoint: F,
    ) -> Response<Body>
    where
        C: RequestCounter + Sync,
        F: FnOnce(Request, CallerContext<'a>) -> Fut,
        Fut: Future<Output = Result<Response<Body>, Problem>>,
    {
        let subject = Subject::of(&caller.id, source_ip(&request).unwrap_or("unknown"));
        let counted = Arc::new(AtomicBool::new(false));
        let admission = {
            let subject = subject.clone();
            let (limits, leases) = (&self.limits, &self.leases);
            Admission {
                count: Box::new(move |account: Option<AccountNumber>| -> Verdict<'a> {
                    Box::pin(async move {
                        throttle::check(counter, leases, limits, scope, &subject, account.as_ref(), now).await
                    })
                }),
                counted: Arc::clone(&counted),
            }
        };
        let answer = endpoint(request, CallerContext { caller, now, admission }).await;
        if !counted.load(Ordering::Acquire)
            && let Err(refused) = throttle::check(counter, &self.leases, &self.limits, scope, &subject, None, now).await
        {
            return refused.into_response();
        }
        answer.unwrap_or_else(Problem::into_response)
    }
}

fn authentication_refused(e: &auth::AuthError) -> Problem {
    if e.is_server_fault() {
        tracing::error!(error = %e, "caller authentication is misconfigured");
        return Problem::unavailable();
    }
    tracing::info!(reason = e.reason(), error = %e, "caller refused");
    Problem::unauthenticated()
}

fn header_str(request: &Request, name: header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The client address as API Gateway saw it (never a forwarded header, which a caller controls).
pub fn source_ip(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        _ => None,
    }
}

/// A path parameter as routed (`/accounts/{account}`), falling back to the segment of the raw
/// path at `index` for local routers that do not fill `pathParameters`. Percent-decoded either
/// way (`12345%20678%2090`), since gateways differ in whether they decode it.
pub fn path_param<'a>(request: &'a Request, name: &str, index: usize) -> Option<std::borrow::Cow<'a, str>> {
    let raw = match request.path_parameters_ref().and_then(|p| p.first(name)) {
        Some(v) => v,
        None => request.uri().path().split('/').filter(|s| !s.is_empty()).nth(index)?,
    };
    percent_encoding::percent_decode_str(raw).decode_utf8().ok()
}
