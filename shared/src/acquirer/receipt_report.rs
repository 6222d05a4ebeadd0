//! The receipt's wire parsing: a `RECEIPT` notification (Token verified) read as the fiscal
//! receipt of a payment — the fields the bank names (`FnNumber`, `ReceiptDatetime`, the echoed
//! `Receipt` and its `Items`), joined with what only we know (the payment, the seller's
//! requisites), every requisite the email must show checked, so a receipt that would be
//! incomplete is refused rather than sent. A receipt whose `Type` the bank left out takes its
//! kind from where the payment kept it, shown as a refund's only once the money says it is one.
//! What a receipt shows is `domain::fiscal_receipt`.

use super::ReceiptNotification;
use crate::domain::fiscal_receipt::{
    FiscalItem, FiscalReceipt, FiscalReceiptError, PaymentMethod, PaymentObject, SellerRequisites, SettlementSign,
    Taxation, is_digits,
};
use crate::domain::vat::VatRate;
use crate::domain::{Money, Payment};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Moscow;
use rust_decimal::Decimal;
use serde_json::Value;

impl ReceiptNotification {
    /// Whether the notification can be a receipt of `payment` at all: fiscalised, of its order,
    /// for an amount the payment could have (the whole of it for a sale; some of it for a refund;
    /// either, when the bank left out which it is). What else it lacks (a requisite, the place of
    /// settlement, the OFD) does not make it another payment's receipt: configuration may still
    /// supply it.
    pub fn check_of_payment(&self, payment: &Payment) -> Result<(), FiscalReceiptError> {
        let notification = self;
        if !notification.success || !matches!(notification.error_code.as_str(), "" | "0") {
            return Err(FiscalReceiptError::NotFiscalised { code: notification.error_code.clone() });
        }
        if notification.order_id != payment.id.as_str() {
            return Err(FiscalReceiptError::OtherPayment { order_id: notification.order_id.clone() });
        }
        let fits = match notification.settlement_sign() {
            Ok(Some(sign)) => amount_fits(sign, notification.amount, payment),
            Ok(None) => [SettlementSign::Income, SettlementSign::IncomeReturn]
                .into_iter()
                .any(|sign| amount_fits(sign, notification.amount, payment)),
            // A kind of document we cannot read: nothing to compare its amount with.
            Err(_) => true,
        };
        if !fits {
            return Err(FiscalReceiptError::AmountMismatch { receipt: notification.amount, payment: payment.amount });
        }
        Ok(())
    }

