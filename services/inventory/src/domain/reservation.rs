//! Reservations and the FEFO allocation rule.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Batch, FieldViolation};

/// Most lines one reservation may hold.
pub const MAX_LINES: usize = 100;
/// Shortest hold a caller may ask for.
pub const MIN_TTL: Duration = Duration::minutes(1);
/// Longest hold a caller may ask for.
pub const MAX_TTL: Duration = Duration::hours(24);
/// Hold used when the caller does not say.
pub const DEFAULT_TTL: Duration = Duration::minutes(15);

/// A product and quantity an order needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReservationLine {
    /// The catalog product.
    pub product_id: Uuid,
    /// Quantity in the product's unit; > 0.
    pub quantity: i64,
}

/// A part of a line taken from one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// The batch.
    pub batch_id: Uuid,
    /// The batch's warehouse.
    pub warehouse_id: Uuid,
    /// The batch's product.
    pub product_id: Uuid,
    /// Quantity taken from the batch.
    pub quantity: i64,
    /// The batch's expiry.
    pub expires_at: DateTime<Utc>,
    /// Whether the batch must stay in the cold chain (so must the order's shipment).
    pub cold_chain: bool,
}

/// A line that could not be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortLine {
    /// The product.
    pub product_id: Uuid,
    /// Quantity asked for.
    pub requested: i64,
    /// Quantity that could have been reserved (from one warehouse unless splitting).
    pub available: i64,
}

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservationStatus {
    /// Stock is held until `expires_at`.
    Active,
    /// Stock is sold to the order.
    Committed,
    /// Stock was given back. Terminal.
    Released,
    /// The TTL ran out before commit; stock was given back. Terminal.
    Expired,
}

impl ReservationStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored status.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Active, Self::Committed, Self::Released, Self::Expired]
            .into_iter()
            .find(|status| status.as_str() == name)
    }

    /// Released or expired: the order can neither reserve nor commit again.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Released | Self::Expired)
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stock held for one order; one per order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The order, and the reservation's key.
    pub order_id: Uuid,
    /// Where it is in its life.
    pub status: ReservationStatus,
    /// The lines, in request order, duplicates merged.
    pub lines: Vec<ReservationLine>,
    /// Where each line's quantity came from, per product soonest expiry first.
    pub allocations: Vec<Allocation>,
    /// When an ACTIVE reservation stops holding stock.
    pub expires_at: DateTime<Utc>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Last status change.
    pub updated_at: DateTime<Utc>,
    /// When it was committed, if it was.
    pub committed_at: Option<DateTime<Utc>>,
    /// When it was released or expired, if it was.
    pub released_at: Option<DateTime<Utc>>,
    /// Why it was released, as the caller said.
    pub release_reason: Option<String>,
}

impl Reservation {
    /// A new ACTIVE reservation of `request` with its allocations.
    pub fn new(request: &ReserveRequest, allocations: Vec<Allocation>, now: DateTime<Utc>) -> Self {
        Self {
            order_id: request.order_id,
            status: ReservationStatus::Active,
            lines: request.lines.clone(),
            allocations,
            expires_at: now + request.ttl,
            created_at: now,
            updated_at: now,
            committed_at: None,
            released_at: None,
            release_reason: None,
        }
    }

    /// Whether `lines` (already merged) ask for the same products and quantities, in any
    /// order: the test for an idempotent retry.
    pub fn has_lines(&self, lines: &[ReservationLine]) -> bool {
        let mut mine = self.lines.clone();
        let mut theirs = lines.to_vec();
        mine.sort_unstable();
        theirs.sort_unstable();
        mine == theirs
    }

    /// Whether an ACTIVE reservation's hold has run out at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == ReservationStatus::Active && self.expires_at <= now
    }
}

/// A valid Reserve call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// The order.
    pub order_id: Uuid,
    /// 1..=100 lines, duplicates merged, in first-seen order.
    pub lines: Vec<ReservationLine>,
    /// Whether lines may come from several warehouses.
    pub split_warehouses: bool,
    /// How long to hold the stock.
    pub ttl: Duration,
}

impl ReserveRequest {
    /// Checks the lines and TTL (`None` means the default 15 minutes) and merges lines of
    /// the same product.
    pub fn new(
        order_id: Uuid,
        lines: Vec<ReservationLine>,
        split_warehouses: bool,
        ttl: Option<Duration>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        if order_id.is_nil() {
            violations.push(FieldViolation::new("order_id", "must not be the nil UUID"));
        }
        if lines.is_empty() || lines.len() > MAX_LINES {
            violations.push(FieldViolation::new(
                "lines",
                format!("must hold 1..={MAX_LINES} lines"),
            ));
        }
        for (i, line) in lines.iter().enumerate() {
            if line.quantity <= 0 {
                violations.push(FieldViolation::new(
                    format!("lines[{i}].quantity"),
                    "must be greater than 0",
                ));
            }
        }
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            violations.push(FieldViolation::new(
                "ttl",
                "must be between 1 minute and 24 hours",
            ));
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Self {
            order_id,
            lines: merge_lines(&lines),
            split_warehouses,
            ttl,
        })
    }

    /// The distinct products asked for.
    pub fn product_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|line| line.product_id).collect()
    }
}

