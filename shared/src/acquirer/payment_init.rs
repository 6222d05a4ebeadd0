//! The `Init` body for a payment of an electricity account, with its 54-FZ receipt.

use super::messages::{InitRequest, PayType, PaymentMethod, PaymentObject, Receipt, ReceiptItem, Taxation};
use crate::domain::form_deadline::{self, BANK_MAX_LIFETIME, BANK_MIN_LIFETIME, FormDeadlineError};
use crate::domain::vat::VatRate;
use crate::domain::{AccountNumber, Money};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Europe::Moscow;
use std::collections::BTreeMap;

/// The bank's limits on `Init` fields.
const ORDER_ID_MAX: usize = 36;
const DESCRIPTION_MAX: usize = 140;
const ITEM_NAME_MAX: usize = 128;
const RECEIPT_EMAIL_MAX: usize = 64;

/// FFD 1.2 requires a measure for every item. The item is one payment towards an account, not a
/// number of kilowatt-hours (`кВт*ч` with quantity 1 would state that the whole sum is the price of
/// one kWh), so the measure is the piece/unit one (tag 2108 = 0, the bank's `шт`).
const MEASUREMENT_UNIT: &str = "шт";

/// The bank's tax codes for each VAT rate. Configuration, because the bank's codes for 22 % are
/// not confirmed by its published specification (`VAT_CODE_20`, `VAT_CODE_22`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VatCodes {
    pub vat20: String,
    pub vat22: String,
}

impl Default for VatCodes {
    fn default() -> Self {
        Self { vat20: "vat20".into(), vat22: "vat22".into() }
    }
}

impl VatCodes {
    /// From `VAT_CODE_20` / `VAT_CODE_22`, each defaulting to `vat20` / `vat22`.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Self::default();
        let read = |name: &str, default: String| {
            lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or(default)
        };
        Self { vat20: read("VAT_CODE_20", defaults.vat20), vat22: read("VAT_CODE_22", defaults.vat22) }
    }

    pub fn code(&self, rate: VatRate) -> &str {
        match rate {
            VatRate::Twenty => &self.vat20,
            VatRate::TwentyTwo => &self.vat22,
        }
    }
}

/// What every `Init` of ours shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSettings {
    /// Where the bank posts status notifications (our payment callback).
    pub notification_url: String,
    /// Where the customer returns after a successful payment. The bank appends its own query
    /// parameters (`Success`, `OrderId`, `PaymentId`, …).
    pub success_url: String,
    pub fail_url: String,
    /// How long a payment's form stays open from its creation (`RedirectDueDate`): the bank allows
    /// 1 minute to 90 days. See [`InitSettings::form_deadline`].
    pub payment_lifetime: TimeDelta,
    pub vat_codes: VatCodes,
}

impl InitSettings {
    /// With a 24-hour payment lifetime (the bank's own default) and the default VAT codes.
    pub fn new(
        notification_url: impl Into<String>,
        success_url: impl Into<String>,
        fail_url: impl Into<String>,
    ) -> Self {
        Self {
            notification_url: notification_url.into(),
            success_url: success_url.into(),
            fail_url: fail_url.into(),
            payment_lifetime: TimeDelta::hours(24),
            vat_codes: VatCodes::default(),
        }
    }

    /// The form deadline of a payment created at `created_at`, fixed then and sent with every
    /// `Init` of it ([`form_deadline::form_deadline`]).
    pub fn form_deadline(&self, created_at: DateTime<Utc>) -> Result<DateTime<Utc>, FormDeadlineError> {
        form_deadline::form_deadline(created_at, self.payment_lifetime)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("the amount to pay must be positive")]
    AmountNotPositive,
    #[error("an OrderId holds 1 to {ORDER_ID_MAX} visible ASCII characters")]
    BadOrderId,
    #[error("the receipt needs the customer's email")]
    MissingEmail,
    #[error("the receipt email is longer than {RECEIPT_EMAIL_MAX} characters")]
    EmailTooLong,
    #[error("the form must stay open between 1 minute and 90 days from now")]
    LifetimeOutOfRange,
    #[error("the form would stay open into another VAT rate than its receipt names")]
    CrossesVatChange,
    #[error("{field} is longer than the bank allows")]
    TooLong { field: &'static str },
    #[error("the receipt items add up to {items}, the payment is {amount}")]
    ReceiptTotal { items: Money, amount: Money },
}

/// One payment of an electricity account, as the pay function knows it.
#[derive(Clone, Debug)]
pub struct PaymentInit<'a> {
    /// Our payment id, sent as `OrderId`: a notification finds the payment by it.
    pub order_id: &'a str,
    pub account: AccountNumber,
    pub amount: Money,
    /// Where the fiscal receipt goes (54-FZ needs an email or a phone).
    pub email: &'a str,
    /// The moment of this `Init`: chooses the VAT rate.
    pub now: DateTime<Utc>,
    /// Until when the form may be paid (`RedirectDueDate`): the payment's own deadline, fixed
    /// when it was created.
    pub deadline: DateTime<Utc>,
}

