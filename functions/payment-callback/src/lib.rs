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
//!
//! What a notification does to the payment is decided in `energosbyt::app::settlement`, which the
//! scheduled reconciliation runs as well.

use energosbyt::acquirer::{
    Notification, NotificationError, PaymentNotification, TokenError, acquirer_event, verify_notification,
};
use energosbyt::app::settlement::{Effect, ReceiptOutcome, SettleError, Settlement};
use energosbyt::config::{ConfigError, Env};
use energosbyt::domain::PaymentId;
use energosbyt::domain::card_brand::CardBrand;
use energosbyt::domain::payment::Card;
use energosbyt::edge::Problem;
use energosbyt::mail::ses::SesMailer;
use energosbyt::mail::{MailFrom, MailSender, Mailer};
use energosbyt::metrics::{self, Metric};
use energosbyt::ports::ledger::{BankFacts, EmailLedger, PaymentLedger};
use energosbyt::ports::readings::ReadingsLookup;
use energosbyt::secrets::{SecretValues, Secrets};
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
    pub async fn from_env() -> Result<Self, ConfigError> {
        let env = Env::process();
        let secrets = Secrets::from_env(&env).await?;
        let store = DynamoStore::from_env(env.string("TABLE_NAME")?).await;
        let mailer = Mailer::new(SesMailer::from_env(&env).await?, MailFrom::from_env(&env)?);
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No Token at all: not the bank.
    Unsigned,
    /// A Token another password made: a rotated password, or a forgery.
    BadToken,
    /// Correctly signed, for another terminal.
    OtherTerminal,
    /// Not the bank's JSON, or a signed body of an unexpected shape.
    Malformed,
}

/// The notification, if `credentials` (our terminal and its password) verify it.
fn verified(raw: &str, credentials: &SecretValues) -> Result<Notification, Refusal> {
    let notification = verify_notification(raw, credentials.tbank_password.expose()).map_err(|e| {
        // The body is not logged: it is not ours to trust, and may hold an email.
        tracing::warn!(reason = %e, "notification refused");
        match e {
            NotificationError::Token(TokenError::Missing) => Refusal::Unsigned,
            NotificationError::Token(TokenError::Mismatch) => Refusal::BadToken,
            NotificationError::Token(_) | NotificationError::Shape(_) => Refusal::Malformed,
        }
    })?;
    let terminal = notification.terminal_key().as_bytes();
    if !bool::from(terminal.ct_eq(credentials.tbank_terminal_key.as_bytes())) {
        tracing::warn!("notification refused: signed for another terminal");
        return Err(Refusal::OtherTerminal);
    }
    Ok(notification)
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

fn malformed() -> Problem {
    Problem::bad_request("notification-malformed", "Уведомление не разобрано: ожидается JSON эквайера")
}

fn unsigned() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "notification-unsigned", "Уведомление не подписано или подпись неверна")
}

fn other_terminal() -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "notification-other-terminal", "Уведомление адресовано другому терминалу")
}

fn too_large() -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "notification-too-large", "Уведомление слишком велико")
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
        Body::Binary(bytes) => std::str::from_utf8(bytes).map_err(|_| malformed())?,
        Body::Empty => "",
        _ => return Err(malformed()),
    };
    if raw.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = raw.len(), "notification refused: too large");
        return Err(too_large());
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
        Refusal::Unsigned => unsigned(),
        Refusal::BadToken => {
            metrics::count(Metric::NotificationsRefused, 1);
            unsigned()
        }
        Refusal::OtherTerminal => {
            metrics::count(Metric::NotificationsRefused, 1);
            other_terminal()
        }
        Refusal::Malformed => malformed(),
    })?;
    let Ok(id) = notification.order_id().parse::<PaymentId>() else {
        return Ok(unknown_order(&notification));
    };
    let settlement = &app.settlement;
    let record = match &notification {
        Notification::Payment(n) => {
            let facts = facts_of(n, (settlement.clock)());
            let settled = settlement
                .apply_event(&id, |payment| acquirer_event(&n.status, Some(n.amount), payment.amount), &facts)
                .await
                .map_err(|e| fault(&id, &e))?;
            let Some(settled) = settled else {
                return Ok(unknown_order(&notification));
            };
            tracing::info!(
                payment_id = %id,
                bank_status = %n.status,
                effect = settled.effect.kind(),
                status = settled.record.payment.status.as_str(),
                "payment notification applied"
            );
            if settled.effect == Effect::RefundBeforeCredit {
                // Not an error of the bank's: its next delivery finds the payment credited.
                return Err(Problem::unavailable());
            }
            settled.record
        }
        Notification::Receipt(r) => {
            let outcome = settlement.accept_receipt(r, raw, &id).await.map_err(|e| fault(&id, &e))?;
            match outcome {
                None => return Ok(unknown_order(&notification)),
                // Delivering it again would not make it this payment's: it is logged as an anomaly.
                Some(ReceiptOutcome::NotThisPayment(_)) => return Ok(ok()),
                Some(ReceiptOutcome::Kept(record)) => *record,
            }
        }
    };
    settlement.deliver_due_emails(&record).await.map_err(|e| fault(&id, &e))?;
    Ok(ok())
}

