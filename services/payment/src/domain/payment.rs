//! Payments and refunds and the life cycle they follow:
//!
//! ```text
//! PENDING ─► AUTHORIZED ─► CAPTURED ─► PARTIALLY_REFUNDED ─► REFUNDED
//!    │            └──────► VOIDED
//!    └─► DECLINED | FAILED
//! ```
//!
//! Each method either returns the payment after a legal step or says why the step is
//! refused; nothing here does I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    FailureReason, Money, PaymentError, PaymentMethod, PaymentStatus, RefundStatus, StoredCard,
};

/// Why a payment did not go through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The reason.
    pub reason: FailureReason,
    /// The gateway's message.
    pub message: String,
}

/// Money returned from a captured payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// UUIDv7.
    pub id: Uuid,
    /// The refunded payment.
    pub payment_id: Uuid,
    /// Amount returned.
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// Where it is.
    pub status: RefundStatus,
    /// The gateway's reference; empty for cash.
    pub provider_reference: String,
    /// The gateway's error when failed.
    pub failure_message: String,
    /// Requested at.
    pub created_at: DateTime<Utc>,
    /// Succeeded or failed at.
    pub completed_at: Option<DateTime<Utc>>,
}

/// What the customer asked to pay, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// The order.
    pub order_id: Uuid,
    /// The paying user.
    pub user_id: Uuid,
    /// Amount to authorize (> 0).
    pub amount: Money,
    /// How.
    pub method: PaymentMethod,
}

/// How an authorization ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Approved: the gateway's reference and, for cards, what is kept of the card.
    Approved {
        /// The gateway's id for the payment; empty for cash.
        reference: String,
        /// Token, brand and last four; `None` for cash.
        card: Option<StoredCard>,
    },
    /// Refused or failed.
    Refused {
        /// Why.
        failure: Failure,
        /// Last four of the card, when there was one.
        card: Option<StoredCard>,
    },
}

/// What a capture request amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// Take this many minor units now.
    Take(i64),
    /// Already captured: nothing to do, return the payment as it is.
    AlreadyCaptured,
}

/// One attempt to pay for one order, with its refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// UUIDv7.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The paying user.
    pub user_id: Uuid,
    /// Amount authorized.
    pub amount: Money,
    /// Captured so far, minor units.
    pub captured_minor: i64,
    /// Refunded so far (succeeded refunds), minor units.
    pub refunded_minor: i64,
    /// How.
    pub method: PaymentMethod,
    /// Where it is.
    pub status: PaymentStatus,
    /// "sandbox", "cod" or a provider.
    pub provider: String,
    /// The gateway's id; empty for cash and before it answered.
    pub provider_reference: String,
    /// What is kept of the card.
    pub card: Option<StoredCard>,
    /// Why it was declined or failed.
    pub failure: Option<Failure>,
    /// Refunds, oldest first.
    pub refunds: Vec<Refund>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Authorized at.
    pub authorized_at: Option<DateTime<Utc>>,
    /// Captured at.
    pub captured_at: Option<DateTime<Utc>>,
}

/// Which payments a listing returns (all that are `Some` must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PaymentFilter {
    /// Only this order's.
    pub order_id: Option<Uuid>,
    /// Only this user's.
    pub user_id: Option<Uuid>,
    /// Only in this status.
    pub status: Option<PaymentStatus>,
}

impl PaymentFilter {
    /// Whether `payment` passes.
    pub fn matches(&self, payment: &Payment) -> bool {
        self.order_id.is_none_or(|o| o == payment.order_id)
            && self.user_id.is_none_or(|u| u == payment.user_id)
            && self.status.is_none_or(|s| s == payment.status)
    }
}

// === impl Payment ===

