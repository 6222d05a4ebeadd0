//! CORS is the functions' own, in AWS as locally (template.yaml routes each mini-app route's
//! `OPTIONS` to its function and has no `CorsConfiguration`): the preflight and the headers of
//! every answer, through the real handlers, for an exact origin and for VK Hosting's
//! `https://*.pages.vk-apps.com`; and a throttled customer's page can read `Retry-After`.

use energosbyt::edge::MiniAppEdge;
use energosbyt::edge::cors::Cors;
use energosbyt::edge::throttle::ThrottleLimits;
use energosbyt::ports::AccountImport;
use integration_tests::*;
use lambda_http::{Body, Response};

const VK_HOSTING: &str = "https://app-51234567.pages.vk-apps.com";
const OWN_PAGE: &str = "https://d1a2b3c4.cloudfront.net";

/// The edge with the origins a deployment would pass in `AllowedOrigins`.
fn deployed_edge() -> MiniAppEdge {
    let mut edge = edge();
    edge.cors = Cors::from_list(&format!("{OWN_PAGE}, https://*.pages.vk-apps.com"));
    edge
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn preflight(path: &str, origin: &str, method: &str) -> lambda_http::Request {
    Event::new("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization, content-type, idempotency-key")
        .request()
}

fn user() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 + 1
}

#[tokio::test]
async fn given_an_allowed_origin_when_the_browser_asks_before_each_call_then_every_function_answers_the_preflight() {
    let store = store().await;
    let lookup = account_lookup::App { store: store.clone(), edge: deployed_edge() };
    let readings = submit_readings::App::new(store.clone(), deployed_edge());
    let pay = pay::App {
        store: store.clone(),
        acquirer: acquirer(),
        edge: deployed_edge(),
        settings: energosbyt::app::payment_registration::PaySettings::from_env(&energosbyt::config::Env::process())
            .unwrap(),
    };
    let number = fresh_account_number();
    for origin in [OWN_PAGE, VK_HOSTING] {
        let answers = [
            ("GET", account_lookup::handle(&lookup, preflight(&format!("/accounts/{number}"), origin, "GET")).await),
            (
                "POST",
                submit_readings::handle(&readings, preflight(&format!("/accounts/{number}/readings"), origin, "POST"))
                    .await,
            ),
            ("POST", pay::handle(&pay, preflight("/payments", origin, "POST")).await),
            ("GET", pay::handle(&pay, preflight("/payments/0f8fad5bd9cb469fa16570867728950e", origin, "GET")).await),
        ];
        for (method, response) in answers {
            assert_eq!(response.status(), 204, "{origin} {method}");
            assert_eq!(header(&response, "access-control-allow-origin"), Some(origin));
            assert!(header(&response, "access-control-allow-methods").is_some_and(|m| m.contains(method)));
            assert_eq!(
                header(&response, "access-control-allow-headers"),
                Some("Authorization, Content-Type, Idempotency-Key")
            );
            assert_eq!(header(&response, "access-control-max-age"), Some("600"));
        }
    }
    // Another site, or two labels under VK Hosting's domain, gets no way in.
    for origin in ["https://evil.example", "https://a.b.pages.vk-apps.com"] {
        let response = account_lookup::handle(&lookup, preflight(&format!("/accounts/{number}"), origin, "GET")).await;
        assert_eq!(response.status(), 403, "{origin}");
        assert_eq!(header(&response, "access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn given_a_throttled_customer_on_vk_hosting_then_the_page_can_read_when_to_retry() {
    let number = fresh_account_number();
    store().await.import_account(&account(number, "-10", vec![]), fixed_now()).await.unwrap();
    let mut edge = deployed_edge();
    let app_open = account_lookup::App { store: store().await, edge: deployed_edge() };
    edge.limits = ThrottleLimits { user_per_minute: 0, address_per_minute: 0, ..ThrottleLimits::default() };
    let app_throttled = account_lookup::App { store: store().await, edge };
    let call = || {
        Event::new("GET", &format!("/accounts/{number}"))
            .header("origin", VK_HOSTING)
            .vk(&vk_launch(user(), fixed_now()))
            .request()
    };

    let refused = account_lookup::handle(&app_throttled, call()).await;

    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some_and(|secs| secs.parse::<u64>().is_ok()));
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(VK_HOSTING));
    assert_eq!(header(&refused, "access-control-expose-headers"), Some("Retry-After, Idempotent-Replayed"));

    let served = account_lookup::handle(&app_open, call()).await;
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "access-control-allow-origin"), Some(VK_HOSTING));
    assert_eq!(header(&served, "vary"), Some("Origin"));
}
