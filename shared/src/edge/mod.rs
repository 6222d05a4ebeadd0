//! The HTTP edge every function shares: who is calling (VK / Facebook), throttling,
//! problem+json errors, CORS, JSON answers.

pub mod auth;
#[cfg(feature = "adapters")]
pub mod cors;
#[cfg(feature = "adapters")]
mod history_problems;
#[cfg(feature = "adapters")]
pub mod json_body;
#[cfg(feature = "adapters")]
pub mod mini_app;
#[cfg(feature = "adapters")]
mod notification_problems;
#[cfg(feature = "adapters")]
mod payment_problems;
#[cfg(feature = "adapters")]
pub mod problem;
#[cfg(feature = "adapters")]
pub mod readings_problems;
#[cfg(feature = "adapters")]
mod receipt_problems;
#[cfg(feature = "adapters")]
mod reminder_problems;
#[cfg(feature = "adapters")]
pub mod response;
#[cfg(feature = "adapters")]
pub mod throttle;
#[cfg(feature = "adapters")]
pub mod throttle_lease;

#[cfg(feature = "adapters")]
pub use mini_app::{CallerContext, MiniAppEdge};
#[cfg(feature = "adapters")]
pub use problem::Problem;
