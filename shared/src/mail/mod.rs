//! Customer emails: the "payment received" notice and the fiscal receipt.
//!
//! [`Mailer`] renders both from the bundled templates (`shared/templates/`, HTML and plain text)
//! into complete MIME messages and hands them to a [`MailSender`] — [`ses::SesMailer`] in
//! production. Rendering is pure and separate from sending, so a caller can render first and
//! decide what to do with a refusal.
//!
//! ```ignore
//! let mailer = Mailer::new(SesMailer::from_env(&env).await?, MailFrom::from_env(&env)?);
//! let sent = mailer.send_payment_received(&PaymentReceived { payment: &p, paid_at, readings: &[] }).await;
//! let receipt = notification.fiscal_receipt(&p, &seller)?;
//! let sent = mailer.send_fiscal_receipt(&receipt).await;
//! ```
//!
//! The emails show what the customer must see and nothing more: the account number, amounts,
//! the card's brand and last four digits; never the address.

mod mime;
pub mod qr;
pub mod ses;
mod templates;

pub use crate::ports::mail::{MailError, MailSender, MessageId, OutgoingEmail};
pub use qr::QrImageError;

use crate::config::{ConfigError, Env};
use crate::domain::PayMethod;
use crate::domain::card_brand::last_four;
use crate::domain::email::Email;
use crate::domain::fiscal_receipt::SettlementSign;
use crate::domain::readings::ZoneLabel;
use crate::domain::{AcceptedReadings, FiscalReceipt, MeterId, Payment, ZoneSet};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Moscow;
use mime::{Envelope, InlineImage};
use minijinja::Environment;
use serde::Serialize;
use templates::{FiscalReceiptView, PaymentReceivedView, ReadingView, moscow_time, rubles};

/// Who the emails come from: the verified SES identity and the seller's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom {
    address: String,
    name: String,
}

/// Not a plain ASCII `local@domain` address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a plain local@domain email address")]
pub struct InvalidAddress;

impl MailFrom {
    /// `name` is shown as the sender, e.g. «АО «Мосэнергосбыт»».
    pub fn new(address: &str, name: impl Into<String>) -> Result<Self, InvalidAddress> {
        Ok(Self { address: mailbox(address)?, name: name.into().trim().to_owned() })
    }

    /// From `SES_SENDER` and `SELLER_NAME`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Self::new(&env.string("SES_SENDER")?, env.string("SELLER_NAME")?)
            .map_err(|e| ConfigError::Malformed { name: "SES_SENDER", why: e.to_string() })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The part after `@`: names our Message-IDs and Content-IDs.
    fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("localhost", |(_, domain)| domain)
    }
}

/// Meter readings handed in with a payment ("Оплатить по показаниям"), one line per zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedInReading {
    pub meter_id: MeterId,
    /// The zone as the bill names it: `T2 (ночь)`.
    pub zone: ZoneLabel,
    /// Whole kWh.
    pub value: u64,
}

impl HandedInReading {
    /// The lines of one accepted submission, in zone order.
    pub fn of(accepted: &AcceptedReadings, zone_set: ZoneSet) -> Vec<Self> {
        accepted
            .values
            .iter()
            .map(|(zone, value)| Self {
                meter_id: accepted.meter_id.clone(),
                zone: ZoneLabel { zone: *zone, zone_set },
                value: *value,
            })
            .collect()
    }
}

