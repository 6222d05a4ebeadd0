//! The operator's tools, as a library so the integration tests import exactly what operators do.

pub mod billing_export;
