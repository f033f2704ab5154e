//! In-memory twin of [`InventoryStore`]: the embedded default and fast tests. One mutex
//! makes every operation atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{InventoryStore, StoreError, WRITE_OFF_ACTOR};
use crate::domain::{
    AdjustmentFilter, AdjustmentReason, Availability, Batch, BatchFilter, InventoryError,
    NewAdjustment, RequestRecord, Reservation, ReservationStatus, ReserveRequest, StockAdjustment,
    StockPolicy, Warehouse, allocate_fefo, availability_of,
};

#[derive(Default)]
struct State {
    warehouses: HashMap<Uuid, Warehouse>,
    by_code: BTreeMap<String, Uuid>,
    batches: HashMap<Uuid, Batch>,
    reservations: HashMap<Uuid, Reservation>,
    adjustments: Vec<StockAdjustment>,
    policies: HashMap<Uuid, StockPolicy>,
    requests: HashMap<String, RequestRecord>,
    /// Batches that announced they expire soon.
    expiry_warned: HashSet<Uuid>,
}

/// Keeps inventory's data in process memory; lost on exit.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every mutation below checks first and then applies changes that cannot fail, so
        // a panic cannot leave State half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// === impl State ===

impl State {
    fn is_active(&self, warehouse: Uuid) -> bool {
        self.warehouses.get(&warehouse).is_some_and(|w| w.active)
    }

    /// Applies `change(batch, quantity)` to the batch of every allocation.
    fn each_allocation(&mut self, order_id: Uuid, change: impl Fn(&mut Batch, i64)) {
        let allocations = self
            .reservations
            .get(&order_id)
            .map(|r| r.allocations.clone())
            .unwrap_or_default();
        for allocation in allocations {
            if let Some(batch) = self.batches.get_mut(&allocation.batch_id) {
                change(batch, allocation.quantity);
            }
        }
    }

    /// Ends an ACTIVE reservation as `status`, giving its held stock back.
    fn end_active(
        &mut self,
        order_id: Uuid,
        status: ReservationStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.each_allocation(order_id, |batch, quantity| {
            batch.reserved_quantity -= quantity;
        });
        if let Some(reservation) = self.reservations.get_mut(&order_id) {
            reservation.status = status;
            reservation.updated_at = now;
            reservation.released_at = Some(now);
            reservation.release_reason = reason.map(str::to_owned);
        }
    }

    fn closed(reservation: &Reservation) -> InventoryError {
        InventoryError::ReservationClosed {
            order_id: reservation.order_id,
            status: reservation.status,
        }
    }
}

impl InventoryStore for MemoryStore {
    async fn create_warehouse(&self, warehouse: &Warehouse) -> Result<(), InventoryError> {
        let mut state = self.state();
        if state.by_code.contains_key(&warehouse.code) {
            return Err(StoreError::Conflict("code".into()).into());
        }
        state.by_code.insert(warehouse.code.clone(), warehouse.id);
        state.warehouses.insert(warehouse.id, warehouse.clone());
        Ok(())
    }

    async fn warehouse(&self, id: Uuid) -> Result<Option<Warehouse>, InventoryError> {
        Ok(self.state().warehouses.get(&id).cloned())
    }

