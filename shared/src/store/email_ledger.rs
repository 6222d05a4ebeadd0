//! [`EmailLedger`] on DynamoDB: the claims and marks (`email#…` on the payment item) that make each
//! customer email go out once. Conditional writes only; the rule that uses them is
//! `app::customer_emails`.

use super::DynamoStore;
use super::item;
use super::operator_desk;
use super::payment_record::{REJECTED, SENDING, SENT, UNRENDERED, email_attribute, receipt_attribute};
use super::payments::{self, FINISHED, PENDING};
use super::pending_payments;
use crate::domain::{Payment, PaymentId};
use crate::ports::StoreError;
use crate::ports::ledger::{CustomerEmail, EmailClaim, EmailLedger, EmailOutcome, PendingPayments, ReceiptSlot};
use crate::ports::operator_desk::DeskKind;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// The value of a claim made at `now`: `sending:<ts>#<nonce>`, compared as text with a cut-off.
fn claim_token(now: DateTime<Utc>) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{SENDING}{}#{}", item::timestamp(now), &nonce[..12])
}

impl DynamoStore {
    /// The last email a caller sends, settled in the same write that moves its payment to FINISHED
    /// (from PENDING, or to a later place there) if no other email is left due. False, writing
    /// nothing, when another email is due or the claim is no longer ours: the caller settles it
    /// alone, which tells the two apart.
    async fn settle_and_finish(
        &self,
        claim: &EmailClaim,
        names: &[(&str, &str)],
        values: &[(&str, AttributeValue)],
        delete: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (mailed, mailed_names) = pending_payments::mailed_condition(Some(&claim.email));
        let expression = format!("SET #email = :mark, GSI2PK = :finished, GSI2SK = :position{delete}");
        let names: Vec<(&str, &str)> = names.iter().copied().chain(mailed_names).collect();
        let values = values
            .iter()
            .cloned()
            .chain([
                (":sent", item::s(SENT)),
                (":rejected", item::s(REJECTED)),
                (":finished", item::s(FINISHED)),
                (":position", item::s(payments::finished_position(&claim.payment, at))),
            ])
            .collect();
        self.conditional_update(&claim.payment, &expression, &format!("#email = :claim AND {mailed}"), &names, values)
            .await
    }
}

impl EmailLedger for DynamoStore {
    fn new_claim(&self, payment: &PaymentId, email: CustomerEmail, now: DateTime<Utc>) -> EmailClaim {
        EmailClaim { payment: payment.clone(), email, token: claim_token(now) }
    }

    async fn claim_email(
        &self,
        payment: &PaymentId,
        email: &CustomerEmail,
        now: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> Result<Option<EmailClaim>, StoreError> {
        let token = claim_token(now);
        let attribute = email_attribute(email);
        let claimed = self
            .conditional_update(
                payment,
                "SET #email = :claim",
                "attribute_exists(PK) AND (attribute_not_exists(#email) \
                 OR (begins_with(#email, :sending) AND #email < :abandoned))",
                &[("#email", &attribute)],
                vec![
                    (":claim", item::s(&token)),
                    (":sending", item::s(SENDING)),
                    (":abandoned", item::s(format!("{SENDING}{}", item::timestamp(abandoned_before)))),
                ],
            )
            .await?;
        Ok(claimed.then(|| EmailClaim { payment: payment.clone(), email: email.clone(), token }))
    }

    async fn settle_email(
        &self,
        claim: &EmailClaim,
        outcome: EmailOutcome,
        at: DateTime<Utc>,
        last: bool,
    ) -> Result<bool, StoreError> {
        let mark = match outcome {
            EmailOutcome::Sent => format!("{SENT}{}", item::timestamp(at)),
            EmailOutcome::Rejected => format!("{REJECTED}{}", item::timestamp(at)),
        };
        let attribute = email_attribute(&claim.email);
        let mut names = vec![("#email", attribute.as_str())];
        let mut values = vec![(":mark", item::s(mark)), (":claim", item::s(&claim.token))];
        // A receipt's email composed at last (or refused for good): no longer held back.
        let delete = match &claim.email {
            CustomerEmail::PaymentReceived => "",
            CustomerEmail::Receipt(slot) => {
                names.push(("#unrendered", UNRENDERED));
                values.push((":slot", AttributeValue::Ss(vec![receipt_attribute(slot)])));
                " DELETE #unrendered :slot"
            }
        };
        let settle = format!("SET #email = :mark{delete}");
        let settled = if last && self.settle_and_finish(claim, &names, &values, delete, at).await? {
            None
        } else {
            let Some(after) =
                self.conditional_update_returning(&claim.payment, &settle, "#email = :claim", &names, values).await?
            else {
                return Ok(false);
            };
            Some(after)
        };
        if outcome == EmailOutcome::Rejected {
            // Given up: a person has to reach the customer another way.
            if let Err(e) = self.set_aside(&claim.payment, DeskKind::Email, at).await {
                tracing::warn!(payment_id = %claim.payment, error = %e, "a refused email is not on the operator's desk");
            }
        }
        // Writes to one item take turns, so of two racing settlements the second sees both in
        // what its write returns: one that leaves an email still due spends no request on this.
        if settled.as_ref().is_some_and(pending_payments::mailed) {
            // The email is settled either way; still listed, the payment costs the next
            // reconciliation run one read and nothing else.
            if let Err(e) = self.unlist_if_mailed(&claim.payment, at).await {
                tracing::warn!(payment_id = %claim.payment, error = %e, "a mailed payment stays listed as pending");
            }
        }
        Ok(true)
    }

    async fn release_email(&self, claim: &EmailClaim) -> Result<(), StoreError> {
        let attribute = email_attribute(&claim.email);
        self.conditional_update(
            &claim.payment,
            "REMOVE #email",
            "#email = :claim",
            &[("#email", &attribute)],
            vec![(":claim", item::s(&claim.token))],
        )
        .await
        .map(|_| ())
    }

    async fn hold_unrendered(&self, payment: &Payment, slot: &ReceiptSlot) -> Result<(), StoreError> {
        self.conditional_update(
            &payment.id,
            &format!(
                "ADD #unrendered :slot, {} SET GSI2PK = :pending, GSI2SK = :position, {}",
                operator_desk::SET_ASIDE_ADD,
                operator_desk::SET_ASIDE
            ),
            // Never for an email settled meanwhile by another delivery.
            "attribute_exists(PK) AND (attribute_not_exists(#email) OR begins_with(#email, :sending))",
            &[("#unrendered", UNRENDERED), ("#email", &email_attribute(&CustomerEmail::Receipt(slot.clone())))],
            [
                (":slot", AttributeValue::Ss(vec![receipt_attribute(slot)])),
                (":sending", item::s(SENDING)),
                (":pending", item::s(PENDING)),
                (":position", item::s(payments::pending_position(payment))),
            ]
            .into_iter()
            .chain(operator_desk::set_aside_values(&payment.id, DeskKind::Receipt, Utc::now()))
            .collect(),
        )
        .await
        .map(|_| ())
    }
}
