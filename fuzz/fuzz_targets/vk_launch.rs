//! VK launch parameters: `edge::auth::vk::verify`.
//!
//! Properties, beyond "never panics":
//! - whatever the input, its parameters signed with the app's key (and encoded the standard way,
//!   not VK's) pass the signature check, and then reach the same verdict as the input itself
//!   whenever the input got past its own signature check;
//! - a verified launch re-signed with the same key verifies again to the same launch, and with
//!   another key is a bad signature;
//! - a verified launch holds exactly what its signed parameters say;
//! - with freshness switched off, whatever verified with it on still verifies, identically.
#![no_main]

use chrono::Duration;
use energosbyt::edge::auth::vk::{self, VkLaunch};
use energosbyt::edge::auth::{AuthError, DEFAULT_MAX_AGE, MAX_CREDENTIALS_LEN, Secret};
use energosbyt_fuzz::{VK_APP_ID, VK_APP_SECRET, now, vk_resigned};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let secret = Secret::from(VK_APP_SECRET);
    let verify = |q: &str, secret: &Secret, max_age: Option<Duration>| vk::verify(q, secret, VK_APP_ID, now(), max_age);

    let received = verify(query, &secret, Some(DEFAULT_MAX_AGE));
    if let Ok(launch) = &received {
        assert_eq!(verify(query, &secret, None).as_ref(), Ok(launch));
    }
    if query.len() > MAX_CREDENTIALS_LEN {
        assert_eq!(received, Err(AuthError::Malformed("oversize")));
        return;
    }

    let (params, resigned) = vk_resigned(query, &secret);
    if resigned.len() > MAX_CREDENTIALS_LEN {
        return;
    }
    let again = verify(&resigned, &secret, Some(DEFAULT_MAX_AGE));
    let read_apart = matches!(
        received,
        Err(AuthError::DuplicateKey | AuthError::ArraySyntax | AuthError::Malformed("percent_encoding"))
    );
    if read_apart {
        // The input's own reading refused it; the lossy form decoder may have read it another way.
        return;
    }
    match (&received, &again) {
        (_, Err(AuthError::BadSignature | AuthError::Unsigned)) => {
            panic!("parameters signed with the app key failed the signature check: {again:?}\n{resigned}")
        }
        (Err(AuthError::BadSignature | AuthError::Unsigned), _) => {}
        _ => assert_eq!(again, received, "the signed form reached another verdict\n{resigned}"),
    }
    let Ok(launch) = again else { return };
    check_launch(&launch, &params);

    let (_, twice) = vk_resigned(&resigned, &secret);
    assert_eq!(verify(&twice, &secret, Some(DEFAULT_MAX_AGE)).as_ref(), Ok(&launch));
    let other = Secret::from(format!("{VK_APP_SECRET}x"));
    assert_eq!(verify(&resigned, &other, Some(DEFAULT_MAX_AGE)), Err(AuthError::BadSignature));
});

/// The launch says what the signed parameters say.
fn check_launch(launch: &VkLaunch, params: &[(String, String)]) {
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    assert!(launch.user_id > 0);
    assert!(get("vk_user_id").is_some_and(digits));
    assert_eq!(get("vk_user_id").and_then(|v| v.parse().ok()), Some(launch.user_id));
    assert_eq!(launch.app_id, VK_APP_ID);
    assert_eq!(launch.platform.as_deref(), get("vk_platform"));
    assert_eq!(launch.language.as_deref(), get("vk_language"));
    assert_eq!(launch.group_id, get("vk_group_id").map(|v| v.parse().expect("a verified group id is digits")));
    let ts = launch.ts.expect("freshness on: vk_ts is required");
    assert!((energosbyt_fuzz::NOW - 3600..=energosbyt_fuzz::NOW + 60).contains(&ts), "{ts}");
}
