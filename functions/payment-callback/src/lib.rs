//! `POST /callbacks/tbank`: the acquirer's notifications. No VK / Facebook caller here: the
//! notification's Token, signed with our terminal password, is the authentication.
//!
//! A valid notification is answered `200` with the body `OK` (the only answer the bank takes as
//! delivered) once what it reports is durably applied and the emails it makes due have gone out;
//! a fault of ours (DynamoDB, SES) is answered `503`, so the bank delivers it again (hourly, for
//! a day). A body that is not a correctly signed notification of our terminal is answered `4xx`
//! with problem+json and changes nothing. One the terminal password in memory refuses is checked
//! once more against the secret read again (a rotated password needs no redeploy); a refusal that
//! stands is counted (`NotificationsRefused`), since a wrong password refuses every notification.
//! One correctly signed for our terminal that does not read (a field missing or not of its type)
//! is answered `400` as well, so the bank keeps delivering it for a day and a corrected reading
//! still gets it; it is counted (`Anomalies`) and logged by its `OrderId` for an operator.
//!
//! What a notification does to the payment is decided in `energosbyt::app::settlement`, which the
//! scheduled reconciliation runs as well.

use energosbyt::acquirer::{Notification, NotificationError, TokenError, Unreadable, verify_notification};
use energosbyt::app::settlement::{NotificationOutcome, Settlement};
use energosbyt::config::{ConfigError, Env};
use energosbyt::edge::Problem;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, MailSender, Mailer};
use energosbyt::metrics::{self, Metric};
use energosbyt::ports::ledger::{EmailLedger, PaymentLedger};
use energosbyt::ports::readings::ReadingsLookup;
use energosbyt::secrets::{SecretValues, Secrets};
use energosbyt::startup::Instance;
use energosbyt::store::DynamoStore;
use http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use subtle::ConstantTimeEq;

/// Notifications are a few hundred bytes; a receipt with its echoed items a few kilobytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct App<L, S> {
    pub settlement: Settlement<L, S>,
    /// Our terminal (a notification for another one is refused even when correctly signed) and
    /// the password its notifications are signed with.
    pub secrets: Secrets,
}

impl App<DynamoStore, SesMailer> {
    /// Configuration and clients, built once per Lambda instance: `TABLE_NAME`, the secret
    /// (`SECRETS_NAME`: the terminal key and password), `SES_SENDER`, `SELLER_NAME`,
    /// `SELLER_INN`, `SETTLEMENT_PLACE` and `OFD_NAME` (the receipt's place of settlement and OFD
    /// when the bank's notification names none), `EMAIL_CLAIM_TIMEOUT_SECS` (default 300) and
    /// `EMAIL_OVERDUE_SECS` (default 1800).
    ///
    /// The store's one connection warm-up runs here, beside the secret's read: `main` polls for
    /// events once this returns.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let Instance { env, sdk, store, secrets } = Instance::start(DynamoStore::warm_up_with_item).await?;
        let mailer = Mailer::new(SesMailer::from_sdk_config(&env, &sdk)?, MailFrom::from_env(&env)?);
        Self::configure(&env, secrets, store, mailer)
    }
}

impl<L, S> App<L, S>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    /// The settings every deployment reads, around a store and a mailer built by the caller.
    pub fn configure<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        secrets: Secrets,
        ledger: L,
        mailer: Mailer<S>,
    ) -> Result<Self, ConfigError> {
        Ok(Self { settlement: Settlement::configure(env, ledger, mailer)?, secrets })
    }
}

/// Why a notification is not ours to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// No Token at all: not the bank.
    Unsigned,
    /// A Token another password made: a rotated password, or a forgery.
    BadToken,
    /// Correctly signed, for another terminal.
    OtherTerminal,
    /// Not the bank's JSON, so no Token can be checked.
    Malformed,
    /// Correctly signed for our terminal, and not readable: the bank's, lost unless someone looks.
    Unreadable(Box<Unreadable>),
}

/// The notification, if `credentials` (our terminal and its password) verify it.
fn verified(raw: &str, credentials: &SecretValues) -> Result<Notification, Refusal> {
    let ours = |terminal: &str| bool::from(terminal.as_bytes().ct_eq(credentials.tbank_terminal_key.as_bytes()));
    let notification = verify_notification(raw, credentials.tbank_password.expose()).map_err(|e| match e {
        // A terminal we can read and that is not ours, whatever else fails to read.
        NotificationError::Shape(unreadable) if unreadable.terminal_key.as_deref().is_some_and(|key| !ours(key)) => {
            tracing::warn!("notification refused: signed for another terminal");
            Refusal::OtherTerminal
        }
        NotificationError::Shape(unreadable) => Refusal::Unreadable(unreadable),
        NotificationError::Token(e) => {
            // The body is not logged: it is not ours to trust, and may hold an email.
            tracing::warn!(reason = %e, "notification refused");
            match e {
                TokenError::Missing => Refusal::Unsigned,
                TokenError::Mismatch => Refusal::BadToken,
                _ => Refusal::Malformed,
            }
        }
    })?;
    if !ours(notification.terminal_key()) {
        tracing::warn!("notification refused: signed for another terminal");
        return Err(Refusal::OtherTerminal);
    }
    Ok(notification)
}

