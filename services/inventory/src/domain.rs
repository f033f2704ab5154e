//! Inventory's types and rules: warehouses, perishable batches, stock adjustments,
//! reservations and the FEFO allocation rule, stock policies, and the errors the service can report.
//! No I/O here.

mod listing;
mod policy;
mod reservation;
mod stock;
mod warehouse;

pub use listing::{AdjustmentFilter, BatchFilter};
pub use policy::{MAX_EXPIRY_WARNING_DAYS, RequestRecord, StockPolicy};
pub use reservation::{
    Allocation, MAX_LINES, MAX_TTL, MIN_TTL, Reservation, ReservationLine, ReservationStatus,
    ReserveRequest, ShortLine, allocate_fefo, merge_lines,
};
pub use stock::{
    AdjustmentReason, Availability, Batch, BatchStatus, NewAdjustment, NewBatch, StockAdjustment,
    WarehouseAvailability, availability_of,
};
pub use warehouse::{GeoPoint, Location, NewWarehouse, Warehouse};

use uuid::Uuid;

use crate::store::StoreError;

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract (`lines[2].quantity`).
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

/// Everything inventory can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Bad input; every bad field is named.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// Some lines of a reservation cannot be met; nothing was reserved.
    #[error("insufficient stock for {} line(s)", .0.len())]
    InsufficientStock(Vec<ShortLine>),
    /// The order already holds a reservation with different lines.
    #[error("order {order_id} already has a reservation with different lines")]
    ReservationExists {
        /// The order.
        order_id: Uuid,
    },
    /// The order's reservation was released or expired: it cannot reserve or commit again.
    #[error("reservation of order {order_id} is {status}")]
    ReservationClosed {
        /// The order.
        order_id: Uuid,
        /// Released or expired.
        status: ReservationStatus,
    },
    /// The adjustment would leave less on hand than is reserved from the batch.
    #[error(
        "adjusting batch {batch_id} by {delta} would leave {} on hand, below the {reserved} reserved",
        .on_hand + .delta
    )]
    BelowReserved {
        /// The batch.
        batch_id: Uuid,
        /// On-hand quantity before the change.
        on_hand: i64,
        /// Reserved quantity of the batch.
        reserved: i64,
        /// The refused change.
        delta: i64,
    },
    /// A cold-chain batch cannot be received where there is no cold storage.
    #[error("warehouse {warehouse_id} has no cold storage for a cold-chain batch")]
    NoColdStorage {
        /// The receiving warehouse.
        warehouse_id: Uuid,
    },
    /// No such thing; the message names it (`batch 0190…`).
    #[error("{0} not found")]
    NotFound(String),
    /// The catalog, asked who owns a product, could not answer.
    #[error("catalog unavailable: {0}")]
    CatalogUnavailable(String),
    /// The store failed.
    #[error("inventory store failed: {0}")]
    Store(#[from] StoreError),
}

impl InventoryError {
    /// A single-field validation error.
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