impl PaymentInit<'_> {
    /// The `Init` body: one-stage, Russian form, a customer-initiated payment with the card not
    /// stored, and a receipt of one service item for the whole amount at the VAT rate of the day.
    pub fn build(&self, settings: &InitSettings) -> Result<InitRequest, InitError> {
        if !self.amount.is_positive() {
            return Err(InitError::AmountNotPositive);
        }
        let order_ok = !self.order_id.is_empty()
            && self.order_id.len() <= ORDER_ID_MAX
            && self.order_id.bytes().all(|b| b.is_ascii_graphic());
        if !order_ok {
            return Err(InitError::BadOrderId);
        }
        let email = self.email.trim();
        if email.is_empty() {
            return Err(InitError::MissingEmail);
        }
        if email.chars().count() > RECEIPT_EMAIL_MAX {
            return Err(InitError::EmailTooLong);
        }
        let lifetime = self.deadline - self.now;
        if lifetime < BANK_MIN_LIFETIME || lifetime > BANK_MAX_LIFETIME {
            return Err(InitError::LifetimeOutOfRange);
        }
        let rate = VatRate::at(self.now);
        // The receipt prints the rate of today: the form must not be payable under another one.
        if VatRate::at(self.deadline) != rate {
            return Err(InitError::CrossesVatChange);
        }

        let name = item_name(self.account);
        if name.chars().count() > ITEM_NAME_MAX {
            return Err(InitError::TooLong { field: "Receipt.Items[].Name" });
        }
        let description = name.clone();
        if description.chars().count() > DESCRIPTION_MAX {
            return Err(InitError::TooLong { field: "Description" });
        }

        let receipt = Receipt {
            email: Some(email.to_owned()),
            phone: None,
            taxation: Taxation::Osn,
            ffd_version: Some("1.2".into()),
            items: vec![ReceiptItem {
                name,
                price: self.amount,
                quantity: 1,
                amount: self.amount,
                tax: settings.vat_codes.code(rate).to_owned(),
                payment_method: PaymentMethod::FullPayment,
                payment_object: PaymentObject::Service,
                measurement_unit: Some(MEASUREMENT_UNIT.into()),
            }],
        };
        // The bank refuses (308/334) a receipt whose items do not add up to the payment.
        if receipt.total() != self.amount {
            return Err(InitError::ReceiptTotal { items: receipt.total(), amount: self.amount });
        }

        let due = self.deadline.with_timezone(&Moscow);
        Ok(InitRequest {
            amount: self.amount,
            order_id: self.order_id.to_owned(),
            description,
            pay_type: PayType::OneStage,
            language: "ru".into(),
            notification_url: Some(settings.notification_url.clone()),
            success_url: Some(settings.success_url.clone()),
            fail_url: Some(settings.fail_url.clone()),
            redirect_due_date: Some(due.format("%Y-%m-%dT%H:%M:%S%:z").to_string()),
            // "0": initiated by the customer, card not stored — a one-off bill payment.
            data: BTreeMap::from([("OperationInitiatorType".to_owned(), "0".to_owned())]),
            receipt: Some(receipt),
        })
    }
}

/// The receipt's one service item names the account it paid.
fn item_name(account: AccountNumber) -> String {
    format!("Оплата электроэнергии, л/с {account}")
}

