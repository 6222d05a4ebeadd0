//! What the payment callback and the reconciliation may do to a payment: apply the state
//! machine's transitions (the credit, refunds, progress), note anomalies, keep the bank's fiscal
//! receipts, and send each customer email once. Reading the account's ledger is here too.
//!
//! Every write is conditional on the payment being as it was read, so a duplicated, reordered
//! or concurrent notification changes nothing the second time: the conditions do it, not locks.

use super::StoreError;
use crate::acquirer::{PaymentStatus as BankStatus, ReceiptNotification};
use crate::domain::fiscal_receipt::SettlementSign;
use crate::domain::payment::Card;
use crate::domain::payment_transition::Transition;
use crate::domain::{AccountNumber, Money, Payment, PaymentId, PaymentStatus};
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;

/// A payment with what the callback tracks beside it.
#[derive(Clone, Debug)]
pub struct PaymentRecord {
    pub payment: Payment,
    /// When the account was credited.
    pub paid_at: Option<DateTime<Utc>>,
    /// The last anomaly noted on the payment (an amount mismatch, a refund of nothing, …).
    pub anomaly: Option<String>,
    /// The fiscal receipts the bank reported: the sale's, and one per refund.
    pub receipts: Vec<StoredReceipt>,
    /// How many keepings of a receipt the payment has counted (0 before the first): what a write
    /// that must not miss a receipt kept since its read compares with.
    pub receipts_kept: u64,
    /// Where each customer email stands; an email absent here was never attempted.
    pub emails: Vec<(CustomerEmail, EmailMark)>,
}

impl PaymentRecord {
    pub fn email(&self, email: &CustomerEmail) -> Option<&EmailMark> {
        self.emails.iter().find(|(e, _)| e == email).map(|(_, mark)| mark)
    }

    /// The email may be claimed now: never attempted, or claimed by a sender that must have died
    /// (its claim is older than `abandoned_before`).
    pub fn email_due(&self, email: &CustomerEmail, abandoned_before: DateTime<Utc>) -> bool {
        self.email(email).is_none_or(|mark| mark.is_abandoned(abandoned_before))
    }

    /// Those of `claims` the payment carries as written: a write that made them, whose answer was
    /// lost and whose retry then failed its condition, did land.
    pub fn carrying(&self, claims: Vec<EmailClaim>) -> Vec<EmailClaim> {
        claims.into_iter().filter(|claim| self.email(&claim.email).is_some_and(|mark| mark.is_claim(claim))).collect()
    }

    pub fn receipt(&self, slot: &ReceiptSlot) -> Option<&StoredReceipt> {
        self.receipts.iter().find(|r| &r.slot == slot)
    }
}

/// The emails a payment gives rise to, each sent at most once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CustomerEmail {
    /// "Payment received", once the account is credited.
    PaymentReceived,
    /// The fiscal receipt kept in this slot.
    Receipt(ReceiptSlot),
}

/// Which fiscal receipt: the sale's (one per payment), a refund's (one per fiscal document), or
/// one the bank reported too sparsely to tell, or as a second sale (one per notification).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptSlot {
    Sale,
    Refund {
        document: String,
    },
    /// Neither its kind nor its document number can be read, or it is a second sale's document;
    /// `key` comes from the notification's signature, so every delivery of it lands here and only
    /// here.
    Unidentified {
        key: String,
    },
}

