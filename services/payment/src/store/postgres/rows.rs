//! Rows as PostgreSQL returns them, and their way back into domain values.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    Account, CardBrand, Direction, Failure, FailureReason, LedgerEntry, Money, Payment,
    PaymentMethod, PaymentStatus, Refund, RefundStatus, StoredCard,
};
use crate::store::StoreError;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

#[derive(sqlx::FromRow)]
pub(super) struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    currency: String,
    amount_minor: i64,
    captured_minor: i64,
    refunded_minor: i64,
    method: String,
    status: String,
    provider: String,
    provider_reference: String,
    card_token: Option<String>,
    card_brand: Option<String>,
    card_last4: Option<String>,
    failure_reason: Option<String>,
    failure_message: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    authorized_at: Option<DateTime<Utc>>,
    captured_at: Option<DateTime<Utc>>,
}

impl PaymentRow {
    pub(super) fn id(&self) -> Uuid {
        self.id
    }

    pub(super) fn into_payment(self, refunds: Vec<Refund>) -> Result<Payment, StoreError> {
        let method = PaymentMethod::from_name(&self.method)
            .ok_or_else(|| corrupt("method", &self.method))?;
        let status = PaymentStatus::from_name(&self.status)
            .ok_or_else(|| corrupt("status", &self.status))?;
        let failure = match self.failure_reason {
            Some(reason) => Some(Failure {
                reason: FailureReason::from_name(&reason)
                    .ok_or_else(|| corrupt("failure reason", &reason))?,
                message: self.failure_message,
            }),
            None => None,
        };
        let card = match (self.card_last4, self.card_brand) {
            (Some(last4), Some(brand)) => Some(StoredCard {
                token: self.card_token.unwrap_or_default(),
                brand: CardBrand::from_name(&brand),
                last4,
            }),
            _ => None,
        };
        Ok(Payment {
            id: self.id,
            order_id: self.order_id,
            user_id: self.user_id,
            amount: Money::new(self.currency, self.amount_minor),
            captured_minor: self.captured_minor,
            refunded_minor: self.refunded_minor,
            method,
            status,
            provider: self.provider,
            provider_reference: self.provider_reference,
            card,
            failure,
            refunds,
            created_at: self.created_at,
            updated_at: self.updated_at,
            authorized_at: self.authorized_at,
            captured_at: self.captured_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RefundRow {
    id: Uuid,
    pub(super) payment_id: Uuid,
    currency: String,
    amount_minor: i64,
    reason: String,
    status: String,
    provider_reference: String,
    failure_message: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;

    fn try_from(row: RefundRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            payment_id: row.payment_id,
            amount: Money::new(row.currency, row.amount_minor),
            reason: row.reason,
            status: RefundStatus::from_name(&row.status)
                .ok_or_else(|| corrupt("refund status", &row.status))?,
            provider_reference: row.provider_reference,
            failure_message: row.failure_message,
            created_at: row.created_at,
            completed_at: row.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EntryRow {
    position: i64,
    id: Uuid,
    journal_id: Uuid,
    account: String,
    direction: String,
    currency: String,
    amount_minor: i64,
    payment_id: Uuid,
    refund_id: Option<Uuid>,
    order_id: Uuid,
    description: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<EntryRow> for (i64, LedgerEntry) {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let entry = LedgerEntry {
            id: row.id,
            journal_id: row.journal_id,
            account: Account::from_name(&row.account)
                .ok_or_else(|| corrupt("account", &row.account))?,
            direction: Direction::from_name(&row.direction)
                .ok_or_else(|| corrupt("direction", &row.direction))?,
            amount: Money::new(row.currency, row.amount_minor),
            payment_id: row.payment_id,
            refund_id: row.refund_id,
            order_id: row.order_id,
            description: row.description,
            created_at: row.created_at,
        };
        Ok((row.position, entry))
    }
}
