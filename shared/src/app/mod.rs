//! The application layer: one module per business flow, each taking the ports and settings it
//! needs and answering a typed outcome or a typed error. Functions only translate HTTP (or the
//! scheduler's event) to a flow and its error to problem+json; no flow sees a Lambda type.
//!
//! Inside the `energosbyt` crate, behind `adapters`, because the flows compose the customer emails
//! through the templates of `mail` and pause with tokio's timer; the domain and the ports they
//! build on stay free of both.

pub mod customer_emails;
pub mod idempotency;
pub mod lookup;
pub mod meter_number_proof;
pub mod operator_desk;
pub mod payment_history;
pub mod payment_registration;
pub mod payment_status;
pub mod readings_submission;
pub mod receipt_copy;
pub mod reconciliation;
pub mod reminders;
pub mod settlement;
pub mod tariff_cache;
