//! Logging set-up shared by every binary.
