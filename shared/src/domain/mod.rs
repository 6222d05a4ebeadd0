//! Pure domain rules: no I/O, no clock (time is passed in), no AWS or Lambda types.

pub mod account;
pub mod account_number;
pub mod address_mask;
pub mod balance;
pub mod meter;
pub mod money;
pub mod readings_window;

pub use account::Account;
pub use account_number::{AccountNumber, AccountNumberError};
pub use balance::Balance;
pub use meter::{Meter, MeterId, Reading, Zone, ZoneSet};
pub use money::{Money, MoneyError};
pub use readings_window::{ReadingsWindow, WindowState};
