//! The fiscal receipt (54-FZ) as the customer's receipt email shows it.
//!
//! The requisites a receipt email shows, the seller's, and how they are printed (labels, the FNS
//! QR text, VAT per rate). How a bank's `RECEIPT` notification becomes one is the acquirer's
//! business (`acquirer::receipt_report`); this module reads no wire format.

use super::vat::VatRate;
use super::{AccountNumber, Money, PaymentId};
use crate::config::{ConfigError, Env};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Moscow;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a buyer checks a receipt: the Federal Tax Service's site.
pub const FNS_SITE: &str = "nalog.gov.ru";

/// The FFD document name every receipt carries.
pub const DOCUMENT_NAME: &str = "Кассовый чек";

/// Tag 1054, the settlement sign: a payment, or money given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementSign {
    /// «Приход», code 1.
    Income,
    /// «Возврат прихода», code 2: the receipt of a refund.
    IncomeReturn,
}

impl SettlementSign {
    /// The code in the FNS QR text (`n=`).
    pub const fn code(self) -> u8 {
        match self {
            Self::Income => 1,
            Self::IncomeReturn => 2,
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Self::Income => "Приход",
            Self::IncomeReturn => "Возврат прихода",
        }
    }
}

/// The seller's taxation system (`osn` for a VAT payer such as Mosenergosbyt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Taxation {
    Osn,
    UsnIncome,
    UsnIncomeOutcome,
    Esn,
    Patent,
}

/// Tag 1214, the payment method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    FullPrepayment,
    Prepayment,
    Advance,
    FullPayment,
}

/// Tag 1212, what is being paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentObject {
    Commodity,
    Service,
    Payment,
}

/// The abbreviation of a taxation system as printed on receipts.
pub const fn taxation_label(taxation: Taxation) -> &'static str {
    match taxation {
        Taxation::Osn => "ОСН",
        Taxation::UsnIncome => "УСН доход",
        Taxation::UsnIncomeOutcome => "УСН доход - расход",
        Taxation::Esn => "ЕСХН",
        Taxation::Patent => "ПСН",
    }
}

/// Tag 1214 as printed.
pub const fn payment_method_label(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::FullPrepayment => "Предоплата 100 %",
        PaymentMethod::Prepayment => "Предоплата",
        PaymentMethod::Advance => "Аванс",
        PaymentMethod::FullPayment => "Полный расчёт",
    }
}

/// Tag 1212 as printed.
pub const fn payment_object_label(object: PaymentObject) -> &'static str {
    match object {
        PaymentObject::Commodity => "Товар",
        PaymentObject::Service => "Услуга",
        PaymentObject::Payment => "Платёж",
    }
}

/// One line of the receipt.
#[derive(Clone, Debug, PartialEq)]
pub struct FiscalItem {
    pub name: String,
    pub quantity: Decimal,
    pub price: Money,
    /// Price × quantity, VAT included.
    pub amount: Money,
    pub vat_rate: VatRate,
    /// The VAT inside `amount`.
    pub vat_sum: Money,
    pub payment_method: PaymentMethod,
    pub payment_object: PaymentObject,
}

/// Every requisite a receipt email shows. Built by `acquirer::receipt_report`, which checks them;
/// the fields are public so an email can be rendered from them.
#[derive(Clone, PartialEq)]
pub struct FiscalReceipt {
    pub sign: SettlementSign,
    pub seller_name: String,
    /// The seller's INN (10 digits for a company).
    pub seller_inn: String,
    pub taxation: Taxation,
    /// When the cash register printed it; shown and encoded in Moscow time.
    pub issued_at: DateTime<Utc>,
    pub shift_number: String,
    /// The receipt's number within its shift.
    pub number_in_shift: String,
    pub items: Vec<FiscalItem>,
    /// All of it paid electronically (by card or through СБП alike, «безналичными»): there is no cash.
    pub total: Money,
    /// ФН, the fiscal drive number: 16 digits.
    pub fn_number: String,
    /// ФД, the fiscal document number.
    pub fd_number: String,
    /// ФПД, the fiscal sign of the document: up to 10 digits.
    pub fiscal_sign: String,
    /// РН ККТ, the cash register's registration number.
    pub kkt_registration_number: String,
    /// The fiscal data operator.
    pub ofd: String,
    /// Where the receipt is sent; never logged.
    pub buyer_email: String,
    /// The address the receipt email comes from (tag 1117).
    pub sender_email: String,
    /// The site where the sale took place.
    pub settlement_place: String,
    /// The account paid for: names the receipt in the email's subject.
    pub account: AccountNumber,
    /// Our payment id (the acquirer's `OrderId`).
    pub payment_id: PaymentId,
}

