//! The two message shapes, as raw MIME for `SendRawEmail`:
//!
//! - a plain notice: `multipart/alternative` (text, HTML);
//! - a receipt: `multipart/related` (`multipart/alternative` (text, HTML), the QR code PNG), the
//!   HTML showing the image through `cid:`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

/// The headers every message carries. Subject and display name may be any Unicode: they are
/// written as RFC 2047 encoded words. Both addresses must already be plain `local@domain`.
pub(super) struct Envelope<'a> {
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    /// Without angle brackets: `payment-received.<id>@<domain>`.
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
}

/// An inline image the HTML refers to as `cid:<cid>`.
pub(super) struct InlineImage<'a> {
    pub cid: &'a str,
    pub filename: &'a str,
    pub png: &'a [u8],
}

fn alternative<'a>(text: &'a str, html: &'a str) -> MimePart<'a> {
    MimePart::new("multipart/alternative", vec![MimePart::new("text/plain", text), MimePart::new("text/html", html)])
}

pub(super) fn build(envelope: &Envelope<'_>, text: &str, html: &str, image: Option<&InlineImage<'_>>) -> Vec<u8> {
    let body = match image {
        None => alternative(text, html),
        Some(image) => MimePart::new(
            // RFC 2387: `type` names the root part's type.
            ContentType::new("multipart/related").attribute("type", "multipart/alternative"),
            vec![
                alternative(text, html),
                MimePart::new("image/png", image.png)
                    .header("Content-Disposition", ContentType::new("inline").attribute("filename", image.filename))
                    .cid(image.cid),
            ],
        ),
    };
    let message = MessageBuilder::new()
        // mail-builder would put the encoded name inside quotes, where RFC 2047 (§5) forbids
        // encoded words and strict clients show them undecoded: the header is written here.
        .header("From", Raw::new(format!("{} <{}>", encoded_words(envelope.from_name), envelope.from_address)))
        .to(Address::new_address(None::<&str>, envelope.to))
        .subject(envelope.subject)
        .message_id(envelope.message_id)
        .date(Date::new(envelope.date.timestamp()))
        .body(body);
    let mut raw = Vec::with_capacity(4096);
    // Writing into a Vec cannot fail: the only errors mail-builder returns are the writer's.
    message.write_to(&mut raw).expect("writing MIME into memory");
    raw
}

/// `text` as `=?utf-8?B?…?=` words of at most 72 characters, space-separated (the header writer
/// folds between them; decoders join adjacent words without the space). Words split only between
/// characters, as RFC 2047 (§5) requires.
fn encoded_words(text: &str) -> String {
    // 45 bytes of UTF-8 make 60 base64 characters: 72 with the `=?utf-8?B?` and `?=` around them.
    const MAX_CHUNK_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    for (at, ch) in text.char_indices() {
        if at + ch.len_utf8() - start > MAX_CHUNK_BYTES {
            words.push(&text[start..at]);
            start = at;
        }
    }
    words.push(&text[start..]);
    words.iter().map(|chunk| format!("=?utf-8?B?{}?=", STANDARD.encode(chunk))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(words: &str) -> String {
        words
            .split(' ')
            .map(|w| {
                let inner = w.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
                String::from_utf8(STANDARD.decode(inner).unwrap()).expect("each word holds whole characters")
            })
            .collect()
    }

    #[test]
    fn long_names_become_several_short_words_split_between_characters() {
        let name = "Акционерное общество «Мосэнергосбыт», Москва";
        let words = encoded_words(name);
        assert!(words.split(' ').count() > 1, "{words}");
        assert!(words.split(' ').all(|w| w.len() <= 75), "{words}");
        assert_eq!(decode(&words), name);
        assert_eq!(decode(&encoded_words("АО «Мосэнергосбыт»")), "АО «Мосэнергосбыт»");
        assert_eq!(encoded_words("АО").split(' ').count(), 1);
    }
}
