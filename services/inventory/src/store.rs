//! The storage port inventory needs; adapters live in `store/`.
//!
//! Every method that moves stock is atomic: either all of its changes to batches and
//! reservations happen or none do, and concurrent calls never oversell.

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    AdjustmentFilter, Availability, Batch, BatchFilter, InventoryError, NewAdjustment,
    RequestRecord, Reservation, ReserveRequest, StockAdjustment, StockPolicy, Warehouse,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken (a warehouse code).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached right now; retrying may help.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation; retrying will not help.
    #[error("storage operation failed: {0}")]
    Failed(String),
    /// A stored row could not be read back into a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Warehouses, batches, reservations and the adjustment audit trail.
pub trait InventoryStore: Send + Sync + 'static {
    /// Stores a new warehouse. A taken code is `Store(Conflict("code"))`.
    fn create_warehouse(
        &self,
        warehouse: &Warehouse,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The warehouse with this id.
    fn warehouse(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Warehouse>, InventoryError>> + Send;

    /// Up to `limit` warehouses by code, starting after `after_code` (for page tokens).
    fn list_warehouses(
        &self,
        after_code: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Warehouse>, InventoryError>> + Send;

    /// Stores a received batch. An unknown or inactive warehouse is `Invalid` naming
    /// `warehouse_id`; a cold-chain batch for a warehouse without cold storage is
    /// `NoColdStorage`.
    fn receive_batch(
        &self,
        batch: &Batch,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The batch with this id.
    fn batch(&self, id: Uuid)
    -> impl Future<Output = Result<Option<Batch>, InventoryError>> + Send;

    /// Every batch of a product, in FEFO order (expiry, receipt, id).
    fn batches_of(
        &self,
        product_id: Uuid,
    ) -> impl Future<Output = Result<Vec<Batch>, InventoryError>> + Send;

    /// Up to `limit` batches passing `filter` at `now`, in FEFO order (expiry, receipt,
    /// id), starting after the batch whose FEFO key is `after` (for page tokens).
    fn list_batches(
        &self,
        filter: &BatchFilter,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Batch>, InventoryError>> + Send;

    /// Availability of each distinct product at `now`, in the order asked (see
    /// [`crate::domain::availability_of`]); zeros for products never stocked.
    fn availability(
        &self,
        product_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Availability>, InventoryError>> + Send;

    /// Holds stock for an order, FEFO, all lines or none.
    ///
    /// Idempotent by order: an ACTIVE or COMMITTED reservation with the same lines is
    /// returned unchanged; different lines are `ReservationExists`; a RELEASED or EXPIRED
    /// one (or an ACTIVE one whose TTL ran out, which is expired on the spot) is
    /// `ReservationClosed`. Short stock is `InsufficientStock` and reserves nothing.
    fn reserve(
        &self,
        request: &ReserveRequest,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Reservation, InventoryError>> + Send;

    /// Turns an ACTIVE reservation into a sale: allocated quantities leave on-hand and
    /// reserved stock. A COMMITTED one is returned as is; RELEASED, EXPIRED or ACTIVE past
    /// its TTL (expired on the spot) is `ReservationClosed`; none is `NotFound`.
    fn commit(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Reservation, InventoryError>> + Send;

    /// Gives an order's stock back: ACTIVE stops holding it, COMMITTED returns it to its
    /// batches' on-hand stock; both become RELEASED with `reason`. RELEASED, EXPIRED are
    /// returned unchanged; `None` when the order has no reservation.
    fn release(
        &self,
        order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Reservation>, InventoryError>> + Send;

    /// Expires every ACTIVE reservation whose TTL ran out by `now`, giving its stock back;
    /// returns their order ids. Safe to run beside reserve and commit, and on several
    /// replicas at once: each reservation is expired once.
    fn expire_due(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Uuid>, InventoryError>> + Send;

    /// The order's reservation.
    fn reservation(
        &self,
        order_id: Uuid,
    ) -> impl Future<Output = Result<Option<Reservation>, InventoryError>> + Send;

    /// Applies a validated adjustment and records its audit row, atomically. An unknown
    /// batch is `NotFound`; on-hand going below reserved is `BelowReserved`.
    fn adjust_batch(
        &self,
        adjustment: &NewAdjustment,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(Batch, StockAdjustment), InventoryError>> + Send;

    /// The audit records of a batch, newest first.
    fn adjustments_of(
        &self,
        batch_id: Uuid,
    ) -> impl Future<Output = Result<Vec<StockAdjustment>, InventoryError>> + Send;

    /// Up to `limit` audit records passing `filter`, newest first (creation, then id,
    /// both descending), starting after the record whose key is `before`.
    fn list_adjustments(
        &self,
        filter: &AdjustmentFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StockAdjustment>, InventoryError>> + Send;

    /// The audit record with this id.
    fn adjustment(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<StockAdjustment>, InventoryError>> + Send;

    /// Writes off the unreserved on-hand quantity of every batch expired by `now` (only in
    /// `warehouse_id` when given), with an
    /// EXPIRED audit record each (actor `service:inventory`). Reserved quantity stays
    /// until its reservation ends; a later run writes off what comes back. Safe to repeat.
    fn write_off_expired(
        &self,
        now: DateTime<Utc>,
        warehouse_id: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<StockAdjustment>, InventoryError>> + Send;

    /// Marks and returns, once each, the batches that entered their product's expiry
    /// warning window by `now`: not warned before, not written off, unexpired, with free
    /// (unreserved) quantity, and expiring within the product's `expiry_warning_days` of
    /// `now` (`default_warning_days` for products without a policy; 0 disables). Safe to
    /// run on several replicas at once: each batch is returned by one call only.
    fn claim_expiring_batches(
        &self,
        now: DateTime<Utc>,
        default_warning_days: i32,
    ) -> impl Future<Output = Result<Vec<Batch>, InventoryError>> + Send;

    /// Up to `limit` products whose availability at `now` is at or below their low-stock
    /// threshold (`default_threshold` for products without a policy; 0 disables), by
    /// product id, starting after `after` (for page tokens). Products count once they have
    /// a batch or a stored policy.
    fn list_low_stock(
        &self,
        default_threshold: i64,
        now: DateTime<Utc>,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Availability>, InventoryError>> + Send;

    /// The stored policy of a product; `None` means the configured defaults apply.
    fn stock_policy(
        &self,
        product_id: Uuid,
    ) -> impl Future<Output = Result<Option<StockPolicy>, InventoryError>> + Send;

    /// The stored policies among `product_ids`, in no particular order; products without
    /// one are left out.
    fn stock_policies(
        &self,
        product_ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<StockPolicy>, InventoryError>> + Send;

    /// Stores a product's policy, replacing any earlier one; `updated_at` must be set.
    fn put_stock_policy(
        &self,
        policy: &StockPolicy,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// What was recorded for an idempotency key.
    fn recall_request(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, InventoryError>> + Send;

    /// Records a mutation made with an idempotency key; the first record of a key wins and
    /// later ones are ignored.
    fn remember_request(
        &self,
        record: &RequestRecord,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;
}

/// The actor recorded on write-offs.
pub const WRITE_OFF_ACTOR: &str = "service:inventory";
