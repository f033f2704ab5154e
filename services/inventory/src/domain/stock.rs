//! Batches, adjustments and availability.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::FieldViolation;

/// Longest supplier reference accepted.
pub const MAX_SUPPLIER_REF_CHARS: usize = 100;
/// Longest adjustment note accepted.
pub const MAX_NOTE_CHARS: usize = 500;

/// Where a batch is in its life; derived, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// Has on-hand quantity and has not expired.
    Available,
    /// On-hand quantity reached zero.
    Depleted,
    /// Past its expiry; no longer allocated. Reserved quantity may still ship.
    Expired,
    /// Expired and its unreserved quantity written off.
    WrittenOff,
}

/// One delivery of one product from one supplier into one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// UUIDv7.
    pub id: Uuid,
    /// The catalog product.
    pub product_id: Uuid,
    /// The warehouse holding it.
    pub warehouse_id: Uuid,
    /// Quantity received.
    pub received_quantity: i64,
    /// Quantity physically there now; never negative.
    pub on_hand_quantity: i64,
    /// Part of `on_hand_quantity` held by ACTIVE reservations; never above it.
    pub reserved_quantity: i64,
    /// When it arrived (UTC).
    pub received_at: DateTime<Utc>,
    /// Not allocated at or after this instant (UTC).
    pub expires_at: DateTime<Utc>,
    /// Lot, invoice or farm id.
    pub supplier_ref: String,
    /// Must stay chilled.
    pub cold_chain: bool,
    /// Cost of one unit of sale in minor units of the marketplace currency, if recorded.
    pub unit_cost_minor: Option<i64>,
    /// Set once WriteOffExpired has written off its unreserved quantity.
    pub written_off: bool,
}

impl Batch {
    /// On hand and not reserved.
    pub fn free_quantity(&self) -> i64 {
        self.on_hand_quantity - self.reserved_quantity
    }

    /// Whether the batch may be allocated at `now`: not expired, something free.
    pub fn is_allocatable(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now && !self.written_off && self.free_quantity() > 0
    }

    /// The batch's status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> BatchStatus {
        if self.written_off {
            BatchStatus::WrittenOff
        } else if self.on_hand_quantity == 0 {
            BatchStatus::Depleted
        } else if self.expires_at <= now {
            BatchStatus::Expired
        } else {
            BatchStatus::Available
        }
    }

    /// The FEFO sort key: soonest expiry, then earliest receipt, then id.
    pub fn fefo_key(&self) -> (DateTime<Utc>, DateTime<Utc>, Uuid) {
        (self.expires_at, self.received_at, self.id)
    }
}

/// A delivery as asked for by ReceiveStock, before validation.
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// The product received.
    pub product_id: Uuid,
    /// The receiving warehouse (checked against the store).
    pub warehouse_id: Uuid,
    /// Quantity; > 0.
    pub quantity: i64,
    /// When it arrived; `None` means now. Not in the future.
    pub received_at: Option<DateTime<Utc>>,
    /// Expiry; in the future and after receipt.
    pub expires_at: DateTime<Utc>,
    /// Required, at most 100 characters.
    pub supplier_ref: String,
    /// Needs the cold chain.
    pub cold_chain: bool,
    /// Optional cost per unit of sale, ≥ 0.
    pub unit_cost_minor: Option<i64>,
}

impl NewBatch {
    /// Checks every field at `now` and makes the batch, all of it on hand.
    pub fn into_batch(self, now: DateTime<Utc>) -> Result<Batch, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        if self.quantity <= 0 {
            violations.push(FieldViolation::new("quantity", "must be greater than 0"));
        }
        let received_at = self.received_at.unwrap_or(now);
        if received_at > now {
            violations.push(FieldViolation::new(
                "receive_time",
                "must not be in the future",
            ));
        }
        if self.expires_at <= now {
            violations.push(FieldViolation::new("expire_time", "must be in the future"));
        } else if self.expires_at <= received_at {
            violations.push(FieldViolation::new(
                "expire_time",
                "must be after receive_time",
            ));
        }
        let supplier_ref = self.supplier_ref.trim().to_owned();
        if supplier_ref.is_empty() || supplier_ref.chars().count() > MAX_SUPPLIER_REF_CHARS {
            violations.push(FieldViolation::new(
                "supplier_ref",
                format!("must be 1..={MAX_SUPPLIER_REF_CHARS} characters"),
            ));
        }
        if self.unit_cost_minor.is_some_and(|cost| cost < 0) {
            violations.push(FieldViolation::new(
                "unit_cost.amount_minor",
                "must not be negative",
            ));
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Batch {
            id: Uuid::now_v7(),
            product_id: self.product_id,
            warehouse_id: self.warehouse_id,
            received_quantity: self.quantity,
            on_hand_quantity: self.quantity,
            reserved_quantity: 0,
            received_at,
            expires_at: self.expires_at,
            supplier_ref,
            cold_chain: self.cold_chain,
            unit_cost_minor: self.unit_cost_minor,
            written_off: false,
        })
    }
}

