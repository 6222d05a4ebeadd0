//! The path every mini-app request takes before its endpoint's own work: CORS preflight, caller
//! authentication (VK / Facebook), throttling; and after it: problem+json for every refusal and the
//! CORS headers on every answer. Each function hands it only its own step.

use super::Problem;
use super::auth::{self, AuthConfig, Caller};
use super::cors::Cors;
use super::throttle::{self, ThrottleLimits, ThrottleScope};
use crate::config::{ConfigError, Env};
use crate::ports::RequestCounter;
use crate::secrets::Secrets;
use chrono::{DateTime, Utc};
use http::{Method, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use tracing::Instrument;

/// Who is calling and when, established by the edge; handlers never read the user id from a body
/// or a path.
pub struct CallerContext {
    pub caller: Caller,
    pub now: DateTime<Utc>,
}

pub struct MiniAppEdge {
    pub auth: AuthConfig,
    pub cors: Cors,
    pub limits: ThrottleLimits,
    /// The clock, replaceable in tests (the readings window depends on the date).
    pub clock: fn() -> DateTime<Utc>,
}

impl MiniAppEdge {
    /// `VK_APP_ID`, `AUTH_MAX_AGE_SECS` (0 = no freshness check), `ALLOWED_ORIGINS`,
    /// `THROTTLE_USER_PER_MINUTE`, `THROTTLE_IP_PER_MINUTE`; the signing keys from `keys`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>, keys: &Secrets) -> Result<Self, ConfigError> {
        let max_age_secs: i64 = env.parse_or("AUTH_MAX_AGE_SECS", 3600)?;
        let defaults = ThrottleLimits::default();
        Ok(Self {
            auth: AuthConfig {
                vk_app_id: env.parse("VK_APP_ID")?,
                keys: keys.clone(),
                max_age: (max_age_secs > 0).then(|| chrono::Duration::seconds(max_age_secs)),
            },
            cors: Cors::from_list(&env.string_or("ALLOWED_ORIGINS", "")),
            limits: ThrottleLimits {
                per_user: env.parse_or("THROTTLE_USER_PER_MINUTE", defaults.per_user)?,
                per_ip: env.parse_or("THROTTLE_IP_PER_MINUTE", defaults.per_ip)?,
                window_secs: 60,
            },
            clock: Utc::now,
        })
    }

    /// Runs `endpoint` for an authenticated, unthrottled caller. `methods` is what the route
    /// accepts besides `OPTIONS` (for the preflight and for 405).
    pub async fn serve<C, F, Fut>(
        &self,
        counter: &C,
        scope: ThrottleScope,
        methods: &[Method],
        request: Request,
        endpoint: F,
    ) -> Response<Body>
    where
        C: RequestCounter,
        F: FnOnce(Request, CallerContext) -> Fut,
        Fut: Future<Output = Result<Response<Body>, Problem>>,
    {
        let origin = header_str(&request, header::ORIGIN).map(str::to_owned);
        if request.method() == Method::OPTIONS {
            let asked = header_str(&request, header::ACCESS_CONTROL_REQUEST_METHOD);
            let allowed: Vec<&str> = methods.iter().map(Method::as_str).collect();
            return self.cors.preflight(origin.as_deref(), asked, &allowed.join(", ")).map(Body::from);
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
            match self.admit(counter, scope, &request).await {
                Err(problem) => problem.into_response(),
                Ok(context) => {
                    let span = tracing::info_span!("caller", user = %context.caller.id);
                    async move { endpoint(request, context).await.unwrap_or_else(Problem::into_response) }
                        .instrument(span)
                        .await
                }
            }
        };
        for (name, value) in self.cors.headers_for(origin.as_deref()) {
            response.headers_mut().insert(name, value);
        }
        response
    }

    async fn admit<C: RequestCounter>(
        &self,
        counter: &C,
        scope: ThrottleScope,
        request: &Request,
    ) -> Result<CallerContext, Problem> {
        let now = (self.clock)();
        let header = header_str(request, header::AUTHORIZATION);
        let caller = auth::authenticate_fresh(header, &self.auth, now).await.map_err(|e| {
            if e.is_server_fault() {
                tracing::error!(error = %e, "caller authentication is misconfigured");
                return Problem::unavailable();
            }
            tracing::info!(reason = e.reason(), error = %e, "caller refused");
            Problem::unauthenticated()
        })?;
        let ip = source_ip(request).unwrap_or("unknown");
        // Visitors of the Facebook tab who never authorised the app share one id per page; for
        // them only the per-address limit is meaningful.
        let user = (!caller.id.is_anonymous()).then(|| caller.id.to_string());
        throttle::check(counter, &self.limits, scope, user.as_deref(), ip, now.timestamp()).await?;
        Ok(CallerContext { caller, now })
    }
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
