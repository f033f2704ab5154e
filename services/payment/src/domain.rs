//! Payment's types and rules: money, cards (Luhn and expiry checks, a number that never
//! prints), payments and their life cycle, refunds, the double-entry ledger, and the errors
//! the service can report. No I/O here.

mod card;
mod ledger;
mod payment;
mod status;

pub use card::{Card, CardBrand, CardNumber, Expiry, StoredCard};
pub use ledger::{
    Account, Direction, EntryFilter, LedgerBalance, LedgerEntry, balance_of, capture_journal,
    fee_of, refund_journal,
};
pub use payment::{Capture, Failure, NewPayment, Payment, PaymentFilter, Refund, Settlement};
pub use status::{FailureReason, PaymentMethod, PaymentStatus, RefundStatus};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::StoreError;

/// Longest free-text reason kept (void and refund reasons).
pub const MAX_REASON_CHARS: usize = 500;

/// An amount in integer minor units (paise, cents) of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Amount in minor units.
    pub minor: i64,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(currency: impl Into<String>, minor: i64) -> Self {
        Self {
            currency: currency.into(),
            minor,
        }
    }

    /// Another amount in the same currency.
    pub fn with_minor(&self, minor: i64) -> Self {
        Self::new(self.currency.clone(), minor)
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

/// Now, truncated to whole microseconds: what PostgreSQL keeps, so a value read back
/// equals the one written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract (`card.exp_month`).
    pub field: String,
    /// What is wrong and what is expected.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Why the gateway could not give an answer (a decline is an answer, not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer within the configured gateway timeout.
    #[error("the payment gateway did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The gateway answered with an error.
    #[error("the payment gateway failed: {0}")]
    Failed(String),
}

/// Everything payment can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Bad input; every bad field is named.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// No such payment (or refund).
    #[error("{0} not found")]
    NotFound(String),
    /// The idempotency key was used before for a different request.
    #[error("request_id was already used for a different request")]
    KeyReused,
    /// A request with this idempotency key is still being processed elsewhere.
    #[error("a request with this request_id is still in progress; retry")]
    InProgress,
    /// The order already has a live (authorized or captured) payment.
    #[error("order {order_id} already has payment {payment_id}, which is {}", .status.describe())]
    AlreadyPaid {
        /// The order.
        order_id: Uuid,
        /// Its live payment.
        payment_id: Uuid,
        /// That payment's status.
        status: PaymentStatus,
    },
    /// The payment is not in a state that allows the action.
    #[error("{}", wrong_state(*.payment_id, *.status, .action, .failure.as_ref()))]
    WrongState {
        /// The payment.
        payment_id: Uuid,
        /// Its current status.
        status: PaymentStatus,
        /// What was asked: "capture", "void", "refund".
        action: &'static str,
        /// Why it was declined or failed, when it was.
        failure: Option<Failure>,
    },
    /// A capture above the authorized amount.
    #[error("cannot capture {requested}: only {authorized} was authorized")]
    CaptureExceedsAuthorized {
        /// Asked for.
        requested: Money,
        /// Authorized.
        authorized: Money,
    },
    /// A refund above what is left of the captured amount.
    #[error("cannot refund {requested}: only {refundable} of the captured amount is left")]
    RefundExceedsCaptured {
        /// Asked for.
        requested: Money,
        /// Captured minus already refunded.
        refundable: Money,
    },
    /// The gateway could not capture, void or refund right now; nothing changed.
    #[error("{0}; nothing changed, retry")]
    Gateway(#[source] GatewayError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PaymentError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

fn wrong_state(
    payment_id: Uuid,
    status: PaymentStatus,
    action: &str,
    failure: Option<&Failure>,
) -> String {
    match (status, failure) {
        (PaymentStatus::Declined, Some(failure)) => format!(
            "cannot {action} payment {payment_id}: the card was declined ({}{})",
            failure.reason.describe(),
            suffix(&failure.message)
        ),
        (PaymentStatus::Failed, Some(failure)) => format!(
            "cannot {action} payment {payment_id}: it failed ({}{})",
            failure.reason.describe(),
            suffix(&failure.message)
        ),
        _ => format!(
            "cannot {action} payment {payment_id}: it is {}",
            status.describe()
        ),
    }
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}