impl Payment {
    /// A new payment waiting for the gateway.
    pub fn pending(new: NewPayment, provider: &str, at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            order_id: new.order_id,
            user_id: new.user_id,
            captured_minor: 0,
            refunded_minor: 0,
            amount: new.amount,
            method: new.method,
            status: PaymentStatus::Pending,
            provider: provider.to_owned(),
            provider_reference: String::new(),
            card: None,
            failure: None,
            refunds: Vec::new(),
            created_at: at,
            updated_at: at,
            authorized_at: None,
            captured_at: None,
        }
    }

    /// Captured amount as money.
    pub fn captured(&self) -> Money {
        self.amount.with_minor(self.captured_minor)
    }

    /// Refunded amount as money.
    pub fn refunded(&self) -> Money {
        self.amount.with_minor(self.refunded_minor)
    }

    fn refuse(&self, action: &'static str) -> PaymentError {
        PaymentError::WrongState {
            payment_id: self.id,
            status: self.status,
            action,
            failure: self.failure.clone(),
        }
    }

    /// PENDING → AUTHORIZED, DECLINED or FAILED, as the gateway answered.
    pub fn settle(
        mut self,
        settlement: Settlement,
        at: DateTime<Utc>,
    ) -> Result<Self, PaymentError> {
        if self.status != PaymentStatus::Pending {
            return Err(self.refuse("authorize"));
        }
        match settlement {
            Settlement::Approved { reference, card } => {
                self.status = PaymentStatus::Authorized;
                self.provider_reference = reference;
                self.card = card;
                self.authorized_at = Some(at);
            }
            Settlement::Refused { failure, card } => {
                self.status = if failure.reason.is_decline() {
                    PaymentStatus::Declined
                } else {
                    PaymentStatus::Failed
                };
                self.card = card;
                self.failure = Some(failure);
            }
        }
        self.updated_at = at;
        Ok(self)
    }

    /// What capturing `amount` (all of it when `None`) means now: AUTHORIZED may take up
    /// to the authorized amount; CAPTURED is already done; anything else is refused.
    pub fn plan_capture(&self, amount: Option<i64>) -> Result<Capture, PaymentError> {
        match self.status {
            PaymentStatus::Authorized => {}
            PaymentStatus::Captured => return Ok(Capture::AlreadyCaptured),
            _ => return Err(self.refuse("capture")),
        }
        let take = amount.unwrap_or(self.amount.minor);
        if take <= 0 {
            return Err(PaymentError::invalid(
                "amount.amount_minor",
                "must be positive",
            ));
        }
        if take > self.amount.minor {
            return Err(PaymentError::CaptureExceedsAuthorized {
                requested: self.amount.with_minor(take),
                authorized: self.amount.clone(),
            });
        }
        Ok(Capture::Take(take))
    }

    /// AUTHORIZED → CAPTURED with `amount` taken.
    pub fn capture(mut self, amount: i64, at: DateTime<Utc>) -> Result<Self, PaymentError> {
        if self.status != PaymentStatus::Authorized {
            return Err(self.refuse("capture"));
        }
        self.status = PaymentStatus::Captured;
        self.captured_minor = amount;
        self.captured_at = Some(at);
        self.updated_at = at;
        Ok(self)
    }

    /// Whether voiding has anything to do: AUTHORIZED must be voided; VOIDED, DECLINED and
    /// FAILED are returned as they are; a captured payment is refused (refund it).
    pub fn needs_void(&self) -> Result<bool, PaymentError> {
        match self.status {
            PaymentStatus::Authorized => Ok(true),
            PaymentStatus::Voided | PaymentStatus::Declined | PaymentStatus::Failed => Ok(false),
            _ => Err(self.refuse("void")),
        }
    }

    /// AUTHORIZED → VOIDED.
    pub fn void(mut self, at: DateTime<Utc>) -> Result<Self, PaymentError> {
        if self.status != PaymentStatus::Authorized {
            return Err(self.refuse("void"));
        }
        self.status = PaymentStatus::Voided;
        self.updated_at = at;
        Ok(self)
    }

    /// Minor units a refund of `amount` (the rest when `None`) returns: only CAPTURED or
    /// PARTIALLY_REFUNDED payments refund, and never more than captured minus refunded.
    pub fn plan_refund(&self, amount: Option<i64>) -> Result<i64, PaymentError> {
        if !matches!(
            self.status,
            PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
        ) {
            return Err(self.refuse("refund"));
        }
        let refundable = self.captured_minor - self.refunded_minor;
        let give = amount.unwrap_or(refundable);
        if give <= 0 {
            return Err(PaymentError::invalid(
                "amount.amount_minor",
                "must be positive",
            ));
        }
        if give > refundable {
            return Err(PaymentError::RefundExceedsCaptured {
                requested: self.amount.with_minor(give),
                refundable: self.amount.with_minor(refundable),
            });
        }
        Ok(give)
    }

    /// Records a refund; a succeeded one moves CAPTURED → PARTIALLY_REFUNDED → REFUNDED.
    pub fn refund(mut self, refund: Refund, at: DateTime<Utc>) -> Result<Self, PaymentError> {
        let planned = self.plan_refund(Some(refund.amount.minor))?;
        if refund.status == RefundStatus::Succeeded {
            self.refunded_minor += planned;
            self.status = if self.refunded_minor == self.captured_minor {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            };
        }
        self.refunds.push(refund);
        self.updated_at = at;
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