impl fmt::Debug for FiscalReceipt {
    /// Debug output ends up in logs: no buyer email, the account masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalReceipt")
            .field("sign", &self.sign)
            .field("issued_at", &self.issued_at)
            .field("total", &self.total)
            .field("fd_number", &self.fd_number)
            .field("account", &self.account)
            .field("payment_id", &self.payment_id)
            .finish_non_exhaustive()
    }
}

/// The seller's own requisites: configuration, not something the bank reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellerRequisites {
    pub name: String,
    pub inn: String,
    /// The verified address customer emails come from.
    pub sender_email: String,
    /// The site of sale, used when the bank's notification does not name one.
    pub settlement_place: Option<String>,
    /// The fiscal data operator, used when the bank's notification does not name one.
    pub ofd: Option<String>,
}

impl SellerRequisites {
    /// From `SELLER_NAME`, `SELLER_INN` (10 or 12 digits), `SES_SENDER`, and the optional
    /// fallbacks `SETTLEMENT_PLACE` and `OFD_NAME`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let inn = env.string("SELLER_INN")?.trim().to_owned();
        if !(inn.len() == 10 || inn.len() == 12) || !is_digits(&inn) {
            return Err(ConfigError::Malformed { name: "SELLER_INN", why: "an INN has 10 or 12 digits".into() });
        }
        Ok(Self {
            name: env.string("SELLER_NAME")?.trim().to_owned(),
            inn,
            sender_email: env.string("SES_SENDER")?.trim().to_owned(),
            settlement_place: env.string("SETTLEMENT_PLACE").ok().map(|s| s.trim().to_owned()),
            ofd: env.string("OFD_NAME").ok().map(|s| s.trim().to_owned()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalReceiptError {
    /// The cash register reported a failure: there is no receipt to send.
    #[error("the sale was not fiscalised: error code {code}")]
    NotFiscalised { code: String },
    #[error("the receipt notification is for order {order_id}, not for this payment")]
    OtherPayment { order_id: String },
    #[error("the receipt is for {receipt}, the payment is {payment}")]
    AmountMismatch { receipt: Money, payment: Money },
    #[error("the receipt notification lacks {0}")]
    Missing(&'static str),
    #[error("{requisite} is malformed: {why}")]
    Malformed { requisite: &'static str, why: &'static str },
}

impl FiscalReceipt {
    /// The text of the receipt's QR code in the FNS format:
    /// `t=YYYYMMDDTHHMMSS&s=<total>&fn=<ФН>&i=<ФД>&fp=<ФПД>&n=<sign>`, time in Moscow.
    pub fn fns_qr_text(&self) -> String {
        format!(
            "t={}&s={}&fn={}&i={}&fp={}&n={}",
            self.issued_at.with_timezone(&Moscow).format("%Y%m%dT%H%M%S"),
            self.total,
            self.fn_number,
            self.fd_number,
            self.fiscal_sign,
            self.sign.code()
        )
    }

    /// Paid electronically, by card or through СБП: the whole total.
    pub fn paid_electronically(&self) -> Money {
        self.total
    }

    /// The VAT of the whole receipt per rate, in the order the rates first appear.
    pub fn vat_totals(&self) -> Vec<(VatRate, Money)> {
        let mut totals: Vec<(VatRate, Money)> = Vec::new();
        for item in &self.items {
            match totals.iter_mut().find(|(rate, _)| *rate == item.vat_rate) {
                Some((_, sum)) => *sum = *sum + item.vat_sum,
                None => totals.push((item.vat_rate, item.vat_sum)),
            }
        }
        totals
    }
}

/// Only digits, at least one.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seller_requisites_come_from_the_environment() {
        let vars = |inn: &'static str| {
            move |name: &str| match name {
                "SELLER_NAME" => Some("АО «Мосэнергосбыт»".to_owned()),
                "SELLER_INN" => Some(inn.to_owned()),
                "SES_SENDER" => Some("noreply@pay.example.ru".to_owned()),
                _ => None,
            }
        };
        let s = SellerRequisites::from_env(&Env::from_fn(vars("7736520080"))).unwrap();
        assert_eq!((s.name.as_str(), s.inn.as_str()), ("АО «Мосэнергосбыт»", "7736520080"));
        assert_eq!(s.sender_email, "noreply@pay.example.ru");
        assert_eq!((s.settlement_place, s.ofd), (None, None));
        for bad in ["773652008", "77365200801", "77365200X0"] {
            assert!(matches!(
                SellerRequisites::from_env(&Env::from_fn(vars(bad))),
                Err(ConfigError::Malformed { name: "SELLER_INN", .. })
            ));
        }
    }
}
