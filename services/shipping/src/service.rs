//! Shipping's use cases over a store: quotes and slots, places held for orders, shipments
//! from paid orders, riders and their assignment, status changes with proof of delivery,
//! and the feed of changes that live tracking watches.

mod riders;
pub mod shipments;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::{
    AssignmentStrategy, NewHold, Quote, QuoteRequest, Shipment, ShippingError, Slot, SlotHold,
    ZoneMap,
};
use crate::store::ShippingStore;

/// How long a slot listing may reach ahead.
pub const MAX_LISTING_DAYS: i64 = 14;

/// What shipping is configured with.
#[derive(Clone)]
pub struct Settings {
    /// The delivery zones.
    pub zones: Arc<ZoneMap>,
    /// How long a place is held when ReserveSlot names no TTL.
    pub default_hold: Duration,
    /// Whether a new shipment is offered to the nearest rider at once.
    pub auto_assign: bool,
}

/// A slot with its places taken.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotView {
    /// The slot.
    pub slot: Slot,
    /// Places held or confirmed.
    pub booked: i32,
    /// Whether it takes orders now.
    pub available: bool,
}

/// A priced delivery with its earliest arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedDelivery {
    /// The zone.
    pub zone_id: String,
    /// The zone's price, plus the chosen slot's surcharge.
    pub quote: Quote,
    /// End of the chosen slot, or of the first one that can take the order.
    pub estimated_delivery: Option<DateTime<Utc>>,
}

/// Shipping's use cases.
pub struct Shipping<S> {
    store: Arc<S>,
    settings: Settings,
    strategy: Arc<dyn AssignmentStrategy>,
    changes: broadcast::Sender<Arc<Shipment>>,
}

impl<S> Clone for Shipping<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            settings: self.settings.clone(),
            strategy: self.strategy.clone(),
            changes: self.changes.clone(),
        }
    }
}

impl<S: ShippingStore> Shipping<S> {
    /// Shipping over `store`, choosing riders with `strategy`.
    pub fn new(store: Arc<S>, settings: Settings, strategy: Arc<dyn AssignmentStrategy>) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            store,
            settings,
            strategy,
            changes,
        }
    }

    /// The store, for the background jobs.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The configured zones.
    pub fn zones(&self) -> &ZoneMap {
        &self.settings.zones
    }

    /// Every shipment written by this process, as written. A receiver that falls behind
    /// loses the oldest and should read the current state from the store.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Shipment>> {
        self.changes.subscribe()
    }

    fn announce(&self, shipment: &Shipment) {
        // Nobody watching is fine.
        let _ = self.changes.send(Arc::new(shipment.clone()));
    }

    /// Prices delivery of `request`; with `slot_id` that slot's surcharge is added and
    /// its end is the estimate, else the end of the first slot in the next
    /// [`MAX_LISTING_DAYS`] days that can take the order.
    pub async fn quote(
        &self,
        request: &QuoteRequest,
        slot_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PricedDelivery, ShippingError> {
        let zone = self
            .zones()
            .locate(&request.postal_code, &request.country_code, request.geo)?;
        let mut quote = zone.quote(request);
        let estimated_delivery = match slot_id {
            Some(id) => {
                let slot = self.zones().slot(id)?;
                if slot.zone_id != zone.id {
                    return Err(ShippingError::invalid(
                        "slot_id",
                        format!("is in zone {}, the address in {}", slot.zone_id, zone.id),
                    ));
                }
                quote.fee_minor = quote.fee_minor.saturating_add(slot.surcharge_minor);
                Some(slot.end)
            }
            None => {
                let slots = self
                    .slots(
                        &zone.id,
                        now,
                        now + Duration::days(MAX_LISTING_DAYS),
                        request.cold_chain,
                        now,
                    )
                    .await?;
                slots.into_iter().find(|s| s.available).map(|s| s.slot.end)
            }
        };
        Ok(PricedDelivery {
            zone_id: zone.id.clone(),
            quote,
            estimated_delivery,
        })
    }

    /// The zone's slots starting in `[from, to)`, soonest first, with their places taken;
    /// only cold-chain ones when `cold_chain`.
    pub async fn slots(
        &self,
        zone_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cold_chain: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlotView>, ShippingError> {
        let zone = self
            .zones()
            .zone(zone_id)
            .ok_or_else(|| ShippingError::NotFound(format!("delivery zone {zone_id}")))?;
        let slots: Vec<Slot> = zone
            .slots_between(from, to)
            .into_iter()
            .filter(|s| !cold_chain || s.cold_chain)
            .collect();
        let ids: Vec<String> = slots.iter().map(|s| s.id.clone()).collect();
        let booked = self.store.booked(&ids, now).await?;
        Ok(slots
            .into_iter()
            .map(|slot| {
                let taken = booked.get(&slot.id).copied().unwrap_or(0);
                SlotView {
                    available: slot.bookable(taken, now),
                    booked: taken,
                    slot,
                }
            })
            .collect())
    }

    /// One slot with its places taken.
    pub async fn slot_view(
        &self,
        slot: Slot,
        now: DateTime<Utc>,
    ) -> Result<SlotView, ShippingError> {
        let booked = self
            .store
            .booked(std::slice::from_ref(&slot.id), now)
            .await?
            .get(&slot.id)
            .copied()
            .unwrap_or(0);
        Ok(SlotView {
            available: slot.bookable(booked, now),
            booked,
            slot,
        })
    }

    /// Holds a place in `slot_id` for the order (see [`ShippingStore::hold_slot`]).
    pub async fn reserve(
        &self,
        slot_id: &str,
        hold: NewHold,
        now: DateTime<Utc>,
    ) -> Result<SlotHold, ShippingError> {
        let slot = self.zones().slot(slot_id)?;
        self.store.hold_slot(&slot, &hold, now).await
    }

    /// Gives the order's held place back.
    pub async fn release(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SlotHold>, ShippingError> {
        self.store.release_hold(order_id, now).await
    }

    /// The default hold TTL.
    pub fn default_hold(&self) -> Duration {
        self.settings.default_hold
    }
}
