//! The population test's model of the service, apart from the service's code: a seeded customer
//! base written as the billing export (`generator`), and an oracle that says from the published
//! rules alone what every request must answer (`oracle`). `tests/tests/population.rs` drives the
//! real handlers with both.

pub mod generator;
pub mod model;
pub mod oracle;
