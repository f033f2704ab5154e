//! Orders and their rules, with no I/O and no proto types: what an order holds
//! ([`order`]), how its status may move ([`status`]), and what can go wrong.

pub mod order;
pub mod status;

pub use order::{
    DeliverySlot, Destination, Item, Money, NewOrder, Order, OrderFilter, OrderItem, PaymentMethod,
    StatusChange, Totals, Unit,
};
pub use status::{OrderStatus, Permit, StatusUpdate};

use uuid::Uuid;

use crate::store::StoreError;

/// Most items one order may hold.
pub const MAX_ITEMS: usize = 100;
/// Longest reason kept in the history.
pub const MAX_REASON_CHARS: usize = 500;

/// One bad field of a request: its proto path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path as the contract names it (`items[0].quantity`).
    pub field: String,
    /// What is wrong, lowercase, no trailing period.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Why an order operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The request is malformed; every bad field is listed.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<Violation>),
    /// No such order (or none the caller may see).
    #[error("order {0} not found")]
    NotFound(Uuid),
    /// The state machine does not allow this move from the current status.
    #[error("order is {current}; it cannot become {requested}")]
    IllegalTransition {
        /// Where the order is.
        current: OrderStatus,
        /// Where the caller wanted it.
        requested: OrderStatus,
    },
    /// The move is legal, but not for this caller (a customer after packing, delivery staff
    /// outside pickup and delivery).
    #[error("order is {current}; {who} may not make it {requested}")]
    NotPermitted {
        /// Where the order is.
        current: OrderStatus,
        /// Where the caller wanted it.
        requested: OrderStatus,
        /// Who the caller is ("the customer", "delivery staff").
        who: &'static str,
    },
    /// The caller's expectation (expected status or version) does not hold.
    #[error("order is {current} at version {version}, not {expected}")]
    Unexpected {
        /// Where the order is.
        current: OrderStatus,
        /// Its version.
        version: i64,
        /// What the caller expected, as text.
        expected: String,
    },
    /// Another change committed between reading the order and writing this one.
    #[error("order changed concurrently; it is now {current}")]
    Concurrent {
        /// Where the order is now.
        current: OrderStatus,
    },
    /// The idempotency key was used before for a different request.
    #[error("request_id was already used for a different request")]
    RequestReused,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![Violation::new(field, description)])
    }
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}
