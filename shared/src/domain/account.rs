//! A customer's account as the look-up and the later endpoints see it.

use super::address_mask::Address;
use super::{AccountNumber, Balance, Meter};
use serde::{Deserialize, Serialize};

/// The tariff group the utility bills the account under (e.g. `gas-stove`, `electric-stove`,
/// `rural`): tariffs are looked up by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TariffGroup(pub String);

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub number: AccountNumber,
    pub address: Address,
    pub balance: Balance,
    pub tariff_group: TariffGroup,
    pub meters: Vec<Meter>,
}
