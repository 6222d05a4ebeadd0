//! The operator's tools, as a library so the integration tests import exactly what operators do.

pub mod account_import;
pub mod billing_export;
pub mod desk;
pub mod export_chunks;
pub mod readings_export;
pub mod tariff_import;
