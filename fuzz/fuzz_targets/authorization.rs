//! The `Authorization` header: `edge::auth::authenticate`, which picks VK or Facebook by scheme.
//!
//! The first input byte picks how the rest becomes a header: as it is; `VK ` or `Bearer ` and the
//! rest as a launch query signed with the app key; `FB ` and the rest as a payload signed with the
//! app secret. The others reach the verifiers' later checks this way.
//!
//! Properties, beyond "never panics":
//! - the scheme's case and whitespace around the header do not change the verdict;
//! - `VK`, `Bearer` (for a launch query) and `FB` reach exactly the verdict of the platform's own
//!   verifier (for `FB`, of the pinned page), and the caller is the verified user;
//! - an oversize header is refused before anything else.
#![no_main]

use energosbyt::edge::auth::{
    AuthConfig, AuthError, Caller, CallerId, DEFAULT_MAX_AGE, MAX_CREDENTIALS_LEN, Secret, authenticate, facebook, vk,
};
use energosbyt_fuzz::{FB_APP_SECRET, FB_PAGE_ID, VK_APP_ID, VK_APP_SECRET, facebook_signed_request, now, vk_resigned};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(rest) = std::str::from_utf8(rest) else { return };
    let cfg = AuthConfig::new(VK_APP_ID, Secret::from(VK_APP_SECRET), Secret::from(FB_APP_SECRET), FB_PAGE_ID);

    let header = match mode % 4 {
        0 => rest.to_owned(),
        1 => format!("VK {}", vk_resigned(rest, &Secret::from(VK_APP_SECRET)).1),
        2 => format!("Bearer {}", vk_resigned(rest, &Secret::from(VK_APP_SECRET)).1),
        _ => format!("FB {}", facebook_signed_request(rest.as_bytes(), FB_APP_SECRET)),
    };
    let verdict = authenticate(Some(&header), &cfg, now());
    if header.len() > MAX_CREDENTIALS_LEN {
        assert_eq!(verdict, Err(AuthError::Malformed("oversize")));
        return;
    }

    // Case of the scheme and surrounding whitespace.
    let swapped: String = match header.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, credentials)) => format!("{} {credentials}", swap_case(scheme)),
        None => swap_case(&header),
    };
    if swapped.len() <= MAX_CREDENTIALS_LEN {
        assert_eq!(authenticate(Some(&swapped), &cfg, now()), verdict, "{swapped:?}");
    }
    let padded = format!(" {header}\t");
    if padded.len() <= MAX_CREDENTIALS_LEN {
        assert_eq!(authenticate(Some(&padded), &cfg, now()), verdict, "{padded:?}");
    }

    // Each scheme is its platform's verifier and nothing else.
    let credentials = header.split_once(' ').map(|(_, c)| c.trim()).unwrap_or_default();
    match mode % 4 {
        1 if !credentials.is_empty() => assert_eq!(verdict, vk_caller(credentials, &cfg)),
        2 if !credentials.is_empty() && vk_looks_like_launch(credentials) => {
            assert_eq!(verdict, vk_caller(credentials, &cfg));
        }
        3 => {
            let fb_secret = Secret::from(FB_APP_SECRET);
            let expected = facebook::verify_for_page(credentials, &fb_secret, FB_PAGE_ID, now(), Some(DEFAULT_MAX_AGE))
                .map(|p| Caller { id: p.caller_id(), platform: None });
            // The page is checked after everything else: another page's request is otherwise good.
            if verdict == Err(AuthError::WrongPage) {
                let other = facebook::verify(credentials, &fb_secret, now(), Some(DEFAULT_MAX_AGE));
                assert!(other.is_ok_and(|p| p.page_id.as_deref() != Some(FB_PAGE_ID)));
            }
            assert_eq!(verdict, expected);
        }
        _ => {}
    }
    if let Ok(Caller { id: CallerId::Vk(user), .. }) = &verdict {
        assert!(*user > 0);
    }
});

fn vk_caller(query: &str, cfg: &AuthConfig) -> Result<Caller, AuthError> {
    vk::verify(query, &Secret::from(VK_APP_SECRET), cfg.vk_app_id, now(), cfg.max_age)
        .map(|launch| Caller { id: CallerId::Vk(launch.user_id), platform: launch.platform })
}

/// VK's `Bearer` form: some `vk_*` or `sign` key with a value.
fn vk_looks_like_launch(credentials: &str) -> bool {
    let query = credentials.strip_prefix('?').unwrap_or(credentials);
    query.split('&').any(|pair| pair.split_once('=').is_some_and(|(key, _)| key.starts_with("vk_") || key == "sign"))
}

fn swap_case(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }).collect()
}