/// Why stock was adjusted outside of orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjustmentReason {
    /// Spoiled before expiry.
    Spoiled,
    /// Damaged in handling.
    Damaged,
    /// A stock count found a different quantity.
    CountCorrection,
    /// Came back fit for sale.
    Returned,
    /// Lost or stolen.
    Lost,
    /// Written off past expiry; only WriteOffExpired uses it.
    Expired,
    /// Anything else; the note says what.
    Other,
}

impl AdjustmentReason {
    const ALL: [Self; 7] = [
        Self::Spoiled,
        Self::Damaged,
        Self::CountCorrection,
        Self::Returned,
        Self::Lost,
        Self::Expired,
        Self::Other,
    ];

    /// The reason as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spoiled => "spoiled",
            Self::Damaged => "damaged",
            Self::CountCorrection => "count_correction",
            Self::Returned => "returned",
            Self::Lost => "lost",
            Self::Expired => "expired",
            Self::Other => "other",
        }
    }

    /// Parses a stored reason.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name)
    }
}

/// A manual change to a batch's on-hand quantity, before validation.
#[derive(Debug, Clone)]
pub struct NewAdjustment {
    /// The batch.
    pub batch_id: Uuid,
    /// Signed change; non-zero.
    pub delta: i64,
    /// Why; not [`AdjustmentReason::Expired`].
    pub reason: AdjustmentReason,
    /// Free text, at most 500 characters; required for [`AdjustmentReason::Other`].
    pub note: String,
    /// Who: a user id or `service:{name}`.
    pub actor: String,
}

impl NewAdjustment {
    /// Checks every field, reporting all problems at once.
    pub fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        let mut violations = Vec::new();
        if self.delta == 0 {
            violations.push(FieldViolation::new("delta_quantity", "must not be 0"));
        }
        if self.reason == AdjustmentReason::Expired {
            violations.push(FieldViolation::new(
                "reason",
                "ADJUSTMENT_REASON_EXPIRED is reserved for WriteOffExpired",
            ));
        }
        if self.note.chars().count() > MAX_NOTE_CHARS {
            violations.push(FieldViolation::new(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        } else if self.reason == AdjustmentReason::Other && self.note.trim().is_empty() {
            violations.push(FieldViolation::new(
                "note",
                "must say what happened when the reason is OTHER",
            ));
        }
        if self.actor.trim().is_empty() {
            violations.push(FieldViolation::new("actor", "must not be empty"));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// The audit record of one change to a batch's on-hand quantity outside of orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockAdjustment {
    /// UUIDv7.
    pub id: Uuid,
    /// The batch.
    pub batch_id: Uuid,
    /// The batch's product.
    pub product_id: Uuid,
    /// The batch's warehouse.
    pub warehouse_id: Uuid,
    /// Signed change.
    pub delta: i64,
    /// On hand after the change.
    pub on_hand_after: i64,
    /// Why.
    pub reason: AdjustmentReason,
    /// Operator's note.
    pub note: String,
    /// Who.
    pub actor: String,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

/// Stock of one product in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseAvailability {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// Unexpired, on hand, not reserved.
    pub available: i64,
    /// Earliest expiry among the batches counted.
    pub earliest_expiry: Option<DateTime<Utc>>,
}

/// How much of a product can be sold now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// The product.
    pub product_id: Uuid,
    /// Unexpired, on hand, not reserved, across active warehouses.
    pub available: i64,
    /// Held by ACTIVE reservations (in any batch, expired or not).
    pub reserved: i64,
    /// Earliest expiry among available batches.
    pub earliest_expiry: Option<DateTime<Utc>>,
    /// Per active warehouse with something available, by warehouse id.
    pub warehouses: Vec<WarehouseAvailability>,
}

impl Availability {
    /// Whether anything can be sold.
    pub fn in_stock(&self) -> bool {
        self.available > 0
    }
}

/// Availability of `product_id` at `now` from its batches; `active` says whether a
/// warehouse takes part in allocation. Both stores compute availability with this, so they
/// cannot disagree on what counts.
pub fn availability_of<'a>(
    product_id: Uuid,
    batches: impl IntoIterator<Item = &'a Batch>,
    active: impl Fn(Uuid) -> bool,
    now: DateTime<Utc>,
) -> Availability {
    let mut reserved = 0;
    let mut per_warehouse: BTreeMap<Uuid, WarehouseAvailability> = BTreeMap::new();
    for batch in batches {
        if batch.product_id != product_id {
            continue;
        }
        reserved += batch.reserved_quantity;
        if !batch.is_allocatable(now) || !active(batch.warehouse_id) {
            continue;
        }
        let entry = per_warehouse
            .entry(batch.warehouse_id)
            .or_insert(WarehouseAvailability {
                warehouse_id: batch.warehouse_id,
                available: 0,
                earliest_expiry: None,
            });
        entry.available += batch.free_quantity();
        entry.earliest_expiry = Some(
            entry
                .earliest_expiry
                .map_or(batch.expires_at, |e| e.min(batch.expires_at)),
        );
    }
    let warehouses: Vec<_> = per_warehouse.into_values().collect();
    Availability {
        product_id,
        available: warehouses.iter().map(|w| w.available).sum(),
        reserved,
        earliest_expiry: warehouses.iter().filter_map(|w| w.earliest_expiry).min(),
        warehouses,
    }
}

#[cfg(test)]
mod tests;
