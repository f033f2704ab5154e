//! Filters of the batch and adjustment listings; every field set must match.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AdjustmentReason, Batch, BatchStatus, StockAdjustment};

/// Which batches ListBatches returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchFilter {
    /// Only this product's batches.
    pub product_id: Option<Uuid>,
    /// Only batches in this warehouse.
    pub warehouse_id: Option<Uuid>,
    /// Only batches in this status at the listing's `now`.
    pub status: Option<BatchStatus>,
    /// Only batches expiring strictly before this instant.
    pub expires_before: Option<DateTime<Utc>>,
}

impl BatchFilter {
    /// Whether `batch` passes at `now`.
    pub fn matches(&self, batch: &Batch, now: DateTime<Utc>) -> bool {
        self.product_id.is_none_or(|id| batch.product_id == id)
            && self.warehouse_id.is_none_or(|id| batch.warehouse_id == id)
            && self.status.is_none_or(|s| batch.status(now) == s)
            && self.expires_before.is_none_or(|at| batch.expires_at < at)
    }
}

/// Which audit records ListStockAdjustments returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdjustmentFilter {
    /// Only this batch's records.
    pub batch_id: Option<Uuid>,
    /// Only this product's records.
    pub product_id: Option<Uuid>,
    /// Only records in this warehouse.
    pub warehouse_id: Option<Uuid>,
    /// Only records with this reason.
    pub reason: Option<AdjustmentReason>,
}

impl AdjustmentFilter {
    /// Whether `adjustment` passes.
    pub fn matches(&self, adjustment: &StockAdjustment) -> bool {
        self.batch_id.is_none_or(|id| adjustment.batch_id == id)
            && self.product_id.is_none_or(|id| adjustment.product_id == id)
            && self
                .warehouse_id
                .is_none_or(|id| adjustment.warehouse_id == id)
            && self.reason.is_none_or(|r| adjustment.reason == r)
    }
}
