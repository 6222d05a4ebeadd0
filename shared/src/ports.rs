//! Narrow ports: one trait per capability a function needs.