    /// Tag 1054 as the bank's `Type` names it: `None` when the bank left it out.
    pub fn settlement_sign(&self) -> Result<Option<SettlementSign>, FiscalReceiptError> {
        match self.r#type.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some("Income") => Ok(Some(SettlementSign::Income)),
            Some("IncomeReturn") => Ok(Some(SettlementSign::IncomeReturn)),
            Some(_) => Err(FiscalReceiptError::Malformed { requisite: "Type", why: "neither Income nor IncomeReturn" }),
        }
    }

    /// Joins the bank's `RECEIPT` notification with our payment and the seller's requisites.
    ///
    /// The lines come from the receipt the bank echoes, when it reads and adds up to the signed
    /// `Amount` (the echo itself is not signed); otherwise one line for the whole amount, named as
    /// the payment's `Init` named it. Each line's VAT rate is the one its tax code names (what the
    /// register printed), or, when the code names none, the rate our `Init` and a refund's
    /// `Cancel` sent: the payment date's, never the receipt's (a refund fiscalised in January of
    /// a December payment printed December's rate). The VAT sum is computed from the rate, since
    /// the echo carries none.
    ///
    /// A receipt without `Type` is read as the sale's: [`Self::fiscal_receipt_kept_as`] reads it
    /// as what the payment kept it as.
    pub fn fiscal_receipt(
        &self,
        payment: &Payment,
        seller: &SellerRequisites,
    ) -> Result<FiscalReceipt, FiscalReceiptError> {
        self.fiscal_receipt_kept_as(payment, seller, SettlementSign::Income)
    }

    /// [`Self::fiscal_receipt`] of a receipt the payment kept as `kept_as`: the sale's, or another
    /// fiscal document than the sale's, which on a payment we only ever refund is a refund's.
    /// That counts only when the bank left out the `Type`. Even then a refund is shown as one only
    /// when its money cannot be the sale's: less than the payment (a sale is the whole of it), or
    /// no more than the payment has refunded. Until then its kind cannot be told
    /// (`Missing("Type")`), and a second sale's document is never mailed as a refund.
    pub fn fiscal_receipt_kept_as(
        &self,
        payment: &Payment,
        seller: &SellerRequisites,
        kept_as: SettlementSign,
    ) -> Result<FiscalReceipt, FiscalReceiptError> {
        let notification = self;
        self.check_of_payment(payment)?;
        let total = notification.amount;
        let sign = match notification.settlement_sign()? {
            Some(sign) => sign,
            None => untold_sign(kept_as, total, payment)?,
        };
        if !amount_fits(sign, total, payment) {
            return Err(FiscalReceiptError::AmountMismatch { receipt: total, payment: payment.amount });
        }

        let issued_at = parse_receipt_datetime(required(&notification.receipt_datetime, "ReceiptDatetime")?)?;
        let fn_number = digits(&notification.fn_number, "FnNumber", 16..=16)?;
        let fd_number = digits(&notification.fiscal_document_number, "FiscalDocumentNumber", 1..=10)?;
        let fiscal_sign = digits(&notification.fiscal_document_attribute, "FiscalDocumentAttribute", 1..=10)?;
        // The fiscal sign is a 32-bit number: anything larger was garbled on the way.
        if fiscal_sign.parse::<u64>().map_or(true, |v| v > u64::from(u32::MAX)) {
            return Err(FiscalReceiptError::Malformed {
                requisite: "FiscalDocumentAttribute",
                why: "larger than a fiscal sign can be",
            });
        }
        let shift_number = digits(&notification.shift_number, "ShiftNumber", 1..=10)?;
        let number_in_shift = digits(&notification.fiscal_number, "FiscalNumber", 1..=10)?;
        let kkt_registration_number = digits(&notification.ecr_reg_number, "EcrRegNumber", 1..=20)?;

        let ofd = first_present(&[notification.ofd.as_deref(), seller.ofd.as_deref()])
            .ok_or(FiscalReceiptError::Missing("Ofd"))?;
        let settlement_place = first_present(&[
            notification.settle_place.as_deref(),
            notification.calculation_place.as_deref(),
            seller.settlement_place.as_deref(),
        ])
        .ok_or(FiscalReceiptError::Missing("SettlePlace"))?;

        let echo = notification.receipt.as_ref().map(|r| &r.0);
        let taxation = echo
            .and_then(|e| e.get("Taxation"))
            .and_then(|t| serde_json::from_value::<Taxation>(t.clone()).ok())
            // Our `Init` always declares ОСН: the seller pays VAT.
            .unwrap_or(Taxation::Osn);
        // The rate `payment_init` put in the `Init` and in a refund's `Cancel`, both by the
        // payment's creation (a resumed `Init` keeps it: its form never outlives a rate).
        let sold_rate = VatRate::at(payment.created_at);
        let items = echo.and_then(|e| echoed_items(e, total, sold_rate)).unwrap_or_else(|| {
            vec![FiscalItem {
                name: format!("Оплата электроэнергии, л/с {}", payment.account),
                quantity: Decimal::ONE,
                price: total,
                amount: total,
                vat_rate: sold_rate,
                vat_sum: sold_rate.included_in(total),
                payment_method: PaymentMethod::FullPayment,
                payment_object: PaymentObject::Service,
            }]
        });

        Ok(FiscalReceipt {
            sign,
            seller_name: seller.name.clone(),
            seller_inn: seller.inn.clone(),
            taxation,
            issued_at,
            shift_number,
            number_in_shift,
            items,
            total,
            fn_number,
            fd_number,
            fiscal_sign,
            kkt_registration_number,
            ofd,
            buyer_email: payment.email_address().to_owned(),
            sender_email: seller.sender_email.clone(),
            settlement_place,
            account: payment.account,
            payment_id: payment.id.clone(),
        })
    }
}

/// A sale is of the whole payment; a refund gives back part of it, never more.
fn amount_fits(sign: SettlementSign, total: Money, payment: &Payment) -> bool {
    match sign {
        SettlementSign::Income => total == payment.amount,
        SettlementSign::IncomeReturn => total.is_positive() && total <= payment.amount,
    }
}