impl ReceiptSlot {
    /// Where a `RECEIPT` notification is kept on the payment `record` holds, whatever else it
    /// lacks. Once it is kept, every later delivery of it lands in the same slot: all this reads
    /// of the record is the payment's amount and the document in the sale's slot, neither of
    /// which changes once there.
    ///
    /// - The sale's slot: a sale's document (`Type` `Income`, or no `Type` and the whole amount),
    ///   unless that slot holds another fiscal document already.
    /// - Under its `FiscalDocumentNumber`: a refund's (`Type` `IncomeReturn`), and a document
    ///   without `Type` that cannot be the sale's — less than the whole amount, or another
    ///   document than the sale's slot holds. A payment is only ever refunded after its sale, so
    ///   such a document is taken for a refund's; its email says so only once the payment's
    ///   money does (`ReceiptNotification::fiscal_receipt_kept_as`).
    /// - Under its own key: a kind we do not know, no readable document number, or a second sale.
    ///
    /// Of two documents without `Type` for the whole amount, the first one kept is the sale's.
    pub fn of(notification: &ReceiptNotification, record: &PaymentRecord) -> Self {
        let document = document_number(notification);
        let beside_the_sale = document.as_ref().is_some_and(|document| {
            record.receipt(&Self::Sale).and_then(StoredReceipt::document).is_some_and(|sale| sale != *document)
        });
        let whole = notification.amount == record.payment.amount;
        match (notification.settlement_sign(), document) {
            (Ok(Some(SettlementSign::Income)), _) if !beside_the_sale => Self::Sale,
            (Ok(None), Some(_)) if whole && !beside_the_sale => Self::Sale,
            (Ok(Some(SettlementSign::IncomeReturn) | None), Some(document)) => Self::Refund { document },
            _ => Self::Unidentified { key: unidentified_key(notification) },
        }
    }

    /// What a receipt kept here is when the bank did not say: the sale's slot holds a sale, the
    /// others a refund's or nothing we can tell.
    pub fn kept_as(&self) -> Option<SettlementSign> {
        match self {
            Self::Sale => Some(SettlementSign::Income),
            Self::Refund { .. } => Some(SettlementSign::IncomeReturn),
            Self::Unidentified { .. } => None,
        }
    }
}

/// The notification's `FiscalDocumentNumber`, when it reads as one.
fn document_number(notification: &ReceiptNotification) -> Option<String> {
    let document = notification.fiscal_document_number.as_deref().map(str::trim)?;
    (!document.is_empty() && document.len() <= 20 && document.bytes().all(|b| b.is_ascii_digit()))
        .then(|| document.to_owned())
}

/// Sixteen hex digits of the notification's Token: the same for each delivery of one notification,
/// different for any other.
fn unidentified_key(notification: &ReceiptNotification) -> String {
    let key: String = notification
        .token
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    if key.is_empty() { "unsigned".to_owned() } else { key }
}

/// Where one email stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailMark {
    /// Claimed for sending at `since`; `token` is the claim as written ([`EmailClaim::token`]).
    Sending {
        since: DateTime<Utc>,
        token: String,
    },
    Sent {
        at: DateTime<Utc>,
    },
    /// The mail service refused it for good (an undeliverable address): not tried again.
    Rejected {
        at: DateTime<Utc>,
    },
}

impl EmailMark {
    /// A claim older than `abandoned_before` belongs to a sender that stopped mid-way (a Lambda
    /// that timed out): the email may be claimed again.
    pub fn is_abandoned(&self, abandoned_before: DateTime<Utc>) -> bool {
        matches!(self, Self::Sending { since, .. } if *since < abandoned_before)
    }

    /// The mark is `claim`, as its writer wrote it.
    pub fn is_claim(&self, claim: &EmailClaim) -> bool {
        matches!(self, Self::Sending { token, .. } if *token == claim.token)
    }
}

/// A fiscal receipt as the bank reported it: the notification kept whole, so the receipt email
/// can be built from it whenever the payment is paid, however late that is.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub slot: ReceiptSlot,
    /// The notification's JSON as received, its Token verified. Holds the buyer's email.
    pub notification: String,
    pub received_at: DateTime<Utc>,
}

impl StoredReceipt {
    /// The fiscal document number of the receipt, when the bank gave a readable one.
    pub fn document(&self) -> Option<String> {
        serde_json::from_str::<ReceiptNotification>(&self.notification).ok().as_ref().and_then(document_number)
    }
}

impl fmt::Debug for StoredReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredReceipt")
            .field("slot", &self.slot)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

/// The failure reason recorded on a payment nobody tried to pay.
pub const ABANDONED: &str = "ABANDONED";

/// Whose word a change of a payment rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedStatus {
    /// The bank's status (`CONFIRMED`, `REJECTED`, …), as the bank named it.
    Bank(BankStatus),
    /// The reconciliation gave up on a payment nobody tried to pay (written `ABANDONED`).
    Abandoned,
    /// The bank said nothing about the payment in all the time it was asked (no attempt for the
    /// order, or only errors).
    Silent,
}