/// A correctly signed notification about an order we never made: nothing to apply, and nothing
/// the bank could fix by delivering it again.
fn unknown_order(notification: &Notification) -> Response<Body> {
    metrics::count(Metric::Anomalies, 1);
    let order: String = notification.order_id().chars().take(40).collect();
    tracing::warn!(
        anomaly = "unknown_order",
        order_id = %order,
        acquirer_payment_id = %notification.payment_id(),
        amount = %notification.amount(),
        "anomaly"
    );
    ok()
}

/// Our own fault: logged, answered 503 so the bank delivers the notification again.
fn fault(id: &PaymentId, error: &SettleError) -> Problem {
    tracing::error!(payment_id = %id, error = %error, "notification not applied; the bank will deliver it again");
    Problem::unavailable()
}

fn facts_of(n: &PaymentNotification, at: chrono::DateTime<chrono::Utc>) -> BankFacts {
    BankFacts {
        status: n.status.as_str().to_owned(),
        acquirer_payment_id: Some(n.payment_id.as_str().to_owned()),
        card: n
            .pan
            .as_deref()
            .filter(|pan| !pan.trim().is_empty())
            .map(|pan| Card { pan: pan.trim().to_owned(), brand: CardBrand::of_pan(pan).name().to_owned() }),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use energosbyt::acquirer::token;
    use energosbyt::domain::Payment;
    use energosbyt::domain::payment_transition::Transition;
    use energosbyt::mail::{MailError, MessageId, OutgoingEmail};
    use energosbyt::ports::StoreError;
    use energosbyt::ports::ledger::{
        Applied, CustomerEmail, EmailClaim, EmailOutcome, PaymentRecord, ReceiptSlot, StoredReceipt,
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
        ) -> Result<Applied, StoreError> {
            panic!("the store was written")
        }
        async fn note_anomaly(&self, _: &PaymentId, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
            panic!("the store was written")
        }
        async fn keep_receipt(&self, _: &PaymentId, _: &StoredReceipt) -> Result<bool, StoreError> {
            panic!("the store was written")
        }
    }

    impl EmailLedger for Untouchable {
        async fn claim_email(
            &self,
            _: &PaymentId,
            _: &CustomerEmail,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Option<EmailClaim>, StoreError> {
            panic!("an email was claimed")
        }
        async fn settle_email(&self, _: &EmailClaim, _: EmailOutcome, _: DateTime<Utc>) -> Result<bool, StoreError> {
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

    #[test]
    fn an_email_claim_timeout_shorter_than_a_minute_is_refused_at_start() {
        let env = Env::from_fn(|name| (name == "EMAIL_CLAIM_TIMEOUT_SECS").then(|| "30".to_owned()));
        let result =
            Settlement::configure(&env, Untouchable, Mailer::new(NoMail, MailFrom::new("a@b.ru", "S").unwrap()));
        assert!(matches!(result, Err(ConfigError::Malformed { name: "EMAIL_CLAIM_TIMEOUT_SECS", .. })));
    }
}
