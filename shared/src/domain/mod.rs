//! Pure domain rules: no I/O, no clock (time is passed in), no AWS or Lambda types.

pub mod account;
pub mod account_number;
pub mod address_mask;
pub mod amount_due;
pub mod balance;
pub mod card_brand;
pub mod charge;
pub mod email;
pub mod fiscal_receipt;
pub mod meter;
pub mod meter_number;
pub mod meter_number_budget;
pub mod meter_number_mask;
pub mod money;
pub mod payment;
pub mod payment_request;
pub mod payment_transition;
pub mod readings;
pub mod readings_id;
pub mod readings_ownership;
pub mod readings_window;
pub mod tariff;
pub mod vat;

pub use account::Account;
pub use account_number::{AccountNumber, AccountNumberError};
pub use amount_due::AmountDue;
pub use balance::Balance;
pub use card_brand::CardBrand;
pub use charge::{Charge, ChargeLine};
pub use fiscal_receipt::{FiscalReceipt, FiscalReceiptError, SellerRequisites};
pub use meter::{Meter, MeterId, MeterRef, Reading, Zone, ZoneSet};
pub use money::{Money, MoneyError};
pub use payment::{Payment, PaymentId, PaymentStatus};
pub use readings::{AcceptedReadings, ReadingsError, ReadingsLimits, Submission, YearMonth};
pub use readings_window::{ReadingsWindow, WindowState};
pub use tariff::{Tariff, TariffBasis, TariffError, TariffTable};