impl ReportedStatus {
    /// As recorded on the payment (a failure's reason) and logged.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bank(status) => status.as_str(),
            Self::Abandoned => ABANDONED,
            Self::Silent => "nothing",
        }
    }
}

impl fmt::Display for ReportedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What came with a bank status besides the status itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankFacts {
    /// What was reported; kept as a failure's reason.
    pub status: ReportedStatus,
    /// The bank's id of the attempt the status is about.
    pub acquirer_payment_id: Option<String>,
    /// The masked card, when the bank named one.
    pub card: Option<Card>,
    /// The bank's `ErrorCode` with a failure (never `0`): kept on a payment it ends, so its page
    /// can say why (`domain::decline_reason`).
    pub error_code: Option<String>,
    pub at: DateTime<Utc>,
}

/// What a conditional write found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// The payment is no longer as it was read: another delivery (a duplicate, a concurrent or a
    /// newer notification) changed it first. Read it again and decide again.
    Stale,
    /// The account to credit or debit has no profile: no money moved.
    AccountMissing,
}

pub trait PaymentLedger {
    /// The payment and what the callback tracks beside it, read consistently.
    fn payment_record(&self, id: &PaymentId) -> impl Future<Output = Result<Option<PaymentRecord>, StoreError>> + Send;

    /// Writes `transition`, which the state machine computed from `read`, provided the payment
    /// is still as read. `Credit` and `Refund` move money: the payment, the account's balance
    /// and a ledger entry (written once per movement) in one transaction. Transitions that
    /// change nothing write nothing.
    ///
    /// A credit writes `claims` too (the emails it makes due, claimed for its writer), and only
    /// while the payment's sale receipt is as read: one kept since makes it [`Applied::Stale`],
    /// so its writer, reading again, claims that receipt's email with the credit. Other
    /// transitions make no email due and take no claims.
    fn apply_transition(
        &self,
        read: &PaymentRecord,
        transition: &Transition,
        facts: &BankFacts,
        claims: &[EmailClaim],
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;

    /// Marks the payment for an operator's attention. Nothing else changes.
    fn note_anomaly(
        &self,
        id: &PaymentId,
        anomaly: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps a fiscal receipt on the payment unless its slot holds one already, and `claim` (on
    /// its email, for a payment already credited) in the same write. The record as that write
    /// left it when kept now; `None` when the slot held one already.
    fn keep_receipt(
        &self,
        id: &PaymentId,
        receipt: &StoredReceipt,
        claim: Option<&EmailClaim>,
    ) -> impl Future<Output = Result<Option<PaymentRecord>, StoreError>> + Send;
}

/// A claim on one email of one payment: only its holder sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailClaim {
    pub payment: PaymentId,
    pub email: CustomerEmail,
    /// The value written to claim it: settling or releasing checks it is still ours.
    pub token: String,
}

/// How a claimed email ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailOutcome {
    Sent,
    /// Refused for good; sending it again would fail the same way.
    Rejected,
}

pub trait EmailLedger {
    /// A claim on `email` as of `now`, to be written by another write of the payment (its credit,
    /// the keeping of a receipt) rather than by [`Self::claim_email`]. Writes nothing.
    fn new_claim(&self, payment: &PaymentId, email: CustomerEmail, now: DateTime<Utc>) -> EmailClaim;