/// Tag 1054 of a receipt without `Type`, from what the payment kept it as (see
/// [`ReceiptNotification::fiscal_receipt_kept_as`]).
fn untold_sign(kept_as: SettlementSign, total: Money, payment: &Payment) -> Result<SettlementSign, FiscalReceiptError> {
    match kept_as {
        SettlementSign::Income => Ok(SettlementSign::Income),
        SettlementSign::IncomeReturn if total < payment.amount || total <= payment.refunded => {
            Ok(SettlementSign::IncomeReturn)
        }
        SettlementSign::IncomeReturn => Err(FiscalReceiptError::Missing("Type")),
    }
}

fn required<'a>(value: &'a Option<String>, requisite: &'static str) -> Result<&'a str, FiscalReceiptError> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).ok_or(FiscalReceiptError::Missing(requisite))
}

fn digits(
    value: &Option<String>,
    requisite: &'static str,
    length: std::ops::RangeInclusive<usize>,
) -> Result<String, FiscalReceiptError> {
    let v = required(value, requisite)?;
    if !is_digits(v) {
        return Err(FiscalReceiptError::Malformed { requisite, why: "not all digits" });
    }
    if !length.contains(&v.len()) {
        return Err(FiscalReceiptError::Malformed { requisite, why: "wrong number of digits" });
    }
    Ok(v.to_owned())
}

fn first_present(candidates: &[Option<&str>]) -> Option<String> {
    candidates.iter().flatten().map(|s| s.trim()).find(|s| !s.is_empty()).map(str::to_owned)
}

/// `ReceiptDatetime` with an offset (`2026-01-15T10:20:30+03:00`), or without one, read as Moscow
/// time: the bank's examples show both.
fn parse_receipt_datetime(raw: &str) -> Result<DateTime<Utc>, FiscalReceiptError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        // Moscow has no daylight saving: every local time maps to exactly one instant.
        .and_then(|naive| Moscow.from_local_datetime(&naive).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or(FiscalReceiptError::Malformed { requisite: "ReceiptDatetime", why: "not a date and time" })
}

/// The VAT rate a bank tax code names, if it names one of ours.
fn rate_of_tax_code(code: &str) -> Option<VatRate> {
    match code.trim() {
        "vat20" | "vat120" => Some(VatRate::Twenty),
        "vat22" | "vat122" => Some(VatRate::TwentyTwo),
        _ => None,
    }
}

/// The lines of the echoed receipt, if every one reads and together they make `total`.
fn echoed_items(echo: &Value, total: Money, sold_rate: VatRate) -> Option<Vec<FiscalItem>> {
    let items = echo.get("Items")?.as_array()?;
    if items.is_empty() {
        return None;
    }
    let lines = items.iter().map(|item| echoed_item(item, sold_rate)).collect::<Option<Vec<_>>>()?;
    let sum: Money = lines.iter().map(|l| l.amount).sum();
    (sum == total).then_some(lines)
}

fn echoed_item(item: &Value, sold_rate: VatRate) -> Option<FiscalItem> {
    let name = item.get("Name")?.as_str()?.trim();
    if name.is_empty() {
        return None;
    }
    let price = kopecks(item.get("Price")?)?;
    let amount = kopecks(item.get("Amount")?)?;
    let quantity = match item.get("Quantity")? {
        Value::Number(n) => n.to_string().parse::<Decimal>().ok()?,
        Value::String(s) => s.trim().parse::<Decimal>().ok()?,
        _ => return None,
    };
    let vat_rate = item.get("Tax").and_then(Value::as_str).and_then(rate_of_tax_code).unwrap_or(sold_rate);
    let read = |field: &str| item.get(field).cloned();
    Some(FiscalItem {
        name: name.to_owned(),
        quantity: quantity.normalize(),
        price,
        amount,
        vat_rate,
        vat_sum: vat_rate.included_in(amount),
        payment_method: read("PaymentMethod")
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or(PaymentMethod::FullPayment),
        payment_object: read("PaymentObject")
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or(PaymentObject::Service),
    })
}

