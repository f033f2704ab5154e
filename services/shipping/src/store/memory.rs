//! The in-memory twin of the PostgreSQL store: one lock over everything, so every
//! operation is as atomic as its SQL counterpart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use uuid::Uuid;

use super::{Events, HoldChange, ShippingStore, StoreError};
use crate::domain::{
    HoldStatus, NewHold, Rider, RiderFilter, Shipment, ShipmentFilter, ShippingError, Slot,
    SlotHold,
};

#[derive(Default)]
struct State {
    holds: HashMap<Uuid, SlotHold>,
    shipments: HashMap<Uuid, Shipment>,
    shipment_of_order: HashMap<Uuid, Uuid>,
    riders: HashMap<Uuid, Rider>,
    keys: HashMap<String, (String, Vec<u8>)>,
    outbox: BTreeMap<i64, OutboxRecord>,
    next_sequence: i64,
}

impl State {
    fn booked(&self, slot_id: &str, now: DateTime<Utc>, except: Option<Uuid>) -> i32 {
        let count = self
            .holds
            .values()
            .filter(|h| h.slot_id == slot_id && h.is_live(now) && Some(h.order_id) != except)
            .count();
        i32::try_from(count).unwrap_or(i32::MAX)
    }

    fn queue(&mut self, events: Events) {
        for (envelope, trace_headers) in events {
            self.next_sequence += 1;
            let sequence = self.next_sequence;
            self.outbox.insert(
                sequence,
                OutboxRecord {
                    sequence,
                    envelope,
                    trace_headers,
                },
            );
        }
    }
}

/// Shipping's data in process memory.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Failed("memory store poisoned".into()))
    }
}

impl OutboxStore for MemoryStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let state = self.lock().map_err(|e| OutboxError(e.to_string()))?;
        Ok(state.outbox.values().take(limit).cloned().collect())
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        let mut state = self.lock().map_err(|e| OutboxError(e.to_string()))?;
        state.outbox.remove(&sequence);
        Ok(())
    }
}

