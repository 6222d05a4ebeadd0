//! The request body: `{"meterId": "3391024", "meterRef": 1, "values": {"T1": 12500, "T2": 6800},
//! "confirmRollover": false}` (`meterRef` and `confirmRollover` optional). `meterId` carries the
//! number printed on the meter as the customer typed it (or the meter's whole id, as earlier
//! clients send it); `meterRef` (the look-up's `ref`) names the meter it is meant for. Unknown
//! fields are refused, so a typo such as `confirmRolover` never silently means "not confirmed".

use energosbyt::domain::meter_number::TypedMeterNumber;
use energosbyt::domain::readings::SubmittedValues;
use energosbyt::domain::{MeterRef, Submission};
use energosbyt::edge::Problem;
use lambda_http::Body;
use serde::Deserialize;
use serde_json::error::Category;

/// Real bodies are under 200 bytes; anything near this is not a readings submission.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire {
    meter_id: String,
    #[serde(default)]
    meter_ref: Option<MeterRef>,
    values: SubmittedValues,
    #[serde(default)]
    confirm_rollover: bool,
}

#[derive(Debug)]
pub struct ReadingsRequest {
    /// `meterId` as the customer sent it, echoed in the answer: their own input, nothing more.
    pub meter_id: String,
    /// The number typed; `None` when nothing of a number was typed.
    pub meter_number: Option<TypedMeterNumber>,
    pub meter_ref: Option<MeterRef>,
    pub submission: Submission,
}

/// Why a body is not a readings request.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is over {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is empty")]
    Empty,
    #[error("the body is not JSON")]
    NotJson,
    /// JSON of another shape; the parser's words name the field.
    #[error("the body is not a readings request: {0}")]
    Shape(String),
}

impl ReadingsRequest {
    pub fn from_body(body: &Body) -> Result<Self, BodyError> {
        let bytes: &[u8] = match body {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        if bytes.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(BodyError::Empty);
        }
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
            Category::Data => BodyError::Shape(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => BodyError::NotJson,
        })?;
        Ok(Self {
            meter_number: TypedMeterNumber::new(&wire.meter_id),
            meter_id: wire.meter_id,
            meter_ref: wire.meter_ref,
            submission: Submission { values: wire.values, confirm_rollover: wire.confirm_rollover },
        })
    }
}

impl From<BodyError> for Problem {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Problem::payload_too_large(MAX_BODY_BYTES),
            BodyError::Empty => Problem::readings_body_empty(),
            BodyError::NotJson => Problem::readings_body_not_json(),
            BodyError::Shape(why) => Problem::readings_body_misshapen(&why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn refused(body: Body) -> Problem {
        Problem::from(ReadingsRequest::from_body(&body).unwrap_err())
    }

    #[test]
    fn a_well_formed_body_is_read_with_rollover_off_by_default() {
        let request =
            ReadingsRequest::from_body(&Body::from(r#"{"meterId":"M-1","values":{"T1":12500,"T2":6800}}"#)).unwrap();
        assert_eq!(request.meter_number, TypedMeterNumber::new("m1"));
        assert_eq!(request.meter_ref, None);
        assert!(!request.submission.confirm_rollover);
        let confirmed = ReadingsRequest::from_body(&Body::from(
            r#"{"meterId":"M-1","values":{"T1":12},"confirmRollover":true}"#.as_bytes().to_vec(),
        ))
        .unwrap();
        assert!(confirmed.submission.confirm_rollover);
        let named =
            ReadingsRequest::from_body(&Body::from(r#"{"meterId":" № ","meterRef":2,"values":{"T1":12}}"#)).unwrap();
        assert_eq!((named.meter_number, named.meter_ref), (None, MeterRef::from_position(2)));
    }

    #[test]
    fn unknown_fields_missing_fields_and_wrong_types_are_400() {
        for body in [
            r#"{"meterId":"M-1","values":{"T1":1},"confirmRolover":true}"#,
            r#"{"values":{"T1":1}}"#,
            r#"{"meterId":"M-1"}"#,
            r#"{"meterId":7,"values":{"T1":1}}"#,
            r#"{"meterId":"M-1","values":[1]}"#,
            r#"{"meterId":"M-1","values":{"T1":1},"confirmRollover":"yes"}"#,
            r#"{"meterId":"M-1","meterRef":0,"values":{"T1":1}}"#,
            r#"{"meterId":"M-1","meterRef":"1","values":{"T1":1}}"#,
            r#"[]"#,
        ] {
            let problem = refused(Body::from(body));
            assert_eq!(problem.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(problem.slug, "invalid-request", "{body}");
            assert!(problem.detail.as_deref().unwrap().starts_with("Запрос не по форме"), "{body}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_or_empty_is_400() {
        for body in [Body::from("meterId=M-1&T1=1"), Body::from("{\"meterId\":")] {
            assert_eq!(ReadingsRequest::from_body(&body).unwrap_err(), BodyError::NotJson);
            assert_eq!(refused(body).status, StatusCode::BAD_REQUEST);
        }
        for body in [Body::Empty, Body::from("  ")] {
            assert_eq!(ReadingsRequest::from_body(&body).unwrap_err(), BodyError::Empty);
            assert_eq!(refused(body).slug, "invalid-request");
        }
    }

    #[test]
    fn a_body_over_16_kib_is_413_even_when_it_is_json() {
        let padding = " ".repeat(MAX_BODY_BYTES);
        let body = format!(r#"{{"meterId":"M-1",{padding}"values":{{"T1":1}}}}"#);
        let problem = refused(Body::from(body));
        assert_eq!(problem.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(problem.body()["limit"], 16_384);
        let at_limit = format!("{:<width$}", r#"{"meterId":"M-1","values":{"T1":1}}"#, width = MAX_BODY_BYTES);
        assert!(ReadingsRequest::from_body(&Body::from(at_limit)).is_ok());
    }
}