/// Merges lines of the same product, keeping the order in which products first appear.
pub fn merge_lines(lines: &[ReservationLine]) -> Vec<ReservationLine> {
    let mut merged: Vec<ReservationLine> = Vec::with_capacity(lines.len());
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(lines.len());
    for line in lines {
        match index.get(&line.product_id) {
            Some(&i) => merged[i].quantity += line.quantity,
            None => {
                index.insert(line.product_id, merged.len());
                merged.push(*line);
            }
        }
    }
    merged
}

/// Allocates `lines` from `batches` first-expiry-first-out, all lines or none.
///
/// Batches expired at `now` (`expires_at <= now`), written off or without free quantity
/// are never used; the rest are taken soonest expiry first (ties: earliest receipt, then
/// id). Lines of the same product are merged first. Without `split_warehouses` every line
/// comes from one warehouse: among the warehouses that can meet every line, the one whose
/// soonest usable expiry is earliest (ties: warehouse id). When none can, each short line
/// reports the most any single warehouse could give it.
///
/// Callers pass only batches of warehouses that take part in allocation.
pub fn allocate_fefo(
    lines: &[ReservationLine],
    batches: &[Batch],
    now: DateTime<Utc>,
    split_warehouses: bool,
) -> Result<Vec<Allocation>, Vec<ShortLine>> {
    let lines = merge_lines(lines);
    let mut usable: Vec<&Batch> = batches
        .iter()
        .filter(|batch| batch.is_allocatable(now))
        .filter(|batch| lines.iter().any(|line| line.product_id == batch.product_id))
        .collect();
    usable.sort_by_key(|batch| batch.fefo_key());

    if split_warehouses {
        return allocate_from(&lines, &usable);
    }

    let mut by_warehouse: BTreeMap<Uuid, Vec<&Batch>> = BTreeMap::new();
    for batch in &usable {
        by_warehouse
            .entry(batch.warehouse_id)
            .or_default()
            .push(batch);
    }
    // `usable` is in FEFO order, so each warehouse's first batch is its soonest expiry.
    let best = by_warehouse
        .iter()
        .filter_map(|(warehouse, batches)| {
            let allocations = allocate_from(&lines, batches).ok()?;
            Some(((batches[0].expires_at, *warehouse), allocations))
        })
        .min_by_key(|(key, _)| *key);
    if let Some((_, allocations)) = best {
        return Ok(allocations);
    }

    let most_in_one = |product: Uuid| {
        by_warehouse
            .values()
            .map(|batches| free_of(product, batches))
            .max()
            .unwrap_or(0)
    };
    let mut short: Vec<ShortLine> = lines
        .iter()
        .map(|line| ShortLine {
            product_id: line.product_id,
            requested: line.quantity,
            available: most_in_one(line.product_id),
        })
        .collect();
    // When every line fits somewhere but no warehouse fits them all, every line is
    // reported: none is short on its own, together they are.
    if short.iter().any(|s| s.available < s.requested) {
        short.retain(|s| s.available < s.requested);
    }
    Err(short)
}

fn free_of(product: Uuid, batches: &[&Batch]) -> i64 {
    batches
        .iter()
        .filter(|batch| batch.product_id == product)
        .map(|batch| batch.free_quantity())
        .sum()
}

/// Greedy FEFO over `batches` (already usable and in FEFO order).
fn allocate_from(
    lines: &[ReservationLine],
    batches: &[&Batch],
) -> Result<Vec<Allocation>, Vec<ShortLine>> {
    let mut allocations = Vec::new();
    let mut short = Vec::new();
    for line in lines {
        let mut wanted = line.quantity;
        for batch in batches.iter().filter(|b| b.product_id == line.product_id) {
            if wanted == 0 {
                break;
            }
            let take = wanted.min(batch.free_quantity());
            allocations.push(Allocation {
                batch_id: batch.id,
                warehouse_id: batch.warehouse_id,
                product_id: batch.product_id,
                quantity: take,
                expires_at: batch.expires_at,
                cold_chain: batch.cold_chain,
            });
            wanted -= take;
        }
        if wanted > 0 {
            short.push(ShortLine {
                product_id: line.product_id,
                requested: line.quantity,
                available: line.quantity - wanted,
            });
        }
    }
    if short.is_empty() {
        Ok(allocations)
    } else {
        Err(short)
    }
}

#[cfg(test)]
mod tests;
