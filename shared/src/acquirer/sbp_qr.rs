//! `GetQr`: after `Init`, the bank registers the payment with СБП and answers its payment link
//! (`DataType` `PAYLOAD`, what we ask for) or an SVG of its QR (`IMAGE`). We always take the link:
//! a phone opens it, and a computer shows the QR we draw from it ourselves.

use super::messages::PaymentId;
use super::messages::lenient;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// What `GetQr` answers in `Data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QrDataType {
    /// The СБП payment link (`https://qr.nspk.ru/…`).
    Payload,
    /// An SVG image of the QR code.
    Image,
}

/// The `GetQr` body (the client adds `TerminalKey` and `Token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QrRequest {
    /// The bank documents it as a number: sent as one whenever it is all digits.
    #[serde(serialize_with = "payment_id_as_number")]
    pub payment_id: PaymentId,
    pub data_type: QrDataType,
}

impl QrRequest {
    /// The СБП link of a payment `Init` created.
    pub fn link(payment_id: PaymentId) -> Self {
        Self { payment_id, data_type: QrDataType::Payload }
    }
}

fn payment_id_as_number<S: Serializer>(id: &PaymentId, s: S) -> Result<S::Ok, S::Error> {
    // Up to 20 digits: more than a `u64` holds.
    match id.as_str().parse::<u128>() {
        Ok(number) => s.serialize_u128(number),
        Err(_) => s.serialize_str(id.as_str()),
    }
}

/// `GetQr`'s answer on success.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QrResponse {
    pub payment_id: PaymentId,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub order_id: Option<String>,
    /// The link or the SVG, as asked. Whoever holds the link can pay: kept out of `Debug`.
    #[serde(deserialize_with = "lenient::string")]
    pub data: String,
}

impl fmt::Debug for QrResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrResponse")
            .field("payment_id", &self.payment_id)
            .field("order_id", &self.order_id)
            .finish_non_exhaustive()
    }
}

/// A link the customer can be sent to: http(s), no spaces, of a length a QR code holds with ease.
pub fn is_usable_link(link: &str) -> bool {
    const MAX_LINK: usize = 1024;
    (link.starts_with("https://") || link.starts_with("http://"))
        && link.len() <= MAX_LINK
        && !link.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_payment_as_a_number_and_asks_for_the_link() {
        let body = serde_json::to_value(QrRequest::link(PaymentId::new("5974256058"))).unwrap();
        assert_eq!(body, serde_json::json!({"PaymentId": 5_974_256_058_u64, "DataType": "PAYLOAD"}));
        let twenty_digits = serde_json::to_string(&QrRequest::link(PaymentId::new("98765432109876543210"))).unwrap();
        assert!(twenty_digits.contains(r#""PaymentId":98765432109876543210"#), "{twenty_digits}");
        let odd = serde_json::to_value(QrRequest::link(PaymentId::new("ab-1"))).unwrap();
        assert_eq!(odd["PaymentId"], "ab-1");
        let image = QrRequest { payment_id: PaymentId::new("1"), data_type: QrDataType::Image };
        assert_eq!(serde_json::to_value(image).unwrap()["DataType"], "IMAGE");
    }

    #[test]
    fn the_answer_is_read_leniently_and_its_link_never_shows_in_debug() {
        let body = r#"{"Success":true,"ErrorCode":"0","TerminalKey":"T","OrderId":21090,
            "PaymentId":5974256058,"Data":"https://qr.nspk.ru/AS1000670LSS7DN18SJQDNP4B05KLJL2?type=01"}"#;
        let r: QrResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.payment_id.as_str(), "5974256058");
        assert_eq!(r.order_id.as_deref(), Some("21090"));
        assert!(r.data.starts_with("https://qr.nspk.ru/"));
        assert!(!format!("{r:?}").contains("nspk"));
    }

    #[test]
    fn only_a_plain_http_link_can_be_sent_to_a_customer() {
        assert!(is_usable_link("https://qr.nspk.ru/AS1000670LSS7DN18SJQDNP4B05KLJL2?type=01"));
        assert!(is_usable_link("http://127.0.0.1:9101/sbp/pay/1"));
        assert!(!is_usable_link("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"));
        assert!(!is_usable_link("javascript:alert(1)"));
        assert!(!is_usable_link("https://qr.nspk.ru/a b"));
        assert!(!is_usable_link(&format!("https://qr.nspk.ru/{}", "a".repeat(1100))));
    }
}