    /// Claims the email for sending at `now`, unless it was sent, rejected, or claimed at or after
    /// `abandoned_before` by someone else. `None`: not ours to send.
    fn claim_email(
        &self,
        payment: &PaymentId,
        email: &CustomerEmail,
        now: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<EmailClaim>, StoreError>> + Send;

    /// Records how the claimed email ended. False when the claim was taken over meanwhile (it
    /// outlived the claim timeout), so the other holder's record stands. A payment with no email
    /// left due leaves the reconciliation's list; when the caller sends no other email after this
    /// one (`last`), in the same write.
    fn settle_email(
        &self,
        claim: &EmailClaim,
        outcome: EmailOutcome,
        at: DateTime<Utc>,
        last: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the claim up: the next delivery of the notification sends the email.
    fn release_email(&self, claim: &EmailClaim) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A kept receipt whose email cannot be composed yet (a requisite missing, no fallback
    /// configured): its email stays due and the payment stays on the reconciliation's list until
    /// it is sent, so a configuration that supplies what was missing gets it out.
    fn hold_unrendered(
        &self,
        payment: &Payment,
        slot: &ReceiptSlot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where the next page of pending payments starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCursor {
    pub payment: PaymentId,
    /// The index sort key of the last payment of the previous page.
    pub position: String,
}

/// What the list of pending payments holds of each: what reconciliation decides with before it
/// reads the payment itself. No email, no account, no card: the list keeps no personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPayment {
    pub id: PaymentId,
    pub status: PaymentStatus,
    pub acquirer_payment_id: Option<String>,
    pub form_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One page of pending payments, oldest first.
#[derive(Clone, Debug)]
pub struct PendingPage {
    pub payments: Vec<PendingPayment>,
    pub next: Option<PendingCursor>,
}

pub trait PendingPayments {
    /// Payments still waiting for the bank (`NEW`, `AUTHORIZED`), or credited with an email not
    /// yet settled (or a receipt not yet composable), created before `created_before`, oldest
    /// first, at most `limit` per page.
    /// Read from an index: eventually consistent, so read each payment again before acting on it.
    fn pending_payments(
        &self,
        created_before: DateTime<Utc>,
        after: Option<&PendingCursor>,
        limit: i32,
    ) -> impl Future<Output = Result<PendingPage, StoreError>> + Send;

    /// Takes a credited payment off the list once its emails are settled (it is then finished:
    /// see [`CustomerEmailRetention`]); nothing otherwise. Settling an email does this itself;
    /// this is for a payment whose unlisting write was lost.
    fn unlist_if_mailed(
        &self,
        id: &PaymentId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How many payments a pass of [`CustomerEmailRetention::forget_customer_emails`] cleared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub payments: u32,
    /// More finished payments are older than the cut-off: call again.
    pub more: bool,
}

/// The customer's email is kept on a payment while it may be needed — until its emails are sent
/// (or it failed), and a retention period after that — then removed, with the copies the bank's
/// receipts echo. A payment under review keeps it for the operator.
pub trait CustomerEmailRetention {
    /// Removes the email from up to `limit` payments finished before `finished_before`, oldest
    /// first. A payment that changed since it was listed (a late capture, a refund under way) is
    /// left for a later pass.
    fn forget_customer_emails(
        &self,
        finished_before: DateTime<Utc>,
        limit: i32,
    ) -> impl Future<Output = Result<Forgotten, StoreError>> + Send;
}

/// One movement of an account's money. Written once per (payment, movement): a replay cannot
/// add a second one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    pub account: AccountNumber,
    pub payment: PaymentId,
    pub movement: Movement,
    /// Signed as the balance moved: + for a credit, − for a refund.
    pub amount: Money,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Movement {
    Credit,
    /// A refund that brought the payment's refunded sum to `total_refunded`.
    Refund {
        total_refunded: Money,
    },
}

pub trait LedgerReader {
    /// Every movement of the account's money, in key order.
    fn ledger_entries(
        &self,
        account: &AccountNumber,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(fields: serde_json::Value) -> ReceiptNotification {
        let mut body = json!({
            "TerminalKey": "T", "OrderId": "0f8fad5bd9cb469fa16570867728950e", "Success": true,
            "Status": "RECEIPT", "PaymentId": 5974256058u64, "ErrorCode": "0", "Amount": 150005,
            "Token": "9A0bC1d2E3f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344"
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::from_value(body).unwrap()
    }

    /// A credited payment of 1500.05 (the notifications' `Amount`), holding `receipts`.
    fn record(receipts: Vec<StoredReceipt>) -> PaymentRecord {
        let at = Utc::now();
        PaymentRecord {
            payment: crate::domain::payment::paid_example("1500.05", at),
            paid_at: Some(at),
            anomaly: None,
            receipts,
            receipts_kept: 0,
            emails: Vec::new(),
        }
    }

    /// The payment holding, in its sale's slot, the receipt of fiscal document `document`.
    fn sold_as(document: u64) -> PaymentRecord {
        let sale = json!({
            "TerminalKey": "T", "OrderId": "0f8fad5bd9cb469fa16570867728950e", "Success": true,
            "Status": "RECEIPT", "PaymentId": 5974256058u64, "ErrorCode": "0", "Amount": 150005,
            "Type": "Income", "FiscalDocumentNumber": document, "Token": "00"
        });
        record(vec![StoredReceipt { slot: ReceiptSlot::Sale, notification: sale.to_string(), received_at: Utc::now() }])
    }

    #[test]
    fn a_receipt_is_kept_where_its_type_and_document_say_or_under_its_own_signature() {
        let unsold = record(Vec::new());
        let of = |fields| ReceiptSlot::of(&notification(fields), &unsold);
        assert_eq!(of(json!({"Type": "Income"})), ReceiptSlot::Sale);
        assert_eq!(of(json!({"FiscalDocumentNumber": 64318})), ReceiptSlot::Sale);
        assert_eq!(
            of(json!({"Type": "IncomeReturn", "FiscalDocumentNumber": 64319})),
            ReceiptSlot::Refund { document: "64319".into() }
        );
        let own = ReceiptSlot::Unidentified { key: "9a0bc1d2e3f4a5b6".into() };
        assert_eq!(of(json!({})), own, "neither a type nor a document");
        assert_eq!(of(json!({"Type": "IncomeReturn"})), own, "a refund of no document");
        assert_eq!(of(json!({"Type": "Expense", "FiscalDocumentNumber": 1})), own);
        assert_ne!(
            of(json!({"Token": "ffffffffffffffff00000000000000000000000000000000"})),
            own,
            "another notification"
        );
    }

    #[test]
    fn given_a_sale_receipt_kept_when_another_document_comes_without_its_type_then_it_is_kept_under_its_own_number() {
        let sold = sold_as(64318);
        let of = |fields| ReceiptSlot::of(&notification(fields), &sold);
        let refund = ReceiptSlot::Refund { document: "64320".into() };
        assert_eq!(of(json!({"FiscalDocumentNumber": 64318})), ReceiptSlot::Sale, "the sale's, delivered again");
        assert_eq!(of(json!({"FiscalDocumentNumber": " 64320 "})), refund, "another document: a refund's");
        assert_eq!(of(json!({"FiscalDocumentNumber": 64320, "Amount": 50000})), refund);
        assert_eq!(of(json!({"Type": "Income", "FiscalDocumentNumber": 64318})), ReceiptSlot::Sale);
        assert_eq!(of(json!({"Type": "Income"})), ReceiptSlot::Sale, "no number to tell it from the sale's");
        assert_eq!(
            of(json!({"Type": "Income", "FiscalDocumentNumber": 64320})),
            ReceiptSlot::Unidentified { key: "9a0bc1d2e3f4a5b6".into() },
            "a second sale is neither the sale's nor a refund's"
        );
        // Part of the payment is never its sale, whatever the sale's slot holds.
        let unsold = record(Vec::new());
        assert_eq!(
            ReceiptSlot::of(&notification(json!({"FiscalDocumentNumber": 64320, "Amount": 50000})), &unsold),
            refund
        );
        // The sale's slot holding a receipt of no readable number: nothing to tell another by.
        let sparse =
            record(vec![StoredReceipt { slot: ReceiptSlot::Sale, notification: "{}".into(), received_at: Utc::now() }]);
        assert_eq!(ReceiptSlot::of(&notification(json!({"FiscalDocumentNumber": 64320})), &sparse), ReceiptSlot::Sale);
    }

    #[test]
    fn a_slot_says_what_a_receipt_without_type_kept_in_it_is() {
        assert_eq!(ReceiptSlot::Sale.kept_as(), Some(SettlementSign::Income));
        assert_eq!(ReceiptSlot::Refund { document: "1".into() }.kept_as(), Some(SettlementSign::IncomeReturn));
        assert_eq!(ReceiptSlot::Unidentified { key: "k".into() }.kept_as(), None);
        assert_eq!(sold_as(64318).receipts[0].document().as_deref(), Some("64318"));
    }
}
