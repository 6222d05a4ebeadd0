//! What a function builds once per instance before it polls for its first event: the SDK's
//! environment loaded once, the table's client, and the secret read beside the table's one
//! connection warm-up. Each function adds only the clients of its own (SES, the acquirer, VK);
//! nothing here answers a request.

use crate::config::{ConfigError, Env};
use crate::outside_calls;
use crate::secrets::Secrets;
use crate::store::DynamoStore;

/// The parts every function that reads the table and the secret starts with.
pub struct Instance {
    pub env: Env<fn(&str) -> Option<String>>,
    /// For the function's other AWS clients (SES), built from the same environment.
    pub sdk: aws_config::SdkConfig,
    pub store: DynamoStore,
    pub secrets: Secrets,
}

impl Instance {
    /// `TABLE_NAME`, `SECRETS_NAME` and the SDK's environment. Two round trips side by side: the
    /// secret's read and the table's connection warm-up, with the read the function names
    /// (`DynamoStore::warm_up_with_item`, `…_with_query`, `…_with_payer_index`).
    pub async fn start<W: Future<Output = ()>>(warm_up: impl FnOnce(DynamoStore) -> W) -> Result<Self, ConfigError> {
        let env = Env::process();
        let sdk = outside_calls::sdk_config().await;
        let store = DynamoStore::from_sdk_config(&sdk, env.string("TABLE_NAME")?);
        let (secrets, ()) = tokio::join!(Secrets::from_sdk_config(&env, &sdk), warm_up(store.clone()));
        Ok(Self { env, sdk, store, secrets: secrets? })
    }
}
