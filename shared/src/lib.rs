//! The Mosenergosbyt social-network payment service: the pure domain, the narrow ports each
//! function asks for, the adapters behind them (DynamoDB, SES, the acquirer) and the HTTP edge
//! every function shares (caller authentication, problem+json, CORS), and the secrets they sign and
//! verify with (`secrets`), read at run time.
//!
//! The business flows (`app`) take the ports and answer typed outcomes; functions translate HTTP
//! to them. Domain code (`domain`) never sees Lambda or AWS types; functions never build a DynamoDB
//! expression (`store` does).

pub mod acquirer;
#[cfg(feature = "adapters")]
pub mod app;
pub mod config;
pub mod domain;
pub mod edge;
#[cfg(feature = "adapters")]
pub mod mail;
pub mod metrics;
#[cfg(feature = "adapters")]
pub mod outside_calls;
pub mod ports;
pub mod secrets;
#[cfg(feature = "adapters")]
pub mod startup;
#[cfg(feature = "adapters")]
pub mod store;
#[cfg(feature = "adapters")]
pub mod telemetry;
#[cfg(feature = "adapters")]
pub mod vk;