/// What the "payment received" notice says.
#[derive(Clone, Copy, Debug)]
pub struct PaymentReceived<'a> {
    /// The paid payment: its email is the recipient, its card (if the bank reported one) is
    /// named by brand and last four digits.
    pub payment: &'a Payment,
    /// When the bank captured the money.
    pub paid_at: DateTime<Utc>,
    /// Readings handed in with this payment; empty when none were.
    pub readings: &'a [HandedInReading],
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Not a plain `local@domain` address SES accepts: nothing was rendered for it.
    #[error("the recipient is not a deliverable email address")]
    InvalidRecipient,
    #[error("an email template failed to render: {0}")]
    Template(#[from] minijinja::Error),
    #[error(transparent)]
    QrImage(#[from] QrImageError),
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl DeliveryError {
    /// Only an unavailable mail service is worth another attempt: a message that did not render
    /// or was rejected will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Mail(e) if e.is_retryable())
    }
}

/// Renders the customer emails and sends them through `S`. Build once per process: the
/// templates are parsed here.
pub struct Mailer<S> {
    sender: S,
    from: MailFrom,
    templates: Environment<'static>,
    /// The `Date` header's clock; tests fix it.
    pub clock: fn() -> DateTime<Utc>,
}

impl<S> Mailer<S> {
    pub fn new(sender: S, from: MailFrom) -> Self {
        Self { sender, from, templates: templates::environment(), clock: Utc::now }
    }

    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// «Оплата электроэнергии получена — л/с 29614-328-09»: amount, account, Moscow date and
    /// time, payment ids, card, readings, «без комиссии».
    pub fn render_payment_received(&self, message: &PaymentReceived<'_>) -> Result<OutgoingEmail, RenderError> {
        Ok(self.compose_payment_received(message)?.into_email(self))
    }

    /// «Кассовый чек от 15.01.2026 — оплата электроэнергии, л/с 29614-328-09»: every requisite,
    /// with the FNS QR code as an inline PNG.
    pub fn render_fiscal_receipt(&self, receipt: &FiscalReceipt) -> Result<OutgoingEmail, RenderError> {
        Ok(self.compose_fiscal_receipt(receipt)?.into_email(self))
    }

    /// The same receipt sent again at the customer's request: a Message-ID of its own (`copy`
    /// names which copy, e.g. `2026-11-20.2`), so a mail client that still holds the first one
    /// does not take the copy for it and drop it.
    pub fn render_fiscal_receipt_copy(
        &self,
        receipt: &FiscalReceipt,
        copy: &str,
    ) -> Result<OutgoingEmail, RenderError> {
        let mut composed = self.compose_fiscal_receipt(receipt)?;
        composed.message_id =
            format!("receipt-copy.{}.{}.{copy}@{}", receipt.payment_id, receipt.fd_number, self.from.domain());
        Ok(composed.into_email(self))
    }

    fn compose_payment_received(&self, message: &PaymentReceived<'_>) -> Result<Composed, RenderError> {
        let payment = message.payment;
        let to = payment
            .email
            .as_ref()
            .ok_or(RenderError::InvalidRecipient)
            .and_then(|email| mailbox(email.expose()).map_err(|_| RenderError::InvalidRecipient))?;
        let view = PaymentReceivedView {
            seller_name: self.from.name.clone(),
            account: payment.account.to_string(),
            amount: rubles(payment.amount),
            paid_at: moscow_time(message.paid_at),
            payment_id: payment.id.to_string(),
            bank_payment_id: payment.acquirer_payment_id.clone(),
            // A СБП payment names СБП: whatever the bank sent in place of a card is not one.
            pay_method: (payment.method == PayMethod::Sbp).then(|| PayMethod::Sbp.label().to_owned()),
            card: payment.card.as_ref().filter(|_| payment.method == PayMethod::Card).map(|card| {
                let brand = card.brand;
                match last_four(&card.pan) {
                    Some(tail) => format!("{brand} •••• {tail}"),
                    None => brand.to_string(),
                }
            }),
            readings: message
                .readings
                .iter()
                .map(|r| ReadingView { meter: r.meter_id.to_string(), zone: r.zone.to_string(), value: r.value })
                .collect(),
        };
        Ok(Composed {
            to,
            subject: format!("Оплата электроэнергии получена — л/с {}", payment.account),
            message_id: format!("payment-received.{}@{}", payment.id, self.from.domain()),
            text: self.render(templates::PAYMENT_RECEIVED_TEXT, &view)?,
            html: self.render(templates::PAYMENT_RECEIVED_HTML, &view)?,
            qr: None,
        })
    }

    fn compose_fiscal_receipt(&self, receipt: &FiscalReceipt) -> Result<Composed, RenderError> {
        let to = mailbox(&receipt.buyer_email).map_err(|_| RenderError::InvalidRecipient)?;
        let image = qr::qr_png(&receipt.fns_qr_text())?;
        // Unique per receipt, so a client never shows one receipt's code in another.
        let cid = format!("fns-qr.{}.{}@{}", receipt.payment_id, receipt.fd_number, self.from.domain());
        let view = FiscalReceiptView::of(receipt, cid.clone(), image.side_px);
        let what = match receipt.sign {
            SettlementSign::Income => "оплата электроэнергии",
            SettlementSign::IncomeReturn => "возврат оплаты электроэнергии",
        };
        let day = receipt.issued_at.with_timezone(&Moscow).format("%d.%m.%Y");
        Ok(Composed {
            to,
            subject: format!("Кассовый чек от {day} — {what}, л/с {}", receipt.account),
            message_id: format!("receipt.{}.{}@{}", receipt.payment_id, receipt.fd_number, self.from.domain()),
            text: self.render(templates::FISCAL_RECEIPT_TEXT, &view)?,
            html: self.render(templates::FISCAL_RECEIPT_HTML, &view)?,
            qr: Some((cid, image.png)),
        })
    }

    fn render(&self, template: &str, view: &impl Serialize) -> Result<String, RenderError> {
        Ok(self.templates.get_template(template)?.render(view)?)
    }
}

/// A rendered email before it becomes MIME.
struct Composed {
    to: String,
    subject: String,
    /// Derived from the payment (and the receipt's FD), so a message re-sent after a retried
    /// notification carries the same id and mail clients can show it once.
    message_id: String,
    text: String,
    html: String,
    /// The QR code's Content-ID and PNG.
    qr: Option<(String, Vec<u8>)>,
}

impl Composed {
    fn into_email<S>(self, mailer: &Mailer<S>) -> OutgoingEmail {
        let envelope = Envelope {
            from_name: &mailer.from.name,
            from_address: &mailer.from.address,
            to: &self.to,
            subject: &self.subject,
            message_id: &self.message_id,
            date: (mailer.clock)(),
        };
        let image = self.qr.as_ref().map(|(cid, png)| InlineImage { cid, filename: "qr-chek.png", png });
        let raw_mime = mime::build(&envelope, &self.text, &self.html, image.as_ref());
        OutgoingEmail { to: self.to, subject: self.subject, raw_mime }
    }
}

impl<S: MailSender + Sync> Mailer<S> {
    pub async fn send_payment_received(&self, message: &PaymentReceived<'_>) -> Result<MessageId, DeliveryError> {
        let email = self.render_payment_received(message)?;
        Ok(self.sender.send(&email).await?)
    }

    pub async fn send_fiscal_receipt(&self, receipt: &FiscalReceipt) -> Result<MessageId, DeliveryError> {
        let email = self.render_fiscal_receipt(receipt)?;
        Ok(self.sender.send(&email).await?)
    }
}

/// An address a MIME header can carry and SES can deliver to: the shape every customer email
/// has ([`Email::parse`]), in plain ASCII (SES takes no internationalised addresses) and without
/// the characters that would end a header line or add a second recipient.
fn mailbox(raw: &str) -> Result<String, InvalidAddress> {
    let email = Email::parse(raw).map_err(|_| InvalidAddress)?;
    let address = email.expose();
    if address.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[],;:\"\\".contains(&b)) {
        Ok(address.to_owned())
    } else {
        Err(InvalidAddress)
    }
}

#[cfg(test)]
mod tests;