impl ShippingStore for MemoryStore {
    async fn booked(
        &self,
        slot_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, i32>, ShippingError> {
        let state = self.lock()?;
        Ok(slot_ids
            .iter()
            .map(|id| (id.clone(), state.booked(id, now, None)))
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    async fn hold_slot(
        &self,
        slot: &Slot,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<SlotHold, ShippingError> {
        let mut state = self.lock()?;
        if let Some(existing) = state.holds.get(&hold.order_id) {
            let same_slot = existing.slot_id == slot.id && existing.is_live(now);
            if same_slot || existing.status == HoldStatus::Confirmed {
                return Ok(existing.clone());
            }
        }
        let booked = state.booked(&slot.id, now, Some(hold.order_id));
        if let Some(why) = slot.refusal(booked, hold.cold_chain, now) {
            return Err(ShippingError::SlotUnavailable {
                slot_id: slot.id.clone(),
                why,
            });
        }
        let created = SlotHold {
            order_id: hold.order_id,
            slot_id: slot.id.clone(),
            status: HoldStatus::Held,
            weight_grams: hold.weight_grams,
            cold_chain: hold.cold_chain,
            expires_at: now + hold.ttl,
            created_at: now,
        };
        state.holds.insert(hold.order_id, created.clone());
        Ok(created)
    }

    async fn release_hold(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SlotHold>, ShippingError> {
        let mut state = self.lock()?;
        let Some(hold) = state.holds.get_mut(&order_id) else {
            return Ok(None);
        };
        match hold.status_at(now) {
            HoldStatus::Confirmed => Err(ShippingError::HoldConfirmed(order_id)),
            HoldStatus::Held => {
                hold.status = HoldStatus::Released;
                Ok(Some(hold.clone()))
            }
            HoldStatus::Released | HoldStatus::Expired => Ok(Some(hold.clone())),
        }
    }

    async fn hold(&self, order_id: Uuid) -> Result<Option<SlotHold>, ShippingError> {
        Ok(self.lock()?.holds.get(&order_id).cloned())
    }

    async fn expire_holds(&self, now: DateTime<Utc>) -> Result<u64, ShippingError> {
        let mut state = self.lock()?;
        let mut expired = 0;
        for hold in state.holds.values_mut() {
            if hold.status == HoldStatus::Held && hold.expires_at <= now {
                hold.status = HoldStatus::Expired;
                expired += 1;
            }
        }
        Ok(expired)
    }

    async fn insert_shipment(
        &self,
        shipment: &Shipment,
        events: Events,
        now: DateTime<Utc>,
    ) -> Result<(Shipment, bool), ShippingError> {
        let mut state = self.lock()?;
        if let Some(id) = state.shipment_of_order.get(&shipment.order_id)
            && let Some(existing) = state.shipments.get(id)
        {
            return Ok((existing.clone(), false));
        }
        let hold = state
            .holds
            .get_mut(&shipment.order_id)
            .filter(|h| h.slot_id == shipment.slot.id && h.status_at(now) == HoldStatus::Held)
            .ok_or(ShippingError::NoHold(shipment.order_id))?;
        hold.status = HoldStatus::Confirmed;
        state
            .shipment_of_order
            .insert(shipment.order_id, shipment.id);
        state.shipments.insert(shipment.id, shipment.clone());
        state.queue(events);
        Ok((shipment.clone(), true))
    }

    async fn shipment(&self, id: Uuid) -> Result<Option<Shipment>, ShippingError> {
        Ok(self.lock()?.shipments.get(&id).cloned())
    }

    async fn shipment_of_order(&self, order_id: Uuid) -> Result<Option<Shipment>, ShippingError> {
        let state = self.lock()?;
        Ok(state
            .shipment_of_order
            .get(&order_id)
            .and_then(|id| state.shipments.get(id))
            .cloned())
    }

    async fn list_shipments(
        &self,
        filter: &ShipmentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Shipment>, ShippingError> {
        let state = self.lock()?;
        let mut found: Vec<Shipment> = state
            .shipments
            .values()
            .filter(|s| filter.matches(s))
            .filter(|s| after.is_none_or(|after| (s.slot.start, s.id) > after))
            .cloned()
            .collect();
        found.sort_by_key(|s| (s.slot.start, s.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn update_shipment(
        &self,
        shipment: &Shipment,
        expected_version: i64,
        events: Events,
        hold: HoldChange,
    ) -> Result<(), ShippingError> {
        let mut state = self.lock()?;
        let stored = state
            .shipments
            .get_mut(&shipment.id)
            .ok_or_else(|| ShippingError::NotFound(format!("shipment {}", shipment.id)))?;
        if stored.version != expected_version {
            return Err(ShippingError::Conflict(format!("shipment {}", shipment.id)));
        }
        *stored = shipment.clone();
        if hold == HoldChange::Release
            && let Some(h) = state.holds.get_mut(&shipment.order_id)
        {
            h.status = HoldStatus::Released;
        }
        state.queue(events);
        Ok(())
    }

    async fn insert_rider(&self, rider: &Rider) -> Result<(), ShippingError> {
        let mut state = self.lock()?;
        if state.riders.values().any(|r| r.user_id == rider.user_id) {
            return Err(ShippingError::RiderExists(rider.user_id));
        }
        state.riders.insert(rider.id, rider.clone());
        Ok(())
    }

    async fn rider(&self, id: Uuid) -> Result<Option<Rider>, ShippingError> {
        Ok(self.lock()?.riders.get(&id).cloned())
    }

    async fn rider_of_user(&self, user_id: Uuid) -> Result<Option<Rider>, ShippingError> {
        Ok(self
            .lock()?
            .riders
            .values()
            .find(|r| r.user_id == user_id)
            .cloned())
    }

    async fn list_riders(
        &self,
        filter: &RiderFilter,
        after: Option<(String, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Rider>, ShippingError> {
        let state = self.lock()?;
        let mut found: Vec<Rider> = state
            .riders
            .values()
            .filter(|r| filter.matches(r))
            .filter(|r| {
                after
                    .as_ref()
                    .is_none_or(|(name, id)| (&r.display_name, &r.id) > (name, id))
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| (&a.display_name, a.id).cmp(&(&b.display_name, b.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn update_rider(
        &self,
        rider: &Rider,
        expected_version: i64,
    ) -> Result<(), ShippingError> {
        let mut state = self.lock()?;
        let stored = state
            .riders
            .get_mut(&rider.id)
            .ok_or_else(|| ShippingError::NotFound(format!("rider {}", rider.id)))?;
        if stored.version != expected_version {
            return Err(ShippingError::Conflict(format!("rider {}", rider.id)));
        }
        *stored = rider.clone();
        Ok(())
    }

    async fn remembered(&self, key: &str) -> Result<Option<(String, Vec<u8>)>, ShippingError> {
        Ok(self.lock()?.keys.get(key).cloned())
    }

    async fn remember(
        &self,
        key: &str,
        fingerprint: &str,
        response: &[u8],
    ) -> Result<(), ShippingError> {
        self.lock()?
            .keys
            .entry(key.to_owned())
            .or_insert_with(|| (fingerprint.to_owned(), response.to_vec()));
        Ok(())
    }
}