/// Whole kopecks, as a JSON integer or a string of digits.
fn kopecks(value: &Value) -> Option<Money> {
    let k = match value {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (k >= 0).then(|| Money::from_kopecks(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PaymentStatus;
    use crate::domain::fiscal_receipt::{payment_method_label, payment_object_label, taxation_label};
    use serde_json::json;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    const ORDER: &str = "0f8fad5bd9cb469fa16570867728950e";

    fn payment(amount: &str) -> Payment {
        crate::domain::payment::paid_example(amount, Utc.with_ymd_and_hms(2026, 1, 15, 7, 20, 0).unwrap())
    }

    fn seller() -> SellerRequisites {
        SellerRequisites {
            name: "АО «Мосэнергосбыт»".into(),
            inn: "7736520080".into(),
            sender_email: "noreply@pay.example.ru".into(),
            settlement_place: Some("https://vk.com/app51234567".into()),
            ofd: None,
        }
    }

    fn notification(body: Value) -> ReceiptNotification {
        let mut base = json!({
            "TerminalKey": "T", "OrderId": ORDER, "Success": true, "Status": "RECEIPT",
            "PaymentId": 5974256058u64, "ErrorCode": "0", "Amount": 150005,
            "FiscalNumber": 12, "ShiftNumber": 34, "ReceiptDatetime": "2026-01-15T10:20:30+03:00",
            "FnNumber": "9282000100072197", "EcrRegNumber": "0000000001047231",
            "FiscalDocumentNumber": 64318, "FiscalDocumentAttribute": 2918241905u64,
            "Type": "Income", "Ofd": "ООО «Такском»", "Url": "https://nalog.ru",
            "SettlePlace": "https://vk.com/app51234567",
            "Receipt": {"Email": "ivanov@example.ru", "Taxation": "osn", "Items": [{
                "Name": "Оплата электроэнергии, л/с 29614-328-09", "Price": 150005, "Quantity": 1,
                "Amount": 150005, "Tax": "vat22", "PaymentMethod": "full_payment",
                "PaymentObject": "service", "MeasurementUnit": "шт"}]}
        });
        for (k, v) in body.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn receipt(body: Value) -> Result<FiscalReceipt, FiscalReceiptError> {
        notification(body).fiscal_receipt(&payment("1500.05"), &seller())
    }

    #[test]
    fn the_fns_qr_text_matches_the_published_example() {
        let mut r = receipt(json!({})).unwrap();
        r.issued_at = Moscow.with_ymd_and_hms(2019, 4, 18, 21, 16, 55).unwrap().with_timezone(&Utc);
        r.total = m("3943.26");
        r.fn_number = "9282000100072197".into();
        r.fd_number = "64318".into();
        r.fiscal_sign = "2918241905".into();
        assert_eq!(r.fns_qr_text(), "t=20190418T211655&s=3943.26&fn=9282000100072197&i=64318&fp=2918241905&n=1");
    }

    #[test]
    fn a_receipt_notification_gives_every_requisite() {
        let r = receipt(json!({})).unwrap();
        assert_eq!(r.sign, SettlementSign::Income);
        assert_eq!(r.seller_name, "АО «Мосэнергосбыт»");
        assert_eq!(r.seller_inn, "7736520080");
        assert_eq!(taxation_label(r.taxation), "ОСН");
        assert_eq!(r.issued_at, Utc.with_ymd_and_hms(2026, 1, 15, 7, 20, 30).unwrap());
        assert_eq!((r.shift_number.as_str(), r.number_in_shift.as_str()), ("34", "12"));
        assert_eq!((r.fd_number.as_str(), r.fiscal_sign.as_str()), ("64318", "2918241905"));
        assert_eq!(r.kkt_registration_number, "0000000001047231");
        assert_eq!(r.ofd, "ООО «Такском»");
        assert_eq!(r.buyer_email, "ivanov@example.ru");
        assert_eq!(r.sender_email, "noreply@pay.example.ru");
        assert_eq!(r.settlement_place, "https://vk.com/app51234567");
        assert_eq!(r.total, m("1500.05"));
        assert_eq!(r.paid_electronically(), m("1500.05"));
        let [item] = r.items.as_slice() else { panic!("one line") };
        assert_eq!(item.name, "Оплата электроэнергии, л/с 29614-328-09");
        assert_eq!((item.quantity, item.price, item.amount), (Decimal::ONE, m("1500.05"), m("1500.05")));
        assert_eq!(payment_method_label(item.payment_method), "Полный расчёт");
        assert_eq!(payment_object_label(item.payment_object), "Услуга");
        // 1500.05 × 22/122 = 270.4959… → 270.50.
        assert_eq!((item.vat_rate, item.vat_sum), (VatRate::TwentyTwo, m("270.50")));
        assert_eq!(r.vat_totals(), vec![(VatRate::TwentyTwo, m("270.50"))]);
        assert_eq!(r.fns_qr_text(), "t=20260115T102030&s=1500.05&fn=9282000100072197&i=64318&fp=2918241905&n=1");
    }

    #[test]
    fn without_a_usable_echo_the_line_is_the_payment_at_the_rate_of_the_payment_date() {
        for echo in [
            Value::Null,
            json!({"Items": []}),
            // Lines that do not add up to the signed amount are not trusted.
            json!({"Items": [{"Name": "x", "Price": 100, "Quantity": 1, "Amount": 100, "Tax": "vat20"}]}),
            json!({"Items": "garbled"}),
        ] {
            let r = receipt(json!({ "Receipt": echo })).unwrap();
            let [item] = r.items.as_slice() else { panic!("one line for {echo}") };
            assert_eq!(item.name, "Оплата электроэнергии, л/с 29614-328-09", "{echo}");
            assert_eq!(item.amount, m("1500.05"));
            // 15 January 2026: 22 %.
            assert_eq!(item.vat_rate, VatRate::TwentyTwo);
            assert_eq!(item.vat_sum, m("270.50"));
            assert_eq!(r.taxation, Taxation::Osn);
        }
        // Paid at 23:59:59 on 31 December 2025 in Moscow: 20 %, whenever fiscalised;
        // 1500.05 × 20/120 = 250.0083… → 250.01.
        let mut new_years_eve = payment("1500.05");
        new_years_eve.created_at = Moscow.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap().with_timezone(&Utc);
        for fiscalised in ["2025-12-31T23:59:59+03:00", "2026-01-01T00:00:01+03:00"] {
            let n = notification(json!({"ReceiptDatetime": fiscalised, "Receipt": null}));
            let r = n.fiscal_receipt(&new_years_eve, &seller()).unwrap();
            assert_eq!((r.items[0].vat_rate, r.items[0].vat_sum), (VatRate::Twenty, m("250.01")), "{fiscalised}");
        }
    }

    #[test]
    fn the_tax_code_the_register_printed_wins_over_the_date() {
        // Paid at 23:59:58 on 31 December, fiscalised two seconds into the new year at 20 %.
        let echo = json!({"Taxation": "osn", "Items": [
            {"Name": "Оплата электроэнергии, л/с 29614-328-09", "Price": "150005", "Quantity": 1.0,
             "Amount": 150005, "Tax": "vat20", "PaymentMethod": "full_payment", "PaymentObject": "service"}]});
        let r = receipt(json!({"ReceiptDatetime": "2026-01-01T00:00:00+03:00", "Receipt": echo})).unwrap();
        assert_eq!((r.items[0].vat_rate, r.items[0].vat_sum), (VatRate::Twenty, m("250.01")));
        assert_eq!(r.items[0].quantity.to_string(), "1");
    }

    #[test]
    fn given_a_december_payment_when_its_january_receipt_names_no_rate_then_the_vat_is_the_20_percent_its_init_and_cancel_sent()
     {
        // Paid on 20 December 2025 at 20 %: the `Init` and the refund's `Cancel` both sent it.
        let mut december = payment("1500.05");
        december.created_at = Moscow.with_ymd_and_hms(2025, 12, 20, 12, 0, 0).unwrap().with_timezone(&Utc);
        december.updated_at = december.created_at;
        let without_tax_code = |kopecks: i64| {
            json!({"Taxation": "osn", "Items": [{"Name": "Оплата электроэнергии, л/с 29614-328-09",
                "Price": kopecks, "Quantity": 1, "Amount": kopecks}]})
        };
        for (kind, kopecks, echo, vat) in [
            // 500 × 20/120 = 83.333… → 83.33 (at 22 %: 90.16).
            ("IncomeReturn", 50000, Value::Null, "83.33"),
            ("IncomeReturn", 50000, without_tax_code(50000), "83.33"),
            // Fiscalised only after the new year: 1500.05 × 20/120 = 250.0083… → 250.01.
            ("Income", 150005, Value::Null, "250.01"),
            ("Income", 150005, without_tax_code(150005), "250.01"),
        ] {
            let january = json!({"Type": kind, "Amount": kopecks, "ReceiptDatetime": "2026-01-15T10:20:30+03:00",
                "Receipt": echo});
            let r = notification(january).fiscal_receipt(&december, &seller()).unwrap();
            let [item] = r.items.as_slice() else { panic!("one line for {kind} {echo}") };
            assert_eq!((item.vat_rate, item.vat_sum), (VatRate::Twenty, m(vat)), "{kind} {echo}");
        }
    }

    #[test]
    fn a_date_without_offset_is_moscow_time() {
        for raw in ["2026-01-15T10:20:30", "2026-01-15 10:20:30", "15.01.2026 10:20:30", "2026-01-15T10:20:30.000+0300"]
        {
            let r = receipt(json!({ "ReceiptDatetime": raw })).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(r.issued_at, Utc.with_ymd_and_hms(2026, 1, 15, 7, 20, 30).unwrap(), "{raw}");
        }
        assert_eq!(
            receipt(json!({"ReceiptDatetime": "вчера"})),
            Err(FiscalReceiptError::Malformed { requisite: "ReceiptDatetime", why: "not a date and time" })
        );
    }

    #[test]
    fn a_refund_receipt_is_a_return_of_income() {
        let r = receipt(json!({"Type": "IncomeReturn", "Amount": 50000, "Receipt": null})).unwrap();
        assert_eq!(r.sign, SettlementSign::IncomeReturn);
        assert_eq!(r.sign.label(), "Возврат прихода");
        assert!(r.fns_qr_text().ends_with("&s=500.00&fn=9282000100072197&i=64318&fp=2918241905&n=2"));
        assert_eq!(
            receipt(json!({"Type": "IncomeReturn", "Amount": 150006})),
            Err(FiscalReceiptError::AmountMismatch { receipt: m("1500.06"), payment: m("1500.05") })
        );
    }

    #[test]
    fn a_receipt_without_type_kept_beside_the_sale_is_shown_as_a_refund_only_once_its_money_says_so() {
        use SettlementSign::{Income, IncomeReturn};
        let untyped = |kopecks: i64| notification(json!({"Type": null, "Amount": kopecks, "Receipt": null}));
        let mut p = payment("1500.05");
        let sign = |n: ReceiptNotification, p: &Payment, kept_as| n.fiscal_receipt_kept_as(p, &seller(), kept_as);

        assert_eq!(sign(untyped(150005), &p, Income).unwrap().sign, Income, "in the sale's slot: the sale's");
        assert_eq!(sign(untyped(50000), &p, IncomeReturn).unwrap().sign, IncomeReturn, "less than a sale: a refund");
        assert_eq!(
            sign(untyped(50000), &p, Income),
            Err(FiscalReceiptError::AmountMismatch { receipt: m("500.00"), payment: m("1500.05") }),
            "a sale is of the whole payment"
        );
        // The whole amount before the payment was refunded: a refund's, or a second sale's.
        assert_eq!(sign(untyped(150005), &p, IncomeReturn), Err(FiscalReceiptError::Missing("Type")));
        p.refunded = m("500.00");
        assert_eq!(sign(untyped(150005), &p, IncomeReturn), Err(FiscalReceiptError::Missing("Type")));
        p.refunded = p.amount;
        p.status = PaymentStatus::Refunded;
        let r = sign(untyped(150005), &p, IncomeReturn).unwrap();
        assert_eq!(r.sign, IncomeReturn);
        assert!(r.fns_qr_text().ends_with("&n=2"), "{}", r.fns_qr_text());
        // What the bank names wins over where it was kept.
        assert_eq!(sign(notification(json!({"Type": "Income"})), &p, IncomeReturn).unwrap().sign, Income);
        assert_eq!(sign(notification(json!({"Type": "IncomeReturn"})), &p, Income).unwrap().sign, IncomeReturn);
        // Without its kind, the whole payment or part of it may be this payment's; more may not.
        assert_eq!(untyped(50000).check_of_payment(&p), Ok(()));
        assert!(matches!(untyped(150006).check_of_payment(&p), Err(FiscalReceiptError::AmountMismatch { .. })));
        assert!(matches!(untyped(0).check_of_payment(&p), Err(FiscalReceiptError::AmountMismatch { .. })));
    }

    #[test]
    fn refuses_a_receipt_it_could_not_show_honestly() {
        assert_eq!(
            receipt(json!({"Success": false, "ErrorCode": "1"})),
            Err(FiscalReceiptError::NotFiscalised { code: "1".into() })
        );
        assert!(matches!(
            receipt(json!({"OrderId": "ffffffffffffffffffffffffffffffff"})),
            Err(FiscalReceiptError::OtherPayment { .. })
        ));
        assert_eq!(
            receipt(json!({"Amount": 150000})),
            Err(FiscalReceiptError::AmountMismatch { receipt: m("1500.00"), payment: m("1500.05") })
        );
        assert_eq!(receipt(json!({"FnNumber": null})), Err(FiscalReceiptError::Missing("FnNumber")));
        assert!(matches!(
            receipt(json!({"FnNumber": "928200010007219"})),
            Err(FiscalReceiptError::Malformed { requisite: "FnNumber", .. })
        ));
        assert!(matches!(
            receipt(json!({"FiscalDocumentAttribute": "4294967296"})),
            Err(FiscalReceiptError::Malformed { requisite: "FiscalDocumentAttribute", .. })
        ));
        assert!(matches!(
            receipt(json!({"FiscalDocumentNumber": "64-318"})),
            Err(FiscalReceiptError::Malformed { requisite: "FiscalDocumentNumber", .. })
        ));
        assert_eq!(receipt(json!({"ShiftNumber": null})), Err(FiscalReceiptError::Missing("ShiftNumber")));
        assert_eq!(receipt(json!({"FiscalNumber": " "})), Err(FiscalReceiptError::Missing("FiscalNumber")));
        assert_eq!(receipt(json!({"EcrRegNumber": null})), Err(FiscalReceiptError::Missing("EcrRegNumber")));
        assert_eq!(receipt(json!({"ReceiptDatetime": null})), Err(FiscalReceiptError::Missing("ReceiptDatetime")));
        assert_eq!(receipt(json!({"Ofd": null})), Err(FiscalReceiptError::Missing("Ofd")));
        assert!(matches!(
            receipt(json!({"Type": "Expense"})),
            Err(FiscalReceiptError::Malformed { requisite: "Type", .. })
        ));
    }

    #[test]
    fn a_receipt_lacking_requisites_is_still_this_payments_but_a_failed_or_foreign_one_is_not() {
        let p = payment("1500.05");
        let check = |body| notification(body).check_of_payment(&p);
        let sparse =
            json!({"SettlePlace": null, "CalculationPlace": null, "Ofd": null, "FnNumber": null, "Type": null});
        assert_eq!(check(sparse), Ok(()));
        assert_eq!(check(json!({"Type": "Expense"})), Ok(()), "an unknown kind may still be ours");
        assert_eq!(
            check(json!({"Success": false, "ErrorCode": "3"})),
            Err(FiscalReceiptError::NotFiscalised { code: "3".into() })
        );
        assert!(matches!(
            check(json!({"OrderId": "ffffffffffffffffffffffffffffffff"})),
            Err(FiscalReceiptError::OtherPayment { .. })
        ));
        assert!(matches!(check(json!({"Amount": 150006})), Err(FiscalReceiptError::AmountMismatch { .. })));
        assert_eq!(check(json!({"Type": "IncomeReturn", "Amount": 100})), Ok(()));
    }

    #[test]
    fn configuration_fills_in_what_the_bank_leaves_out() {
        let n = notification(json!({"Ofd": null, "SettlePlace": null, "CalculationPlace": null}));
        let mut s = seller();
        s.ofd = Some("АО «ПФ «СКБ Контур»".into());
        s.settlement_place = Some("https://facebook.com/mosenergosbyt".into());
        let r = n.fiscal_receipt(&payment("1500.05"), &s).unwrap();
        assert_eq!(r.ofd, "АО «ПФ «СКБ Контур»");
        assert_eq!(r.settlement_place, "https://facebook.com/mosenergosbyt");

        s.settlement_place = None;
        assert_eq!(n.fiscal_receipt(&payment("1500.05"), &s), Err(FiscalReceiptError::Missing("SettlePlace")));
        let n = notification(json!({"SettlePlace": null, "CalculationPlace": "https://vk.com/app1"}));
        assert_eq!(n.fiscal_receipt(&payment("1500.05"), &s).unwrap().settlement_place, "https://vk.com/app1");
    }

    #[test]
    fn debug_output_leaves_out_the_buyer_email_and_the_full_account() {
        let r = receipt(json!({})).unwrap();
        let debug = format!("{r:?}");
        assert!(!debug.contains("ivanov@"), "{debug}");
        assert!(!debug.contains("29614"), "{debug}");
        assert!(debug.contains("64318"), "{debug}");
    }
}
