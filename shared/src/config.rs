//! Configuration, read once from the environment in each function's `main`.
//!
//! Locally the values come from `local.env`; in AWS the template supplies them. Secrets are not
//! among them: the environment names the secret (`SECRETS_NAME`), read at run time by
//! `crate::secrets`. A missing or malformed value stops the function at init with a message naming
//! the variable, instead of failing on the first request.

use std::str::FromStr;

#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {why}")]
    Malformed { name: &'static str, why: String },
    /// The secret `SECRETS_NAME` names cannot be read or lacks a value (`crate::secrets`).
    #[error("the secret named by SECRETS_NAME cannot be used: {0}")]
    Secret(String),
}

/// The message itself: a function that stops at init prints its error's `Debug` (`Error: …`), and
/// this reads better than the variant's fields.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Reads variables from a source (the process environment, or a map in tests).
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env { lookup: |name| std::env::var(name).ok() }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn from_fn(lookup: F) -> Self {
        Env { lookup }
    }

    pub fn string(&self, name: &'static str) -> Result<String, ConfigError> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
    }

    pub fn string_or(&self, name: &'static str, default: &str) -> String {
        self.string(name).unwrap_or_else(|_| default.to_owned())
    }

    pub fn parse<T: FromStr>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.string(name)?;
        raw.trim().parse().map_err(|e: T::Err| ConfigError::Malformed { name, why: e.to_string() })
    }

    pub fn parse_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.parse(name) {
            Err(ConfigError::Missing(_)) => Ok(default),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_variable_that_is_missing_or_malformed() {
        let env = Env::from_fn(|name| (name == "N").then(|| "x12".to_owned()));
        assert!(matches!(env.parse::<u32>("N"), Err(ConfigError::Malformed { name: "N", .. })));
        assert!(matches!(env.string("M"), Err(ConfigError::Missing("M"))));
        assert_eq!(env.parse_or::<u32>("M", 7).unwrap(), 7);
        assert!(env.parse_or::<u32>("N", 7).is_err());
    }

    #[test]
    fn a_function_stopped_at_init_prints_the_message_not_the_variant() {
        // What `main`'s `?` makes of it, and what the runtime prints of that.
        let stopped: Box<dyn std::error::Error + Send + Sync> = ConfigError::Missing("TABLE_NAME").into();
        assert_eq!(format!("Error: {stopped:?}"), "Error: environment variable TABLE_NAME is not set");
    }
}
