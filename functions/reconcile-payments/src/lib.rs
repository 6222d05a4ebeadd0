//! The scheduled reconciliation's wiring: the flow is `energosbyt::app::reconciliation`; this crate
//! builds it once per instance around DynamoDB, SES and the bank's API.

use energosbyt::acquirer::{TbankClient, TbankSettings};
use energosbyt::app::reconciliation::Reconciler;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;

/// `TABLE_NAME`, the acquirer's `TBANK_API_URL` and the secret (`SECRETS_NAME`: the terminal key
/// and password), the mail and seller settings of the callback, and the run's own settings
/// ([`Reconciler::configure`]).
///
/// The store's one connection warm-up runs here, beside the secret's read.
pub async fn from_env()
-> Result<Reconciler<DynamoStore, SesMailer, TbankClient>, Box<dyn std::error::Error + Send + Sync>> {
    let Instance { env, sdk, store, secrets } = Instance::start(DynamoStore::warm_up_with_item).await?;
    let mailer = Mailer::new(SesMailer::from_sdk_config(&env, &sdk)?, MailFrom::from_env(&env)?);
    let acquirer = TbankClient::new(TbankSettings::from_env()?, secrets)?;
    Ok(Reconciler::configure(&env, store, mailer, acquirer)?)
}
