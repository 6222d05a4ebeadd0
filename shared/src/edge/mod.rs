//! The HTTP edge every function shares: who is calling (VK / Facebook), throttling,
//! problem+json errors, CORS, JSON answers.

pub mod auth;
pub mod cors;
pub mod mini_app;
pub mod problem;
pub mod response;
pub mod throttle;

pub use mini_app::{CallerContext, MiniAppEdge};
pub use problem::Problem;
