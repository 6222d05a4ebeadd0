//! Local demo helper: prints freshly signed launch parameters and ready-to-paste requests for the
//! local stack. Uses the demo keys from `local.env`; never meant for real keys.

use chrono::Utc;
use clap::{Parser, Subcommand};
use energosbyt::edge::auth::{Secret, facebook, vk};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "energosbyt-demo", about = "Signed demo requests for the local stack")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The API URL and a `curl` that looks up a demo account as a VK user would.
    Curl {
        #[arg(long, default_value = "10000-000-01")]
        account: String,
        #[arg(long, env = "API_URL")]
        api_url: String,
    },
    /// A VK launch query (as VK appends it to the mini app's URL), signed now.
    VkLaunch {
        #[arg(long, default_value_t = 494075)]
        user: u64,
        /// `vk_platform` as VK's client of that kind sends it (`mobile_android`, `mobile_iphone`, …).
        #[arg(long, default_value = "desktop_web")]
        platform: String,
    },
    /// A Facebook page-tab `signed_request` of the page `FB_PAGE_ID`, signed now.
    FbSignedRequest {
        #[arg(long, default_value = "100001234567890")]
        user: String,
        /// As for a visitor who never authorised the app: no `user_id`.
        #[arg(long)]
        anonymous: bool,
    },
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (load local.env)"))
}

/// Launch parameters as VK hands them to a mini app opened on `platform` (`desktop_web`: a
/// desktop browser).
fn vk_launch(user: u64, platform: &str) -> Result<String, String> {
    let secret = Secret::from(env("VK_APP_SECRET")?);
    Ok(vk::launch_query(&env("VK_APP_ID")?, user, Utc::now().timestamp(), platform, &secret))
}

/// Signed as Facebook signs it for the tab on the page the API and the tab accept (`FB_PAGE_ID`).
fn fb_signed_request(user: &str, anonymous: bool) -> Result<String, String> {
    let secret = Secret::from(env("FB_APP_SECRET")?);
    let mut payload = serde_json::json!({
        "algorithm": "HMAC-SHA256",
        "issued_at": Utc::now().timestamp(),
        "user_id": user,
        "page": {"id": env("FB_PAGE_ID")?, "liked": true, "admin": false},
    });
    if anonymous && let Some(fields) = payload.as_object_mut() {
        fields.remove("user_id");
    }
    Ok(facebook::sign(&payload, &secret))
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Curl { account, api_url } => vk_launch(494075, "desktop_web").map(|launch| {
            format!(
                "API: {api_url}\n\nLook up demo account {account} as VK user 494075 (the signature is fresh for an hour):\n\n  curl -s -H 'Authorization: VK {launch}' {api_url}/accounts/{account}\n"
            )
        }),
        Command::VkLaunch { user, platform } => vk_launch(user, &platform),
        Command::FbSignedRequest { user, anonymous } => fb_signed_request(&user, anonymous),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