/// The receipt sent with a refund (`Cancel`'s `Receipt`; the bank fiscalises it as the sale's
/// return): the sale's service item for the sum given back, at the VAT rate the sale printed.
pub fn refund_receipt(
    account: AccountNumber,
    amount: Money,
    email: &str,
    sold_at: DateTime<Utc>,
    vat_codes: &VatCodes,
) -> Result<Receipt, InitError> {
    if !amount.is_positive() {
        return Err(InitError::AmountNotPositive);
    }
    let email = email.trim();
    if email.is_empty() {
        return Err(InitError::MissingEmail);
    }
    if email.chars().count() > RECEIPT_EMAIL_MAX {
        return Err(InitError::EmailTooLong);
    }
    Ok(Receipt {
        email: Some(email.to_owned()),
        phone: None,
        taxation: Taxation::Osn,
        ffd_version: Some("1.2".into()),
        items: vec![ReceiptItem {
            name: item_name(account),
            price: amount,
            quantity: 1,
            amount,
            tax: vat_codes.code(VatRate::at(sold_at)).to_owned(),
            payment_method: PaymentMethod::FullPayment,
            payment_object: PaymentObject::Service,
            measurement_unit: Some(MEASUREMENT_UNIT.into()),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn settings() -> InitSettings {
        InitSettings::new(
            "https://api.example.ru/callbacks/tbank",
            "https://app.example.ru/paid",
            "https://app.example.ru/failed",
        )
    }

    /// Created at `now`, with the deadline a payment created then gets.
    fn payment(amount: &str, now: DateTime<Utc>) -> PaymentInit<'static> {
        PaymentInit {
            order_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
            account: "2961432809".parse().unwrap(),
            amount: amount.parse().unwrap(),
            email: "ivanov@example.ru",
            now,
            deadline: settings().form_deadline(now).expect("a form can open then"),
        }
    }

    fn moscow(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Moscow.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap().with_timezone(&Utc)
    }

    fn in_2025() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 11, 20, 9, 30, 0).unwrap()
    }

    #[test]
    fn the_init_body_carries_everything_the_bank_and_the_receipt_need() {
        let body = serde_json::to_value(payment("1500.05", in_2025()).build(&settings()).unwrap()).unwrap();
        assert_eq!(body["Amount"], 150_005);
        assert_eq!(body["OrderId"], "0f8fad5b-d9cb-469f-a165-70867728950e");
        assert_eq!(body["Description"], "Оплата электроэнергии, л/с 29614-328-09");
        assert_eq!(body["PayType"], "O");
        assert_eq!(body["Language"], "ru");
        assert_eq!(body["NotificationURL"], "https://api.example.ru/callbacks/tbank");
        assert_eq!(body["SuccessURL"], "https://app.example.ru/paid");
        assert_eq!(body["FailURL"], "https://app.example.ru/failed");
        assert_eq!(body["DATA"], serde_json::json!({"OperationInitiatorType": "0"}));
        assert!(body.get("TerminalKey").is_none() && body.get("Token").is_none());

        let receipt = &body["Receipt"];
        assert_eq!(receipt["Email"], "ivanov@example.ru");
        assert_eq!(receipt["Taxation"], "osn");
        assert_eq!(receipt["FfdVersion"], "1.2");
        assert!(receipt.get("Phone").is_none());
        let items = receipt["Items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0],
            serde_json::json!({
                "Name": "Оплата электроэнергии, л/с 29614-328-09",
                "Price": 150_005, "Quantity": 1, "Amount": 150_005, "Tax": "vat20",
                "PaymentMethod": "full_payment", "PaymentObject": "service", "MeasurementUnit": "шт"
            })
        );
    }

    #[test]
    fn debug_output_of_the_request_names_neither_the_account_nor_the_email() {
        let shown = format!("{:?}", payment("1500.05", in_2025()).build(&settings()).unwrap());
        assert!(!shown.contains("29614"), "{shown}");
        assert!(!shown.contains("ivanov"), "{shown}");
        assert!(shown.contains("0f8fad5b-d9cb-469f-a165-70867728950e"), "{shown}");
    }

    #[test]
    fn the_form_expires_at_the_payments_own_deadline_in_moscow_time() {
        // 09:30 UTC is 12:30 in Moscow; 24 h later.
        let req = payment("100", in_2025()).build(&settings()).unwrap();
        assert_eq!(req.redirect_due_date.as_deref(), Some("2025-11-21T12:30:00+03:00"));

        // The same payment's Init again, 20 h later: the same deadline, not 20 h more.
        let mut resumed = payment("100", in_2025());
        resumed.now = in_2025() + TimeDelta::hours(20);
        let req = resumed.build(&settings()).unwrap();
        assert_eq!(req.redirect_due_date.as_deref(), Some("2025-11-21T12:30:00+03:00"));

        let mut short = settings();
        short.payment_lifetime = TimeDelta::minutes(20);
        assert_eq!(short.form_deadline(in_2025()), Ok(moscow(2025, 11, 20, 12, 50, 0)));
    }

    #[test]
    fn the_tax_code_follows_the_moscow_date_of_payment() {
        let tax = |now| payment("100", now).build(&settings()).unwrap().receipt.unwrap().items[0].tax.clone();
        let half_an_hour_before_2026 = moscow(2025, 12, 31, 23, 30, 0);
        assert_eq!(tax(half_an_hour_before_2026), "vat20");
        let first_2026_second = moscow(2026, 1, 1, 0, 0, 0);
        assert_eq!(tax(first_2026_second), "vat22");

        // Opened at 23:30 on 31 December, the form closes before the new rate.
        let req = payment("100", half_an_hour_before_2026).build(&settings()).unwrap();
        assert_eq!(req.redirect_due_date.as_deref(), Some("2025-12-31T23:59:59+03:00"));

        let mut configured = settings();
        configured.vat_codes = VatCodes::from_lookup(|name| (name == "VAT_CODE_22").then(|| "vat122".into()));
        let req = payment("100", first_2026_second).build(&configured).unwrap();
        assert_eq!(req.receipt.unwrap().items[0].tax, "vat122");
        assert_eq!(configured.vat_codes.vat20, "vat20");
    }

    #[test]
    fn a_form_that_would_live_into_another_vat_rate_is_refused() {
        // A deadline not capped by the rule: the receipt would print 20 % for a payment in 2026.
        let mut crossing = payment("100", moscow(2025, 12, 31, 12, 0, 0));
        crossing.deadline = moscow(2026, 1, 1, 12, 0, 0);
        assert_eq!(crossing.build(&settings()), Err(InitError::CrossesVatChange));
    }

    #[test]
    fn refuses_what_the_bank_would_refuse() {
        let s = settings();
        assert_eq!(payment("0", in_2025()).build(&s), Err(InitError::AmountNotPositive));
        assert_eq!(payment("-5", in_2025()).build(&s), Err(InitError::AmountNotPositive));

        let long_id = "x".repeat(37);
        let mut p = payment("10", in_2025());
        p.order_id = &long_id;
        assert_eq!(p.build(&s), Err(InitError::BadOrderId));
        p.order_id = "";
        assert_eq!(p.build(&s), Err(InitError::BadOrderId));
        p.order_id = "заказ";
        assert_eq!(p.build(&s), Err(InitError::BadOrderId));

        let mut p = payment("10", in_2025());
        p.email = "  ";
        assert_eq!(p.build(&s), Err(InitError::MissingEmail));
        let long_email = format!("{}@example.ru", "a".repeat(60));
        p.email = &long_email;
        assert_eq!(p.build(&s), Err(InitError::EmailTooLong));

        let mut p = payment("10", in_2025());
        p.deadline = in_2025() + TimeDelta::seconds(30);
        assert_eq!(p.build(&s), Err(InitError::LifetimeOutOfRange));
        p.deadline = in_2025() - TimeDelta::hours(1);
        assert_eq!(p.build(&s), Err(InitError::LifetimeOutOfRange), "a deadline already past");
        p.deadline = in_2025() + TimeDelta::days(91);
        assert_eq!(p.build(&s), Err(InitError::LifetimeOutOfRange));
    }

    proptest! {
        #[test]
        fn the_receipt_always_adds_up_to_the_amount(kopecks in 1i64..100_000_000_000i64, secs in 0i64..400_000_000) {
            let now = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(secs);
            prop_assume!(settings().form_deadline(now).is_ok());
            let mut p = payment("1", now);
            p.amount = Money::from_kopecks(kopecks);
            let req = p.build(&settings()).unwrap();
            let receipt = req.receipt.as_ref().unwrap();
            prop_assert_eq!(receipt.total(), req.amount);
            let body = serde_json::to_value(&req).unwrap();
            let items_sum: i64 = body["Receipt"]["Items"].as_array().unwrap().iter()
                .map(|i| i["Amount"].as_i64().unwrap()).sum();
            prop_assert_eq!(items_sum, body["Amount"].as_i64().unwrap());
            prop_assert_eq!(body["Amount"].as_i64().unwrap(), kopecks);
        }
    }

    #[test]
    fn a_refund_receipt_is_the_sale_item_for_the_sum_given_back_at_the_rate_of_the_sale() {
        let sold_in_2025 = Utc.with_ymd_and_hms(2025, 12, 31, 20, 0, 0).unwrap();
        let account: AccountNumber = "1234567890".parse().unwrap();
        let amount: Money = "250.50".parse().unwrap();
        let receipt =
            refund_receipt(account, amount, " ivanov@example.ru ", sold_in_2025, &VatCodes::default()).unwrap();
        assert_eq!(receipt.total(), amount);
        assert_eq!(receipt.email.as_deref(), Some("ivanov@example.ru"));
        assert_eq!(receipt.items[0].name, format!("Оплата электроэнергии, л/с {account}"));
        assert_eq!(receipt.items[0].tax, "vat20", "the sale's rate, not today's");
        assert!(matches!(
            refund_receipt(account, amount, "", sold_in_2025, &VatCodes::default()),
            Err(InitError::MissingEmail)
        ));
        assert!(matches!(
            refund_receipt(account, Money::ZERO, "a@b.ru", sold_in_2025, &VatCodes::default()),
            Err(InitError::AmountNotPositive)
        ));
    }
}
