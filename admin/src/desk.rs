//! The operator's desk on the command line (`energosbyt-admin desk …`): the flow is
//! `energosbyt::app::operator_desk`; this module wires it to DynamoDB, SES and the bank's API as
//! the reconciliation does, and writes what it lists and did, one line each, nothing personal.

use energosbyt::acquirer::{TbankClient, TbankSettings, VatCodes};
use energosbyt::app::operator_desk::{Desk, DeskOutcome};
use energosbyt::app::settlement::Settlement;
use energosbyt::config::Env;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, Mailer};
use energosbyt::ports::operator_desk::DeskItem;
use energosbyt::secrets::Secrets;
use energosbyt::store::DynamoStore;

/// The desk around `table`, the acquirer's `TBANK_API_URL` and secret (`SECRETS_NAME`), and the
/// mail and seller settings the callback uses (its emails are settlement's).
pub async fn from_env(table: &str) -> Result<Desk<DynamoStore, SesMailer, TbankClient>, String> {
    let env = Env::process();
    let secrets = Secrets::from_env(&env).await.map_err(|e| format!("the acquirer secret: {e}"))?;
    let store = DynamoStore::from_env(table).await;
    let ses = SesMailer::from_env(&env).await.map_err(|e| format!("the mail settings: {e}"))?;
    let mailer = Mailer::new(ses, MailFrom::from_env(&env).map_err(|e| format!("the mail settings: {e}"))?);
    let settings = TbankSettings::from_env().map_err(|e| format!("the acquirer settings: {e}"))?;
    let acquirer = TbankClient::new(settings, secrets).map_err(|e| format!("the acquirer settings: {e}"))?;
    let settlement = Settlement::configure(&env, store, mailer).map_err(|e| format!("the seller's requisites: {e}"))?;
    Ok(Desk { settlement, acquirer, vat_codes: VatCodes::from_env() })
}

/// One listed payment: id, kinds, when set aside, amount (and refunded), status, masked account.
pub fn line(item: &DeskItem) -> String {
    let kinds: Vec<&str> = item.kinds.iter().map(|k| k.as_str()).collect();
    let refunded = if item.refunded.is_positive() { format!(" (refunded {})", item.refunded) } else { String::new() };
    format!(
        "{}  {}  {}  {}{refunded}  {}  {}",
        item.payment,
        kinds.join(","),
        item.since.format("%Y-%m-%d %H:%M:%S UTC"),
        item.amount,
        item.status.as_str(),
        item.account.masked(),
    )
}

/// What an action did, for the operator.
pub fn done(outcome: &DeskOutcome) -> String {
    match outcome {
        DeskOutcome::Credited { amount } => format!("credited {amount}"),
        DeskOutcome::AlreadyCredited => "already credited: nothing changed".to_owned(),
        DeskOutcome::Refunded { amount, total_refunded } => {
            format!("refunded {amount} (refunded in all {total_refunded}); the refund receipt follows from the bank")
        }
        DeskOutcome::AlreadyRefunded { amount, by, at } => {
            format!("{amount} was refunded by {by} at {}: nothing changed", at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        DeskOutcome::Reviewed => "reviewed: off the desk".to_owned(),
        DeskOutcome::AlreadyReviewed { by, at } => {
            format!("reviewed by {by} at {}: nothing changed", at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
    }
}
