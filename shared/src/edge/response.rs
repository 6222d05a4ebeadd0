//! The one helper that builds every successful JSON answer.

use http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).expect("our response types serialise");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("a valid response")
}
