//! The scheduled readings reminders' wiring: the flow is `energosbyt::app::reminders::send_due`;
//! this crate builds it once per instance around DynamoDB and VK's API.

use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use energosbyt::vk::{VkNotifier, VkSettings};

pub struct Sender {
    pub store: DynamoStore,
    pub vk: VkNotifier,
}

/// `TABLE_NAME`, `VK_API_URL` and the secret (`SECRETS_NAME`: the VK service token).
pub async fn from_env() -> Result<Sender, Box<dyn std::error::Error + Send + Sync>> {
    let Instance { env, store, secrets, .. } = Instance::start(DynamoStore::warm_up_with_item).await?;
    let vk = VkNotifier::new(VkSettings::from_env(&env)?, secrets)?;
    Ok(Sender { store, vk })
}