    async fn list_warehouses(
        &self,
        after_code: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Warehouse>, InventoryError> {
        let state = self.state();
        Ok(state
            .by_code
            .iter()
            .filter(|(code, _)| after_code.is_none_or(|after| code.as_str() > after))
            .take(limit)
            .filter_map(|(_, id)| state.warehouses.get(id).cloned())
            .collect())
    }

    async fn receive_batch(&self, batch: &Batch) -> Result<(), InventoryError> {
        let mut state = self.state();
        match state.warehouses.get(&batch.warehouse_id) {
            None => return Err(InventoryError::invalid("warehouse_id", "no such warehouse")),
            Some(w) if !w.active => {
                return Err(InventoryError::invalid(
                    "warehouse_id",
                    "warehouse is inactive",
                ));
            }
            Some(w) if batch.cold_chain && !w.cold_storage => {
                return Err(InventoryError::NoColdStorage { warehouse_id: w.id });
            }
            Some(_) => {}
        }
        state.batches.insert(batch.id, batch.clone());
        Ok(())
    }

    async fn batch(&self, id: Uuid) -> Result<Option<Batch>, InventoryError> {
        Ok(self.state().batches.get(&id).cloned())
    }

    async fn batches_of(&self, product_id: Uuid) -> Result<Vec<Batch>, InventoryError> {
        let mut batches: Vec<Batch> = self
            .state()
            .batches
            .values()
            .filter(|b| b.product_id == product_id)
            .cloned()
            .collect();
        batches.sort_by_key(Batch::fefo_key);
        Ok(batches)
    }

    async fn availability(
        &self,
        product_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Vec<Availability>, InventoryError> {
        let state = self.state();
        let mut seen = Vec::with_capacity(product_ids.len());
        for product in product_ids {
            if !seen.contains(product) {
                seen.push(*product);
            }
        }
        Ok(seen
            .into_iter()
            .map(|product| {
                availability_of(product, state.batches.values(), |w| state.is_active(w), now)
            })
            .collect())
    }

    async fn reserve(
        &self,
        request: &ReserveRequest,
        now: DateTime<Utc>,
    ) -> Result<Reservation, InventoryError> {
        let mut state = self.state();
        if let Some(existing) = state.reservations.get(&request.order_id).cloned() {
            if existing.is_due(now) {
                state.end_active(existing.order_id, ReservationStatus::Expired, None, now);
                return Err(InventoryError::ReservationClosed {
                    order_id: existing.order_id,
                    status: ReservationStatus::Expired,
                });
            }
            if existing.status.is_closed() {
                return Err(State::closed(&existing));
            }
            if existing.has_lines(&request.lines) {
                return Ok(existing);
            }
            return Err(InventoryError::ReservationExists {
                order_id: request.order_id,
            });
        }
        let products = request.product_ids();
        let candidates: Vec<Batch> = state
            .batches
            .values()
            .filter(|b| products.contains(&b.product_id) && state.is_active(b.warehouse_id))
            .cloned()
            .collect();
        let allocations = allocate_fefo(&request.lines, &candidates, now, request.split_warehouses)
            .map_err(InventoryError::InsufficientStock)?;
        for allocation in &allocations {
            if let Some(batch) = state.batches.get_mut(&allocation.batch_id) {
                batch.reserved_quantity += allocation.quantity;
            }
        }
        let reservation = Reservation::new(request, allocations, now);
        state
            .reservations
            .insert(reservation.order_id, reservation.clone());
        Ok(reservation)
    }

    async fn commit(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Reservation, InventoryError> {
        let mut state = self.state();
        let Some(existing) = state.reservations.get(&order_id).cloned() else {
            return Err(InventoryError::NotFound(format!(
                "reservation of order {order_id}"
            )));
        };
        if existing.is_due(now) {
            state.end_active(order_id, ReservationStatus::Expired, None, now);
            return Err(InventoryError::ReservationClosed {
                order_id,
                status: ReservationStatus::Expired,
            });
        }
        match existing.status {
            ReservationStatus::Committed => return Ok(existing),
            ReservationStatus::Released | ReservationStatus::Expired => {
                return Err(State::closed(&existing));
            }
            ReservationStatus::Active => {}
        }
        state.each_allocation(order_id, |batch, quantity| {
            batch.on_hand_quantity -= quantity;
            batch.reserved_quantity -= quantity;
        });
        let reservation = state
            .reservations
            .get_mut(&order_id)
            .ok_or_else(|| StoreError::Failed("reservation vanished".into()))?;
        reservation.status = ReservationStatus::Committed;
        reservation.committed_at = Some(now);
        reservation.updated_at = now;
        Ok(reservation.clone())
    }

    async fn release(
        &self,
        order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, InventoryError> {
        let mut state = self.state();
        let Some(existing) = state.reservations.get(&order_id).cloned() else {
            return Ok(None);
        };
        match existing.status {
            ReservationStatus::Active => {
                state.end_active(order_id, ReservationStatus::Released, Some(reason), now);
            }
            ReservationStatus::Committed => {
                state.each_allocation(order_id, |batch, quantity| {
                    batch.on_hand_quantity += quantity;
                });
                if let Some(reservation) = state.reservations.get_mut(&order_id) {
                    reservation.status = ReservationStatus::Released;
                    reservation.updated_at = now;
                    reservation.released_at = Some(now);
                    reservation.release_reason = Some(reason.to_owned());
                }
            }
            ReservationStatus::Released | ReservationStatus::Expired => {}
        }
        Ok(state.reservations.get(&order_id).cloned())
    }

    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, InventoryError> {
        let mut state = self.state();
        let mut due: Vec<(DateTime<Utc>, Uuid)> = state
            .reservations
            .values()
            .filter(|r| r.is_due(now))
            .map(|r| (r.expires_at, r.order_id))
            .collect();
        due.sort_unstable();
        for (_, order_id) in &due {
            state.end_active(*order_id, ReservationStatus::Expired, None, now);
        }
        Ok(due.into_iter().map(|(_, order_id)| order_id).collect())
    }

    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, InventoryError> {
        Ok(self.state().reservations.get(&order_id).cloned())
    }

    async fn adjust_batch(
        &self,
        adjustment: &NewAdjustment,
        now: DateTime<Utc>,
    ) -> Result<(Batch, StockAdjustment), InventoryError> {
        let mut state = self.state();
        let Some(batch) = state.batches.get_mut(&adjustment.batch_id) else {
            return Err(InventoryError::NotFound(format!(
                "batch {}",
                adjustment.batch_id
            )));
        };
        let after = batch.on_hand_quantity + adjustment.delta;
        if after < batch.reserved_quantity {
            return Err(InventoryError::BelowReserved {
                batch_id: batch.id,
                on_hand: batch.on_hand_quantity,
                reserved: batch.reserved_quantity,
                delta: adjustment.delta,
            });
        }
        batch.on_hand_quantity = after;
        let batch = batch.clone();
        let record = StockAdjustment {
            id: Uuid::now_v7(),
            batch_id: batch.id,
            product_id: batch.product_id,
            warehouse_id: batch.warehouse_id,
            delta: adjustment.delta,
            on_hand_after: after,
            reason: adjustment.reason,
            note: adjustment.note.clone(),
            actor: adjustment.actor.clone(),
            created_at: now,
        };
        state.adjustments.push(record.clone());
        Ok((batch, record))
    }

    async fn adjustments_of(&self, batch_id: Uuid) -> Result<Vec<StockAdjustment>, InventoryError> {
        let state = self.state();
        let mut records: Vec<_> = state
            .adjustments
            .iter()
            .filter(|a| a.batch_id == batch_id)
            .cloned()
            .collect();
        records.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));
        Ok(records)
    }

    async fn write_off_expired(
        &self,
        now: DateTime<Utc>,
        warehouse_id: Option<Uuid>,
    ) -> Result<Vec<StockAdjustment>, InventoryError> {
        let mut state = self.state();
        let mut records = Vec::new();
        let mut ids: Vec<Uuid> = state
            .batches
            .values()
            .filter(|b| b.expires_at <= now && b.free_quantity() > 0)
            .filter(|b| warehouse_id.is_none_or(|id| b.warehouse_id == id))
            .map(|b| b.id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let Some(batch) = state.batches.get_mut(&id) else {
                continue;
            };
            let delta = -batch.free_quantity();
            batch.on_hand_quantity = batch.reserved_quantity;
            batch.written_off = true;
            records.push(StockAdjustment {
                id: Uuid::now_v7(),
                batch_id: batch.id,
                product_id: batch.product_id,
                warehouse_id: batch.warehouse_id,
                delta,
                on_hand_after: batch.on_hand_quantity,
                reason: AdjustmentReason::Expired,
                note: String::new(),
                actor: WRITE_OFF_ACTOR.to_owned(),
                created_at: now,
            });
        }
        state.adjustments.extend(records.iter().cloned());
        Ok(records)
    }

    async fn list_batches(
        &self,
        filter: &BatchFilter,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Batch>, InventoryError> {
        let state = self.state();
        let mut batches: Vec<Batch> = state
            .batches
            .values()
            .filter(|b| filter.matches(b, now))
            .filter(|b| after.is_none_or(|after| b.fefo_key() > after))
            .cloned()
            .collect();
        batches.sort_by_key(Batch::fefo_key);
        batches.truncate(limit);
        Ok(batches)
    }

    async fn list_adjustments(
        &self,
        filter: &AdjustmentFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<StockAdjustment>, InventoryError> {
        let state = self.state();
        let mut adjustments: Vec<StockAdjustment> = state
            .adjustments
            .iter()
            .filter(|a| filter.matches(a))
            .filter(|a| before.is_none_or(|before| (a.created_at, a.id) < before))
            .cloned()
            .collect();
        adjustments.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));
        adjustments.truncate(limit);
        Ok(adjustments)
    }

    async fn adjustment(&self, id: Uuid) -> Result<Option<StockAdjustment>, InventoryError> {
        Ok(self
            .state()
            .adjustments
            .iter()
            .find(|a| a.id == id)
            .cloned())
    }

    async fn claim_expiring_batches(
        &self,
        now: DateTime<Utc>,
        default_warning_days: i32,
    ) -> Result<Vec<Batch>, InventoryError> {
        let mut state = self.state();
        let mut due: Vec<Batch> = state
            .batches
            .values()
            .filter(|b| !state.expiry_warned.contains(&b.id))
            .filter(|b| !b.written_off && b.free_quantity() > 0 && b.expires_at > now)
            .filter(|b| {
                let days = state
                    .policies
                    .get(&b.product_id)
                    .map_or(default_warning_days, |p| p.expiry_warning_days);
                days > 0 && b.expires_at <= now + chrono::Duration::days(i64::from(days))
            })
            .cloned()
            .collect();
        due.sort_by_key(Batch::fefo_key);
        state.expiry_warned.extend(due.iter().map(|b| b.id));
        Ok(due)
    }

    async fn list_low_stock(
        &self,
        default_threshold: i64,
        now: DateTime<Utc>,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Availability>, InventoryError> {
        let state = self.state();
        let products: BTreeSet<Uuid> = state
            .batches
            .values()
            .map(|b| b.product_id)
            .chain(state.policies.keys().copied())
            .filter(|product| after.is_none_or(|after| *product > after))
            .collect();
        Ok(products
            .into_iter()
            .filter_map(|product| {
                let threshold = state
                    .policies
                    .get(&product)
                    .map_or(default_threshold, |p| p.low_stock_threshold);
                let level =
                    availability_of(product, state.batches.values(), |w| state.is_active(w), now);
                (threshold > 0 && level.available <= threshold).then_some(level)
            })
            .take(limit)
            .collect())
    }

    async fn stock_policy(&self, product_id: Uuid) -> Result<Option<StockPolicy>, InventoryError> {
        Ok(self.state().policies.get(&product_id).cloned())
    }

    async fn stock_policies(
        &self,
        product_ids: &[Uuid],
    ) -> Result<Vec<StockPolicy>, InventoryError> {
        let state = self.state();
        Ok(state
            .policies
            .values()
            .filter(|p| product_ids.contains(&p.product_id))
            .cloned()
            .collect())
    }

    async fn put_stock_policy(&self, policy: &StockPolicy) -> Result<(), InventoryError> {
        self.state()
            .policies
            .insert(policy.product_id, policy.clone());
        Ok(())
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, InventoryError> {
        Ok(self.state().requests.get(key).cloned())
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), InventoryError> {
        self.state()
            .requests
            .entry(record.key.clone())
            .or_insert_with(|| record.clone());
        Ok(())
    }
}