/// Counted and logged for an operator: the bank sent it, and nothing else will show it. Its
/// identifiers only, never its body (the echoed receipt holds the buyer's email).
fn unreadable(what: &Unreadable) -> Problem {
    metrics::count(Metric::Anomalies, 1);
    let short = |text: &Option<String>| text.as_deref().map(|t| t.chars().take(40).collect::<String>());
    tracing::warn!(
        anomaly = "unreadable_notification",
        order_id = short(&what.order_id),
        bank_status = short(&what.status),
        acquirer_payment_id = short(&what.payment_id),
        reason = %what.reason,
        "anomaly"
    );
    Problem::notification_malformed()
}

/// The answer the bank takes as "delivered".
fn ok() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text("OK".into()))
        .expect("a valid response")
}

pub async fn handle<L, S>(app: &App<L, S>, request: Request) -> Response<Body>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    match receive(app, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn receive<L, S>(app: &App<L, S>, request: Request) -> Result<Response<Body>, Problem>
where
    L: PaymentLedger + EmailLedger + ReadingsLookup + Sync,
    S: MailSender + Sync,
{
    if request.method() != Method::POST {
        return Err(Problem::method_not_allowed());
    }
    let raw = match request.body() {
        Body::Text(text) => text.as_str(),
        Body::Binary(bytes) => std::str::from_utf8(bytes).map_err(|_| Problem::notification_malformed())?,
        Body::Empty => "",
        _ => return Err(Problem::notification_malformed()),
    };
    if raw.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = raw.len(), "notification refused: too large");
        return Err(Problem::notification_too_large());
    }
    let credentials = app.secrets.current();
    let mut checked = verified(raw, &credentials);
    // Perhaps the password or the terminal was rotated since this instance read them.
    if matches!(checked, Err(Refusal::BadToken | Refusal::OtherTerminal))
        && let Some(fresh) = app.secrets.reread_after_refusal(&credentials).await
    {
        checked = verified(raw, &fresh);
    }
    let notification = checked.map_err(|refusal| match refusal {
        Refusal::Unsigned => Problem::notification_unsigned(),
        Refusal::BadToken => {
            metrics::count(Metric::NotificationsRefused, 1);
            Problem::notification_unsigned()
        }
        Refusal::OtherTerminal => {
            metrics::count(Metric::NotificationsRefused, 1);
            Problem::notification_other_terminal()
        }
        Refusal::Malformed => Problem::notification_malformed(),
        Refusal::Unreadable(what) => unreadable(&what),
    })?;
    match app.settlement.settle_notification(&notification, raw).await {
        Ok(NotificationOutcome::DeliverAgain) => Err(Problem::unavailable()),
        Ok(NotificationOutcome::Applied | NotificationOutcome::UnknownOrder | NotificationOutcome::NotThisPayment) => {
            Ok(ok())
        }
        // Our own fault, logged by the flow: answered 503 so the bank delivers it again.
        Err(_) => Err(Problem::unavailable()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use energosbyt::acquirer::token;
    use energosbyt::domain::payment_transition::Transition;
    use energosbyt::domain::{Payment, PaymentId};
    use energosbyt::mail::{MailError, MessageId, OutgoingEmail};
    use energosbyt::ports::StoreError;
    use energosbyt::ports::ledger::{
        Applied, BankFacts, CustomerEmail, EmailClaim, EmailOutcome, PaymentRecord, ReceiptSlot, StoredReceipt,
    };

    /// A store that must not be touched: a refused notification changes nothing.
    struct Untouchable;

    impl PaymentLedger for Untouchable {
        async fn payment_record(&self, _: &PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
            panic!("the store was read")
        }
        async fn apply_transition(
            &self,
            _: &PaymentRecord,
            _: &Transition,
            _: &BankFacts,
            _: &[EmailClaim],
        ) -> Result<Applied, StoreError> {
            panic!("the store was written")
        }
        async fn note_anomaly(&self, _: &PaymentId, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
            panic!("the store was written")
        }
        async fn keep_receipt(
            &self,
            _: &PaymentId,
            _: &StoredReceipt,
            _: Option<&EmailClaim>,
        ) -> Result<Option<PaymentRecord>, StoreError> {
            panic!("the store was written")
        }
    }

    impl EmailLedger for Untouchable {
        fn new_claim(&self, _: &PaymentId, _: CustomerEmail, _: DateTime<Utc>) -> EmailClaim {
            panic!("an email was claimed")
        }
        async fn claim_email(
            &self,
            _: &PaymentId,
            _: &CustomerEmail,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Option<EmailClaim>, StoreError> {
            panic!("an email was claimed")
        }
        async fn settle_email(
            &self,
            _: &EmailClaim,
            _: EmailOutcome,
            _: DateTime<Utc>,
            _: bool,
        ) -> Result<bool, StoreError> {
            panic!("an email was settled")
        }
        async fn release_email(&self, _: &EmailClaim) -> Result<(), StoreError> {
            panic!("an email was released")
        }
        async fn hold_unrendered(&self, _: &Payment, _: &ReceiptSlot) -> Result<(), StoreError> {
            panic!("a receipt was held")
        }
    }

    impl energosbyt::ports::readings::ReadingsLookup for Untouchable {
        async fn readings_by_id(
            &self,
            _: &energosbyt::domain::AccountNumber,
            _: &energosbyt::ports::readings::ReadingsId,
        ) -> Result<Option<energosbyt::ports::readings::SubmittedReadings>, StoreError> {
            panic!("readings were read")
        }
    }

    struct NoMail;

    impl MailSender for NoMail {
        async fn send(&self, _: &OutgoingEmail) -> Result<MessageId, MailError> {
            panic!("an email was sent")
        }
    }

    fn app() -> App<Untouchable, NoMail> {
        let env = Env::from_fn(|name| {
            Some(
                match name {
                    "SES_SENDER" => "noreply@pay.example.ru",
                    "SELLER_NAME" => "АО «Мосэнергосбыт»",
                    "SELLER_INN" => "7736520080",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        let mailer = Mailer::new(NoMail, MailFrom::from_env(&env).unwrap());
        let secrets = Secrets::fixed(SecretValues {
            tbank_terminal_key: "DemoTerminalKey".into(),
            tbank_password: energosbyt::acquirer::TerminalPassword::new("pw"),
            ..SecretValues::default()
        });
        App::configure(&env, secrets, Untouchable, mailer).unwrap()
    }

    fn request(method: &str, body: &str) -> Request {
        http::Request::builder().method(method).uri("/callbacks/tbank").body(Body::Text(body.to_owned())).unwrap()
    }

    fn signed(body: &str, password: &str) -> String {
        let token = token::sign_json(body, password).unwrap();
        format!(r#"{}, "Token": "{token}"}}"#, &body[..body.rfind('}').unwrap()])
    }

    const CONFIRMED: &str = r#"{"TerminalKey":"DemoTerminalKey","OrderId":"0e7e0000000000000000000000000001",
        "Success":true,"Status":"CONFIRMED","PaymentId":7000000001,"ErrorCode":"0","Amount":152037}"#;

    #[tokio::test]
    async fn a_refused_notification_is_a_problem_and_never_reaches_the_store_or_the_mail() {
        let app = app();
        let other_terminal = CONFIRMED.replace("DemoTerminalKey", "OtherTerminal");
        let cases = [
            ("POST", CONFIRMED.to_owned(), 401),
            ("POST", signed(CONFIRMED, "guess"), 401),
            ("POST", signed(&other_terminal, "pw"), 403),
            ("POST", signed(r#"{"TerminalKey":"DemoTerminalKey","Status":"CONFIRMED"}"#, "pw"), 400),
            ("POST", "not json".to_owned(), 400),
            ("POST", format!(r#"{{"Pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES)), 413),
            ("GET", signed(CONFIRMED, "pw"), 405),
        ];
        for (method, body, status) in cases {
            let response = handle(&app, request(method, &body)).await;
            assert_eq!(response.status().as_u16(), status, "{method} {}", &body[..body.len().min(60)]);
            assert_eq!(response.headers()[header::CONTENT_TYPE], energosbyt::edge::problem::CONTENT_TYPE);
        }
    }

    #[tokio::test]
    async fn a_signed_body_that_does_not_read_is_counted_when_ours_and_refused_as_foreign_when_not() {
        let app = app();
        let receipt = r#"{"TerminalKey":"DemoTerminalKey","OrderId":"0e7e0000000000000000000000000001",
            "Success":true,"Status":"RECEIPT","PaymentId":7000000001,"ErrorCode":"0"}"#;
        let counted = metrics::emitted(Metric::Anomalies);
        let response = handle(&app, request("POST", &signed(receipt, "pw"))).await;
        assert_eq!(response.status().as_u16(), 400, "a receipt without its Amount");
        assert!(metrics::emitted(Metric::Anomalies) > counted);
        let foreign = receipt.replace("DemoTerminalKey", "OtherTerminal");
        let refused = metrics::emitted(Metric::NotificationsRefused);
        assert_eq!(handle(&app, request("POST", &signed(&foreign, "pw"))).await.status().as_u16(), 403);
        assert!(metrics::emitted(Metric::NotificationsRefused) > refused);
    }

    #[test]
    fn an_email_claim_timeout_shorter_than_a_minute_is_refused_at_start() {
        let env = Env::from_fn(|name| (name == "EMAIL_CLAIM_TIMEOUT_SECS").then(|| "30".to_owned()));
        let result =
            Settlement::configure(&env, Untouchable, Mailer::new(NoMail, MailFrom::new("a@b.ru", "S").unwrap()));
        assert!(matches!(result, Err(ConfigError::Malformed { name: "EMAIL_CLAIM_TIMEOUT_SECS", .. })));
    }
}
