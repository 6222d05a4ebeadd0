//! What the fuzz targets share: the demo secrets, a fixed clock, and signers written from the
//! protocols' published rules rather than borrowed from the code under test, so a target can turn
//! any input into one that passes the signature check and reach the parsing behind it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;

/// The demo terminal password (local.env), so the repository's signed events verify as they are.
pub const TBANK_PASSWORD: &str = "xJkS6OFA55CqZra22MDb13ng";
/// The demo VK app (local.env).
pub const VK_APP_ID: u64 = 51234567;
pub const VK_APP_SECRET: &str = "8uA59US4sdxoD1hbHTJMg4XV";
/// The demo Facebook app secret (local.env).
pub const FB_APP_SECRET: &str = "8a6ebbf1f653d1ce3eb7814294b65ffa";
/// The page the seeds' tab payloads name, pinned as the service pins `FB_PAGE_ID`.
pub const FB_PAGE_ID: &str = "104857600213579";
/// The instant every target verifies at: the `vk_ts` of the repository's events.
pub const NOW: i64 = 1_795_176_000;

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(NOW, 0).expect("a valid instant")
}

/// The root members of a JSON object in order, duplicates kept, each value as its exact text.
pub struct RootPairs<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RootPairs<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = RootPairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    pairs.push((key, value));
                }
                Ok(RootPairs(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

impl<'a> RootPairs<'a> {
    pub fn parse(body: &'a str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }

    /// The first key that appears twice, if any.
    pub fn duplicate(&self) -> Option<&str> {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// A JSON object from members whose values are already JSON text.
pub fn object<'a>(members: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let members: Vec<String> = members
        .into_iter()
        .map(|(key, value)| format!("{}:{value}", serde_json::to_string(key).expect("a string serialises")))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// T-Bank's Token, from the bank's published algorithm: root scalars (not objects, arrays or
/// nulls, not `Token`), plus `Password`, sorted by key in byte order, values concatenated (numbers
/// and booleans as written, strings unescaped), SHA-256, lowercase hex. `None` when a root string
/// has no value to sign (an escape that decodes to no character).
pub fn tbank_token(pairs: &RootPairs<'_>, password: &str) -> Option<String> {
    let mut signed: Vec<(&str, String)> = vec![("Password", password.to_owned())];
    for (key, raw) in &pairs.0 {
        if key == "Token" || key == "Password" {
            continue;
        }
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'{' | b'[' | b'n') | None => {}
            Some(b'"') => signed.push((key, serde_json::from_str::<String>(text).ok()?)),
            Some(_) => signed.push((key, text.to_owned())),
        }
    }
    signed.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    for (_, value) in &signed {
        hasher.update(value.as_bytes());
    }
    Some(hex::encode(hasher.finalize()))
}

/// A Facebook `signed_request` over these exact payload bytes: `base64url(HMAC-SHA256(secret,
/// payload segment)) "." base64url(payload)`, both unpadded, as Facebook sends them.
pub fn facebook_signed_request(payload: &[u8], secret: &str) -> String {
    let body = URL_SAFE_NO_PAD.encode(payload);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    format!("{}.{body}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// A launch query's parameters as any form decoder reads them (`+` is a space), without `sign`,
/// and the same parameters signed with `secret` and encoded the standard way (which is not VK's
/// encoding: only the decoded values are signed, so it must not matter).
pub fn vk_resigned(query: &str, secret: &energosbyt::edge::auth::Secret) -> (Vec<(String, String)>, String) {
    let query = query.strip_prefix('?').unwrap_or(query);
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).into_owned().filter(|(key, _)| key != "sign").collect();
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sign = energosbyt::edge::auth::vk::sign(&borrowed, secret);
    let resigned =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(&borrowed).append_pair("sign", &sign).finish();
    (params, resigned)
}
