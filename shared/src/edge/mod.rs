//! The HTTP edge every function shares: who is calling (VK / Facebook), problem+json errors, CORS.

pub mod auth;
