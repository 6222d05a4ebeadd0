//! The HTTP edge every function shares: who is calling (VK / Facebook), throttling,
//! problem+json errors, CORS, JSON answers.

pub mod auth;
pub mod cors;
pub mod mini_app;
mod payment_problems;
pub mod problem;
pub mod readings_problems;
pub mod response;
pub mod throttle;

pub use mini_app::{CallerContext, MiniAppEdge};
pub use problem::Problem;
